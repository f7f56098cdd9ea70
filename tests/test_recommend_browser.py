"""智能推荐 in headless Chromium: an editor opens /recommend for a fan, sees their rows with "why this", adds an
editor's pick and turns the channel's diversity knob from the page. Screenshot: /tmp/zhimei-recommend.png."""

from __future__ import annotations

import pytest
from test_recommend import _retrain, newsroom  # noqa: F401  (the fixture)
from webserver import live_server, watched_page

from zhimei.distribute.recommend import channel_knob, list_picks
from zhimei.store.db import read_scope
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_editor_sees_a_readers_rows_and_sets_picks_and_the_knob(newsroom, browser):  # noqa: F811
    from playwright.sync_api import expect

    _retrain()
    token = create_token("browser-editor", "editor")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/recommend")
        page.fill('[data-testid="rec-user"]', "sport-fan-0")
        page.select_option('[data-testid="rec-channel"]', "web")
        page.locator('[data-testid="rec-form"] button[type="submit"]').click()
        page.wait_for_load_state("load")
        expect(page.locator('[data-testid="rec-mode"]')).to_contain_text("Personalised")
        rows = page.locator('[data-testid="rec-row"]')
        expect(rows.first).to_contain_text("为你推荐 For you")
        assert page.locator('[data-testid="rec-item"]').count() >= 5
        whys = page.locator('[data-testid="rec-why"]').all_inner_texts()
        assert all(whys) and any("Because you watched" in w or "Similar to" in w for w in whys)
        shown = {int(x) for x in page.locator('[data-testid="rec-item"]').evaluate_all(
            "els => els.map(e => e.dataset.asset)")}
        assert newsroom["hidden"] not in shown
        expect(page.locator('[data-testid="models"]')).to_contain_text("32 读者 readers")

        page.fill('[data-testid="pick-asset"]', str(newsroom["money"][2]))
        page.locator('[data-testid="pick-form"] button[type="submit"]').click()
        expect(page.locator('[data-testid="picks"]')).to_contain_text(f"#{newsroom['money'][2]}")

        page.fill('[data-testid="knob-diversity"]', "0.7")
        page.locator('[data-testid="knob-form"] button[type="submit"]').click()
        expect(page.locator(".rec-admin")).to_contain_text("Diversity 0.70")
        page.screenshot(path="/tmp/zhimei-recommend.png", full_page=True)

        page.fill('[data-testid="pick-asset"]', "999999")
        page.locator('[data-testid="pick-form"] button[type="submit"]').click()
        expect(page.locator('[data-testid="rec-msg"]')).to_contain_text("no asset 999999")
        errors[:] = [e for e in errors if "/api/recommend/picks" not in e and "404" not in e]
        assert not errors, errors
    with read_scope() as s:
        assert [p["asset_id"] for p in list_picks(s, "web")] == [newsroom["money"][2]]
        assert channel_knob(s, "web")["diversity"] == 0.7
