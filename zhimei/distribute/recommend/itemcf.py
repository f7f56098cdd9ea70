"""Item-to-item collaborative filtering: shrunk cosine similarity of items' reader columns, top-k neighbours."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from zhimei.distribute.recommend.neighbours import NeighbourTable, from_blocks

__all__ = ["item_cf"]


def item_cf(X: sp.csr_matrix, *, k: int = 100, shrink: float = 10.0, max_history: int = 500,
            block: int = 512, progress=None) -> NeighbourTable:
    """Neighbour table of shrunk cosine similarities, sim(i, j) = |i ∩ j| / (‖i‖‖j‖ + shrink).

    Each reader counts with at most `max_history` strongest items, so a few heavy readers cannot make the
    co-occurrence product quadratic. Works block by block (`block` items at a time) in bounded memory."""
    X = sp.csr_matrix(X, dtype=np.float32)
    X = _cap_rows(X, max_history)
    X.data[:] = 1.0
    n_items = X.shape[1]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel()).astype(np.float32)
    XT = X.T.tocsr()

    def blocks():
        for start in range(0, n_items, block):
            rows = np.arange(start, min(n_items, start + block))
            co = (XT[rows] @ X).toarray()
            denom = norms[rows, None] * norms[None, :] + shrink
            yield rows, co / np.maximum(denom, 1e-9)

    return from_blocks(n_items, k, blocks(), progress)


def _cap_rows(X: sp.csr_matrix, cap: int) -> sp.csr_matrix:
    lengths = np.diff(X.indptr)
    if cap <= 0 or lengths.max(initial=0) <= cap:
        return X.copy()
    rows, cols, vals = [], [], []
    for u in np.flatnonzero(lengths > 0):
        a, b = X.indptr[u], X.indptr[u + 1]
        idx, w = X.indices[a:b], X.data[a:b]
        if len(idx) > cap:
            keep = np.argpartition(-w, cap - 1)[:cap]
            idx, w = idx[keep], w[keep]
        rows.append(np.full(len(idx), u))
        cols.append(idx)
        vals.append(w)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=X.shape,
                         dtype=np.float32)
