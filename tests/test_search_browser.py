"""智搜 in headless Chromium: search a word spoken in the sample video, click the hit's timecode and the inline
player is at that second; the hit's link opens the asset page's player there too; the Ask page answers with
citations that open the cited moment; the timeline lists the event. Screenshots: /tmp/zhimei-search.png,
/tmp/zhimei-ask.png."""

from __future__ import annotations

import pytest
from webserver import live_server, watched_page

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_file
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Functions, not bare expressions: the page's CSP (script-src 'self') forbids the eval of the latter.
NEAR = "(t) => Math.abs(document.getElementById('player').currentTime - t) < 0.5"
SEEKED = "(sel) => { const v = document.querySelector(sel); return !!v && v.hasAttribute('data-seeked-to'); }"


def test_search_a_spoken_word_and_play_the_hit_in_place(zhome, sample_video, browser):
    from playwright.sync_api import expect

    aid = ingest_file(sample_video, source="browser-test").asset_id
    jobs.drain()
    token = create_token("browser-viewer", "viewer")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)

        # type a word the sample's speaker says ("Today, the City Council approved the new River Bridge.")
        page.goto(f"{server.url}/search")
        page.fill('[data-testid="search-form"] input[name="q"]', "council")
        page.click('[data-testid="search-form"] button[type="submit"]')
        page.wait_for_url("**/search?q=council*")
        hit = page.locator(f'[data-testid="hit"][data-asset-id="{aid}"]')
        expect(hit).to_have_count(1)
        assert hit.get_attribute("data-kind") == "transcript"
        expect(hit.locator('[data-testid="snippet"] mark').first).to_have_text("Council")
        expect(hit.locator('[data-testid="credibility"]')).to_contain_text("3")
        stamp = hit.locator('[data-testid="hit-time"]')
        start = float(stamp.get_attribute("data-start"))
        assert 1.0 <= start <= 4.5, start  # the sentence is spoken from about 2.6 s

        # clicking the timecode plays the hit in place, from that second
        player = hit.locator('[data-testid="hit-player"]')
        assert not player.is_visible()
        stamp.click()
        selector = f'[data-testid="hit"][data-asset-id="{aid}"] .hit-player'
        page.wait_for_function(SEEKED, arg=selector, timeout=30_000)
        expect(player).to_be_visible()
        seeked = float(player.get_attribute("data-seeked-to"))
        assert abs(seeked - start) < 0.5, (seeked, start)
        now = player.evaluate("v => v.currentTime")
        assert start - 0.5 < now < start + 5, (now, start)
        assert player.evaluate("v => v.currentSrc").endswith(f"/api/assets/{aid}/media/proxy")
        page.screenshot(path="/tmp/zhimei-search.png", full_page=True)

        # the hit's title opens the asset page with its player at the hit
        href = hit.locator('[data-testid="hit-link"]').get_attribute("href")
        assert href == f"/assets/{aid}?t={start:.2f}"
        hit.locator('[data-testid="hit-link"]').click()
        page.wait_for_url(f"**/assets/{aid}?t=*")
        page.wait_for_function(NEAR, arg=start, timeout=15_000)

        # a facet narrows the search; its chip takes the filter off again
        page.goto(f"{server.url}/search?q=bridge")
        page.click('[data-testid="facet"][data-facet="kind"][data-value="video"]')
        expect(page.locator('[data-testid="active-filter"][data-key="kind"]')).to_have_count(1)
        expect(page.locator('[data-testid="hit"]')).to_have_count(1)
        page.click('[data-testid="active-filter"][data-key="kind"]')
        expect(page.locator('[data-testid="active-filter"]')).to_have_count(0)

        # Ask: a cited answer; the citation opens the cited moment
        page.goto(f"{server.url}/ask")
        page.fill('[data-testid="ask-form"] input[name="q"]', "What did the city council approve?")
        page.click('[data-testid="ask-form"] button[type="submit"]')
        expect(page.locator('[data-testid="answer-found"]')).to_have_count(1)
        expect(page.locator('[data-testid="answer-text"]')).to_contain_text("Bridge")
        cite = page.locator('[data-testid="citation"]').first
        expect(cite).to_have_text("[1]")
        url = cite.get_attribute("href")
        assert url.startswith(f"/assets/{aid}?t="), url
        expect(page.locator('[data-testid="source"]').first.locator('[data-testid="credibility"]')).to_be_visible()
        page.screenshot(path="/tmp/zhimei-ask.png", full_page=True)
        cite.click()
        page.wait_for_url(f"**{url}")
        page.wait_for_function(NEAR, arg=float(url.split("?t=")[1]), timeout=15_000)

        # not in the archive: said plainly
        page.goto(f"{server.url}/ask?q=Who+won+the+1930+football+world+cup+in+Uruguay%3F")
        expect(page.locator('[data-testid="answer-not-found"]')).to_contain_text("does not contain the answer")

        # the timeline lists the event with its asset
        page.goto(f"{server.url}/timeline?q=council")
        expect(page.locator('[data-testid="event"]')).to_have_count(1)
        assert page.locator('[data-testid="event-asset"]').first.get_attribute("href").startswith(f"/assets/{aid}")
        assert errors == [], errors
