"""The ``provenance`` stage: read an incoming asset's AIGC labels and C2PA manifest into its meta.

Registered on import (settings `stage_modules` lists zhimei.review.stages, which imports this module)."""

from __future__ import annotations

from zhimei.jobs import PermanentError, StageContext, stage
from zhimei.review.labels.aigc import LabelError

__all__ = ["provenance_stage"]


@stage("provenance", kinds=("image", "audio", "video", "article"), optional_after=("image_meta",), priority=15)
def provenance_stage(ctx: StageContext) -> None:
    """Inbound labels: AIGC metadata, the C2PA manifest and its validation, signs of a removed label."""
    from zhimei.review.labels.service import AssetNotFound, record_inbound

    ctx.progress(10.0, "reading labels")
    try:
        inbound = record_inbound(ctx.asset_id)
    except AssetNotFound as exc:
        raise PermanentError(str(exc)) from None
    except LabelError as exc:
        raise PermanentError(f"provenance: {exc}") from None
    with ctx.outputs({"status": inbound["status"], "notes": len(inbound["notes"])}):
        pass
