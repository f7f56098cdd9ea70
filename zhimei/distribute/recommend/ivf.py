"""An inverted-file index over item vectors (k-means lists), so ALS and content recall on a large catalogue scan
a few lists instead of every item. Small catalogues do not need one (the engine then scans all items)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Ivf", "build_ivf"]


@dataclass
class Ivf:
    """k-means centroids, the items ordered list by list, and each list's start offset (len = lists + 1)."""

    centroids: np.ndarray
    order: np.ndarray
    offsets: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.centroids.nbytes + self.order.nbytes + self.offsets.nbytes)

    def probe(self, q: np.ndarray, nprobe: int) -> list[slice]:
        """Slices (of `order`) of the `nprobe` lists whose centroids score highest against `q`."""
        s = self.centroids @ q
        nprobe = min(nprobe, len(s))
        best = np.argpartition(-s, nprobe - 1)[:nprobe]
        return [slice(int(self.offsets[c]), int(self.offsets[c + 1])) for c in best]


def build_ivf(V: np.ndarray, n_lists: int | None = None, *, iterations: int = 8, seed: int = 0,
              sample: int = 50_000) -> Ivf:
    """Lloyd's k-means (on a sample, then every item assigned to its nearest centroid)."""
    V = np.asarray(V, dtype=np.float32)
    n = len(V)
    n_lists = max(1, min(n, n_lists or int(np.sqrt(n))))
    rng = np.random.default_rng(seed)
    X = V[rng.choice(n, min(n, sample), replace=False)] if n > sample else V
    C = X[rng.choice(len(X), n_lists, replace=False)].copy()
    for _ in range(iterations):
        a = _assign(X, C)
        for c in range(n_lists):
            members = X[a == c]
            if len(members):
                C[c] = members.mean(0)
    a = _assign(V, C)
    order = np.argsort(a, kind="stable")
    offsets = np.searchsorted(a[order], np.arange(n_lists + 1))
    return Ivf(centroids=C, order=order.astype(np.int64), offsets=offsets.astype(np.int64))


def _assign(X: np.ndarray, C: np.ndarray, block: int = 8192) -> np.ndarray:
    c2 = (C * C).sum(1)
    out = np.empty(len(X), dtype=np.int64)
    for s in range(0, len(X), block):
        d = c2[None, :] - 2.0 * X[s:s + block] @ C.T
        out[s:s + block] = np.argmin(d, axis=1)
    return out
