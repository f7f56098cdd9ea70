"""Stories: items about one thing grouped together, with a heat score, persisted and recomputed by a task.

Grouping uses `zhimei.insight.clustering.cluster_texts` (the insight models); while that is absent, items are
grouped by the overlap of their terms and entities (TF-IDF cosine, average-link clustering).
A story keeps its id across recomputations when most of its items stay together.

Heat (higher is hotter; its parts are stored in `components`):
    heat = 1.0·ln(1+volume) + 0.5·ln(growth) + 0.5·ln(1+burst) + 0.3·ln(1+engagement) + 0.3·ln(source_count)
volume: items in the current window; growth: (volume+1)/(items in the window before+1); burst: the highest burst
z-score among the story's terms; engagement: impressions·0.1 + clicks + plays + 3·shares of its assets in the
current window (from the engagement counters); source_count: distinct sources (feeds, agencies, uploads).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from zhimei.insight.trends import (
    InsightError,
    StreamItem,
    Windows,
    burst_index,
    item_keys,
    load_items,
    term_bursts,
    windows,
)
from zhimei.store.db import session_scope
from zhimei.store.models import utcnow
from zhimei.store.models_insight import InsightItem, InsightStory

__all__ = ["Story", "group_texts", "detect_stories", "hot_topics", "story_detail", "story_dict", "MIN_STORY_ITEMS",
           "HEAT_WEIGHTS", "ENGAGEMENT_WEIGHTS", "engagement_by_asset", "NEGATIVE_BELOW"]

log = logging.getLogger("zhimei.insight")

MIN_STORY_ITEMS = 2
MAX_STORY_ITEMS = 3000
"""The newest items of the window and baseline that are grouped into stories in one run."""
NEGATIVE_BELOW = 0.5
"""An item whose positive probability is below this counts as negative."""
HEAT_WEIGHTS = {"volume": 1.0, "growth": 0.5, "burst": 0.5, "engagement": 0.3, "sources": 0.3}
ENGAGEMENT_WEIGHTS = {"impressions": 0.1, "clicks": 1.0, "plays": 1.0, "shares": 3.0}
GROUP_THRESHOLD = 0.22
STORY_LOCK_KEY = 0x7A68_6D69  # "zhmi"
MAX_OVERLAP_ITEMS = 3000


@dataclass
class Story:
    """A story as the newsroom sees it: title, heat and its parts, terms, sentiment, when it ran."""

    id: int
    title: str
    heat: float
    volume: int
    previous_volume: int
    growth: float
    burst: float
    engagement: float
    source_count: int
    item_count: int
    terms: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    sentiment: float | None = None
    negative_share: float | None = None
    first_at: datetime | None = None
    last_at: datetime | None = None
    components: dict = field(default_factory=dict)
    computed_at: datetime | None = None
    active: bool = True

    def to_dict(self) -> dict:
        """JSON-ready (times as ISO strings)."""
        d = asdict(self)
        for k in ("first_at", "last_at", "computed_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def _story(row: InsightStory) -> Story:
    return Story(id=row.id, title=row.title, heat=row.heat, volume=row.volume, previous_volume=row.previous_volume,
                 growth=row.growth, burst=row.burst, engagement=row.engagement, source_count=row.source_count,
                 item_count=row.item_count, terms=list(row.terms or []), entities=list(row.entities or []),
                 sentiment=row.sentiment, negative_share=row.negative_share, first_at=row.first_at,
                 last_at=row.last_at, components=dict(row.components or {}), computed_at=row.computed_at,
                 active=row.active)


def story_dict(row: InsightStory) -> dict:
    """A stored story as JSON."""
    return _story(row).to_dict()


# ---- grouping ---------------------------------------------------------------------------------------

def _overlap_groups(keys: list[set[str]], bursts: dict[str, float] | None = None,
                    recent: list[bool] | None = None) -> list[int]:
    """Average-link grouping of term sets: TF-IDF vectors (terms only one item has are left out, idf at least 0.5;
    a bursting term weighs 1 + z times more in the items of the current window (`recent`), z capped at 10), cosine
    similarity, clusters merged while their
    mean pairwise similarity is at least GROUP_THRESHOLD. The newest MAX_OVERLAP_ITEMS items are grouped; older
    ones each stand alone."""
    bursts = bursts or {}
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.sparse import csr_matrix

    n_all = len(keys)
    n = min(n_all, MAX_OVERLAP_ITEMS)
    first = n_all - n
    df = Counter(k for ks in keys[first:] for k in ks)
    vocab = {k: i for i, k in enumerate(sorted(k for k, c in df.items() if c > 1))}
    rows, cols, vals = [], [], []
    for r, ks in enumerate(keys[first:]):
        boost = recent is None or recent[first + r]
        for k in ks:
            if k in vocab:
                rows.append(r)
                cols.append(vocab[k])
                idf = max(0.5, math.log((n + 1) / (df[k] + 0.5)))
                vals.append(idf * (1.0 + min(10.0, max(0.0, bursts.get(k, 0.0)))) if boost else idf)
    labels = list(range(n_all))
    if not vocab or n < 2:
        return labels
    m = csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(n, len(vocab)))
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    m = csr_matrix(m.multiply(1.0 / norms[:, None]))
    sim = (m @ m.T).toarray()
    dist = np.clip(1.0 - sim, 0.0, 1.0)
    iu = np.triu_indices(n, k=1)
    found = fcluster(linkage(dist[iu], method="average"), t=1.0 - GROUP_THRESHOLD, criterion="distance")
    for r, lab in enumerate(found):
        labels[first + r] = n_all + int(lab)
    return labels


def group_texts(texts: list[str], keys: list[set[str]], bursts: dict[str, float] | None = None,
                recent: list[bool] | None = None) -> tuple[list[int], str]:
    """A story label per item and the method: the insight models' `cluster_texts` on the texts when present,
    else the overlap of the items' terms and entities (bursting terms weigh more in the `recent` items)."""
    if len(texts) < 2:
        return [0] * len(texts), "none"
    try:
        from zhimei.insight.clustering import cluster_texts
    except ImportError:
        return _overlap_groups(keys, bursts, recent), "term-overlap"
    return [int(x) for x in cluster_texts(texts)], "insight.clustering"


