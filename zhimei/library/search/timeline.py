"""Event timelines (事件脉络): the assets a query finds, grouped into events and ordered in time.

Assets join one event when their vectors are close (the asset vectors the embed stage wrote, plus shared
names) and their dates (published_at, else created_at) lie within EVENT_GAP_DAYS of the event. Each event
gets who (PER, then ORG entities), where (LOC), when (TIME entities), what (tags: keywords and topics) and a
one-line summary: the title — or, for an untitled asset, the first sentence — of its most central asset."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select

from zhimei.library.search.filters import SearchError, SearchFilters
from zhimei.library.search.query import Hit, search
from zhimei.library.search.sentences import split_sentences
from zhimei.store.db import read_scope
from zhimei.store.models import Embedding, Entity, Segment, Tag

__all__ = ["timeline", "Timeline", "Event", "EVENT_GAP_DAYS", "SAME_EVENT_COSINE"]

EVENT_GAP_DAYS = 3.0
"""An asset dated more than this many days after an event's last asset starts a new event."""
SAME_EVENT_COSINE = 0.90
"""Asset vectors (multilingual-e5-small) at least this close, names shared adding SHARED_NAME_BONUS each,
belong to the same event."""
SHARED_NAME_BONUS = 0.02
KEEP_VECTOR_ONLY_COSINE = 0.83
"""An asset only the vector side found (no word, tag or person matched) is kept when its vector is this close
to the query's; nearer neighbours of an unrelated query are not events of it."""
MAX_ASSETS = 200
TOP_NAMES = 5
TOP_TAGS = 6


@dataclass
class Event:
    """One event: assets close in meaning and in time."""

    id: int
    start: str | None
    end: str | None
    title: str
    who: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    what: list[str] = field(default_factory=list)
    when: list[str] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


@dataclass
class Timeline:
    """Events for a query, oldest first."""

    query: str
    events: list[Event]
    total_assets: int = 0
    took_ms: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"query": self.query, "total_assets": self.total_assets, "took_ms": round(self.took_ms, 2),
                "notes": self.notes, "events": [e.to_dict() for e in self.events]}


