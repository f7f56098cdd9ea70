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


def keyword_hits(session: Session, terms: list[str], filters: SearchFilters, limit: int = 200
                 ) -> list[tuple[int, float]]:
    """(search_doc id, score — higher is better) for documents holding any of `terms`, best first."""
    if not terms:
        return []
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite(session, terms, filters, limit)
    return _postgres(session, terms, filters, limit)


def _sqlite(session: Session, terms: list[str], filters: SearchFilters, limit: int) -> list[tuple[int, float]]:
    where, params = filters.sql("a")
    params.update(q=fts5_match(terms), n=limit)
    if where:
        sql = ("SELECT search_fts.rowid, bm25(search_fts) AS s FROM search_fts "
               "JOIN search_doc d ON d.id = search_fts.rowid JOIN asset a ON a.id = d.asset_id "
               f"WHERE search_fts MATCH :q AND {where} ORDER BY s LIMIT :n")
    else:
        sql = "SELECT rowid, bm25(search_fts) AS s FROM search_fts WHERE search_fts MATCH :q ORDER BY s LIMIT :n"
    return [(int(r[0]), -float(r[1])) for r in session.execute(_typed(sql, params), params)]


def _postgres(session: Session, terms: list[str], filters: SearchFilters, limit: int) -> list[tuple[int, float]]:
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
           "+ 0.01 * ts_rank(d.tsv, to_tsquery('english', :q)) AS s "
           f"FROM search_doc d {join}WHERE d.tsv @@ to_tsquery('english', :q){cond} ORDER BY s DESC LIMIT :n")
    return [(int(r[0]), float(r[1])) for r in session.execute(_typed(sql, params), params)]
