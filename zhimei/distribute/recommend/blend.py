"""Ranking: the recall sources' scores, each scaled to [0, 1] by its maximum over the live items, mixed by
per-source weights. Negative scores (EASE and ALS can give them) count as 0."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["BlendWeights", "blend", "scale_factor", "add_scaled", "PERSONAL_SOURCES", "NON_PERSONAL_SOURCES",
           "SOURCES"]

PERSONAL_SOURCES = ("neighbours", "als", "content")
NON_PERSONAL_SOURCES = ("picks", "trending", "fresh")
SOURCES = (*PERSONAL_SOURCES, *NON_PERSONAL_SOURCES)


@dataclass
class BlendWeights:
    """How much each recall source counts in the final score (0 turns a source off). The defaults are the
    weights tuned by bench/recommend.py on an inner split of MovieLens-100k's training rows."""

    neighbours: float = 1.0
    als: float = 0.5
    content: float = 0.15
    trending: float = 0.05
    fresh: float = 0.03
    picks: float = 0.3

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def get(self, source: str) -> float:
        return float(getattr(self, source))

    @classmethod
    def from_dict(cls, d: dict) -> BlendWeights:
        known = {k: float(v) for k, v in d.items() if k in cls.__dataclass_fields__}
        bad = [k for k, v in known.items() if not np.isfinite(v) or v < 0]
        if bad:
            raise ValueError(f"blend weights must be finite and >= 0: {', '.join(bad)}")
        return cls(**known)


def scale_factor(s: np.ndarray, weight: float, live: np.ndarray | None = None) -> float:
    """weight / max(s) over the live items (0 when the source has nothing positive there)."""
    if weight <= 0:
        return 0.0
    top = float(np.max(s, where=live, initial=0.0)) if live is not None else float(np.max(s, initial=0.0))
    return weight / top if top > 0 else 0.0


def add_scaled(total: np.ndarray, s: np.ndarray, factor: float, tmp: np.ndarray) -> None:
    """total += max(s, 0) * factor, in place (no allocation)."""
    np.maximum(s, 0.0, out=tmp)
    tmp *= np.float32(factor)
    total += tmp


def blend(scores: dict[str, np.ndarray], weights: BlendWeights, allowed: np.ndarray) -> np.ndarray:
    """Mixed score of every item, ``-inf`` where not `allowed` (the reference form of what Engine.rank does)."""
    total = np.zeros(len(allowed), dtype=np.float32)
    tmp = np.empty_like(total)
    for name in SOURCES:
        s = scores.get(name)
        if s is not None:
            add_scaled(total, s, scale_factor(s, weights.get(name), allowed), tmp)
    return np.where(allowed, total, -np.inf).astype(np.float32)
