"""Engagement-event ingest throughput and memory: 1,000,000 events through the real ingest function
(`zhimei.distribute.engagement.ingest_events`) into a real zhimei home, next to a naive baseline in the same run.

    .venv/bin/python bench/events.py [--events 1000000] [--dup 0.05] [--db-url postgresql+psycopg://…]
                                     [--data FILE.jsonl] [--baseline 20000]

Stream: events over --assets assets and --users readers, ~5 % of them resends of an earlier event (same
event_id), times drawn at random over 30 days (out of order). Generated lazily, so the stream itself holds no
memory; --data reads a JSON-lines file of events instead (format: one {event_id, type, user, asset_id, channel?,
variant_id?, value?, at} per line; its assets 1..max are created). Checks: the stored totals (counters and
readers' feedback) equal the totals of the UNIQUE events and the dedupe window holds one key per unique event —
nothing counted twice. Memory: resident set size sampled after every chunk (and ru_maxrss).
Baseline: the obvious row-by-row ORM version of the same work (per event: look up the event id, get-or-create the
reader, the counter row and the feedback row, one ORM object each), run on a --baseline subset and extrapolated.
Default database: SQLite in a fresh temporary home; --db-url: an EMPTY PostgreSQL database. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TYPES = ["impression"] * 12 + ["click"] * 4 + ["play", "play", "dwell", "dwell", "share"]
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Current resident set size of this process in MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE / 2**20


class Expected:
    """Totals of the unique events, kept while the stream is generated or read (checked against the database)."""

    def __init__(self) -> None:
        self.unique = 0
        self.dups = 0
        self.by_type = dict.fromkeys(("impression", "click", "play", "share", "dwell"), 0)
        self.watch = 0.0
        self.dwell = 0.0

    def add(self, ev: dict) -> None:
        self.unique += 1
        self.by_type[ev["type"]] += 1
        if ev["type"] == "play":
            self.watch += ev.get("value") or 0.0
        elif ev["type"] == "dwell":
            self.dwell += ev.get("value") or 0.0


def generate(n: int, assets: int, users: int, dup: float, seed: int, exp: Expected | None) -> Iterator[dict]:
    """`n` events; a fraction `dup` resends an event from the last 20,000 (same id); times shuffled over 30 days."""
    rng = random.Random(seed)
    recent: deque[dict] = deque(maxlen=20_000)
    start = datetime.now(UTC) - timedelta(days=30)
    span = 30 * 86400
    channels = [None, "web", "app", "ott"]
    for i in range(n):
        if recent and rng.random() < dup:
            if exp is not None:
                exp.dups += 1
            yield recent[rng.randrange(len(recent))]
            continue
        t = rng.choice(TYPES)
        ev = {"event_id": f"e{seed}-{i}", "type": t, "user": f"reader-{rng.randrange(users)}",
              "asset_id": 1 + int(rng.paretovariate(1.2) * 3) % assets,
              "at": (start + timedelta(seconds=rng.randrange(span))).isoformat()}
        ch = channels[rng.randrange(4)]
        if ch:
            ev["channel"] = ch
        if t == "play":
            ev["value"] = float(rng.randrange(1, 1800))
        elif t == "dwell":
            ev["value"] = float(rng.randrange(1, 600))
        if exp is not None:
            exp.add(ev)
        recent.append(ev)
        yield ev


def read_file(path: Path, exp: Expected | None) -> Iterator[dict]:
    """Events of a JSONL file; with `exp`, unique-event totals are kept (a set of 128-bit id hashes)."""
    from zhimei.distribute.engagement.events import event_key

    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            ev = json.loads(line)
            if exp is not None and isinstance(ev, dict) and "event_id" in ev:
                k = event_key(str(ev["event_id"]))
                if k in seen:
                    exp.dups += 1
                else:
                    seen.add(k)
                    exp.add(ev)
            yield ev


def make_assets(n: int) -> None:
    from sqlalchemy import insert

    from zhimei.store.db import session_scope
    from zhimei.store.models import Asset, utcnow

    now = utcnow()
    with session_scope() as s:
        for i in range(0, n, 5000):
            s.execute(insert(Asset), [{"id": j + 1, "kind": "article", "title": f"bench {j + 1}", "created_at": now,
                                       "updated_at": now, "meta": {}} for j in range(i, min(n, i + 5000))])


def stored_totals() -> dict:
    from sqlalchemy import func, select

    from zhimei.store.db import read_scope
    from zhimei.store.models_engagement import EngagementCounter, EventSeen, Reader, ReaderInteraction

    c, r = EngagementCounter, ReaderInteraction
    with read_scope() as s:
        cs = s.execute(select(func.sum(c.impressions), func.sum(c.clicks), func.sum(c.plays), func.sum(c.shares),
                              func.sum(c.watch_seconds), func.sum(c.dwell_seconds), func.count())).one()
        rs = s.execute(select(func.sum(r.impressions), func.sum(r.clicks), func.sum(r.plays), func.sum(r.shares),
                              func.sum(r.watch_seconds), func.sum(r.dwell_seconds), func.count())).one()
        seen = s.scalar(select(func.count()).select_from(EventSeen))
        readers = s.scalar(select(func.count()).select_from(Reader))
    return {"counters": [float(x or 0) for x in cs[:6]], "counter_rows": int(cs[6]),
            "feedback": [float(x or 0) for x in rs[:6]], "feedback_rows": int(rs[6]), "seen": int(seen),
            "readers": int(readers)}


def naive_ingest(events: list[dict]) -> None:
    """The baseline: the same semantics, one ORM lookup/object per event and per row touched."""
    from sqlalchemy import select

    from zhimei.distribute.engagement.events import event_key, event_weight
    from zhimei.distribute.engagement.readers import pseudonym
    from zhimei.store.db import session_scope
    from zhimei.store.models import Asset, utcnow
    from zhimei.store.models_engagement import EngagementCounter, EventSeen, Reader, ReaderInteraction

    slot = {"impression": "impressions", "click": "clicks", "play": "plays", "share": "shares"}
    for i in range(0, len(events), 1000):
        with session_scope() as s:
            for ev in events[i:i + 1000]:
                key = event_key(ev["event_id"])
                if s.get(EventSeen, key) is not None or s.get(Asset, ev["asset_id"]) is None:
                    continue
                s.add(EventSeen(key=key, seen_at=utcnow()))
                p = pseudonym(ev["user"])
                reader = s.scalars(select(Reader).where(Reader.pseudonym == p)).first()
                if reader is None:
                    reader = Reader(pseudonym=p, consent=True, created_at=utcnow())
                    s.add(reader)
                    s.flush()
                at = datetime.fromisoformat(ev["at"])
                hour = at.replace(minute=0, second=0, microsecond=0)
                ch = ev.get("channel") or ""
                row = s.scalars(select(EngagementCounter).where(
                    EngagementCounter.asset_id == ev["asset_id"], EngagementCounter.channel == ch,
                    EngagementCounter.grain == "hour", EngagementCounter.bucket_start == hour)).first()
                if row is None:
                    row = EngagementCounter(asset_id=ev["asset_id"], channel=ch, grain="hour", bucket_start=hour,
                                            impressions=0, clicks=0, plays=0, shares=0, watch_seconds=0.0,
                                            dwell_seconds=0.0)
                    s.add(row)
                fb = s.scalars(select(ReaderInteraction).where(ReaderInteraction.reader_id == reader.id,
                                                               ReaderInteraction.asset_id == ev["asset_id"])).first()
                if fb is None:
                    fb = ReaderInteraction(reader_id=reader.id, asset_id=ev["asset_id"], weight=0.0, impressions=0,
                                           clicks=0, plays=0, shares=0, watch_seconds=0.0, dwell_seconds=0.0,
                                           first_at=at, last_at=at)
                    s.add(fb)
                name = slot.get(ev["type"])
                value = float(ev.get("value") or 0.0)
                for obj in (row, fb):
                    if name:
                        setattr(obj, name, getattr(obj, name) + 1)
                    if ev["type"] == "play":
                        obj.watch_seconds += value
                    elif ev["type"] == "dwell":
                        obj.dwell_seconds += value
                fb.weight += event_weight(ev["type"], value)
                s.flush()


def db_bytes(home: Path, url: str) -> int | None:
    if url:
        from sqlalchemy import text

        from zhimei.store.db import get_engine

        with get_engine().connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar())
    return sum(p.stat().st_size for p in home.glob("*.db*"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--assets", type=int, default=5_000)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--dup", type=float, default=0.05, help="share of resent events")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--chunk", type=int, default=20_000, help="events per transaction")
    ap.add_argument("--baseline", type=int, default=20_000, help="events for the naive baseline (0: skip)")
    ap.add_argument("--data", type=Path, help="a JSON-lines file of events instead of the generated stream")
    ap.add_argument("--db-url", default="", help="an EMPTY PostgreSQL database (default: SQLite in a temp home)")
    ap.add_argument("--home", type=Path, help="zhimei home to use (default: a fresh temporary folder)")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="zhimei-bench-events-")
    home = args.home or Path(tmp.name)
    os.environ["ZHIMEI_HOME"] = str(home)
    if args.db_url:
        os.environ["ZHIMEI_DATABASE_URL"] = args.db_url
    from zhimei.distribute.engagement import ingest_events
    from zhimei.settings import reset_settings
    from zhimei.store import migrate

    reset_settings()
    migrate()
    db = "postgresql" if args.db_url else "sqlite"
    if args.data:
        max_asset = 0
        with args.data.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    ev = json.loads(line)
                    if isinstance(ev, dict) and isinstance(ev.get("asset_id"), int):
                        max_asset = max(max_asset, ev["asset_id"])
        make_assets(max_asset)

        def stream(exp):
            return read_file(args.data, exp)
    else:
        make_assets(args.assets)

        def stream(exp):
            return generate(args.events, args.assets, args.users, args.dup, args.seed, exp)

    # the cost of producing the stream alone (subtracted for the net ingest rate)
    t = time.perf_counter()
    n_stream = sum(1 for _ in stream(None))
    gen_s = time.perf_counter() - t
    print(f"stream: {n_stream} events produced in {gen_s:.1f} s (no ingest)", flush=True)

    exp = Expected()
    samples: list[float] = []
    done = [0]
    rss0 = rss_mb()

    def progress(n: int) -> None:
        done[0] += n
        samples.append(rss_mb())
        if done[0] % 100_000 < n:
            print(f"  {done[0]:>9} events  rss {samples[-1]:.0f} MiB", flush=True)

    t, cpu = time.perf_counter(), time.process_time()
    report = ingest_events(stream(exp), chunk_size=args.chunk, progress=progress)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    got = stored_totals()
    want = [exp.by_type["impression"], exp.by_type["click"], exp.by_type["play"], exp.by_type["share"], exp.watch,
            exp.dwell]
    close = [abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(got["counters"], want, strict=True)]
    close_fb = [abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(got["feedback"], want, strict=True)]
    counted_once = (all(close) and all(close_fb) and got["seen"] == exp.unique and report.accepted == exp.unique
                    and report.duplicates == exp.dups and report.rejected == 0)
    rate = report.received / wall
    net = report.received / max(1e-9, wall - gen_s)
    tenth = samples[max(0, len(samples) // 10 - 1)] if samples else rss0
    print(f"ingest ({db}): {report.received} events in {wall:.1f} s = {rate:,.0f} events/s "
          f"({net:,.0f}/s without producing the stream; {report.received / cpu:,.0f} per CPU-second, "
          f"{os.cpu_count()} cores shared); accepted {report.accepted}, duplicates "
          f"{report.duplicates}, rejected {report.rejected}")
    print(f"memory: rss before {rss0:.0f} MiB, after 10% {tenth:.0f} MiB, peak during ingest "
          f"{max(samples or [rss0]):.0f} MiB, at the end {samples[-1] if samples else rss0:.0f} MiB; "
          f"ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"stored: {got['counter_rows']} counter rows, {got['feedback_rows']} reader×asset rows, "
          f"{got['readers']} readers, {got['seen']} event ids in the dedupe window; "
          f"totals equal the unique events: {counted_once}")

    base = base_cpu = None
    if args.baseline and not args.data:
        subset = list(generate(args.baseline, args.assets, args.users, args.dup, args.seed + 1, None))
        for ev in subset:
            ev["event_id"] = "naive-" + ev["event_id"] if not ev["event_id"].startswith("naive-") else ev["event_id"]
        t, b_cpu = time.perf_counter(), time.process_time()
        naive_ingest(subset)
        b_wall, b_cpu = time.perf_counter() - t, time.process_time() - b_cpu
        base = len(subset) / b_wall
        base_cpu = len(subset) / b_cpu
        print(f"baseline (row-by-row ORM): {len(subset)} events in {b_wall:.1f} s = {base:,.0f} events/s "
              f"({base_cpu:,.0f} per CPU-second); "
              f"{report.received} events would take {report.received / base:,.0f} s (extrapolated)")
    size = db_bytes(home, args.db_url)
    result = {"db": db, "events": report.received, "unique": exp.unique, "duplicates": report.duplicates,
              "rejected": report.rejected, "seconds": round(wall, 2), "events_per_s": round(rate),
              "events_per_s_net": round(net),
              "events_per_cpu_s": round(report.received / cpu), "cpu_seconds": round(cpu, 2),
              "stream_seconds": round(gen_s, 2),
              "rss_mb_start": round(rss0, 1), "rss_mb_after_10pct": round(tenth, 1),
              "rss_mb_peak": round(max(samples or [rss0]), 1), "ru_maxrss_mb": round(
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "counted_once": counted_once, "counter_rows": got["counter_rows"],
              "feedback_rows": got["feedback_rows"], "readers": got["readers"], "db_bytes": size,
              "chunk": args.chunk, "baseline_events": args.baseline if base else 0,
              "baseline_events_per_s": round(base) if base else None,
              "baseline_extrapolated_s": round(report.received / base, 1) if base else None,
              "baseline_events_per_cpu_s": round(base_cpu) if base else None,
              "speedup": round(rate / base, 1) if base else None,
              "speedup_cpu": round(report.received / cpu / base_cpu, 1) if base else None}
    print(json.dumps(result))
    tmp.cleanup()


if __name__ == "__main__":
    main()
