"""Where trained models live: the ``.npz`` bytes in the blob store (content-addressed, so a retried write never
duplicates), a `RecommendModel` row that makes a version current, and a bounded cache of loaded engines."""

from __future__ import annotations

import logging
import threading

import numpy as np
import scipy.sparse as sp
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from zhimei.distribute.recommend.engine import Engine
from zhimei.distribute.recommend.model import BoundedCache, RecModel
from zhimei.distribute.recommend.neighbours import NeighbourTable
from zhimei.settings import get_settings
from zhimei.store.blobs import BlobNotFound, get_blob_store
from zhimei.store.models_recommend import RecommendModel

__all__ = ["current_version", "current_engine", "record_model", "prune_versions", "empty_model", "model_rows",
           "caches", "clear_caches"]

log = logging.getLogger("zhimei.recommend")
_lock = threading.Lock()
_caches: dict[str, BoundedCache] = {}


def caches() -> dict[str, BoundedCache]:
    """The process's caches: loaded engines (by model version) and channel contexts, bounded by the settings."""
    s = get_settings()
    budget = s.recommend_cache_mib * 2**20
    with _lock:
        if not _caches or _caches["engines"].max_bytes != budget * 3 // 4:
            _caches["engines"] = BoundedCache(max_bytes=budget * 3 // 4, max_entries=3, max_age=3600.0)
            _caches["contexts"] = BoundedCache(max_bytes=budget // 4, max_entries=256,
                                               max_age=s.recommend_cache_seconds)
        _caches["contexts"].max_age = s.recommend_cache_seconds
        return _caches


def clear_caches() -> None:
    """Forget every loaded model and channel context (tests; after settings change)."""
    for c in caches().values():
        c.clear()


def empty_model() -> RecModel:
    """The model before any training: no readers, no items (every request is served non-personally)."""
    return RecModel(version=0, user_ids=np.empty(0, np.int64), item_ids=np.empty(0, np.int64),
                    seen=sp.csr_matrix((0, 0), dtype=np.float32),
                    neighbours=NeighbourTable(sparse=sp.csr_matrix((0, 0), dtype=np.float32)), neighbour_kind="none",
                    als=None, content=None, has_content=None, popularity=np.empty(0, np.float32))


def current_version(session: Session) -> int:
    """The newest trained version (0 when none)."""
    return int(session.scalar(select(func.max(RecommendModel.version))) or 0)


def current_engine(session: Session) -> Engine:
    """The engine of the current model, loaded once per process and version (bounded cache); the empty model
    when nothing was trained yet or the model's blob is missing."""
    row = session.scalars(select(RecommendModel).order_by(RecommendModel.version.desc()).limit(1)).first()
    if row is None:
        return _cached_empty()
    cache = caches()["engines"]
    engine = cache.get(row.version)
    if engine is not None:
        return engine
    try:
        model = RecModel.from_bytes(get_blob_store().read_bytes(row.blob_sha))
    except (BlobNotFound, ValueError, OSError) as exc:
        log.warning("recommendation model v%s cannot be read (%s); serving non-personal rows and retraining",
                    row.version, exc)
        _retrain_soon()
        return _cached_empty()
    model.version = row.version
    engine = Engine(model)
    cache.put(row.version, engine, size=2 * model.nbytes)
    return engine


def _retrain_soon() -> None:
    try:
        from zhimei.jobs.tasks import enqueue_task

        enqueue_task("recommend.retrain", {"reason": "model blob unreadable"}, key="recommend.retrain")
    except Exception as exc:  # serving must not fail because the queue is unavailable
        log.warning("could not queue a recommendation retrain: %s", exc)


def _cached_empty() -> Engine:
    cache = caches()["engines"]
    engine = cache.get(0)
    if engine is None:
        engine = Engine(empty_model())
        cache.put(0, engine, size=1024)
    return engine


def record_model(session: Session, model: RecModel, blob_sha: str, size: int, *, interactions: int,
                 job_id: int | None = None) -> RecommendModel:
    """Make a stored blob the next model version (in the caller's transaction)."""
    version = current_version(session) + 1
    row = RecommendModel(version=version, blob_sha=blob_sha, size_bytes=size, neighbour_kind=model.neighbour_kind,
                         readers=len(model.user_ids), items=len(model.item_ids), interactions=interactions,
                         params=model.params, train_seconds=round(model.train_seconds, 3), job_id=job_id)
    session.add(row)
    session.flush()
    return row


def prune_versions(session: Session, keep: int) -> list[str]:
    """Delete model rows beyond the newest `keep`; returns the blob keys no remaining row uses (the caller
    deletes them after commit)."""
    old = session.scalars(select(RecommendModel).order_by(RecommendModel.version.desc()).offset(keep)).all()
    if not old:
        return []
    shas = {r.blob_sha for r in old}
    session.execute(delete(RecommendModel).where(RecommendModel.id.in_([r.id for r in old])))
    still = set(session.scalars(select(RecommendModel.blob_sha).where(RecommendModel.blob_sha.in_(shas))))
    return sorted(shas - still)


def model_rows(session: Session, limit: int = 20) -> list[dict]:
    """The stored model versions, newest first."""
    rows = session.scalars(select(RecommendModel).order_by(RecommendModel.version.desc()).limit(limit)).all()
    return [{"version": r.version, "created_at": r.created_at.isoformat(), "readers": r.readers, "items": r.items,
             "interactions": r.interactions, "neighbour_kind": r.neighbour_kind, "size_bytes": r.size_bytes,
             "train_seconds": r.train_seconds, "job_id": r.job_id} for r in rows]
