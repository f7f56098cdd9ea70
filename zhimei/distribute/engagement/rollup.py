"""Reading and compacting the counters: per-asset totals, popularity, the implicit-feedback matrix; the roll-up of
hourly counters into days and the pruning of the dedupe window and of stale reader feedback."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from zhimei.distribute.engagement.errors import EngagementError
from zhimei.distribute.engagement.sql import upsert
from zhimei.settings import get_settings
from zhimei.store.db import session_scope
from zhimei.store.models import utcnow
from zhimei.store.models_engagement import EngagementCounter, EventSeen, Reader, ReaderInteraction

__all__ = ["Interactions", "load_interactions", "counters", "popular_asset_ids", "rollup", "BUCKETS",
           "COUNTER_FIELDS", "popularity"]

BUCKETS = ("hour", "day")
COUNTER_FIELDS = ("impressions", "clicks", "plays", "watch_seconds", "shares", "dwell_seconds")
_ROLL_BATCH = 20_000


@dataclass
class Interactions:
    """Implicit feedback for recommendations: equal-length arrays, one entry per (reader, asset) pair."""

    reader_ids: np.ndarray  # int64
    asset_ids: np.ndarray  # int64
    weights: np.ndarray  # float32, implicit-feedback strength (see events.event_weight)
    last_at: np.ndarray  # float64, epoch seconds of the latest event

    def __len__(self) -> int:
        return int(self.reader_ids.shape[0])


def load_interactions(session: Session, *, since: datetime | None = None) -> Interactions:
    """Every (reader, asset, weight, last time) with weight > 0 of readers who allow personalisation. Deleted
    readers are gone from the table, so the next model retrain drops them."""
    t = ReaderInteraction
    q = (select(t.reader_id, t.asset_id, t.weight, t.last_at).join(Reader, Reader.id == t.reader_id)
         .where(Reader.consent.is_(True), t.weight > 0).order_by(t.reader_id, t.asset_id))
    if since is not None:
        q = q.where(t.last_at >= since)
    rows = session.execute(q).all()
    n = len(rows)
    return Interactions(np.fromiter((r[0] for r in rows), np.int64, n),
                        np.fromiter((r[1] for r in rows), np.int64, n),
                        np.fromiter((r[2] for r in rows), np.float32, n),
                        np.fromiter((r[3].timestamp() for r in rows), np.float64, n))


def _day(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def counters(session: Session, *, asset_ids: Iterable[int] | None = None, channel: str | None = None,
             since: datetime | None = None, until: datetime | None = None, bucket: str = "day") -> list[dict]:
    """Totals per asset × channel × bucket (``"hour"`` or ``"day"``), oldest first. ``channel=None``: every channel
    (events without one are under ``""``); ``since`` ≤ bucket start < ``until``. Hours older than the roll-up
    horizon exist only as days: asked for by hour, they come back as one row at the day's start."""
    if bucket not in BUCKETS:
        raise EngagementError(f"bucket must be one of {', '.join(BUCKETS)}, not {bucket!r}")
    c = EngagementCounter
    q = select(c.asset_id, c.channel, c.bucket_start, *[func.sum(getattr(c, f)) for f in COUNTER_FIELDS])
    if asset_ids is not None:
        ids = sorted({int(a) for a in asset_ids})
        if not ids:
            return []
        q = q.where(c.asset_id.in_(ids))
    if channel is not None:
        q = q.where(c.channel == channel)
    if since is not None:
        q = q.where(c.bucket_start >= since)
    if until is not None:
        q = q.where(c.bucket_start < until)
    q = q.group_by(c.asset_id, c.channel, c.bucket_start)
    out: dict[tuple[int, str, datetime], list[float]] = {}
    for row in session.execute(q):
        start = _day(row[2]) if bucket == "day" else row[2].astimezone(UTC)
        acc = out.setdefault((row[0], row[1], start), [0.0] * len(COUNTER_FIELDS))
        for i, v in enumerate(row[3:]):
            acc[i] += float(v or 0)
    rows = []
    for (asset_id, ch, start), v in sorted(out.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        row: dict[str, Any] = {"asset_id": asset_id, "channel": ch, "bucket_start": start}
        for name, value in zip(COUNTER_FIELDS, v, strict=True):
            row[name] = float(value) if name.endswith("_seconds") else int(value)
        rows.append(row)
    return rows


def popularity(impressions: float, clicks: float, plays: float, shares: float, watch_seconds: float,
               dwell_seconds: float) -> float:
    """The popularity score of totals: clicks + plays + 3 × shares + watch minutes / 2 + dwell minutes, plus a
    hundredth per impression to break ties among unclicked items."""
    return (clicks + plays + 3.0 * shares + watch_seconds / 120.0 + dwell_seconds / 60.0 + 0.01 * impressions)


def popular_asset_ids(session: Session, *, since: datetime | None = None, limit: int = 100) -> list[tuple[int, float]]:
    """The most engaged-with assets since `since` (all time when None): [(asset_id, score)], best first."""
    if not 1 <= int(limit) <= 100_000:
        raise EngagementError("limit must be between 1 and 100000")
    c = EngagementCounter
    q = select(c.asset_id, func.sum(c.impressions), func.sum(c.clicks), func.sum(c.plays), func.sum(c.shares),
               func.sum(c.watch_seconds), func.sum(c.dwell_seconds)).group_by(c.asset_id)
    if since is not None:
        q = q.where(c.bucket_start >= since)
    scored = [(int(r[0]), round(popularity(*(float(x or 0) for x in r[1:])), 4))
              for r in session.execute(q)]
    scored = [s for s in scored if s[1] > 0]
    scored.sort(key=lambda s: (-s[1], s[0]))
    return scored[:limit]


def _roll_hours(session: Session, cutoff: datetime) -> int:
    c = EngagementCounter
    rows = session.execute(select(c.id, c.asset_id, c.channel, c.bucket_start,
                                  *[getattr(c, f) for f in COUNTER_FIELDS])
                           .where(c.grain == "hour", c.bucket_start < cutoff).order_by(c.id)
                           .limit(_ROLL_BATCH)).all()
    if not rows:
        return 0
    days: dict[tuple[int, str, datetime], list[float]] = {}
    for r in rows:
        acc = days.setdefault((r[1], r[2], _day(r[3])), [0.0] * len(COUNTER_FIELDS))
        for i, v in enumerate(r[4:]):
            acc[i] += float(v)
    ct = c.__table__
    session.execute(upsert(session, ct, ["asset_id", "channel", "grain", "bucket_start"],
                           lambda ex: {f: ct.c[f] + ex[f] for f in COUNTER_FIELDS}),
                    [{"asset_id": a, "channel": ch, "grain": "day", "bucket_start": d,
                      **{f: (v[i] if f.endswith("_seconds") else int(v[i])) for i, f in enumerate(COUNTER_FIELDS)}}
                     for (a, ch, d), v in sorted(days.items())])
    ids = [r[0] for r in rows]
    for i in range(0, len(ids), 5000):
        session.execute(delete(c).where(c.id.in_(ids[i:i + 5000])))
    return len(rows)


def rollup(now: datetime | None = None) -> dict[str, int]:
    """Keep storage bounded: hourly counters older than ``events_hourly_days`` become daily ones (sums kept
    exactly), event ids older than ``events_dedupe_days`` leave the dedupe window, and reader feedback unseen for
    ``events_interaction_days`` is pruned. Each step commits in batches; safe to rerun."""
    s = get_settings()
    now = now or utcnow()
    hour_cut = _day(now - timedelta(days=s.events_hourly_days))
    rolled = 0
    while True:
        with session_scope() as session:
            n = _roll_hours(session, hour_cut)
        rolled += n
        if n < _ROLL_BATCH:
            break
    with session_scope() as session:
        seen = session.execute(delete(EventSeen).where(
            EventSeen.seen_at < now - timedelta(days=s.events_dedupe_days))).rowcount or 0
        stale = session.execute(delete(ReaderInteraction).where(
            ReaderInteraction.last_at < now - timedelta(days=s.events_interaction_days))).rowcount or 0
    return {"hours_rolled_up": rolled, "event_ids_forgotten": int(seen), "stale_interactions_pruned": int(stale)}
