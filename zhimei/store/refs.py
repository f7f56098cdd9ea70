"""Which blobs rows point at, and garbage collection of the rest."""

from __future__ import annotations

import os
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhimei.store.blobs import BlobStore, LocalBlobStore
from zhimei.store.models import Face, Job, Keyframe, Person, Rendition
from zhimei.store.models_recommend import RecommendModel

__all__ = ["referenced_blobs", "collect_garbage"]


def referenced_blobs(session: Session) -> set[str]:
    """Every sha256 that a row refers to, including blobs a running job has staged."""
    refs: set[str] = set(session.scalars(select(Rendition.blob_sha)))
    for blob, thumb in session.execute(select(Keyframe.blob_sha, Keyframe.thumb_sha)):
        refs.update((blob, thumb))
    for model in (Face, Person):  # face-crop thumbnails (understanding)
        refs.update(sha for sha in session.scalars(select(model.thumb_sha).where(model.thumb_sha.is_not(None))))
    refs.update(session.scalars(select(RecommendModel.blob_sha)))  # trained recommendation models
    for staged in session.scalars(select(Job.staged_blobs).where(Job.status == "running")):
        refs.update(staged or [])
    return refs


def collect_garbage(session: Session, store: BlobStore, grace_seconds: float = 3600.0) -> list[str]:
    """Delete blobs no row refers to (and stale partial writes); returns the deleted keys."""
    refs = referenced_blobs(session)
    deleted = [
        sha for sha in list(store.keys()) if sha not in refs and store.age_seconds(sha) >= grace_seconds
    ]
    for sha in deleted:
        store.delete(sha)
    if isinstance(store, LocalBlobStore):
        cutoff = time.time() - grace_seconds
        for tmp in store.temp_files():
            if tmp.stat().st_mtime < cutoff:
                os.unlink(tmp)
                deleted.append(tmp.name)
    return deleted

