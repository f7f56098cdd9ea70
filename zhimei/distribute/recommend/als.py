"""Matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008) with `implicit`'s ALS.

Confidence of an observed (reader, item) pair is ``alpha * strength``, as in `implicit`. Readers who arrived
after training are folded in with one exact least-squares step against the item factors."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["AlsFactors", "train_als", "fold_in"]


@dataclass
class AlsFactors:
    """User and item factors (float32) and the hyper-parameters that made them."""

    users: np.ndarray
    items: np.ndarray
    regularization: float
    alpha: float


def train_als(X: sp.csr_matrix, *, factors: int = 64, regularization: float = 0.05, alpha: float = 10.0,
              iterations: int = 15, threads: int = 2, seed: int = 0) -> AlsFactors:
    """Fit ALS on a reader × item strength matrix; returns the factors."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    X = sp.csr_matrix(X, dtype=np.float32)
    n_users, n_items = X.shape
    if n_users == 0 or n_items == 0:
        return AlsFactors(np.zeros((n_users, factors), np.float32), np.zeros((n_items, factors), np.float32),
                          regularization, alpha)
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        # implicit parallelises itself (nested BLAS threads only slow it down); it warns from the env var alone
        warnings.filterwarnings("ignore", message=".*OpenBLAS is configured.*")
        model = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha,
                                        iterations=iterations, random_state=seed, num_threads=threads,
                                        calculate_training_loss=False)
        model.fit(X, show_progress=False)
    return AlsFactors(np.ascontiguousarray(model.user_factors, dtype=np.float32),
                      np.ascontiguousarray(model.item_factors, dtype=np.float32), regularization, alpha)


def fold_in(f: AlsFactors, items: np.ndarray, strengths: np.ndarray) -> np.ndarray:
    """The factor vector of a reader not in the model, from the items they consumed (one exact ALS step)."""
    k = f.items.shape[1]
    if len(items) == 0:
        return np.zeros(k, dtype=np.float32)
    Y = f.items[items].astype(np.float64)
    c = f.alpha * np.asarray(strengths, dtype=np.float64)
    A = f.items.T.astype(np.float64) @ f.items + f.regularization * np.eye(k) + (Y.T * (c - 1.0)) @ Y
    b = Y.T @ c
    return np.linalg.solve(A, b).astype(np.float32)
