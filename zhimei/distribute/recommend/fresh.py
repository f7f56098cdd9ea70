"""Fresh and trending: non-personal recall, the fallback for new readers and the exploration pool."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["trending_scores", "fresh_scores", "popularity_scores"]


def popularity_scores(X: sp.csr_matrix) -> np.ndarray:
    """How many readers consumed each item (the plain popularity baseline)."""
    return np.diff(sp.csc_matrix(X).indptr).astype(np.float32)


def trending_scores(item_index: np.ndarray, last_at: np.ndarray, strengths: np.ndarray, n_items: int, *,
                    now: float, half_life_hours: float = 24.0) -> np.ndarray:
    """Engagement per item with each interaction decayed by half every `half_life_hours` before `now`."""
    age_h = np.maximum(0.0, now - np.asarray(last_at, dtype=np.float64)) / 3600.0
    w = np.asarray(strengths, dtype=np.float64) * np.power(0.5, age_h / half_life_hours)
    return np.bincount(item_index, weights=w, minlength=n_items).astype(np.float32)


def fresh_scores(published_at: np.ndarray, *, now: float, half_life_hours: float = 48.0) -> np.ndarray:
    """Recency of each item, 1.0 when just published, halving every `half_life_hours` (NaN time: 0)."""
    t = np.asarray(published_at, dtype=np.float64)
    age_h = np.maximum(0.0, now - t) / 3600.0
    s = np.power(0.5, age_h / half_life_hours)
    return np.where(np.isfinite(t), s, 0.0).astype(np.float32)