# ---- heat -------------------------------------------------------------------------------------------

def engagement_by_asset(session: Session, asset_ids: list[int], since: datetime, until: datetime) -> dict[int, float]:
    """Weighted engagement (ENGAGEMENT_WEIGHTS) per asset in [since, until) from the engagement counters;
    empty when the engagement area is not installed."""
    if not asset_ids:
        return {}
    try:
        from zhimei.distribute.engagement import counters
    except ImportError:
        return {}
    out: dict[int, float] = {}
    for i in range(0, len(asset_ids), 500):
        for row in counters(session, asset_ids=asset_ids[i:i + 500], since=since, until=until, bucket="hour"):
            score = sum(w * float(row.get(k) or 0) for k, w in ENGAGEMENT_WEIGHTS.items())
            out[int(row["asset_id"])] = out.get(int(row["asset_id"]), 0.0) + score
    return out


def _heat(volume: int, previous: int, burst: float, engagement: float, sources: int) -> tuple[float, float, dict]:
    growth = (volume + 1) / (previous + 1)
    parts = {"volume": math.log1p(volume), "growth": math.log(growth), "burst": math.log1p(max(0.0, burst)),
             "engagement": math.log1p(max(0.0, engagement)), "sources": math.log(max(1, sources))}
    heat = max(0.0, sum(HEAT_WEIGHTS[k] * v for k, v in parts.items()))
    return round(heat, 4), round(growth, 4), {k: round(HEAT_WEIGHTS[k] * v, 4) for k, v in parts.items()}


