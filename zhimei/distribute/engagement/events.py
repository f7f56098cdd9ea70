"""Engagement events in: impressions, clicks, plays (watch time), shares, dwell time — batched and idempotent.

Each event is ``{event_id, type, user, asset_id, channel?, variant_id?, value?, at}``. A chunk of events is one
transaction of a few bulk statements: the event-id hashes go into the dedupe window (``INSERT … ON CONFLICT DO
NOTHING RETURNING``, so an id already seen — in this batch, an earlier one, or a concurrent one — counts once),
unknown users get a pseudonymous reader, and the new events are summed in memory and added to the counters
(asset × channel × hour), to the readers' per-asset feedback and to the experiment variants. Raw events are not
kept, so storage grows with assets, readers and hours, not with events; memory is bounded by the chunk size.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from zhimei.distribute.engagement.bulk import Bulk
from zhimei.distribute.engagement.errors import EngagementError
from zhimei.distribute.engagement.readers import MAX_USER_LEN, bulk_reader_ids
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, utcnow
from zhimei.store.models_engagement import Experiment, ExperimentVariant

__all__ = ["EVENT_TYPES", "MAX_BATCH", "CHUNK", "IngestReport", "ingest_events", "ingest_jsonl", "event_weight",
           "event_key", "read_jsonl"]

EVENT_TYPES = ("impression", "click", "play", "share", "dwell")
MAX_BATCH = 2_000
"""Most events one REST request may carry (a full batch stays inside the API's 1 MiB body limit; bigger loads go
through `ingest_events` / `zhimei events load`, streamed)."""
CHUNK = 20_000
"""Events per transaction when streaming: bounds memory; bigger chunks touch each index page fewer times."""
_IN_BATCH = 5_000
MAX_VALUE = 86_400.0
MAX_EVENT_ID = 128
MAX_CHANNEL = 64
MAX_ERRORS = 1_000
FUTURE_SLACK = 86_400.0
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_COUNTS = ("impressions", "clicks", "plays", "shares", "watch_seconds", "dwell_seconds")
_SLOT = {"impression": 0, "click": 1, "play": 2, "share": 3}


def event_weight(etype: str, value: float) -> float:
    """Implicit-feedback strength of one event: a click 1, a play 1 plus up to 5 for watch time (1 per 2 minutes),
    a share 3, dwell 1 per minute up to 5; an impression 0 (seen, not chosen)."""
    if etype == "click":
        return 1.0
    if etype == "play":
        return 1.0 + min(value, 600.0) / 120.0
    if etype == "share":
        return 3.0
    if etype == "dwell":
        return min(value, 300.0) / 60.0
    return 0.0


def event_key(event_id: str) -> str:
    """What the dedupe window stores for an event id: 128 bits of BLAKE2b, hex (the id itself is not kept)."""
    return hashlib.blake2b(event_id.encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class IngestReport:
    """What became of a batch: accepted (counted now), duplicates (already counted), rejected (with reasons)."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    readers: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, index: int, event_id: Any, reason: str, kind: str) -> None:
        self.rejected += 1
        self.reasons[kind] = self.reasons.get(kind, 0) + 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"index": index, "event_id": event_id if isinstance(event_id, str | int) else None,
                                "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, rejections by kind and the first rejected events with their reasons."""
        return {"received": self.received, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected, "readers": self.readers, "rejected_by_reason": dict(self.reasons),
                "errors": self.errors, "errors_truncated": self.rejected > len(self.errors)}


class _Bad(Exception):
    def __init__(self, reason: str, kind: str):
        super().__init__(reason)
        self.kind = kind


def _number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _Bad(f"{name} must be a number", name)
    f = float(v)
    if not math.isfinite(f):
        raise _Bad(f"{name} must be finite", name)
    return f


def _int_id(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, str) and v.isdigit():
            v = int(v)
        else:
            raise _Bad(f"{name} must be a positive integer", name)
    if v < 1 or v > 2**62:
        raise _Bad(f"{name} must be a positive integer", name)
    return v


