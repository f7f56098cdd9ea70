"""EASE (Steck 2019): a closed-form item-item model, B = I - P·diag(1/diag(P)) with P = (XᵀX + λI)⁻¹.

Exact and strong on small catalogues; cost grows with the cube of the item count, so the trainer uses it only
up to a catalogue size (``recommend_ease_max_items``) and item-CF beyond."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from zhimei.distribute.recommend.neighbours import NeighbourTable, from_dense

__all__ = ["ease"]


def ease(X: sp.csr_matrix, *, lam: float = 400.0, k: int | None = None, dense_max: int = 4000) -> NeighbourTable:
    """EASE weights as a neighbour table: dense when the catalogue has at most `dense_max` items, else the
    top `k` (default 200) per item."""
    if lam <= 0:
        raise ValueError(f"EASE needs a positive lambda, not {lam}")
    X = sp.csr_matrix(X, dtype=np.float64)
    G = (X.T @ X).toarray()
    G[np.diag_indices_from(G)] += lam
    P = np.linalg.inv(G)
    B = -P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    n = B.shape[0]
    if n <= dense_max and k is None:
        return from_dense(B)
    return from_dense(B, k or 200)