@dataclass
class _Item:
    hit: Hit
    when: datetime | None
    vec: np.ndarray | None = None
    names: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    spellings: dict[tuple[str, str], str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    first_sentence: str = ""


def _parse(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _load(items: dict[int, _Item]) -> None:
    """Asset vectors, entities, tags and the opening sentence of every asset, in one read."""
    from zhimei.library.search.vectors import embedder_model
    from zhimei.library.understand.common import unpack_vector
    from zhimei.models import ModelError, NotReady

    ids = list(items)
    try:
        model = embedder_model()
    except (NotReady, ModelError):
        model = None
    with read_scope() as s:
        if model:
            for aid, data in s.execute(select(Embedding.asset_id, Embedding.vector).where(
                    Embedding.asset_id.in_(ids), Embedding.owner_kind == "asset", Embedding.model == model)):
                items[aid].vec = unpack_vector(data)
        rows = s.execute(select(Entity.asset_id, Entity.kind, Entity.norm, func.min(Entity.text), func.count())
                         .where(Entity.asset_id.in_(ids)).group_by(Entity.asset_id, Entity.kind, Entity.norm))
        for aid, kind, norm, text_, n in rows:
            items[aid].names[kind][norm] += int(n)
            items[aid].spellings[(kind, norm)] = text_
        for aid, name in s.execute(select(Tag.asset_id, Tag.name).where(Tag.asset_id.in_(ids))
                                   .order_by(Tag.asset_id, Tag.score.desc())):
            items[aid].tags.append(name)
        firsts = s.execute(select(Segment.asset_id, func.min(Segment.id)).where(Segment.asset_id.in_(ids))
                           .group_by(Segment.asset_id)).all()
        if firsts:
            for aid, txt in s.execute(select(Segment.asset_id, Segment.text).where(
                    Segment.id.in_([f[1] for f in firsts]))):
                spans = split_sentences(txt or "")
                items[aid].first_sentence = (txt[spans[0][0]:spans[0][1]] if spans else "")[:200]


def _names(item: _Item, kinds: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(k, n) for k in kinds for n in item.names.get(k, {})}


def _cluster(items: list[_Item]) -> list[list[_Item]]:
    """Single pass in time order: each asset joins the closest open event (meaning + shared names), if close
    enough and within EVENT_GAP_DAYS of its last asset; else it starts one."""
    events: list[dict[str, Any]] = []
    gap = timedelta(days=EVENT_GAP_DAYS)
    for it in items:
        best, best_score = None, -1.0
        names = _names(it, ("PER", "LOC", "ORG"))
        for ev in events:
            if it.when and ev["last"] and it.when - ev["last"] > gap:
                continue
            shared = len(names & ev["names"])
            if it.vec is not None and ev["vec"] is not None:
                centre = ev["vec"] / (np.linalg.norm(ev["vec"]) or 1.0)
                score = float(it.vec @ centre) + SHARED_NAME_BONUS * min(shared, 5)
            else:  # no vectors: names and tags decide
                tags = set(it.tags) & ev["tags"]
                score = SAME_EVENT_COSINE if shared + len(tags) >= 2 else 0.0
            if score >= SAME_EVENT_COSINE and score > best_score:
                best, best_score = ev, score
        if best is None:
            best = {"items": [], "vec": None, "names": set(), "tags": set(), "last": None}
            events.append(best)
        best["items"].append(it)
        if it.vec is not None:
            best["vec"] = it.vec.copy() if best["vec"] is None else best["vec"] + it.vec
        best["names"] |= names
        best["tags"] |= set(it.tags)
        if it.when and (best["last"] is None or it.when > best["last"]):
            best["last"] = it.when
    return [ev["items"] for ev in events]


def _top(items: list[_Item], kinds: tuple[str, ...], n: int) -> list[str]:
    counts: Counter = Counter()
    spelling: dict[tuple[str, str], str] = {}
    for it in items:
        for k in kinds:
            for norm, c in it.names.get(k, {}).items():
                counts[(k, norm)] += c + 2  # an asset naming it counts more than repeats inside one asset
                spelling.setdefault((k, norm), it.spellings.get((k, norm), norm))
    order = {k: i for i, k in enumerate(kinds)}
    ranked = sorted(counts.items(), key=lambda kv: (order[kv[0][0]], -kv[1]))
    out: list[str] = []
    for key, _c in ranked:
        name = spelling[key]
        if name not in out:
            out.append(name)
        if len(out) >= n:
            break
    return out


def _central(items: list[_Item]) -> _Item:
    vecs = [it for it in items if it.vec is not None]
    if len(vecs) < 2:
        return max(items, key=lambda it: it.hit.score)
    m = np.vstack([it.vec for it in vecs])
    sims = (m @ m.T).sum(axis=1)
    return vecs[int(np.argmax(sims))]


def _summary(it: _Item) -> str:
    title = (it.hit.asset_title or "").strip()
    untitled = not title or title.lower().startswith(("asset ", "passage ")) or "." in title[-6:]
    line = it.first_sentence if untitled and it.first_sentence else title or it.first_sentence
    return " ".join(line.split())[:200]


def _event(n: int, items: list[_Item]) -> Event:
    items = sorted(items, key=lambda it: (it.when is None, it.when or datetime.min))
    dates = [it.when for it in items if it.when]
    tags: Counter = Counter()
    for it in items:
        for t in it.tags[:TOP_TAGS]:
            tags[t] += 1
    return Event(id=n, start=min(dates).isoformat() if dates else None, end=max(dates).isoformat() if dates else None,
                 title=_summary(_central(items)), who=_top(items, ("PER", "ORG"), TOP_NAMES),
                 where=_top(items, ("LOC",), TOP_NAMES), when=_top(items, ("TIME",), TOP_NAMES),
                 what=[t for t, _c in tags.most_common(TOP_TAGS)],
                 assets=[{"asset_id": it.hit.asset_id, "title": it.hit.asset_title, "kind": it.hit.asset_kind,
                          "date": it.hit.date, "url": it.hit.url} for it in items])


def _query_vector(query: str) -> np.ndarray | None:
    from zhimei.library.search.vectors import query_vector
    from zhimei.models import ModelError, NotReady

    try:
        return query_vector(query)
    except (NotReady, ModelError):
        return None


def timeline(query: str, *, filters: SearchFilters | dict | None = None, limit_events: int = 20) -> Timeline:
    """The events the archive holds about `query`, oldest first (at most `limit_events`: the most relevant
    ones). SearchError for bad input."""
    t0 = time.perf_counter()
    if not isinstance(query, str):
        raise SearchError("the query must be text")
    if not isinstance(limit_events, int) or not 1 <= limit_events <= 200:
        raise SearchError("limit_events must be between 1 and 200")
    q = " ".join(query.replace("\x00", " ").split())
    if not q:
        raise SearchError("the timeline needs a query or topic")
    res = search(q, filters=filters, limit=MAX_ASSETS, group=True)
    items = {h.asset_id: _Item(h, _parse(h.date)) for h in res.hits}
    if items:
        _load(items)
    qv = _query_vector(res.query) if any(set(h.matched) <= {"vector"} for h in res.hits) else None
    kept = []
    for it in items.values():
        if set(it.hit.matched) <= {"vector"}:
            if qv is None or it.vec is None or float(it.vec @ qv) < KEEP_VECTOR_ONLY_COSINE:
                continue
        kept.append(it)
    kept.sort(key=lambda it: (it.when is None, it.when or datetime.min, it.hit.asset_id))
    groups = _cluster(kept)
    if len(groups) > limit_events:  # the most relevant events, then back in time order
        groups = sorted(groups, key=lambda g: -sum(it.hit.score for it in g))[:limit_events]
    events = [_event(0, g) for g in groups]
    events.sort(key=lambda e: (e.start is None, e.start or ""))
    for i, e in enumerate(events, 1):
        e.id = i
    notes = list(res.notes)
    if res.hits and not kept:
        notes.append("nothing in the archive is close enough to this query for a timeline")
    return Timeline(query=res.query, events=events, total_assets=sum(len(e.assets) for e in events),
                    took_ms=(time.perf_counter() - t0) * 1000, notes=notes)
