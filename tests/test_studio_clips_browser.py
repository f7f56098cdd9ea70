"""智能拆条 in headless Chromium: an editor opens the clips page of the ingested sample video, makes clips, exports
one as a vertical MP4 with captions and plays it in the page; the subtitles page shows the track with no rule
violations; covers come out in three aspects; a voice-over is spoken. Screenshot: /tmp/zhimei-studio-clips.png."""

from __future__ import annotations

import pytest
from webserver import live_server, watched_page

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_file
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Functions, not bare expressions: the page's CSP (script-src 'self') forbids the eval of the latter.
LOADED = "(sel) => Array.from(document.querySelectorAll(sel)).every((i) => i.complete && i.naturalWidth > 0)"
PLAYED = "(sel) => { const v = document.querySelector(sel); return !!v && v.currentTime > 0.5; }"


def test_make_clips_export_and_play_one(zhome, sample_video, browser):
    from playwright.sync_api import expect

    aid = ingest_file(sample_video, source="browser-test").asset_id
    jobs.drain()
    token = create_token("browser-editor", "editor")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)

        page.goto(f"{server.url}/studio/clips")
        page.click(f'[data-testid="sm-source"][data-asset-id="{aid}"]')
        page.wait_for_url(f"**/studio/clips?asset={aid}")
        page.fill('[data-testid="clip-min"]', "3")
        page.click('[data-testid="make-clips"]')
        clip = page.locator('[data-testid="clip"]').first
        expect(clip).to_be_visible(timeout=60_000)
        assert page.locator('[data-testid="clip"]').count() >= 1
        assert clip.locator('[data-testid="clip-title"]').input_value()
        expect(clip.locator('[data-testid="clip-summary"]')).not_to_be_empty()

        # edit the title, pick 9:16, export; the new MP4 appears with its AI mark and plays in the page
        clip.locator('[data-testid="clip-title"]').fill("River bridge approved")
        clip.locator('[data-testid="clip-vertical"]').check()
        clip.locator('[data-testid="clip-export"]').click()
        player = clip.locator('[data-testid="clip-player"]')
        expect(player).to_have_count(1, timeout=120_000)
        expect(clip.locator('[data-testid="ai-mark"]')).to_be_visible()
        expect(clip.locator('[data-testid="review-status"]')).to_contain_text("pending")
        new_id = int(player.get_attribute("data-asset-id"))
        assert new_id != aid
        player.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function(PLAYED, arg='[data-testid="clip-player"]', timeout=30_000)
        assert player.evaluate("v => v.videoWidth") == 202 and player.evaluate("v => v.videoHeight") == 360
        page.screenshot(path="/tmp/zhimei-studio-clips.png", full_page=True)

        # the subtitles page: cues from the transcript, the rule check finds nothing to fix
        page.click('[data-testid="tab-subtitles"]')
        page.wait_for_url(f"**/studio/subtitles?asset={aid}")
        expect(page.locator('[data-testid="cue"]').first).to_be_visible(timeout=30_000)
        page.click('[data-testid="sub-check"]')
        expect(page.locator('[data-testid="sm-status"]')).to_contain_text("0 处违规", timeout=15_000)
        expect(page.locator('[data-testid="violation"]')).to_have_count(0)

        # covers: ranked keyframes, then one variant per aspect, each image loads
        page.click('[data-testid="tab-covers"]')
        page.wait_for_url(f"**/studio/covers?asset={aid}")
        expect(page.locator('[data-testid="cover-frame"]')).to_have_count(5, timeout=30_000)
        page.fill('[data-testid="cover-variants"]', "1")
        page.click('[data-testid="make-covers"]')
        expect(page.locator('[data-testid="cover"]')).to_have_count(3, timeout=60_000)
        page.wait_for_function(LOADED, arg='[data-testid="cover"] img', timeout=30_000)

        # voice-over: a script spoken by espeak-ng, playable in the page
        page.click('[data-testid="tab-voiceover"]')
        page.fill('[data-testid="vo-text"]', "The council approved the bridge.")
        page.select_option('[data-testid="vo-backend"]', "espeak")
        page.click('[data-testid="vo-run"]')
        expect(page.locator('[data-testid="vo-player"]')).to_have_count(1, timeout=60_000)
        page.close()
    assert errors == []
