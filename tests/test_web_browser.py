"""The web app in headless Chromium: sign in by link, upload the sample clip through the page, watch the
asset page's live job progress finish (the server's embedded worker runs the jobs), then use the shot strip
to seek the player. Screenshots land in /tmp/zhimei-library.png and /tmp/zhimei-asset.png."""

from __future__ import annotations

import pytest
from webserver import live_server, watched_page

from zhimei.api.app import Background
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]



def _player_time(page) -> float:
    return page.evaluate("() => document.getElementById('player').currentTime")


# Functions, not bare expressions: the page's CSP (script-src 'self') forbids the eval of the latter.
READY = "(n) => document.getElementById('player').readyState >= n"
NEAR = "(t) => Math.abs(document.getElementById('player').currentTime - t) < 0.5"
IMAGES_LOADED = "(sel) => { const imgs = [...document.querySelectorAll(sel)]; " \
                "return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }"


def test_upload_watch_progress_and_seek_by_shot(zhome, sample_video, browser):
    from playwright.sync_api import expect

    token = create_token("browser-editor", "editor")
    # The server starts without workers so that the asset page is certain to open while its jobs are
    # queued; then the app's own embedded-worker machinery (Background, as create_app's lifespan uses it)
    # starts in this process and the page must follow the jobs live.
    workers = Background(workers=1)
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token, height=900)
        assert page.url == f"{server.url}/"
        expect(page.locator('[data-testid="asset-card"]')).to_have_count(0)

        # upload through the page's form (the script sends it with the CSRF header and a progress bar)
        page.set_input_files('#upload-form input[type="file"]', str(sample_video))
        page.fill('#upload-form input[name="source"]', "browser-test")
        page.click('#upload-form button[type="submit"]')
        page.wait_for_url("**/assets/*?notice=uploaded", timeout=60_000)
        asset_id = int(page.url.split("/assets/")[1].split("?")[0])

        # live progress: the page was rendered while jobs were active and polls until they finish,
        # then reloads once so that the shot strip appears
        jobs = page.locator("#jobs")
        assert jobs.get_attribute("data-live") == "1"
        assert page.locator('[data-testid="shot"]').count() == 0
        statuses = page.locator('[data-testid="job-row"]').evaluate_all("rows => rows.map(r => r.dataset.status)")
        assert set(statuses) <= {"queued", "blocked"}, statuses
        workers.start()
        # the rows change in place (no reload yet) once the first stage has run
        page.wait_for_selector('[data-testid="job-row"][data-status="done"]', timeout=120_000)
        shots = page.locator('[data-testid="shot"]')
        shots.first.wait_for(timeout=240_000)
        rows = page.locator('[data-testid="job-row"]')
        assert rows.count() >= 4
        assert {rows.nth(i).get_attribute("data-status") for i in range(rows.count())} == {"done"}
        assert page.locator("#jobs").get_attribute("data-live") == "0"
        assert shots.count() >= 3

        # the shot strip seeks the player
        page.wait_for_function(READY, arg=1, timeout=30_000)
        third = shots.nth(2)
        start = float(third.get_attribute("data-start"))
        assert start > 1.0
        third.click()
        page.wait_for_function(NEAR, arg=start, timeout=10_000)
        assert abs(_player_time(page) - start) < 0.5
        page.wait_for_function(READY, arg=2, timeout=30_000)
        first_start = float(shots.nth(0).get_attribute("data-start"))
        shots.nth(0).click()
        page.wait_for_function(NEAR, arg=first_start, timeout=10_000)
        third.click()
        page.wait_for_function(NEAR, arg=start, timeout=10_000)
        page.wait_for_function(IMAGES_LOADED, arg=".shot img", timeout=15_000)
        page.wait_for_function(READY, arg=2, timeout=30_000)
        page.screenshot(path="/tmp/zhimei-asset.png", full_page=True)

        # the library shows the video card with its thumbnail, status and duration
        page.goto(f"{server.url}/")
        card = page.locator(f'[data-testid="asset-card"][data-asset-id="{asset_id}"]')
        expect(card).to_have_count(1)
        assert card.get_attribute("data-kind") == "video" and card.get_attribute("data-status") == "ready"
        expect(card.locator(".duration")).to_have_text("0:13")
        page.wait_for_function(IMAGES_LOADED, arg="[data-testid=asset-card] img", timeout=15_000)
        page.screenshot(path="/tmp/zhimei-library.png", full_page=True)

        # the filters are plain GET parameters
        page.goto(f"{server.url}/?kind=article")
        expect(page.locator('[data-testid="asset-card"]')).to_have_count(0)
        page.goto(f"{server.url}/?kind=video&source=browser-test")
        expect(page.locator('[data-testid="asset-card"]')).to_have_count(1)

        # the jobs page lists the finished stages
        page.goto(f"{server.url}/jobs")
        assert page.locator('[data-testid="job-row"]').count() >= 4
        assert not errors, errors
    workers.stop()
