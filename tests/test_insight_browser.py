"""The 舆情 insight dashboard in headless Chromium, from real ingested data: article files ingested through the
library, engagement events and a title experiment through the engagement area, the story task run by the job
system; the page's SVG charts (reach over time, sentiment trend, CTR per variant) and its rising-stories table
must show the numbers the database holds; a watchlist is added and removed on the page.
Screenshots: /tmp/zhimei-insight.png, /tmp/zhimei-insight-story.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_insight import BASELINE, BRIDGE, STAGES, WEATHER, run_story_task
from webserver import live_server, watched_page

from zhimei.jobs import drain
from zhimei.library import ingest_file
from zhimei.settings import reset_settings
from zhimei.store.db import read_scope
from zhimei.store.models import utcnow
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser]


def _article(folder, title: str, body: str):
    """A Markdown article file on disk (ingested like any newsroom file)."""
    p = folder / f"article-{len(list(folder.iterdir()))}.md"
    p.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    return p


def test_dashboard_draws_its_charts_from_the_database(zhome, monkeypatch, browser, tmp_path):
    from playwright.sync_api import expect

    from zhimei.distribute.engagement import create_experiment, ingest_events, list_experiments
    from zhimei.insight import hot_topics, reach, sentiment_trend, story_detail

    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", STAGES)
    reset_settings()
    now = utcnow()
    folder = tmp_path / "articles"
    folder.mkdir()
    ids: list[int] = []
    for d in range(1, 6):  # five days of ordinary news and weather
        t, b = BASELINE[d - 1]
        ingest_file(_article(folder, t, b), source="城市晚报", published_at=now - timedelta(days=d, hours=1))
        ingest_file(_article(folder, f"{WEATHER[0]} 第{d}期", WEATHER[1]), source="气象台",
                    published_at=now - timedelta(days=d, hours=5))
    for i, (t, b, src) in enumerate(BRIDGE):  # then the bridge story breaks
        ids.append(ingest_file(_article(folder, t, b), source=src, published_at=now - timedelta(hours=5 - i)).asset_id)
    drain()

    # readers see the bridge reports over three days (impressions, clicks, plays, shares), and a title test runs
    exp = create_experiment(ids[0], kind="title", texts=["长江大桥紧急封闭", "长江大桥发现裂缝 全面封闭检测"],
                            auto_promote=False)
    va, vb = (v["id"] for v in exp["variants"])
    events = []

    def ev(etype, aid, at, **kw):
        events.append({"event_id": f"ev-{len(events)}", "type": etype, "user": f"reader-{len(events) % 9}",
                       "asset_id": aid, "channel": kw.pop("channel", "web"), "at": at.isoformat(), **kw})

    for day, n_imp in ((2, 8), (1, 14), (0, 20)):
        at = now - timedelta(days=day, minutes=30)
        for k in range(n_imp):
            ev("impression", ids[k % 3], at + timedelta(seconds=k))
        for k in range(n_imp // 4):
            ev("click", ids[k % 3], at + timedelta(seconds=100 + k))
        ev("play", ids[1], at + timedelta(seconds=200), value=30.0 * (3 - day), channel="app")
        ev("share", ids[2], at + timedelta(seconds=300))
    for k in range(30):  # the experiment: variant B is clicked more
        ev("impression", ids[0], now - timedelta(minutes=20, seconds=k), variant_id=va if k % 2 else vb)
    for k in range(9):
        ev("click", ids[0], now - timedelta(minutes=10, seconds=k), variant_id=vb if k < 7 else va)
    report = ingest_events(events)
    assert report.to_dict()["accepted"] == len(events), report.to_dict()

    run_story_task()
    since = now - timedelta(days=30)
    with read_scope() as s:
        r = reach(s, since=since, bucket="day")
        st = sentiment_trend(s, since=since, bucket="day")
        stories = hot_topics(s)
        story_reach = reach(s, story_id=stories[0].id, since=since)
        story_items = story_detail(s, stories[0].id)["items"]
    assert len(r["series"]) >= 3 and r["totals"]["impressions"] == 42 + 30
    assert len(st["series"]) >= 6 and stories
    experiments = list_experiments()["items"]

    token = create_token("insight-editor", "editor")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token, height=1600)
        page.goto(f"{server.url}/insight")

        # reach over time: one point per day and series, at the database's numbers
        points = page.locator('[data-testid="reach-point"][data-series="impressions"]')
        expect(points).to_have_count(len(r["series"]))
        drawn = {p.get_attribute("data-bucket"): float(p.get_attribute("data-value")) for p in points.all()}
        assert drawn == {row["bucket_start"]: row["impressions"] for row in r["series"]}
        clicks = page.locator('[data-testid="reach-point"][data-series="clicks"]')
        assert [float(c.get_attribute("data-value")) for c in clicks.all()] == [row["clicks"] for row in r["series"]]
        plays = page.locator('[data-testid="reach-point"][data-series="plays"]')
        assert sum(float(p.get_attribute("data-value")) for p in plays.all()) == r["totals"]["plays"] == 3
        total = page.locator('[data-testid="reach-total"][data-metric="impressions"]')
        assert float(total.get_attribute("data-value")) == r["totals"]["impressions"]
        # points sit higher for bigger numbers (SVG y grows downwards)
        ys = {p.get_attribute("data-bucket"): float(p.get_attribute("cy")) for p in points.all()}
        most = max(r["series"], key=lambda row: row["impressions"])["bucket_start"]
        least = min(r["series"], key=lambda row: row["impressions"])["bucket_start"]
        assert ys[most] < ys[least]

        # one channel only: the plays were all in the app
        page.select_option('[data-testid="reach-channel"]', "app")
        expect(page.locator('[data-testid="reach-total"][data-metric="impressions"]')).to_have_attribute(
            "data-value", "0")
        expect(page.locator('[data-testid="reach-total"][data-metric="plays"]')).to_have_attribute("data-value", "3")
        page.select_option('[data-testid="reach-channel"]', "")
        expect(page.locator('[data-testid="reach-total"][data-metric="impressions"]')).to_have_attribute(
            "data-value", str(r["totals"]["impressions"]))

        # sentiment trend: the mean positive probability per day
        spoints = page.locator('[data-testid="sentiment-point"][data-series="sentiment"]')
        expect(spoints).to_have_count(len(st["series"]))
        got = {p.get_attribute("data-bucket"): float(p.get_attribute("data-value")) for p in spoints.all()}
        assert got == pytest.approx({row["bucket_start"]: row["sentiment"] for row in st["series"]})

        # CTR per variant: one bar per variant at its CTR; B's bar is taller
        bars = page.locator('[data-testid="variants-bar"]')
        want = {str(v["id"]): v["ctr"] for e in experiments for v in e["variants"]}
        expect(bars).to_have_count(len(want))
        shown = {b.get_attribute("data-variant"): float(b.get_attribute("data-value")) for b in bars.all()}
        assert shown == pytest.approx(want)
        assert want[str(vb)] > want[str(va)]
        height = {b.get_attribute("data-variant"): float(b.get_attribute("height")) for b in bars.all()}
        assert height[str(vb)] > height[str(va)]

        # rising stories: the bridge story first, with its heat
        rows = page.locator('[data-testid="story-row"]')
        expect(rows).to_have_count(len(stories))
        assert rows.first.get_attribute("data-story-id") == str(stories[0].id)
        expect(rows.first.locator('[data-testid="story-heat"]')).to_have_text(f"{stories[0].heat:.2f}")
        expect(rows.first.locator('[data-testid="story-volume"]')).to_have_text(str(stories[0].volume))
        assert "长江大桥" in rows.first.locator('[data-testid="story-title"]').inner_text()
        expect(page.locator('[data-testid="burst"][data-term="长江大桥"]')).to_have_count(1)
        page.screenshot(path="/tmp/zhimei-insight.png", full_page=True)

        # the story's own page: its items, and its reach drawn from its assets' events
        rows.first.locator('[data-testid="story-title"]').click()
        page.wait_for_url(f"**/insight/stories/{stories[0].id}")
        expect(page.locator('[data-testid="story-item"]')).to_have_count(len(story_items))
        assert {int(x.get_attribute("data-asset-id")) for x in page.locator('[data-testid="story-item"]').all()} \
            >= set(ids)
        spts = page.locator('[data-testid="reach-point"][data-series="impressions"]')
        expect(spts).to_have_count(len(story_reach["series"]))
        assert sum(float(p.get_attribute("data-value")) for p in spts.all()) == story_reach["totals"]["impressions"]
        page.screenshot(path="/tmp/zhimei-insight-story.png", full_page=True)
        page.goto(f"{server.url}/insight")

        # watchlist admin on the page
        form = page.locator('[data-testid="watchlist-form"]')
        form.locator('input[name="name"]').fill("大桥监测")
        form.locator('input[name="terms"]').fill("长江大桥，Yangtze Bridge")
        form.locator('button[type="submit"]').click()
        expect(page.locator('[data-testid="watchlist-secret"]')).to_contain_text("大桥监测")
        page.wait_for_selector('[data-testid="watchlist-row"]', timeout=15_000)
        row = page.locator('[data-testid="watchlist-row"]')
        expect(row).to_contain_text("Yangtze Bridge")
        page.once("dialog", lambda d: d.accept())
        row.locator('[data-testid="watchlist-delete"]').click()
        expect(page.locator('[data-testid="watchlists-empty"]')).to_have_count(1)
        assert errors == [], errors