def _when(v: Any, now: float) -> float:
    if isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v.strip())
        except ValueError:
            raise _Bad(f"at {v[:40]!r} is not an ISO 8601 time (e.g. 2026-12-02T08:30:00Z)", "at") from None
        ts = (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    elif v is None:
        raise _Bad("at is missing (the time of the event)", "at")
    else:
        ts = _number(v, "at")
        if ts > 1e11:  # milliseconds
            ts /= 1000.0
    if ts > now + FUTURE_SLACK:
        raise _Bad("at is more than a day in the future", "at")
    if ts < EARLIEST:
        raise _Bad("at is before 2000", "at")
    return ts


def _parse(ev: Any, now: float) -> tuple[str, str, str, int, str, int | None, float, float]:
    if not isinstance(ev, dict):
        raise _Bad("an event must be a JSON object", "not_an_object")
    eid = ev.get("event_id")
    if isinstance(eid, int) and not isinstance(eid, bool):
        eid = str(eid)
    if not isinstance(eid, str) or not eid.strip():
        raise _Bad("event_id is missing (a string, unique per event)", "event_id")
    if len(eid) > MAX_EVENT_ID:
        raise _Bad(f"event_id is longer than {MAX_EVENT_ID} characters", "event_id")
    etype = ev.get("type")
    if etype not in _TYPES:
        raise _Bad(f"type {str(etype)[:20]!r} is not one of {', '.join(EVENT_TYPES)}", "type")
    user = ev.get("user")
    if not isinstance(user, str) or not user.strip():
        raise _Bad("user is missing (the outside user id, a string)", "user")
    user = user.strip()
    if len(user) > MAX_USER_LEN:
        raise _Bad(f"user is longer than {MAX_USER_LEN} characters", "user")
    asset_id = _int_id(ev.get("asset_id"), "asset_id")
    channel = ev.get("channel")
    if channel is None:
        channel = ""
    elif not isinstance(channel, str) or len(channel) > MAX_CHANNEL:
        raise _Bad(f"channel must be a string of at most {MAX_CHANNEL} characters", "channel")
    variant = ev.get("variant_id")
    variant_id = None if variant is None else _int_id(variant, "variant_id")
    raw = ev.get("value")
    value = 0.0 if raw is None else _number(raw, "value")
    if value < 0 or value > MAX_VALUE:
        raise _Bad(f"value must be between 0 and {MAX_VALUE:.0f} seconds", "value")
    return eid, etype, user, asset_id, channel.strip(), variant_id, value, _when(ev.get("at"), now)


_TYPES = frozenset(EVENT_TYPES)


def _ingest_chunk(session: Session, chunk: list[tuple[int, Any]], report: IngestReport) -> None:
    now_dt = utcnow()
    now = now_dt.timestamp()
    parsed: list[tuple[int, str, str, str, int, str, int | None, float, float]] = []
    keys_here: set[str] = set()
    for idx, ev in chunk:
        try:
            eid, etype, user, asset_id, channel, variant_id, value, ts = _parse(ev, now)
        except _Bad as bad:
            report.reject(idx, ev.get("event_id") if isinstance(ev, dict) else None, str(bad), bad.kind)
            continue
        key = event_key(eid)
        if key in keys_here:
            report.duplicates += 1
            continue
        keys_here.add(key)
        parsed.append((idx, eid, key, etype, user, asset_id, channel, variant_id, value, ts))
    if not parsed:
        return
    asset_ids = sorted({p[5] for p in parsed})
    known: set[int] = set()
    for i in range(0, len(asset_ids), _IN_BATCH):
        known.update(session.scalars(select(Asset.id).where(Asset.id.in_(asset_ids[i:i + _IN_BATCH]))))
    variant_ids = sorted({p[7] for p in parsed if p[7] is not None})
    variants: dict[int, tuple[int, str]] = {}
    for i in range(0, len(variant_ids), _IN_BATCH):
        variants.update({vid: (aid, status) for vid, aid, status in session.execute(
            select(ExperimentVariant.id, Experiment.asset_id, Experiment.status)
            .join(Experiment, Experiment.id == ExperimentVariant.experiment_id)
            .where(ExperimentVariant.id.in_(variant_ids[i:i + _IN_BATCH])))})
    good = []
    for p in parsed:
        idx, eid, _key, _t, _u, asset_id, _c, variant_id, _v, _ts = p
        if asset_id not in known:
            report.reject(idx, eid, f"unknown or deleted asset {asset_id}", "asset")
        elif variant_id is not None and variant_id not in variants:
            report.reject(idx, eid, f"unknown experiment variant {variant_id}", "variant")
        elif variant_id is not None and variants[variant_id][0] != asset_id:
            report.reject(idx, eid, f"variant {variant_id} belongs to an experiment on asset "
                                    f"{variants[variant_id][0]}, not {asset_id}", "variant")
        else:
            good.append(p)
    if not good:
        return
    # the dedupe window decides what is new; a key another transaction holds makes us wait, then skip it
    bulk = Bulk(session)
    seen_at = bulk.now(now_dt)
    fresh = {r[0] for r in bulk.insert_returning(
        "INSERT INTO event_seen (key, seen_at)", "ON CONFLICT (key) DO NOTHING RETURNING key",
        sorted((p[2], seen_at) for p in good))}
    report.duplicates += len(good) - len(fresh)
    good = [p for p in good if p[2] in fresh]
    if not good:
        return
    readers = bulk_reader_ids(bulk, (p[4] for p in good))
    report.readers += len(readers)
    counters: dict[tuple[int, str, int], list[float]] = {}
    feedback: dict[tuple[int, int], list[float]] = {}
    arms: dict[int, list[int]] = {}
    for _idx, _eid, _key, etype, user, asset_id, channel, variant_id, value, ts in good:
        hour = int(ts // 3600) * 3600
        c = counters.get((asset_id, channel, hour))
        if c is None:
            c = counters[(asset_id, channel, hour)] = [0, 0, 0, 0, 0.0, 0.0]
        f = feedback.get((readers[user], asset_id))
        if f is None:
            f = feedback[(readers[user], asset_id)] = [0.0, 0, 0, 0, 0, 0.0, 0.0, ts, ts]
        slot = _SLOT.get(etype)
        if slot is not None:
            c[slot] += 1
            f[slot + 1] += 1
        if etype == "play":
            c[4] += value
            f[5] += value
        elif etype == "dwell":
            c[5] += value
            f[6] += value
        f[0] += event_weight(etype, value)
        if ts < f[7]:
            f[7] = ts
        if ts > f[8]:
            f[8] = ts
        if variant_id is not None and etype in ("impression", "click") and variants[variant_id][1] == "running":
            a = arms.setdefault(variant_id, [0, 0])
            a[0 if etype == "impression" else 1] += 1
    report.accepted += len(good)
    _write(session, bulk, counters, feedback, arms)


def _write(session: Session, bulk: Bulk, counters: dict, feedback: dict, arms: dict) -> None:
    p = bulk.p
    adds = ", ".join(f"{c} = engagement_counter.{c} + excluded.{c}" for c in _COUNTS)
    bulk.executemany(
        "INSERT INTO engagement_counter (asset_id, channel, grain, bucket_start, impressions, clicks, plays, shares, "
        f"watch_seconds, dwell_seconds) VALUES ({', '.join([p] * 10)}) "
        f"ON CONFLICT (asset_id, channel, grain, bucket_start) DO UPDATE SET {adds}",
        [(a, ch, "hour", bulk.ts(h), *v) for (a, ch, h), v in sorted(counters.items())])
    adds = ", ".join(f"{c} = reader_interaction.{c} + excluded.{c}" for c in ("weight", *_COUNTS))
    bulk.executemany(
        "INSERT INTO reader_interaction (reader_id, asset_id, weight, impressions, clicks, plays, shares, "
        f"watch_seconds, dwell_seconds, first_at, last_at) VALUES ({', '.join([p] * 11)}) "
        f"ON CONFLICT (reader_id, asset_id) DO UPDATE SET {adds}, "
        f"first_at = {bulk.least('reader_interaction.first_at', 'excluded.first_at')}, "
        f"last_at = {bulk.greatest('reader_interaction.last_at', 'excluded.last_at')}",
        [(r, a, *v[:7], bulk.ts(v[7]), bulk.ts(v[8])) for (r, a), v in sorted(feedback.items())])
    if arms:
        vt = ExperimentVariant.__table__
        session.execute(update(vt).where(vt.c.id == bindparam("b_id"))
                        .values(impressions=vt.c.impressions + bindparam("b_imp"),
                                clicks=vt.c.clicks + bindparam("b_clk")),
                        [{"b_id": v, "b_imp": n[0], "b_clk": n[1]} for v, n in sorted(arms.items())])


def ingest_events(events: Iterable[Any], *, chunk_size: int = CHUNK,
                  progress: Callable[[int], None] | None = None) -> IngestReport:
    """Count a stream of events, `chunk_size` per transaction (memory stays bounded however long the stream).
    Bad events are rejected one by one with a reason; the rest of the batch is kept. Safe to retry: an event id
    counted before (within the dedupe window, ``events_dedupe_days``) is reported as a duplicate, not counted."""
    if not 1 <= chunk_size <= 50_000:
        raise EngagementError("chunk_size must be between 1 and 50000")
    report = IngestReport()
    it: Iterator[tuple[int, Any]] = enumerate(events)
    while True:
        chunk = list(islice(it, chunk_size))
        if not chunk:
            break
        report.received += len(chunk)
        with session_scope() as session:
            _ingest_chunk(session, chunk, report)
        if progress is not None:
            progress(len(chunk))
    return report


def read_jsonl(path: str | Path) -> Iterator[Any]:
    """The events of a JSON-lines file, one per line, read lazily (bad lines come through and are rejected)."""
    import json

    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except ValueError:
                yield None


def ingest_jsonl(path: str | Path, *, progress: Callable[[int], None] | None = None) -> IngestReport:
    """Count the events of a JSON-lines file (one event object per line), streamed in chunks."""
    p = Path(path)
    if not p.is_file():
        raise EngagementError(f"no such file: {p}", 404)
    return ingest_events(read_jsonl(p), progress=progress)
