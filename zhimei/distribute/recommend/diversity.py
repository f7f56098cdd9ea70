"""Diversity: maximal marginal relevance (Carbonell & Goldstein 1998) plus exploration slots.

The anti-filter-bubble knob of a channel is `diversity` in [0, 1]: MMR trades relevance against similarity to
what is already on the list with λ = 1 − diversity, and `explore_share` of the slots go to items outside the
reader's profile (fresh and trending), so a reader is never shown only more of the same."""

from __future__ import annotations

import numpy as np

__all__ = ["mmr", "with_exploration", "intra_list_similarity"]


def mmr(candidates: np.ndarray, relevance: np.ndarray, vectors: np.ndarray | None, n: int,
        diversity: float) -> np.ndarray:
    """Pick `n` of `candidates` (best first in `relevance` order is not required) greedily by
    λ·relevance − (1−λ)·max cosine to the picked ones, with λ = 1 − diversity; relevance is min-max scaled."""
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be between 0 and 1, not {diversity}")
    candidates = np.asarray(candidates)
    n = min(n, len(candidates))
    order = np.argsort(-relevance, kind="stable")
    if diversity == 0.0 or vectors is None or n <= 1:
        return candidates[order[:n]]
    rel = relevance.astype(np.float32)
    lo, hi = float(rel.min()), float(rel.max())
    rel = (rel - lo) / (hi - lo) if hi > lo else np.ones_like(rel)
    V = vectors.astype(np.float32, copy=False)
    S = (V @ V.T) * np.float32(diversity)  # similarities, already weighted by (1 − λ)
    gain0 = (rel * np.float32(1.0 - diversity)).astype(np.float32)
    penalty = np.zeros(len(candidates), dtype=np.float32)
    gain = gain0.copy()
    picked = []
    for _ in range(n):
        j = int(np.argmax(gain))
        picked.append(j)
        np.maximum(penalty, S[j], out=penalty)
        np.subtract(gain0, penalty, out=gain)
        gain[picked] = -np.inf
    return candidates[np.asarray(picked)]


def with_exploration(ranked: list[int], pool: list[int], n: int, share: float) -> tuple[list[int], set[int]]:
    """Give about `share` of `n` slots (evenly spread, never the first) to items of `pool` not already ranked;
    returns the list and the set of explored items."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"explore_share must be between 0 and 1, not {share}")
    k = int(round(n * share))
    have = set(ranked[:n])
    extra = [i for i in pool if i not in have][:k]
    if not extra:
        return ranked[:n], set()
    out = list(ranked[: n - len(extra)])
    step = n / len(extra)
    for m, item in enumerate(extra):
        out.insert(min(len(out), int(round((m + 1) * step)) - 1), item)
    return out[:n], set(extra)


def intra_list_similarity(items: np.ndarray, vectors: np.ndarray) -> float:
    """Mean pairwise cosine of a list's item vectors (lower is more diverse)."""
    if len(items) < 2:
        return 0.0
    V = vectors[np.asarray(items)]
    S = V @ V.T
    m = len(items)
    return float((S.sum() - np.trace(S)) / (m * (m - 1)))