def _summary(items: list[StreamItem], bursts: dict[str, float]) -> tuple[str, list[str], list[str], float]:
    """(title, top terms, top entities, strongest burst) of a group of items."""
    counts = Counter(k for it in items for k in item_keys(it))

    def rank(k: str) -> tuple:
        return (-counts[k], -bursts.get(k, 0.0), k)

    shared = [k for k in counts if counts[k] >= 2] or list(counts)
    terms = sorted((k for k in shared if ":" not in k or k.split(":", 1)[0] not in ("PER", "ORG", "LOC")),
                   key=rank)[:8]
    ents = sorted((k for k in shared if k.split(":", 1)[0] in ("PER", "ORG", "LOC") and ":" in k), key=rank)[:8]
    burst = max([bursts.get(k, 0.0) for k in shared] or [0.0])
    top = set(terms[:5]) | set(ents[:3])
    best = max(items, key=lambda it: (len(item_keys(it) & top), it.at.timestamp(), it.asset_id))
    title = best.title or best.snippet[:80]
    return title[:1000], terms, ents, burst


def detect_stories(*, now: datetime | None = None, window_hours: float | None = None,
                   baseline_days: float | None = None) -> dict:
    """Group the items of the window and its baseline into stories, score their heat and store them (stories
    that lost their items become inactive). Returns a summary (stories, method, items, bursts)."""
    w = windows(now, window_hours=window_hours, baseline_days=baseline_days)
    with session_scope() as session:
        stream = load_items(session, w.base_start, w.now)  # newest first
    bursts = term_bursts(None, now=w.now, window_hours=window_hours, baseline_days=baseline_days, items=stream,
                         limit=1000)
    zindex = burst_index(bursts)
    items = sorted(stream[:MAX_STORY_ITEMS], key=lambda it: (it.at, it.asset_id))  # the newest are grouped
    texts = [it.snippet or it.title for it in items]  # the snippet starts with the title
    labels, method = group_texts(texts, [item_keys(it) for it in items], zindex, [it.at > w.start for it in items])
    groups: dict[int, list[StreamItem]] = {}
    for it, lab in zip(items, labels, strict=True):
        groups.setdefault(lab, []).append(it)
    clusters = sorted((g for g in groups.values() if len(g) >= MIN_STORY_ITEMS), key=lambda g: -len(g))
    written = _store(clusters, items, zindex, w)
    return {"stories": written, "items": len(stream), "grouped": len(items), "method": method, "bursts": len(bursts),
            "window_start": w.start.isoformat(), "now": w.now.isoformat()}


