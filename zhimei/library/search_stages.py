"""The `index` stage: after understanding, an asset's title and segments go into the search index."""

from __future__ import annotations

from zhimei.jobs import StageContext, stage
from zhimei.library.search.indexing import build_docs, read_sources, write_docs
from zhimei.store.db import session_scope

__all__ = ["index_stage"]

ALL_KINDS = ("article", "image", "audio", "video")


@stage("index", kinds=ALL_KINDS, after=("asr", "ocr", "extract_text"), priority=60)
def index_stage(ctx: StageContext) -> None:
    """Make the asset findable: one search document per text segment plus its title (keyword index)."""
    with session_scope() as session:
        sources = read_sources(session, ctx.asset_id)
    ctx.progress(10.0, "segmenting words")
    docs = build_docs(ctx.asset_id, sources)
    with ctx.outputs({"documents": len(docs)}) as session:
        write_docs(session, ctx.asset_id, docs)
