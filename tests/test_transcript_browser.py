"""The catalogued sample clip in headless Chromium: click a transcript line and the player seeks to it;
on-screen text, entities and tags are on the page; /assets/N?t= starts the player at a time.
Screenshot: /tmp/zhimei-transcript.png."""

from __future__ import annotations

import pytest
from webserver import live_server, watched_page

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_file
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Functions, not bare expressions: the page's CSP (script-src 'self') forbids the eval of the latter.
READY = "(n) => document.getElementById('player').readyState >= n"
NEAR = "(t) => Math.abs(document.getElementById('player').currentTime - t) < 0.5"


def test_clicking_a_transcript_line_seeks_the_player(zhome, sample_video, browser):
    from playwright.sync_api import expect

    aid = ingest_file(sample_video, source="browser-test").asset_id
    jobs.drain()
    token = create_token("browser-viewer", "viewer")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/assets/{aid}")

        lines = page.locator('[data-testid="transcript-line"]')
        assert lines.count() >= 3
        texts = " ".join(lines.all_inner_texts()).lower()
        assert "city council" in texts and "bridge" in texts
        page.wait_for_function(READY, arg=1, timeout=30_000)
        for i in (2, 0, 1):  # out of order, so that each click must move the playhead
            line = lines.nth(i)
            start = float(line.get_attribute("data-start"))
            line.click()
            page.wait_for_function(NEAR, arg=start, timeout=10_000)
            now = page.evaluate("() => document.getElementById('player').currentTime")
            assert abs(now - start) < 0.5, (i, now, start)
        council = lines.filter(has_text="ouncil").first
        assert 1.0 <= float(council.get_attribute("data-start")) <= 4.5

        # on-screen text with its time span, entities that seek, tags
        ocr = page.locator('[data-testid="segment"][data-kind="ocr"]')
        expect(ocr.filter(has_text="RIVER BRIDGE")).to_have_count(1)
        assert "–" in ocr.filter(has_text="RIVER BRIDGE").inner_text()
        expect(page.locator('[data-testid="entity"]').filter(has_text="City Council")).to_have_count(1)
        assert page.locator('[data-testid="tag"]').count() >= 3
        assert page.locator(".tag-add").count() == 0  # a viewer cannot edit tags
        page.wait_for_function(READY, arg=2, timeout=30_000)
        page.screenshot(path="/tmp/zhimei-transcript.png", full_page=True)

        # a person's appearance links to /assets/N?t=…: the player starts there
        page.goto(f"{server.url}/assets/{aid}?t=8.5")
        page.wait_for_function(NEAR, arg=8.5, timeout=15_000)

        page.goto(f"{server.url}/people")
        expect(page.locator("h1")).to_contain_text("People")
        assert errors == [], errors
