"""Training: every learned recall source from one feedback matrix, packed into a RecModel (no database)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp

from zhimei.distribute.recommend.als import train_als
from zhimei.distribute.recommend.blend import BlendWeights
from zhimei.distribute.recommend.content import normalise_rows
from zhimei.distribute.recommend.ease import ease
from zhimei.distribute.recommend.fresh import popularity_scores
from zhimei.distribute.recommend.itemcf import item_cf
from zhimei.distribute.recommend.ivf import build_ivf
from zhimei.distribute.recommend.matrix import FeedbackMatrix
from zhimei.distribute.recommend.model import RecModel
from zhimei.distribute.recommend.neighbours import NeighbourTable

__all__ = ["TrainParams", "train_model"]


@dataclass
class TrainParams:
    """Hyper-parameters of a retrain (defaults tuned on an inner split of MovieLens-100k's training part)."""

    ease_lambda: float = 400.0
    ease_max_items: int = 3000
    """Up to this many items the neighbour source is EASE (exact, dense); above, item-CF top-k."""
    neighbours_k: int = 100
    itemcf_shrink: float = 10.0
    als_factors: int = 64
    als_regularization: float = 0.05
    als_alpha: float = 10.0
    als_iterations: int = 15
    ivf_min_items: int = 20000
    """Catalogues larger than this get inverted-file indexes for ALS and content recall."""
    threads: int = 2
    weights: BlendWeights = field(default_factory=BlendWeights)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["weights"] = self.weights.as_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainParams:
        d = dict(d)
        w = BlendWeights.from_dict(d.pop("weights", {}) or {})
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(weights=w, **known)


def train_model(fm: FeedbackMatrix, params: TrainParams | None = None, *, item_vectors: np.ndarray | None = None,
                has_vector: np.ndarray | None = None, version: int = 0, neighbour_kind: str | None = None,
                progress=None) -> RecModel:
    """Fit the neighbour table (EASE or item-CF), ALS factors and the content matrix; returns the model.

    `item_vectors` (rows aligned with ``fm.item_ids``; `has_vector` marks real rows) feeds content recall and,
    when most items have one, the diversity step. `progress(fraction, message)` is called between steps."""
    p = params or TrainParams()
    say = progress or (lambda _f, _m: None)
    n_items = fm.X.shape[1]
    kind = neighbour_kind or ("ease" if n_items <= p.ease_max_items else "itemcf")
    t0 = time.time()
    say(0.05, f"{kind} neighbours of {n_items} items")
    if p.weights.neighbours <= 0:
        table = NeighbourTable(sparse=sp.csr_matrix((n_items, n_items), dtype=np.float32))
    elif kind == "ease":
        table = ease(fm.binary(), lam=p.ease_lambda, dense_max=p.ease_max_items)
    elif kind == "itemcf":
        table = item_cf(fm.X, k=p.neighbours_k, shrink=p.itemcf_shrink)
    else:
        raise ValueError(f"unknown neighbour source {kind!r} (ease or itemcf)")
    say(0.5, "ALS factors")
    als = train_als(fm.X, factors=p.als_factors, regularization=p.als_regularization, alpha=p.als_alpha,
                    iterations=p.als_iterations, threads=p.threads) if p.als_factors > 0 else None
    say(0.9, "content vectors")
    V = hv = None
    if item_vectors is not None and len(item_vectors):
        V = normalise_rows(item_vectors)
        hv = np.asarray(has_vector if has_vector is not None else np.linalg.norm(V, axis=1) > 0, dtype=bool)
    als_ivf = content_ivf = None
    if n_items > p.ivf_min_items:
        say(0.95, "recall indexes")
        als_ivf = build_ivf(als.items) if als is not None else None
        content_ivf = build_ivf(V) if V is not None else None
    return RecModel(version=version, als_ivf=als_ivf, content_ivf=content_ivf, user_ids=fm.user_ids,
                    item_ids=fm.item_ids, seen=fm.X, neighbours=table,
                    neighbour_kind=kind, als=als, content=V, has_content=hv, popularity=popularity_scores(fm.X),
                    params=p.as_dict(), trained_at=time.time(), train_seconds=time.time() - t0)
