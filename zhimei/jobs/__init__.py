"""jobs: one durable job table; embedded workers or Celery, chosen by settings."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from zhimei.jobs.context import Cancelled, StageContext
from zhimei.jobs.queue import LeaseLost, cancel, claim, enqueue_pipeline, retry
from zhimei.jobs.stages import PermanentError, Stage, StageRegistry, load_stage_modules, registry, stage
from zhimei.jobs.worker import Worker, drain, run_asset_jobs, run_job
from zhimei.settings import get_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Job, utcnow

__all__ = [
    "Cancelled", "StageContext", "LeaseLost", "cancel", "claim", "enqueue_pipeline", "retry",
    "PermanentError", "Stage", "StageRegistry", "load_stage_modules", "registry", "stage",
    "Worker", "drain", "run_job", "run_asset_jobs", "dispatch_ready",
]


def dispatch_ready(asset_id: int | None = None) -> list[int]:
    """In Celery mode, send a task for each runnable job (of one asset, or all); embedded: no-op."""
    s = get_settings()
    if s.job_backend != "celery":
        return []
    from zhimei.jobs.celery_app import run_job_task

    now = utcnow()
    with session_scope() as session:
        q = select(Job).where(Job.status == "queued")
        if asset_id is not None:
            q = q.where(Job.asset_id == asset_id)
        jobs = [(j.id, j.not_before) for j in session.scalars(q)]
        if asset_id is None:  # sweep: also jobs whose worker died
            stale = select(Job.id).where(Job.status == "running", Job.lease_until < now - timedelta(seconds=1))
            jobs += [(jid, None) for jid in session.scalars(stale)]
    for jid, not_before in jobs:
        countdown = max(0.0, (not_before - now).total_seconds()) if not_before else 0
        run_job_task.apply_async(args=[jid], countdown=countdown, queue=s.celery_queue)
    return [jid for jid, _ in jobs]
