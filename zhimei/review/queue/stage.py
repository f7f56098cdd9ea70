"""The `review` stage: once an asset's text is known (after extraction, ASR, OCR, image safety and indexing),
moderate it and open its review case in the default channel (idempotent per asset version).

Registered when this module is imported (settings `stage_modules` lists zhimei.review.stages)."""

from __future__ import annotations

from zhimei.jobs import StageContext, stage
from zhimei.review.moderation import moderate_asset
from zhimei.review.queue.admin import strict_mode
from zhimei.review.queue.cases import asset_version, store_case
from zhimei.review.queue.priority import expected_reach
from zhimei.store.db import read_scope
from zhimei.store.models import Asset

__all__ = ["review_stage", "REVIEW_AFTER"]

REVIEW_AFTER = ("extract_text", "asr", "ocr", "image_safety", "index")
"""Every stage whose output moderation reads; the stage waits for those of them the pipeline has loaded."""


@stage("review", kinds=("article", "image", "audio", "video"), optional_after=REVIEW_AFTER, priority=65)
def review_stage(ctx: StageContext) -> None:
    """Moderate the asset and open its review case (default channel)."""
    with read_scope() as s:
        version = asset_version(s, ctx.asset_id)
        reach = expected_reach(dict(s.get(Asset, ctx.asset_id).meta or {}))
    ctx.progress(10.0, "moderating")
    verdict = moderate_asset(ctx.asset_id, "default", strict=strict_mode("default"))
    ctx.check()
    with ctx.outputs({"tier": verdict.tier, "score": round(verdict.score, 4)}) as session:
        store_case(session, ctx.asset_id, version, verdict, reach=reach, actor="pipeline")
