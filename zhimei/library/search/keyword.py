"""Keyword retrieval over `search_doc`: BM25 on SQLite FTS5; on PostgreSQL an IDF-weighted match over the
GIN-indexed tsvector (ts_rank has no IDF, which ranks common words too high)."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from zhimei.library.search.filters import SearchFilters
from zhimei.library.search.tokens import fts5_match, pg_tsquery
from zhimei.store.models import UTCDateTime

__all__ = ["keyword_hits", "forget_term_counts"]


def _typed(sql: str, params: dict) -> object:
    stmt = text(sql)
    dates = [bindparam(k, type_=UTCDateTime()) for k in params if k.startswith("f_date_")]
    return stmt.bindparams(*dates) if dates else stmt


KeywordHit = tuple[int, float, int, int | None]
"""(search_doc id, score — higher is better, asset id, segment id or None for a title document)."""

EXACT_BUDGET = 6_000
"""Postings one keyword query may score with BM25. Past it (a common word in a big archive) the planner in `_sqlite`
bounds the work to about as many rows; measured with bench/search_latency.py at 1M segments."""
NEWEST = 1_500
"""Newest matching documents scored when the common words would otherwise make the query score everything."""


def keyword_hits(session: Session, terms: list[str], filters: SearchFilters, limit: int = 200) -> list[KeywordHit]:
    """Documents holding any of `terms`, best first by BM25 (SQLite FTS5) or IDF-weighted match (PostgreSQL)."""
    if not terms:
        return []
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite(session, terms, filters, limit)
    return _postgres(session, terms, filters, limit)


_df_cache: OrderedDict[tuple[str, int, str, int], int] = OrderedDict()
DF_CACHE_SIZE = 4096
_df_lock = threading.Lock()


def forget_term_counts() -> None:
    """Drop every remembered per-term document count (benchmarks time the counting afresh)."""
    with _df_lock:
        _df_cache.clear()


def _doc_freqs(session: Session, terms: list[str], cap: int) -> dict[str, int]:
    """How many documents hold each term, counted up to `cap` (past it the exact number does not matter).
    Remembered per database until a document is added (the newest search_doc id moves); a deletion or an edit
    leaves a count slightly stale, which only shifts the planner's choice, never a score."""
    bind = session.get_bind()
    newest = int(session.execute(text("SELECT max(id) FROM search_doc")).scalar() or 0)
    out = {}
    for term in terms:
        key = (str(bind.url), newest, term, cap)
        with _df_lock:
            n = _df_cache.get(key)
            if n is not None:
                _df_cache.move_to_end(key)
        if n is None:
            sql = "SELECT count(*) FROM (SELECT rowid FROM search_fts WHERE search_fts MATCH :q LIMIT :cap)"
            n = int(session.execute(text(sql), {"q": fts5_match([term]), "cap": cap}).scalar() or 0)
            with _df_lock:
                _df_cache[key] = n
                while len(_df_cache) > DF_CACHE_SIZE:
                    _df_cache.popitem(last=False)
        out[term] = n
    return out


