"""智能校对 in headless Chromium: type a text with a known typo, press 校对, the typo is marked inline; accept it and
the text is corrected; reject another mark and the text keeps it; an editor adds a term and it is flagged.
Screenshot: /tmp/zhimei-proofread.png."""

from __future__ import annotations

import pytest
from webserver import live_server, watched_page

from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_proofread_accept_and_reject_inline(zhome, browser):
    from playwright.sync_api import expect

    token = create_token("browser-editor", "editor")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/proofread")

        # an editor adds a term; it shows in the table
        form = page.locator('[data-testid="pr-term-form"]')
        form.locator('input[name="term"]').fill("乌鲁木齐")
        form.locator('input[name="variants"]').fill("乌市")
        form.locator('button[type="submit"]').click()
        expect(page.locator('[data-testid="pr-term-row"][data-term="乌鲁木齐"]')).to_have_count(1)

        text = "那时后我们在乌市开会!!"
        page.fill('[data-testid="pr-text"]', text)
        page.click('[data-testid="pr-run"]')
        marks = page.locator('[data-testid="pr-mark"]')
        expect(page.locator('[data-testid="proofread"]')).to_have_attribute("data-proofread", "done",
                                                                            timeout=120_000)
        spelling = page.locator('[data-testid="pr-mark"][data-kind="spelling"]')
        expect(spelling).to_have_count(1)
        expect(spelling.locator("del")).to_have_text("后")
        expect(spelling.locator('[data-testid="pr-replacement"]')).to_have_text("候")
        expect(page.locator('[data-testid="pr-mark"][data-kind="term"]')).to_have_count(1)
        expect(page.locator('[data-testid="pr-mark"][data-kind="punctuation"]')).to_have_count(1)
        page.screenshot(path="/tmp/zhimei-proofread.png", full_page=True)

        # accept the spelling fix: the text is corrected and the mark is gone
        spelling.locator('[data-testid="pr-accept"]').click()
        expect(page.locator('[data-testid="pr-text"]')).to_have_value("那时候我们在乌市开会!!")
        expect(marks).to_have_count(2)
        # reject the punctuation mark: the text keeps it
        page.locator('[data-testid="pr-mark"][data-kind="punctuation"] [data-testid="pr-reject"]').click()
        expect(marks).to_have_count(1)
        expect(page.locator('[data-testid="pr-text"]')).to_have_value("那时候我们在乌市开会!!")
        # accept all that is left (the term)
        page.click('[data-testid="pr-accept-all"]')
        expect(page.locator('[data-testid="pr-text"]')).to_have_value("那时候我们在乌鲁木齐开会!!")
        expect(marks).to_have_count(0)
        expect(page.locator('[data-testid="pr-status"]')).to_contain_text("No suggestions")

        # editing the text clears stale marks
        page.fill('[data-testid="pr-text"]', "新的文本")
        expect(page.locator('[data-testid="pr-status"]')).to_contain_text("proofread again")

        # remove the term again
        page.locator('[data-testid="pr-term-row"][data-term="乌鲁木齐"] [data-testid="pr-term-remove"]').click()
        expect(page.locator('[data-testid="pr-term-row"]')).to_have_count(0)
        assert errors == []
