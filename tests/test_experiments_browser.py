"""实验 in headless Chromium: an editor opens /experiments, sees each variant's CTR with its Wilson interval bar
drawn from events ingested through the real API function, starts a new experiment from the form, and promotes
the winner with its button. Screenshot: /tmp/zhimei-experiments.png."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from webserver import live_server, watched_page

from zhimei.distribute.engagement import create_experiment, get_experiment, ingest_events
from zhimei.store.db import session_scope
from zhimei.store.models import Asset
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_editor_reads_variant_ctrs_and_promotes_the_winner(zhome, browser):
    from playwright.sync_api import expect

    with session_scope() as s:
        story, other = Asset(kind="article", title="暴雨预警升级"), Asset(kind="article", title="地铁夜间加开班次")
        s.add_all([story, other])
        s.flush()
        story_id, other_id = story.id, other.id
    exp = create_experiment(story_id, texts=["暴雨预警升级", "红色暴雨预警：明天停课吗？"], min_impressions=100000)
    a, b = (v["id"] for v in exp["variants"])
    at = datetime.now(UTC).isoformat()
    events = []
    for i in range(400):
        vid = a if i % 2 else b
        events.append({"event_id": f"i{i}", "type": "impression", "user": f"r{i}", "asset_id": story_id,
                       "variant_id": vid, "at": at})
        if (vid == b and i % 20 == 0) or (vid == a and i % 100 == 1):
            events.append({"event_id": f"c{i}", "type": "click", "user": f"r{i}", "asset_id": story_id,
                           "variant_id": vid, "at": at})
    assert ingest_events(events).accepted == len(events)
    stats = {v["id"]: v for v in get_experiment(exp["id"])["variants"]}
    assert (stats[b]["impressions"], stats[b]["clicks"]) == (200, 20)
    assert (stats[a]["impressions"], stats[a]["clicks"]) == (200, 4)

    token = create_token("browser-editor", "editor")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/experiments")
        card = page.locator(f'[data-testid="experiment"][data-experiment-id="{exp["id"]}"]')
        expect(card).to_have_attribute("data-status", "running")
        row_b = card.locator(f'[data-testid="variant"][data-variant-id="{b}"]')
        row_a = card.locator(f'[data-testid="variant"][data-variant-id="{a}"]')
        expect(row_b.locator('[data-testid="variant-ctr"]')).to_have_text("10.00%")
        expect(row_a.locator('[data-testid="variant-ctr"]')).to_have_text("2.00%")
        expect(row_b.locator('[data-testid="variant-impressions"]')).to_have_text("200")
        # the interval bars are drawn: B's sits to the right of A's and both contain their point estimate
        bar_b, bar_a = row_b.locator('[data-testid="ci-bar"]'), row_a.locator('[data-testid="ci-bar"]')
        xb = float(bar_b.locator("rect.interval").get_attribute("x"))
        xa = float(bar_a.locator("rect.interval").get_attribute("x"))
        assert xb > xa
        box = bar_b.locator("rect.interval").bounding_box()
        dot = bar_b.locator("circle.point").bounding_box()
        assert box and dot and box["width"] > 10 and box["x"] <= dot["x"] + dot["width"] / 2 <= box["x"] + box["width"]
        assert float(row_b.locator('[data-testid="variant-pbest"]').inner_text()) > 0.95

        # start an experiment on another story from the form
        page.click('[data-testid="create-panel"] summary')
        page.fill('[data-testid="create-asset"]', str(other_id))
        page.fill('[data-testid="create-texts"]', "only one")
        page.click('[data-testid="create-submit"]')
        expect(page.locator('[data-testid="create-msg"]')).to_contain_text("at least 2")
        errors.clear()  # the refused POST above is expected (422)
        page.fill('[data-testid="create-texts"]', "地铁夜间加开班次\n今晚起地铁延长运营到凌晨一点")
        page.click('[data-testid="create-submit"]')
        expect(page.locator('[data-testid="experiment"]')).to_have_count(2)
        expect(page.locator('[data-testid="experiment-total"]')).to_have_text("2")

        # promote B with its button
        card = page.locator(f'[data-testid="experiment"][data-experiment-id="{exp["id"]}"]')
        card.locator(f'[data-testid="promote"][data-variant-id="{b}"]').click()
        expect(card).to_have_attribute("data-status", "promoted")
        expect(card.locator('[data-testid="winner"]')).to_have_count(1)
        expect(card.locator(f'[data-testid="variant"][data-variant-id="{b}"] [data-testid="winner"]')).to_have_count(1)
        page.screenshot(path="/tmp/zhimei-experiments.png", full_page=True)
        assert errors == []
    assert get_experiment(exp["id"])["winner_variant_id"] == b
