"""The reader × item feedback matrix every recall source learns from (numpy/scipy only, no database)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["FeedbackMatrix", "build_matrix", "topk"]


@dataclass
class FeedbackMatrix:
    """Implicit feedback as a CSR matrix (rows: readers, columns: items) plus the outside ids of both axes."""

    user_ids: np.ndarray
    """int64, sorted: the reader id of each row."""
    item_ids: np.ndarray
    """int64, sorted: the asset id of each column."""
    X: sp.csr_matrix
    """float32 strengths (duplicates summed); rows sorted by column index."""

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    def user_index(self, user_id: int) -> int | None:
        """Row of a reader id, or None when the reader is not in the matrix."""
        pos = int(np.searchsorted(self.user_ids, user_id))
        return pos if pos < len(self.user_ids) and self.user_ids[pos] == user_id else None

    def item_index(self, item_ids: np.ndarray) -> np.ndarray:
        """Column of each asset id (-1 where the asset is not in the matrix)."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        if not len(self.item_ids):
            return np.full(len(item_ids), -1, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, item_ids).clip(0, len(self.item_ids) - 1)
        return np.where(self.item_ids[pos] == item_ids, pos, -1)

    def binary(self) -> sp.csr_matrix:
        """The same pattern with every stored strength set to 1."""
        B = self.X.copy()
        B.data[:] = 1.0
        return B


def build_matrix(user_ids: np.ndarray, item_ids: np.ndarray, weights: np.ndarray | None = None, *,
                 last_at: np.ndarray | None = None, now: float | None = None,
                 half_life_days: float | None = None, extra_items: np.ndarray | None = None) -> FeedbackMatrix:
    """Sum (reader, item, weight) triples into a FeedbackMatrix.

    With `half_life_days` each weight decays by half per that many days since its `last_at` (epoch seconds);
    strengths are then log-damped (``log1p``) so one binge does not drown everything else. `extra_items` adds
    columns with no feedback yet (new items that content similarity can still recall)."""
    user_ids = np.asarray(user_ids, dtype=np.int64)
    item_ids = np.asarray(item_ids, dtype=np.int64)
    if len(user_ids) != len(item_ids):
        raise ValueError(f"user_ids and item_ids differ in length: {len(user_ids)} vs {len(item_ids)}")
    w = np.ones(len(user_ids), dtype=np.float64) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(w) != len(user_ids):
        raise ValueError(f"weights has {len(w)} entries for {len(user_ids)} interactions")
    w = np.where(np.isfinite(w), np.maximum(w, 0.0), 0.0)
    if half_life_days and last_at is not None and len(w):
        now = float(np.max(last_at)) if now is None else now
        age_days = np.maximum(0.0, now - np.asarray(last_at, dtype=np.float64)) / 86400.0
        w = w * np.power(0.5, age_days / half_life_days)
    keep = w > 0
    user_ids, item_ids, w = user_ids[keep], item_ids[keep], w[keep]
    users = np.unique(user_ids)
    items = np.unique(item_ids if extra_items is None else np.concatenate([item_ids, np.asarray(extra_items,
                                                                                                  np.int64)]))
    rows = np.searchsorted(users, user_ids)
    cols = np.searchsorted(items, item_ids)
    X = sp.csr_matrix((w, (rows, cols)), shape=(len(users), len(items)), dtype=np.float64)
    X.sum_duplicates()
    X.sort_indices()
    X.data = np.log1p(X.data).astype(np.float32)
    X = X.astype(np.float32)
    return FeedbackMatrix(user_ids=users, item_ids=items, X=X)


def topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first (argpartition, then a sort of only those k)."""
    n = len(scores)
    if k <= 0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if k < n:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(n)
    return part[np.argsort(-scores[part], kind="stable")]
