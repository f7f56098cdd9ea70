"""The trained recommendation model: arrays in one versioned ``.npz`` blob (no pickle), a database row that makes
a version current, and a bounded in-process cache (by bytes and by age) of loaded models."""

from __future__ import annotations

import io
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from zhimei.distribute.recommend.als import AlsFactors
from zhimei.distribute.recommend.ivf import Ivf
from zhimei.distribute.recommend.neighbours import NeighbourTable

__all__ = ["RecModel", "BoundedCache", "FORMAT"]

FORMAT = "zhimei-recommend/1"


@dataclass
class RecModel:
    """Everything the serving path needs, indexed by model row (reader) and column (item)."""

    version: int
    user_ids: np.ndarray
    item_ids: np.ndarray
    seen: sp.csr_matrix
    """Reader × item strengths at training time (what each reader already consumed)."""
    neighbours: NeighbourTable
    neighbour_kind: str
    als: AlsFactors | None
    content: np.ndarray | None
    """Unit content vectors per item (zero rows where an item has none)."""
    has_content: np.ndarray | None
    popularity: np.ndarray
    als_ivf: Ivf | None = None
    content_ivf: Ivf | None = None
    params: dict[str, Any] = field(default_factory=dict)
    trained_at: float = 0.0
    train_seconds: float = 0.0

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def nbytes(self) -> int:
        total = self.user_ids.nbytes + self.item_ids.nbytes + self.popularity.nbytes + self.neighbours.nbytes
        total += self.seen.data.nbytes + self.seen.indices.nbytes + self.seen.indptr.nbytes
        for a in (self.content, self.has_content):
            total += a.nbytes if a is not None else 0
        if self.als is not None:
            total += self.als.users.nbytes + self.als.items.nbytes
        for ivf in (self.als_ivf, self.content_ivf):
            total += ivf.nbytes if ivf is not None else 0
        return int(total)

    def user_index(self, user_id: int) -> int | None:
        pos = int(np.searchsorted(self.user_ids, user_id))
        return pos if pos < len(self.user_ids) and self.user_ids[pos] == user_id else None

    def item_index(self, item_ids) -> np.ndarray:
        item_ids = np.asarray(item_ids, dtype=np.int64)
        if not len(self.item_ids) or not len(item_ids):
            return np.full(len(item_ids), -1, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, item_ids).clip(0, len(self.item_ids) - 1)
        return np.where(self.item_ids[pos] == item_ids, pos, -1)

    def history(self, row: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Items and strengths of a reader row at training time (empty for None)."""
        if row is None:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        a, b = self.seen.indptr[row], self.seen.indptr[row + 1]
        return self.seen.indices[a:b].astype(np.int64), self.seen.data[a:b]

    # ---------------------------------------------------------------- serialisation
    def to_bytes(self) -> bytes:
        """The model as an ``.npz`` archive (arrays only; metadata as JSON text)."""
        arrays: dict[str, np.ndarray] = {
            "user_ids": self.user_ids, "item_ids": self.item_ids, "popularity": self.popularity,
            "seen_data": self.seen.data, "seen_indices": self.seen.indices, "seen_indptr": self.seen.indptr,
        }
        nb = self.neighbours
        if nb.dense is not None:
            arrays["nb_dense"] = nb.dense
        else:
            arrays.update(nb_data=nb.sparse.data, nb_indices=nb.sparse.indices, nb_indptr=nb.sparse.indptr)
        if self.als is not None:
            arrays.update(als_users=self.als.users, als_items=self.als.items)
        if self.content is not None:
            arrays.update(content=self.content, has_content=self.has_content)
        for name, ivf in (("als_ivf", self.als_ivf), ("content_ivf", self.content_ivf)):
            if ivf is not None:
                arrays.update({f"{name}_centroids": ivf.centroids, f"{name}_order": ivf.order,
                               f"{name}_offsets": ivf.offsets})
        meta = {"format": FORMAT, "version": self.version, "neighbour_kind": self.neighbour_kind,
                "params": self.params, "trained_at": self.trained_at, "train_seconds": self.train_seconds,
                "shape": list(self.seen.shape),
                "als": None if self.als is None else {"regularization": self.als.regularization,
                                                      "alpha": self.als.alpha}}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RecModel:
        """Read a model written by `to_bytes` (refuses other formats)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} model: {meta.get('format')!r}")
            shape = tuple(meta["shape"])
            seen = sp.csr_matrix((z["seen_data"], z["seen_indices"], z["seen_indptr"]), shape=shape)
            n = shape[1]
            if "nb_dense" in z:
                nb = NeighbourTable(dense=z["nb_dense"])
            else:
                nb = NeighbourTable(sparse=sp.csr_matrix((z["nb_data"], z["nb_indices"], z["nb_indptr"]),
                                                         shape=(n, n)))
            als = None
            if meta.get("als") is not None:
                als = AlsFactors(z["als_users"], z["als_items"], meta["als"]["regularization"], meta["als"]["alpha"])
            ivfs = {name: Ivf(z[f"{name}_centroids"], z[f"{name}_order"], z[f"{name}_offsets"])
                    for name in ("als_ivf", "content_ivf") if f"{name}_centroids" in z}
            content = z["content"] if "content" in z else None
            has_content = z["has_content"] if "has_content" in z else None
            return cls(version=int(meta["version"]), user_ids=z["user_ids"], item_ids=z["item_ids"], seen=seen,
                       neighbours=nb, neighbour_kind=meta["neighbour_kind"], als=als, content=content,
                       has_content=has_content, popularity=z["popularity"], params=meta.get("params", {}),
                       als_ivf=ivfs.get("als_ivf"), content_ivf=ivfs.get("content_ivf"),
                       trained_at=float(meta.get("trained_at", 0.0)),
                       train_seconds=float(meta.get("train_seconds", 0.0)))


class BoundedCache:
    """A thread-safe LRU cache bounded by total size (bytes, as the caller weighs each value), entry count and
    age: entries older than `max_age` seconds are dropped on access."""

    def __init__(self, *, max_bytes: int, max_entries: int = 1024, max_age: float = 600.0):
        self.max_bytes, self.max_entries, self.max_age = max_bytes, max_entries, max_age
        self._d: OrderedDict[Any, tuple[float, int, Any]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Any) -> Any | None:
        now = time.monotonic()
        with self._lock:
            entry = self._d.get(key)
            if entry is None or now - entry[0] > self.max_age:
                if entry is not None:
                    self._drop(key)
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return entry[2]

    def put(self, key: Any, value: Any, size: int = 1) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._d:
                self._drop(key)
            self._d[key] = (time.monotonic(), size, value)
            self._bytes += size
            while self._d and (self._bytes > self.max_bytes or len(self._d) > self.max_entries):
                self._drop(next(iter(self._d)))

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._d), "bytes": self._bytes, "hits": self.hits, "misses": self.misses}

    def _drop(self, key: Any) -> None:
        _, size, _ = self._d.pop(key)
        self._bytes -= size
