"""Keeping the search index in step with the library: one search document per segment and one for the title,
rewritten by the `index` stage after understanding, rebuilt wholesale by `reindex()`.

The full-text index follows `search_doc` inside the same transaction (FTS5 triggers on SQLite, a generated
tsvector on PostgreSQL); vectors stay in the `embedding` table and the ANN cache catches up at query time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from zhimei.library.search.tokens import index_tokens
from zhimei.store.db import session_scope
from zhimei.store.models import SEGMENT_KINDS, Asset, SearchDoc, Segment

__all__ = ["DocSource", "read_sources", "build_docs", "write_docs", "index_asset", "reindex"]

MAX_DOC_CHARS = 20_000
"""Characters of one segment kept for search (longer segments are cut; their text stays in the store)."""


@dataclass(frozen=True)
class DocSource:
    """What one search document is made from."""

    segment_id: int | None
    kind: str
    text: str
    language: str | None
    start: float | None = None
    end: float | None = None
    char_start: int | None = None
    char_end: int | None = None


def read_sources(session: Session, asset_id: int) -> list[DocSource]:
    """The title and every text segment of an asset."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        return []
    out = []
    if (asset.title or "").strip():
        out.append(DocSource(None, "title", asset.title.strip(), asset.language))
    segs = session.scalars(select(Segment).where(Segment.asset_id == asset_id, Segment.kind.in_(SEGMENT_KINDS))
                           .order_by(Segment.kind, Segment.seq))
    for s in segs:
        text = (s.text or "").strip()
        if text:
            out.append(DocSource(s.id, s.kind, text[:MAX_DOC_CHARS], s.language or asset.language,
                                 s.start, s.end, s.char_start, s.char_end))
    return out


def build_docs(asset_id: int, sources: list[DocSource]) -> list[SearchDoc]:
    """Search documents with their index words (CPU work: call it outside a transaction)."""
    return [SearchDoc(asset_id=asset_id, segment_id=s.segment_id, kind=s.kind, text=s.text,
                      tokens=index_tokens(s.text), language=s.language, start=s.start, end=s.end,
                      char_start=s.char_start, char_end=s.char_end) for s in sources]


def write_docs(session: Session, asset_id: int, docs: list[SearchDoc]) -> None:
    """Replace an asset's search documents (the full-text index follows in the same transaction)."""
    session.execute(delete(SearchDoc).where(SearchDoc.asset_id == asset_id))
    session.flush()
    session.add_all(docs)


def index_asset(asset_id: int) -> int:
    """Re-index one asset now (e.g. after its title changed); returns the number of documents."""
    with session_scope() as session:
        sources = read_sources(session, asset_id)
    docs = build_docs(asset_id, sources)
    with session_scope() as session:
        if session.get(Asset, asset_id) is not None:
            write_docs(session, asset_id, docs)
    return len(docs)


def reindex(progress: Callable[[int, int], None] | None = None, vectors: bool = True) -> dict[str, int]:
    """Rebuild the keyword index of every asset from the store, then the vector cache; returns counts."""
    with session_scope() as session:
        ids = list(session.scalars(select(Asset.id).order_by(Asset.id)))
    docs = 0
    for i, asset_id in enumerate(ids, 1):
        docs += index_asset(asset_id)
        if progress:
            progress(i, len(ids))
    with session_scope() as session:
        orphans = session.scalar(select(func.count()).select_from(SearchDoc)
                                 .where(SearchDoc.asset_id.not_in(select(Asset.id)))) or 0
    out = {"assets": len(ids), "documents": docs, "orphans": int(orphans)}
    if vectors:
        from zhimei.library.search.vectors import rebuild_vectors

        out["vectors"] = rebuild_vectors()
    return out
