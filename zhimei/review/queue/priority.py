"""Queue priority and SLA timers.

    risk     = 0.5 × score + 0.5 × TIER_BASE[tier]               (in [0, 1]; score = the verdict's top score)
    priority = risk × (1 + log10(1 + expected_reach))            (higher first)

so a blocked item read by 10 people (risk ≈ 0.98, ×2.04) still outranks a clean one read by a million
(risk ≈ 0.05, ×7). Expected reach comes from the asset's ``meta["expected_reach"]`` (or ``meta["reach"]``) when
it is a non-negative number, else DEFAULT_REACH. The SLA gives each risk tier its time to a decision.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

__all__ = ["TIER_BASE", "SLA_HOURS", "DEFAULT_REACH", "HIGH_RISK_SCORE", "risk", "priority", "expected_reach",
           "due_at", "high_risk"]

TIER_BASE = {"pass": 0.0, "needs_review": 0.5, "block": 1.0}
SLA_HOURS = {"block": 1.0, "needs_review": 4.0, "pass": 24.0}
"""Hours from opening to the decision deadline, by tier; escalation resets the clock to the block tier's."""
DEFAULT_REACH = 1000
HIGH_RISK_SCORE = 0.9
"""A case whose verdict blocks, or whose top score reaches this, needs two distinct reviewers' approvals."""


def risk(tier: str, score: float) -> float:
    """Risk in [0, 1] from the moderation verdict."""
    s = min(1.0, max(0.0, float(score)))
    return round(0.5 * s + 0.5 * TIER_BASE.get(tier, 0.5), 6)


def priority(tier: str, score: float, reach: int) -> float:
    """risk × (1 + log10(1 + reach)): higher is reviewed first."""
    return round(risk(tier, score) * (1.0 + math.log10(1 + max(0, int(reach)))), 6)


def expected_reach(meta: dict[str, Any] | None, override: int | None = None) -> int:
    """The audience an asset is expected to reach: an explicit value, the asset's meta, or the default."""
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, int) or override < 0:
            raise ValueError(f"expected reach must be a non-negative integer, got {override!r}")
        return override
    for key in ("expected_reach", "reach"):
        v = (meta or {}).get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
            return int(v)
    return DEFAULT_REACH


def due_at(tier: str, start: datetime) -> datetime:
    """When a case of this tier opened at `start` must be decided."""
    return start + timedelta(hours=SLA_HOURS.get(tier, SLA_HOURS["needs_review"]))


def high_risk(tier: str, score: float) -> bool:
    """Whether a case needs a second reviewer."""
    return tier == "block" or score >= HIGH_RISK_SCORE
