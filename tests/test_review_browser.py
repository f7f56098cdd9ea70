"""审核 in headless Chromium: a reviewer signs in, opens the queue, opens the case of an article with an abusive
word, sees the word highlighted, approves with a reason by the `a` shortcut, and the case shows passed; the audit
chain verifies. Screenshot: /tmp/zhimei-review.png."""

from __future__ import annotations

import pytest
from webserver import live_server, watched_page

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_bytes
from zhimei.review.queue import get_case, open_case, require_passed, verify_audit
from zhimei.settings import reset_settings
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_reviewer_approves_a_flagged_case_with_the_keyboard(zhome, browser, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    body = "# 社区新闻\n\n本周社区举办了读书会，居民踊跃参加。\n\n有网友留言说组织者是个傻逼，引发争议。\n"
    aid = ingest_bytes(body.encode(), "news.md", source="browser-test").asset_id
    mild = ingest_bytes("# 小事\n\n他说了一句滚蛋就走了。\n".encode(), "mild.md").asset_id
    jobs.drain()
    case = open_case(aid, actor="desk")
    other = open_case(mild, actor="desk")
    assert case["tier"] == "block" and case["second_reviewer_required"]
    token = create_token("browser-reviewer", "reviewer")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/review")
        rows = page.locator('[data-testid="case-row"]')
        expect(rows).to_have_count(2)
        assert rows.first.get_attribute("data-case-id") == str(case["id"])  # highest priority first
        # j moves to the first row, o opens it
        page.keyboard.press("j")
        expect(rows.first).to_have_class("case-row current")
        page.keyboard.press("o")
        page.wait_for_url(f"**/review/cases/{case['id']}")

        mark = page.locator('[data-testid="flag-mark"]')
        expect(mark).to_have_count(1)
        expect(mark).to_have_text("傻逼")
        assert mark.get_attribute("data-category") == "abuse"
        assert mark.evaluate("m => getComputedStyle(m).backgroundColor") != "rgba(0, 0, 0, 0)"
        expect(page.locator('[data-testid="reason"]').first).to_contain_text("傻逼")
        expect(page.locator('[data-testid="case-status"]')).to_have_attribute("data-status", "open")

        # `a` without a reason is held back with a message; with a reason it approves (first of two)
        page.keyboard.press("a")
        expect(page.locator('[data-testid="decide-msg"]')).to_contain_text("reason")
        page.check('[data-testid="reason-code"][value="approve.newsworthy"]')
        page.fill('[data-testid="decide-note"]', "quoted in a report about the dispute")
        page.locator("body").click()
        page.keyboard.press("a")
        page.wait_for_url(f"**/review/cases/{case['id']}?notice=review-decided")
        expect(page.locator('[data-testid="approvals"]')).to_contain_text("1/2")
        expect(page.locator('[data-testid="decide-approve"]')).to_be_disabled()  # needs a different reviewer

        # a second reviewer approves with the button: passed
        token2 = create_token("browser-reviewer-2", "reviewer")
        page2, errors2 = watched_page(browser, server, token2)
        page2.goto(f"{server.url}/review/cases/{case['id']}")
        page2.check('[data-testid="reason-code"][value="approve.false_positive"]')
        page2.click('[data-testid="decide-approve"]')
        page2.wait_for_url("**notice=review-decided")
        expect(page2.locator('[data-testid="case-status"]')).to_have_attribute("data-status", "passed")
        expect(page2.locator('[data-testid="decision"]')).to_have_count(2)
        page2.screenshot(path="/tmp/zhimei-review.png", full_page=True)

        # j goes on to the next case in the queue
        page2.goto(f"{server.url}/review")
        expect(page2.locator('[data-testid="case-row"]')).to_have_count(1)
        page2.goto(f"{server.url}/review/cases/{case['id']}")
        page2.keyboard.press("j")
        page2.wait_for_url(f"**/review/cases/{other['id']}")
        assert errors == [] and errors2 == []

    assert get_case(case["id"])["status"] == "passed" and require_passed(aid) == case["id"]
    report = verify_audit()
    assert report.ok and report.entries == 4, report  # two opens, two decisions
