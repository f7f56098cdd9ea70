"""Item-neighbour tables: for each item, the items it recommends and how strongly (dense or top-k sparse)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["NeighbourTable", "from_dense", "from_blocks"]


@dataclass
class NeighbourTable:
    """Weights W[source item, target item]; a user's score for target j is the sum over items i they consumed
    of strength(i) * W[i, j]. Small catalogues keep W dense (exact); large ones keep the top-k per row (CSR)."""

    dense: np.ndarray | None = None
    sparse: sp.csr_matrix | None = None

    @property
    def n_items(self) -> int:
        return self.dense.shape[1] if self.dense is not None else self.sparse.shape[1]

    @property
    def nbytes(self) -> int:
        if self.dense is not None:
            return int(self.dense.nbytes)
        s = self.sparse
        return int(s.data.nbytes + s.indices.nbytes + s.indptr.nbytes)

    def scores(self, items: np.ndarray, strengths: np.ndarray) -> np.ndarray:
        """Scores over all items for a user who consumed `items` with `strengths`."""
        n = self.n_items
        if len(items) == 0:
            return np.zeros(n, dtype=np.float32)
        if self.dense is not None:
            return (strengths.astype(np.float32) @ self.dense[items]).astype(np.float32, copy=False)
        s = self.sparse
        starts, ends = s.indptr[items], s.indptr[items + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(n, dtype=np.float32)
        offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        pos = offsets + np.arange(total)
        vals = s.data[pos] * np.repeat(strengths.astype(np.float32), lengths)
        return np.bincount(s.indices[pos], weights=vals, minlength=n).astype(np.float32)

    def contributions(self, items: np.ndarray, strengths: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Matrix [len(items), len(targets)] of each consumed item's share of each target's score (for 'why')."""
        if len(items) == 0 or len(targets) == 0:
            return np.zeros((len(items), len(targets)), dtype=np.float32)
        if self.dense is not None:
            block = self.dense[np.ix_(items, targets)]
            return block * strengths.astype(np.float32)[:, None]
        rows, cols, vals = self._gather(items)
        order = np.argsort(targets)
        sorted_t = targets[order]
        tpos = np.searchsorted(sorted_t, cols).clip(0, len(targets) - 1)
        hit = sorted_t[tpos] == cols
        block = np.zeros((len(items), len(targets)), dtype=np.float32)
        block[rows[hit], order[tpos[hit]]] = vals[hit]
        return block * strengths.astype(np.float32)[:, None]

    def _gather(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(position in `items`, target column, weight) of every stored entry of the given rows."""
        s = self.sparse
        starts, ends = s.indptr[items], s.indptr[items + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        pos = offsets + np.arange(total)
        return np.repeat(np.arange(len(items)), lengths), s.indices[pos], s.data[pos]

    def neighbours(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k strongest targets of one item and their weights, best first."""
        if self.dense is not None:
            row = self.dense[item]
            idx = np.argsort(-row)[:k]
            idx = idx[row[idx] > 0]
            return idx, row[idx]
        s = self.sparse
        a, b = s.indptr[item], s.indptr[item + 1]
        idx, w = s.indices[a:b], s.data[a:b]
        order = np.argsort(-w)[:k]
        return idx[order], w[order]


def from_dense(W: np.ndarray, k: int | None = None) -> NeighbourTable:
    """A table from a dense item × item matrix (diagonal ignored): kept dense, or cut to the top k per row."""
    W = np.asarray(W, dtype=np.float32)
    np.fill_diagonal(W, 0.0)
    n = W.shape[0]
    if k is None or k >= n - 1:
        return NeighbourTable(dense=W)
    rows = np.repeat(np.arange(n), k)
    cols = np.argpartition(-W, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(W, cols, axis=1)
    m = sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(n, n), dtype=np.float32)
    m.eliminate_zeros()
    return NeighbourTable(sparse=m)


def from_blocks(n: int, k: int, block_rows, progress=None) -> NeighbourTable:
    """A top-k table built block by block: `block_rows` yields (row indices, dense weights [rows, n])."""
    rows_all, cols_all, vals_all = [], [], []
    for rows, W in block_rows:
        W = np.asarray(W, dtype=np.float32)
        W[np.arange(len(rows)), rows] = 0.0
        kk = min(k, n - 1)
        cols = np.argpartition(-W, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(W, cols, axis=1)
        keep = vals > 0
        rows_all.append(np.repeat(rows, kk)[keep.ravel()])
        cols_all.append(cols[keep])
        vals_all.append(vals[keep])
        if progress is not None:
            progress(len(rows))
    if rows_all:
        r, c, v = np.concatenate(rows_all), np.concatenate(cols_all), np.concatenate(vals_all)
    else:
        r = c = np.empty(0, dtype=np.int64)
        v = np.empty(0, dtype=np.float32)
    m = sp.csr_matrix((v, (r, c)), shape=(n, n), dtype=np.float32)
    m.sort_indices()
    return NeighbourTable(sparse=m)
