"""发布 in headless Chromium: an editor creates a channel on /publish, edits it, schedules an embargoed publication,
is told clearly why an unreviewed asset does not publish, withdraws, and retries a dead-letter webhook delivery.
Screenshot: /tmp/zhimei-publish.png."""

from __future__ import annotations

import feedparser
import httpx
import pytest
from publish_helpers import Receiver, article, reviewed_article, use_stages
from webserver import live_server, watched_page

import zhimei.jobs as jobs
from zhimei.distribute.publish import create_channel, list_deliveries, list_publications, publish
from zhimei.store.db import session_scope
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_editor_creates_a_channel_and_schedules_a_publication(zhome, browser, monkeypatch):
    from playwright.sync_api import expect

    use_stages(monkeypatch)
    story = reviewed_article("浏览器发布", "编辑在网页上安排发布的稿件。", "a.md")
    draft = article("未审稿件", "这篇稿件还没有审核。", "b.md")
    token = create_token("browser-editor", "editor")
    with live_server(workers=0) as server, Receiver(status=500) as rx:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/publish")
        expect(page.locator('[data-testid="channel-row"]')).to_have_count(0)

        # create an RSS channel
        page.fill('[data-testid="channel-name"]', "web")
        page.select_option('[data-testid="channel-kind"]', "rss")
        page.fill('[data-testid="channel-title"]', "网站 Web")
        page.fill('[data-testid="channel-config"]', '{"language": "zh-CN"}')
        page.click('[data-testid="channel-submit"]')
        expect(page.locator('[data-testid="publish-msg"]')).to_contain_text("web")
        page.reload()
        row = page.locator('[data-testid="channel-row"][data-name="web"]')
        expect(row).to_have_count(1)
        expect(row).to_have_attribute("data-kind", "rss")

        # edit it: a new title and a feed size
        row.locator('[data-testid="channel-edit"]').click()
        expect(page.locator('[data-testid="channel-name"]')).to_have_value("web")
        page.fill('[data-testid="channel-title"]', "新闻网站 News")
        page.fill('[data-testid="channel-config"]', '{"language": "zh-CN", "limit": 20}')
        page.click('[data-testid="channel-submit"]')
        page.wait_for_load_state("load")
        expect(page.locator('[data-testid="publish-msg"]')).to_contain_text("saved")
        expect(page.locator('[data-testid="channel-row"][data-name="web"]')).to_have_attribute(
            "data-title", "新闻网站 News")

        # schedule an embargoed publication
        page.fill('[data-testid="publish-asset"]', str(story))
        page.select_option('[data-testid="publish-channel"]', "web")
        page.fill('[data-testid="publish-embargo"]', "2030-01-01T08:00:00")
        page.click('[data-testid="publish-submit"]')
        page.wait_for_load_state("load")
        expect(page.locator('[data-testid="publish-msg"]')).to_contain_text("Scheduled")
        pub = page.locator(f'[data-testid="publication-row"][data-asset="{story}"]')
        expect(pub).to_have_attribute("data-status", "scheduled")
        expect(pub).to_have_attribute("data-visible", "false")
        assert list_publications(status="upcoming")["items"][0]["embargo_until"].startswith("2030-01-01")
        feed = httpx.get(f"{server.url}/pub/web/rss.xml")
        assert feed.status_code == 200 and feedparser.parse(feed.content).entries == []

        # an unreviewed asset is refused with the reason
        page.fill('[data-testid="publish-asset"]', str(draft))
        page.fill('[data-testid="publish-embargo"]', "")
        page.click('[data-testid="publish-submit"]')
        expect(page.locator('[data-testid="publish-msg"]')).to_contain_text("no review case")
        expect(page.locator('[data-testid="publish-msg"]')).to_have_class("publish-msg error")

        # withdraw the scheduled one
        page.once("dialog", lambda d: d.accept("plans changed"))
        pub.locator('[data-testid="withdraw"]').click()
        page.wait_for_load_state("load")
        expect(page.locator(f'[data-testid="publication-row"][data-asset="{story}"]')).to_have_attribute(
            "data-status", "withdrawn")

        # a webhook that answers 500 ends on the dead-letter list; the editor retries it
        with session_scope() as s:
            create_channel(s, "partner", "webhook", config={"url": rx.url, "max_attempts": 1})
        publish(story, "partner")
        jobs.drain()
        page.goto(f"{server.url}/publish")
        expect(page.locator('[data-testid="dead-row"]')).to_have_count(1)
        page.screenshot(path="/tmp/zhimei-publish.png", full_page=True)
        page.click('[data-testid="retry"]')
        page.wait_for_load_state("load")
        expect(page.locator('[data-testid="publish-msg"]')).to_contain_text("queued again")
        expect(page.locator('[data-testid="dead-row"]')).to_have_count(0)
        assert list_deliveries(status="pending")["total"] == 1
        assert len(rx.requests) == 1
    unexpected = [e for e in errors if "409" not in e and "Conflict" not in e]
    assert unexpected == [], errors