def _store(clusters: list[list[StreamItem]], items: list[StreamItem], zindex: dict[str, float], w: Windows) -> int:
    prev_start = w.start - (w.now - w.start)
    now = utcnow()
    with session_scope() as session:
        if session.get_bind().dialect.name == "postgresql":  # one story writer at a time (SQLite: the write lock)
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STORY_LOCK_KEY})
        ids = [it.asset_id for g in clusters for it in g]
        engaged = engagement_by_asset(session, ids, w.start, w.now)
        taken: set[int] = set()
        assigned: dict[int, int | None] = {it.id: None for it in items}
        old_sizes = dict(session.execute(select(InsightStory.id, InsightStory.item_count)).all())
        for group in clusters:
            votes = Counter(it.story_id for it in group if it.story_id is not None and it.story_id not in taken)
            row = None
            for sid, v in votes.most_common():
                if v * 2 >= len(group) or v * 2 >= old_sizes.get(sid, 0):
                    row = session.get(InsightStory, sid)
                    break
            if row is None:
                row = InsightStory(created_at=now)
                session.add(row)
            title, terms, ents, burst = _summary(group, zindex)
            volume = sum(1 for it in group if it.at > w.start)
            previous = sum(1 for it in group if prev_start < it.at <= w.start)
            sources = len({it.source for it in group})
            engagement = round(sum(engaged.get(it.asset_id, 0.0) for it in group), 3)
            heat, growth, parts = _heat(volume, previous, burst, engagement, sources)
            scored = [it.sentiment for it in group if it.sentiment is not None]
            row.title, row.terms, row.entities = title, terms, ents
            row.item_count, row.source_count, row.volume, row.previous_volume = len(group), sources, volume, previous
            row.growth, row.burst, row.engagement, row.heat, row.components = growth, round(burst, 3), engagement, \
                heat, parts
            row.sentiment = round(sum(scored) / len(scored), 4) if scored else None
            row.negative_share = (round(sum(1 for s in scored if s < NEGATIVE_BELOW) / len(scored), 4)
                                  if scored else None)
            row.first_at = min(it.at for it in group)
            row.last_at = max(it.at for it in group)
            row.active = True
            row.computed_at = now
            session.flush()
            taken.add(row.id)
            for it in group:
                assigned[it.id] = row.id
        was = {it.id: it.story_id for it in items}
        by_story: dict[int | None, list[int]] = {}
        for item_id, sid in assigned.items():
            if was.get(item_id) != sid:  # only the items that changed story are written
                by_story.setdefault(sid, []).append(item_id)
        for sid, item_ids in by_story.items():
            for i in range(0, len(item_ids), 500):
                session.execute(update(InsightItem).where(InsightItem.id.in_(item_ids[i:i + 500]))
                                .values(story_id=sid))
        stale = select(InsightStory).where(InsightStory.active.is_(True))
        if taken:
            stale = stale.where(InsightStory.id.not_in(taken))
        for row in session.scalars(stale):
            row.active, row.heat, row.volume, row.computed_at = False, 0.0, 0, now
    return len(clusters)


# ---- reading ----------------------------------------------------------------------------------------

def hot_topics(session: Session, *, since: datetime | None = None, limit: int = 20) -> list[Story]:
    """The rising stories, hottest first, as the last story run stored them: stories with items in its current
    window; `since`: only those with an item since then."""
    if not 1 <= limit <= 500:
        raise InsightError("limit must be between 1 and 500")
    q = select(InsightStory).where(InsightStory.active.is_(True), InsightStory.volume > 0)
    if since is not None:
        if since.tzinfo is None:
            raise InsightError("since must carry a time zone (e.g. 2026-12-01T00:00:00Z)")
        q = q.where(InsightStory.last_at >= since)
    q = q.order_by(InsightStory.heat.desc(), InsightStory.id).limit(limit)
    return [_story(r) for r in session.scalars(q)]


def story_detail(session: Session, story_id: int, *, item_limit: int = 200) -> dict:
    """A story with its items (newest first) and its daily volume and sentiment."""
    row = session.get(InsightStory, story_id)
    if row is None:
        raise InsightError(f"no story {story_id}", status=404)
    items = list(session.scalars(select(InsightItem).where(InsightItem.story_id == story_id)
                                 .order_by(InsightItem.at.desc(), InsightItem.id.desc()).limit(item_limit)))
    days: dict[str, list[float | None]] = {}
    for it in items:
        days.setdefault(it.at.date().isoformat(), []).append(it.sentiment)
    trend = []
    for day in sorted(days):
        vals = [v for v in days[day] if v is not None]
        trend.append({"day": day, "items": len(days[day]),
                      "sentiment": round(sum(vals) / len(vals), 4) if vals else None,
                      "negative_share": round(sum(1 for v in vals if v < NEGATIVE_BELOW) / len(vals), 4)
                      if vals else None})
    return {"story": story_dict(row), "trend": trend,
            "items": [{"asset_id": it.asset_id, "title": it.title, "at": it.at.isoformat(), "source": it.source,
                       "kind": it.kind, "sentiment": it.sentiment, "terms": list(it.terms or [])[:10]}
                      for it in items]}
