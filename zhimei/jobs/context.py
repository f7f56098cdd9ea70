"""What a running stage sees: its job, the stores, scratch space, progress and the output transaction."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from zhimei.jobs import queue
from zhimei.settings import Settings
from zhimei.store.blobs import BlobStore, sha256_file
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Job
from zhimei.store.refs import referenced_blobs

__all__ = ["StageContext", "Cancelled"]


class Cancelled(RuntimeError):
    """The job was cancelled or its lease was lost while the stage ran."""


@dataclass
class StageContext:
    """Handed to a stage's run function."""

    job_id: int
    attempt: int
    asset_id: int | None
    stage: str
    settings: Settings
    blobs: BlobStore
    completed: bool = False
    payload: dict = field(default_factory=dict)
    """A background task's arguments (empty for pipeline stages)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _progress: float = 0.0
    _message: str = ""

    @property
    def scratch(self) -> Path:
        """A scratch folder for this job (emptied when the job finishes)."""
        p = self.settings.scratch_path / f"job-{self.job_id}"
        p.mkdir(parents=True, exist_ok=True)
        return p

    def asset(self, session: Session) -> Asset:
        """The asset this job works on."""
        asset = session.get(Asset, self.asset_id)
        if asset is None:
            raise Cancelled(f"asset {self.asset_id} no longer exists")
        return asset

    def progress(self, percent: float, message: str | None = None) -> None:
        """Report progress (written at the next heartbeat); raises Cancelled once the job is no longer ours."""
        self._progress = percent
        if message is not None:
            self._message = message
        self.check()

    def check(self) -> None:
        """Raise Cancelled if the worker was told to stop."""
        if self._stop.is_set():
            raise Cancelled(f"job {self.job_id} was cancelled or lost its lease")

    def stage_blobs(self, paths: list[Path]) -> list[str]:
        """Put output files into the blob store, recording them on the job first so a crash leaves no orphan."""
        shas = [sha256_file(p) for p in paths]
        with session_scope() as session:
            job = session.get(Job, self.job_id)
            staged = list(dict.fromkeys([*(job.staged_blobs or []), *shas]))
            res = session.execute(
                update(Job).where(Job.id == self.job_id, Job.attempts == self.attempt, Job.status == "running")
                .values(staged_blobs=staged)
            )
            if res.rowcount != 1:
                raise Cancelled(f"job {self.job_id} lost its lease")
        for p, sha in zip(paths, shas, strict=True):
            self.blobs.put_file(p, sha)
        return shas

    @contextmanager
    def outputs(self, result: dict | None = None) -> Iterator[Session]:
        """One transaction for the stage's rows that also marks the job done (fenced by attempt)."""
        with session_scope() as session:
            yield session
            queue.complete(session, self.job_id, self.attempt, result)
        self.completed = True

    def cleanup(self) -> None:
        """Remove scratch files."""
        shutil.rmtree(self.settings.scratch_path / f"job-{self.job_id}", ignore_errors=True)


def discard_orphans(job_id: int, blobs: BlobStore) -> list[str]:
    """Before a job runs again: delete blobs an earlier, crashed attempt staged that nothing refers to."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        staged = list(job.staged_blobs or [])
        if not staged:
            return []
        job.staged_blobs = []
        session.flush()
        refs = referenced_blobs(session)
        orphans = [sha for sha in staged if sha not in refs]
    for sha in orphans:
        blobs.delete(sha)
    return orphans


def unfinished_jobs(session: Session) -> list[Job]:
    """Jobs still to run (for `zhimei jobs`)."""
    return list(session.scalars(select(Job).where(Job.status.in_(queue.ACTIVE)).order_by(Job.id)))