def _sqlite(session: Session, terms: list[str], filters: SearchFilters, limit: int) -> list[KeywordHit]:
    """BM25 over every match while that is cheap (the usual case). When common words would make FTS5 score a
    large share of a big archive, a query planner scores three bounded sets instead and merges them:

    - documents holding the rarer words (as many as fit in what EXACT_BUDGET leaves), scored on those words;
    - the newest NEWEST documents holding every word, scored on the whole query (exact for them);
    - the newest NEWEST documents holding any word, scored on the whole query (exact for them).

    FTS5 computes bm25() only for the rows a query returns, and its IDF is global, so the three scores are on one
    scale; a document found twice keeps its higher (more complete) score. With no filters, the FTS5 queries
    return bare (rowid, score) pairs and only the final `limit` rows are joined to `search_doc`."""
    df = _doc_freqs(session, terms, EXACT_BUDGET + 1)
    terms = [t for t in terms if df[t]]
    if not terms:
        return []
    where, params = filters.sql("a")
    if where:
        head = "SELECT search_fts.rowid, bm25(search_fts) AS s, d.asset_id, d.segment_id "
        body = ("FROM search_fts JOIN search_doc d ON d.id = search_fts.rowid JOIN asset a ON a.id = d.asset_id "
                f"WHERE search_fts MATCH :q AND {where}")
    else:  # scores only; the few rows kept are joined once at the end
        head, body = "SELECT rowid, bm25(search_fts) AS s ", "FROM search_fts WHERE search_fts MATCH :q"
    if sum(df.values()) <= EXACT_BUDGET:
        best = _scored(session, head + body + " ORDER BY s LIMIT :n", {**params, "q": fts5_match(terms), "n": limit})
        return best if where else _attach(session, best)
    rare, spent, room = [], 0, max(EXACT_BUDGET - 2 * NEWEST, EXACT_BUDGET // 3)
    for t in sorted(terms, key=lambda t: df[t]):
        if spent + df[t] > room:
            break
        rare.append(t)
        spent += df[t]
    found: dict[int, KeywordHit] = {}
    newest = head + body + " ORDER BY search_fts.rowid DESC LIMIT :n"
    batches = [_scored(session, newest, {**params, "q": fts5_match(terms), "n": NEWEST})]
    if len(terms) > 1:
        every = " AND ".join(fts5_match([t]) for t in terms)
        batches.append(_scored(session, newest, {**params, "q": every, "n": NEWEST}))
    if rare:
        batches.append(_scored(session, head + body + " ORDER BY s LIMIT :n",
                               {**params, "q": fts5_match(rare), "n": limit}))
    for batch in batches:
        for h in batch:
            if h[0] not in found or h[1] > found[h[0]][1]:
                found[h[0]] = h
    best = sorted(found.values(), key=lambda h: (-h[1], h[0]))[:limit]
    return best if where else _attach(session, best)


def _scored(session: Session, sql: str, params: dict) -> list[KeywordHit]:
    """Rows of an FTS5 query as hits; a bare (rowid, score) query leaves asset 0 / no segment for `_attach`.
    Plain text-and-number parameters go straight to the sqlite3 cursor of the session's connection (same
    transaction): FTS5 hands back up to a few thousand rows a query, and SQLAlchemy's per-row fetching cost
    about a quarter of the keyword list's time at 1M segments."""
    if all(isinstance(v, str | int) for v in params.values()):
        cur = session.connection().connection.driver_connection.cursor()
        try:
            rows = cur.execute(sql, params).fetchall()
        finally:
            cur.close()
    else:
        rows = session.execute(_typed(sql, params), params).all()
    return [(int(r[0]), -float(r[1]), int(r[2]) if len(r) > 2 else 0, r[3] if len(r) > 3 else None) for r in rows]


def _attach(session: Session, hits: list[KeywordHit]) -> list[KeywordHit]:
    """The asset and segment of each scored document (one indexed lookup for the page of kept rows); a document
    deleted since FTS5 saw it is dropped."""
    if not hits:
        return []
    ids = ",".join(str(h[0]) for h in hits)  # integers from FTS5, not user input
    owners = {int(r[0]): (int(r[1]), r[2]) for r in session.execute(
        text(f"SELECT id, asset_id, segment_id FROM search_doc WHERE id IN ({ids})"))}
    return [(h[0], h[1], *owners[h[0]]) for h in hits if h[0] in owners]


def _postgres(session: Session, terms: list[str], filters: SearchFilters, limit: int) -> list[KeywordHit]:
    total = session.execute(text("SELECT count(*) FROM search_doc")).scalar() or 1
    weights = []
    for t in terms:
        df = session.execute(text("SELECT count(*) FROM (SELECT 1 FROM search_doc WHERE tsv @@ "
                                  "to_tsquery('english', :t) LIMIT 100000) x"), {"t": pg_tsquery([t])}).scalar()
        if df:
            weights.append((t, math.log(1 + (total - df + 0.5) / (df + 0.5))))
    if not weights:
        return []
    where, params = filters.sql("a")
    score_parts = []
    for i, (t, w) in enumerate(weights):
        params[f"t{i}"] = pg_tsquery([t])
        score_parts.append(f"CASE WHEN d.tsv @@ to_tsquery('english', :t{i}) THEN {w:.6f} ELSE 0 END")
    params.update(q=pg_tsquery([t for t, _ in weights]), n=limit)
    join = "JOIN asset a ON a.id = d.asset_id " if where else ""
    cond = f" AND {where}" if where else ""
    sql = (f"SELECT d.id, ({' + '.join(score_parts)}) / (1 + 0.002 * length(d.tsv)) "
           "+ 0.01 * ts_rank(d.tsv, to_tsquery('english', :q)) AS s, d.asset_id, d.segment_id "
           f"FROM search_doc d {join}WHERE d.tsv @@ to_tsquery('english', :q){cond} ORDER BY s DESC LIMIT :n")
    return [(int(r[0]), float(r[1]), int(r[2]), r[3]) for r in session.execute(_typed(sql, params), params)]
