"""互动 engagement ingest on the real database (SQLite, or PostgreSQL with --db postgres): duplicates and
out-of-order events counted once, per-event rejections, exact counters through the day roll-up, bounded dedupe
window, implicit feedback and popularity, and the periodic tasks through the job system."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import zhimei.jobs as jobs
from zhimei.distribute.engagement import (
    EngagementError,
    counters,
    event_weight,
    ingest_events,
    load_interactions,
    popular_asset_ids,
    reader_id_for,
    rollup,
)
from zhimei.jobs.tasks import enqueue_task, periodic_tasks
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset, Job
from zhimei.store.models_engagement import EngagementCounter, EventSeen, Reader, ReaderInteraction

BASE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def make_assets(n: int) -> list[int]:
    with session_scope() as s:
        assets = [Asset(kind="article", title=f"新闻 {i}") for i in range(n)]
        s.add_all(assets)
        s.flush()
        return [a.id for a in assets]


def make_events(assets: list[int], n: int, seed: int = 7, start: datetime = BASE, hours: int = 72) -> list[dict]:
    rng = random.Random(seed)
    types = ["impression"] * 6 + ["click"] * 2 + ["play", "share", "dwell"]
    out = []
    for i in range(n):
        t = rng.choice(types)
        at = start + timedelta(seconds=rng.randrange(hours * 3600))
        ev = {"event_id": f"ev-{seed}-{i}", "type": t, "user": f"user-{rng.randrange(40)}",
              "asset_id": rng.choice(assets), "at": at.isoformat()}
        if rng.random() < 0.5:
            ev["channel"] = rng.choice(["web", "app"])
        if t in ("play", "dwell"):
            ev["value"] = float(rng.randrange(1, 900))
        out.append(ev)
    return out


def expected_totals(events: list[dict], bucket: str = "day") -> dict[tuple, list[float]]:
    """Totals computed independently of the ingest code, from the unique events."""
    totals: dict[tuple, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0, 0.0])
    for ev in {e["event_id"]: e for e in events}.values():
        at = datetime.fromisoformat(ev["at"]).astimezone(UTC)
        start = at.replace(minute=0, second=0, microsecond=0)
        if bucket == "day":
            start = start.replace(hour=0)
        row = totals[(ev["asset_id"], ev.get("channel", ""), start)]
        k = {"impression": 0, "click": 1, "play": 2, "share": 4}.get(ev["type"])
        if k is not None:
            row[k] += 1
        if ev["type"] == "play":
            row[3] += ev["value"]
        if ev["type"] == "dwell":
            row[5] += ev["value"]
    return dict(totals)


def stored_totals(bucket: str = "day") -> dict[tuple, list[float]]:
    with read_scope() as s:
        rows = counters(s, bucket=bucket)
    return {(r["asset_id"], r["channel"], r["bucket_start"]):
            [r["impressions"], r["clicks"], r["plays"], r["watch_seconds"], r["shares"], r["dwell_seconds"]]
            for r in rows}


def test_duplicates_and_out_of_order_events_count_once(zhome):
    assets = make_assets(5)
    events = make_events(assets, 3000)
    # a retry of 10% of the events inside the same batch, another of 20% in a later batch, all shuffled
    rng = random.Random(1)
    first = events + rng.sample(events, 300)
    rng.shuffle(first)
    report = ingest_events(first, chunk_size=700)
    assert report.accepted == 3000 and report.duplicates == 300 and report.rejected == 0
    again = rng.sample(events, 600)
    report2 = ingest_events(again)
    assert report2.accepted == 0 and report2.duplicates == 600
    assert stored_totals("day") == expected_totals(events, "day")
    assert stored_totals("hour") == expected_totals(events, "hour")
    with read_scope() as s:
        assert s.scalar(select(func.count()).select_from(EventSeen)) == 3000
        users = {e["user"] for e in events}
        assert s.scalar(select(func.count()).select_from(Reader)) == len(users)
        # feedback per reader × asset equals the sum of the unique events' weights
        inter = load_interactions(s)
        want: dict[tuple[int, int], float] = defaultdict(float)
        ids = {u: reader_id_for(s, u, create=False) for u in users}
        for e in events:
            want[(ids[e["user"]], e["asset_id"])] += event_weight(e["type"], e.get("value", 0.0))
        got = {(int(r), int(a)): float(w) for r, a, w in zip(inter.reader_ids, inter.asset_ids, inter.weights,
                                                             strict=True)}
        assert got.keys() == {k for k, v in want.items() if v > 0}
        assert all(abs(got[k] - want[k]) < 1e-3 for k in got)
        assert len(inter) == len(got) and inter.last_at.dtype.name == "float64"


def test_bad_events_are_rejected_one_by_one_and_the_rest_kept(zhome):
    (a,) = make_assets(1)
    with session_scope() as s:
        gone = Asset(kind="video", title="撤下的视频")
        s.add(gone)
        s.flush()
        gone_id = gone.id
    with session_scope() as s:
        s.delete(s.get(Asset, gone_id))
    at = BASE.isoformat()
    good = {"event_id": "ok-1", "type": "click", "user": "u", "asset_id": a, "at": at}
    batch = [
        good,
        {"event_id": "x1", "type": "click", "user": "u", "asset_id": gone_id, "at": at},
        {"event_id": "x2", "type": "like", "user": "u", "asset_id": a, "at": at},
        {"event_id": "x3", "type": "click", "asset_id": a, "at": at},
        {"event_id": "x4", "type": "click", "user": "u", "asset_id": a,
         "at": (datetime.now(UTC) + timedelta(days=3)).isoformat()},
        {"event_id": "x5", "type": "play", "user": "u", "asset_id": a, "at": at, "value": -3},
        {"event_id": "x6", "type": "click", "user": "u", "asset_id": a, "at": "yesterday"},
        {"event_id": "x7", "type": "click", "user": "u", "asset_id": a, "at": at, "variant_id": 999},
        "not an object",
        {"type": "click", "user": "u", "asset_id": a, "at": at},
        {"event_id": "ok-2", "type": "play", "user": "u", "asset_id": a, "at": 1764576000, "value": 30},
    ]
    report = ingest_events(batch)
    assert report.accepted == 2 and report.rejected == 9
    reasons = {e["event_id"]: e["reason"] for e in report.errors if e["event_id"]}
    assert reasons["x1"] == f"unknown or deleted asset {gone_id}"
    assert "type 'like'" in reasons["x2"] and "user is missing" in reasons["x3"]
    assert "future" in reasons["x4"] and "value" in reasons["x5"] and "ISO 8601" in reasons["x6"]
    assert reasons["x7"] == "unknown experiment variant 999"
    assert {e["index"] for e in report.errors if e["event_id"] is None} == {8, 9}
    # a rejected event is not remembered: resent once its asset is known it can still count
    with read_scope() as s:
        rows = counters(s, asset_ids=[a])
        assert sum(r["clicks"] for r in rows) == 1 and sum(r["plays"] for r in rows) == 1
        assert sum(r["watch_seconds"] for r in rows) == 30.0
        assert s.scalar(select(func.count()).select_from(EventSeen)) == 2
    with pytest.raises(EngagementError):
        ingest_events([], chunk_size=0)


def test_rollup_into_days_keeps_numbers_exact_and_bounds_storage(zhome):
    assets = make_assets(3)
    now = datetime.now(UTC)
    old = make_events(assets, 1500, seed=3, start=now - timedelta(days=40), hours=24 * 10)
    recent = make_events(assets, 500, seed=4, start=now - timedelta(days=2), hours=24)
    ingest_events(old + recent)
    before_days = stored_totals("day")
    assert before_days == expected_totals(old + recent, "day")
    with read_scope() as s:
        hours_before = s.scalar(select(func.count()).select_from(EngagementCounter))
    result = rollup()
    assert result["hours_rolled_up"] > 0
    assert stored_totals("day") == before_days  # exact sums after the roll-up
    with read_scope() as s:
        kinds = Counter(s.scalars(select(EngagementCounter.grain)).all())
        assert s.scalar(select(func.count()).select_from(EngagementCounter)) < hours_before
        old_hours = s.scalar(select(func.count()).select_from(EngagementCounter).where(
            EngagementCounter.grain == "hour", EngagementCounter.bucket_start < now - timedelta(days=15)))
    assert old_hours == 0 and kinds["day"] > 0 and kinds["hour"] > 0
    # a late event for a rolled-up day is added to that day on the next roll-up
    late = {"event_id": "late-1", "type": "click", "user": "late", "asset_id": assets[0],
            "at": old[0]["at"], "channel": old[0].get("channel")}
    if late["channel"] is None:
        del late["channel"]
    ingest_events([late])
    rollup()
    assert stored_totals("day") == expected_totals([*old, *recent, late], "day")
    # the hourly view of recent hours is unchanged
    want_hours = {k: v for k, v in expected_totals(recent, "hour").items()}
    got_hours = {k: v for k, v in stored_totals("hour").items() if k[2] >= now - timedelta(days=3)}
    assert got_hours == want_hours


def test_dedupe_window_and_stale_feedback_are_pruned(zhome):
    (a,) = make_assets(1)
    ev = {"event_id": "w-1", "type": "click", "user": "reader", "asset_id": a, "at": BASE.isoformat()}
    assert ingest_events([ev]).accepted == 1
    assert ingest_events([ev]).duplicates == 1
    out = rollup(now=datetime.now(UTC) + timedelta(days=8))
    assert out["event_ids_forgotten"] == 1
    with read_scope() as s:
        assert s.scalar(select(func.count()).select_from(EventSeen)) == 0
    out = rollup(now=BASE + timedelta(days=400))
    assert out["stale_interactions_pruned"] == 1
    with read_scope() as s:
        assert s.scalar(select(func.count()).select_from(ReaderInteraction)) == 0


def test_popular_assets_and_counter_filters(zhome):
    a, b, c = make_assets(3)
    at = BASE.isoformat()
    evs = [{"event_id": f"p{i}", "type": "click", "user": f"u{i}", "asset_id": b, "at": at, "channel": "app"}
           for i in range(5)]
    evs += [{"event_id": f"q{i}", "type": "share", "user": f"u{i}", "asset_id": a, "at": at} for i in range(3)]
    evs += [{"event_id": "r0", "type": "impression", "user": "u0", "asset_id": c, "at": at}]
    ingest_events(evs)
    with read_scope() as s:
        pop = popular_asset_ids(s, since=BASE - timedelta(days=1), limit=10)
        assert [x[0] for x in pop] == [a, b, c] and pop[0][1] == 9.0 and pop[1][1] == 5.0
        assert popular_asset_ids(s, since=BASE + timedelta(days=1), limit=10) == []
        assert popular_asset_ids(s, limit=1) == [(a, 9.0)]
        app = counters(s, channel="app")
        assert len(app) == 1 and app[0]["asset_id"] == b and app[0]["clicks"] == 5
        assert counters(s, asset_ids=[]) == []
        assert counters(s, since=BASE + timedelta(hours=1), bucket="hour") == []
        assert counters(s, since=BASE + timedelta(hours=1), bucket="day") == []  # since is exact, not the day
        with pytest.raises(EngagementError, match="bucket"):
            counters(s, bucket="week")


def test_engagement_tasks_run_through_the_job_system(zhome):
    assert {"engagement.rollup", "engagement.experiments"} <= set(periodic_tasks())
    (a,) = make_assets(1)
    ingest_events([{"event_id": "t-1", "type": "click", "user": "u", "asset_id": a,
                    "at": (datetime.now(UTC) - timedelta(days=30)).isoformat()}])
    job_id = enqueue_task("engagement.rollup", key="test")
    assert enqueue_task("engagement.rollup", key="test") == job_id  # idempotent while queued
    enqueue_task("engagement.experiments")
    jobs.drain()
    with read_scope() as s:
        job = s.get(Job, job_id)
        assert job.status == "done" and job.result["hours_rolled_up"] == 1
        assert s.scalars(select(EngagementCounter.grain)).all() == ["day"]
