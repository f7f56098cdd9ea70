"""Keyword retrieval over `search_doc`: BM25 on SQLite FTS5; on PostgreSQL an IDF-weighted match over the
GIN-indexed tsvector (ts_rank has no IDF, which ranks common words too high)."""

from __future__ import annotations

import math

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from zhimei.library.search.filters import SearchFilters
from zhimei.library.search.tokens import fts5_match, pg_tsquery
from zhimei.store.models import UTCDateTime

__all__ = ["keyword_hits"]


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


def _doc_freq(session: Session, term: str, cap: int) -> int:
    """How many documents hold `term`, counted up to `cap` (past it the exact number does not matter)."""
    sql = "SELECT count(*) FROM (SELECT rowid FROM search_fts WHERE search_fts MATCH :q LIMIT :cap)"
    return int(session.execute(text(sql), {"q": fts5_match([term]), "cap": cap}).scalar() or 0)


def _sqlite(session: Session, terms: list[str], filters: SearchFilters, limit: int) -> list[KeywordHit]:
    """BM25 over every match while that is cheap (the usual case). When common words would make FTS5 score a
    large share of a big archive, a query planner scores three bounded sets instead and merges them:

    - documents holding the rarer words (as many as fit in what EXACT_BUDGET leaves), scored on those words;
    - the newest NEWEST documents holding every word, scored on the whole query (exact for them);
    - the newest NEWEST documents holding any word, scored on the whole query (exact for them).

    FTS5 computes bm25() only for the rows a query returns, and its IDF is global, so the three scores are on one
    scale; a document found twice keeps its higher (more complete) score."""
    df = {t: _doc_freq(session, t, EXACT_BUDGET + 1) for t in terms}
    terms = [t for t in terms if df[t]]
    if not terms:
        return []
    where, params = filters.sql("a")
    join = "JOIN asset a ON a.id = d.asset_id " if where else ""
    cond = f" AND {where}" if where else ""
    head = "SELECT search_fts.rowid, bm25(search_fts) AS s, d.asset_id, d.segment_id "
    body = f"FROM search_fts JOIN search_doc d ON d.id = search_fts.rowid {join}WHERE search_fts MATCH :q{cond}"
    if sum(df.values()) <= EXACT_BUDGET:
        return _hits(session, head + body + " ORDER BY s LIMIT :n", {**params, "q": fts5_match(terms), "n": limit})
    rare, spent, room = [], 0, max(EXACT_BUDGET - 2 * NEWEST, EXACT_BUDGET // 3)
    for t in sorted(terms, key=lambda t: df[t]):
        if spent + df[t] > room:
            break
        rare.append(t)
        spent += df[t]
    best: dict[int, KeywordHit] = {}
    newest = head + body + " ORDER BY search_fts.rowid DESC LIMIT :n"
    batches = [_hits(session, newest, {**params, "q": fts5_match(terms), "n": NEWEST})]
    if len(terms) > 1:
        every = " AND ".join(fts5_match([t]) for t in terms)
        batches.append(_hits(session, newest, {**params, "q": every, "n": NEWEST}))
    if rare:
        batches.append(_hits(session, head + body + " ORDER BY s LIMIT :n",
                             {**params, "q": fts5_match(rare), "n": limit}))
    for batch in batches:
        for h in batch:
            if h[0] not in best or h[1] > best[h[0]][1]:
                best[h[0]] = h
    return sorted(best.values(), key=lambda h: (-h[1], h[0]))[:limit]


def _hits(session: Session, sql: str, params: dict) -> list[KeywordHit]:
    return [(int(r[0]), -float(r[1]), int(r[2]), r[3]) for r in session.execute(_typed(sql, params), params)]


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
