"""Hot terms: which terms and named entities burst in the current window against their baseline rate.

A term's count is the number of items (articles, transcripts…) naming it. Its expected count in the current
window is its baseline share of items times the number of items now: lam = r * (base + 0.5) with
r = n_now / (n_base + 1) (the half item smooths terms never seen before). The burst score is a Poisson z-score,
z = (count - lam) / sqrt(max(lam, 1) + r * lam): the variance counts the uncertainty of the baseline estimate
(r * lam = r² * base), and is at least one item, so two mentions of a word never seen before are no burst
(z ≈ 1) while a named thing that jumps from its usual one a day to seven is (z ≈ 5). A term bursts when at
least `min_count` items name it and z >= `min_z`. Shares rather than raw rates keep a busy news day from making
every word "burst". bench/trends.py measures the ranking on real titles.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.settings import get_settings
from zhimei.store.models import utcnow
from zhimei.store.models_insight import InsightItem

__all__ = ["TermBurst", "Windows", "windows", "term_bursts", "InsightError", "MAX_ITEMS", "StreamItem", "load_items",
           "item_keys", "burst_index"]

LAMBDA_FLOOR = 1.0
"""The least variance (in items) of a term's expected count: rare words' chance pairs are not bursts."""
MAX_ITEMS = 30_000
"""The most recent items a burst or story computation reads (bounds memory on a flood)."""


class InsightError(ValueError):
    """A request insight cannot do; `status` is the HTTP status (422 bad input, 404 unknown)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Windows:
    """The current window (start, now] and the baseline before it (base_start, start]."""

    now: datetime
    start: datetime
    base_start: datetime

    @property
    def ratio(self) -> float:
        """Baseline length over current length."""
        return (self.start - self.base_start) / (self.now - self.start)


def windows(now: datetime | None = None, *, window_hours: float | None = None,
            baseline_days: float | None = None, since: datetime | None = None) -> Windows:
    """The windows from settings (or the given lengths); `since` starts the current window there instead."""
    s = get_settings()
    now = now or utcnow()
    if now.tzinfo is None:
        raise InsightError("times must carry a time zone (e.g. 2026-12-01T00:00:00Z)")
    if since is not None:
        if since.tzinfo is None:
            raise InsightError("since must carry a time zone (e.g. 2026-12-01T00:00:00Z)")
        if since >= now:
            raise InsightError("since must be in the past")
        start = since
    else:
        hours = window_hours if window_hours is not None else s.insight_window_hours
        if not 0 < hours <= 24 * 365:
            raise InsightError("window_hours must be between 0 and 8760")
        start = now - timedelta(hours=hours)
    days = baseline_days if baseline_days is not None else s.insight_baseline_days
    if not 0 < days <= 365:
        raise InsightError("baseline_days must be between 0 and 365")
    return Windows(now=now, start=start, base_start=start - timedelta(days=days))


@dataclass
class TermBurst:
    """One term's burst: items naming it now and in the baseline, the expected count and the z-score."""

    term: str
    kind: str
    """term | PER | ORG | LOC"""
    count: int
    baseline_count: int
    expected: float
    z: float
    ratio: float
    asset_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


def _label(key: str) -> tuple[str, str]:
    kind, sep, norm = key.partition(":")
    if sep and kind in ("PER", "ORG", "LOC"):
        return kind, norm
    return "term", key


@dataclass
class StreamItem:
    """What bursts and stories need of an item (its text cut to SNIPPET_CHARS, so a long stream stays small)."""

    id: int
    asset_id: int
    at: datetime
    source: str = ""
    title: str = ""
    snippet: str = ""
    terms: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    sentiment: float | None = None
    story_id: int | None = None


SNIPPET_CHARS = 300


def load_items(session: Session, start: datetime, end: datetime) -> list[StreamItem]:
    """Items with text in (start, end], newest MAX_ITEMS."""
    t = InsightItem
    q = (select(t.id, t.asset_id, t.at, t.source, t.title, func.substr(t.text, 1, SNIPPET_CHARS), t.terms, t.entities,
                t.sentiment, t.story_id)
         .where(t.at > start, t.at <= end, t.text != "").order_by(t.at.desc()).limit(MAX_ITEMS))
    return [StreamItem(id=r[0], asset_id=r[1], at=r[2], source=r[3] or "", title=r[4] or "", snippet=r[5] or "",
                       terms=list(r[6] or []), entities=list(r[7] or []), sentiment=r[8], story_id=r[9])
            for r in session.execute(q)]


def item_keys(item: StreamItem) -> set[str]:
    """An item's burst keys: its terms and its entities ("PER:…")."""
    return set(item.terms or ()) | set(item.entities or ())


def term_bursts(session: Session | None, *, now: datetime | None = None, since: datetime | None = None,
                window_hours: float | None = None, baseline_days: float | None = None, min_count: int = 2,
                min_z: float = 2.0, limit: int = 50, items: list[StreamItem] | None = None) -> list[TermBurst]:
    """Terms and entities bursting in the current window, highest z first (see the module docstring); `items`:
    use these items instead of reading them (then `session` may be None)."""
    if min_count < 1:
        raise InsightError("min_count must be at least 1")
    if not 1 <= limit <= 1000:
        raise InsightError("limit must be between 1 and 1000")
    w = windows(now, window_hours=window_hours, baseline_days=baseline_days, since=since)
    rows = items if items is not None else load_items(session, w.base_start, w.now)
    now_count: Counter[str] = Counter()
    base_count: Counter[str] = Counter()
    examples: dict[str, list[int]] = defaultdict(list)
    n_now = n_base = 0
    for it in rows:
        if it.at <= w.base_start or it.at > w.now:
            continue
        keys = item_keys(it)
        if it.at > w.start:
            n_now += 1
            now_count.update(keys)
            for k in keys:
                if len(examples[k]) < 10:
                    examples[k].append(it.asset_id)
        else:
            n_base += 1
            base_count.update(keys)
    ratio = n_now / (n_base + 1)
    out: list[TermBurst] = []
    for key, c in now_count.items():
        if c < min_count:
            continue
        b = base_count.get(key, 0)
        lam = ratio * (b + 0.5)
        z = (c - lam) / math.sqrt(max(lam, LAMBDA_FLOOR) + ratio * lam)
        if z < min_z:
            continue
        kind, term = _label(key)
        out.append(TermBurst(term=term, kind=kind, count=c, baseline_count=b, expected=round(lam, 3),
                             z=round(z, 3), ratio=round(c / lam, 3), asset_ids=examples[key]))
    out.sort(key=lambda t: (-t.z, -t.count, t.term))
    return out[:limit]


def burst_index(bursts: list[TermBurst]) -> dict[str, float]:
    """{key: z} with entity keys in the item form ("PER:…")."""
    return {(b.term if b.kind == "term" else f"{b.kind}:{b.term}"): b.z for b in bursts}
