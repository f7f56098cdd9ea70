"""Content similarity: items as unit vectors (text embeddings of the asset, or any feature vector)."""

from __future__ import annotations

import numpy as np

__all__ = ["normalise_rows", "profile_scores", "similar_to"]


def normalise_rows(V: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    V = np.asarray(V, dtype=np.float32)
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    return np.divide(V, norms, out=np.zeros_like(V), where=norms > 0)


def profile_scores(V: np.ndarray, has_vector: np.ndarray, items: np.ndarray, strengths: np.ndarray) -> np.ndarray:
    """Cosine of every item with the reader's profile (the strength-weighted mean of what they consumed)."""
    n = V.shape[0]
    if len(items) == 0:
        return np.zeros(n, dtype=np.float32)
    mask = has_vector[items]
    if not mask.any():
        return np.zeros(n, dtype=np.float32)
    p = strengths[mask].astype(np.float32) @ V[items[mask]]
    norm = float(np.linalg.norm(p))
    if norm == 0:
        return np.zeros(n, dtype=np.float32)
    return (V @ (p / norm)).astype(np.float32)


def similar_to(V: np.ndarray, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k items most similar to `item` (itself excluded), with cosines, best first."""
    s = V @ V[item]
    s[item] = -np.inf
    k = min(k, len(s) - 1)
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    idx = np.argpartition(-s, k - 1)[:k]
    idx = idx[np.argsort(-s[idx])]
    return idx, s[idx]
