"""Image safety: per-image / per-keyframe scores and the asset's summary."""

from __future__ import annotations

from typing import Any

from zhimei.store.models import SafetyScore

__all__ = ["safety_row", "safety_summary", "FLAG_AT"]

FLAG_AT = 0.6
"""An image or keyframe whose strongest explicit finding reaches this is flagged for review."""


def safety_row(asset_id: int, result: Any, *, shot_seq: int | None, time: float | None, model: str) -> SafetyScore:
    """A SafetyScore row from a model SafetyResult."""
    scores: dict[str, Any] = {k: round(float(v), 4) for k, v in (result.labels or {}).items()}
    return SafetyScore(asset_id=asset_id, shot_seq=shot_seq, time=time, scores=scores,
                       max_score=round(float(result.unsafe), 4), model=model)


def safety_summary(rows: list[SafetyScore]) -> dict[str, Any]:
    """The asset's strongest finding, where it was, and whether it needs a person to look."""
    if not rows:
        return {"max": 0.0, "checked": 0, "flagged": False, "at": None, "shot": None}
    worst = max(rows, key=lambda r: r.max_score)
    return {"max": worst.max_score, "checked": len(rows), "flagged": worst.max_score >= FLAG_AT,
            "at": worst.time, "shot": worst.shot_seq}
