"""Text vectors for search: one per segment and one per asset (mean of its segments plus its title)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["embed_texts", "asset_vector", "BATCH"]

BATCH = 32


def embed_texts(embedder: Any, texts: Sequence[str], tick: Callable[[float], None] | None = None) -> np.ndarray:
    """Passage vectors for `texts` in batches (progress through `tick(fraction)`); shape (n, dim)."""
    parts = []
    for i in range(0, len(texts), BATCH):
        parts.append(np.asarray(embedder.embed_passages(list(texts[i:i + BATCH])), dtype=np.float32))
        if tick:
            tick(min(1.0, (i + BATCH) / max(1, len(texts))))
    if not parts:
        return np.zeros((0, int(getattr(embedder, "dim", 0) or 0)), dtype=np.float32)
    return np.vstack(parts)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def asset_vector(segment_vecs: np.ndarray, title_vec: np.ndarray | None) -> np.ndarray | None:
    """The asset's vector: the unit mean of its segment vectors plus its title's vector (equal weight),
    normalised; None when there is neither."""
    parts = []
    if len(segment_vecs):
        parts.append(_unit(segment_vecs.mean(axis=0)))
    if title_vec is not None:
        parts.append(_unit(np.asarray(title_vec, dtype=np.float32)))
    if not parts:
        return None
    return _unit(np.sum(parts, axis=0)).astype(np.float32)
