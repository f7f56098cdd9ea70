"""Background tasks: jobs that work on no asset (model retrains, webhook deliveries, scheduled publishing).

A task is a stage of the pseudo-kind ``task``, so it never enters an asset's pipeline, runs on the same durable
job table (leases, heartbeats, retries, fencing) and on Celery the same way. Its arguments travel in
``Job.payload`` and reach the run function as ``ctx.payload``.

    @task("recommend.retrain", every=6 * 3600)
    def retrain(ctx: StageContext) -> None: ...

    enqueue_task("publish.deliver", {"delivery_id": 7}, key="delivery:7")

The module defining tasks must be listed in the ``stage_modules`` setting so that workers load it. Periodic
tasks (``every=`` seconds) are enqueued by ``run_periodic()``, which the scheduler of `zhimei serve` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from zhimei.jobs.context import StageContext
from zhimei.jobs.stages import load_stage_modules, stage
from zhimei.settings import get_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Job, utcnow

__all__ = ["TASK_KIND", "task", "enqueue_task", "run_periodic", "periodic_tasks", "ACTIVE_STATUSES"]

TASK_KIND = "task"
ACTIVE_STATUSES = ("blocked", "queued", "running")
_every: dict[str, float] = {}


def task(name: str, *, every: float | None = None, max_attempts: int | None = None, priority: int = 100):
    """Decorator: register a background task; with `every` (seconds) it is also run periodically."""

    def deco(fn: Callable[[StageContext], None]) -> Callable[[StageContext], None]:
        stage(name, kinds=(TASK_KIND,), max_attempts=max_attempts, priority=priority)(fn)
        if every is not None:
            if every <= 0:
                raise ValueError(f"task {name!r}: every must be positive, not {every}")
            _every[name] = float(every)
        return fn

    return deco


def periodic_tasks() -> dict[str, float]:
    """Periodic task names and their intervals in seconds, of the tasks the settings load."""
    reg = load_stage_modules(get_settings().stage_modules)
    return {name: every for name, every in _every.items() if name in reg.names()}


def enqueue_task(name: str, payload: dict | None = None, *, key: str | None = None,
                 not_before: datetime | None = None, session: Session | None = None) -> int:
    """Queue a run of task `name`; returns the job id. With `key`, a queued or running job of the same task and
    key is reused instead (so retries of the caller never duplicate work). Within the caller's `session`, the
    job is sent to Celery only after that transaction commits."""
    s = get_settings()
    reg = load_stage_modules(s.stage_modules)
    st = reg.get(name)
    if TASK_KIND not in st.kinds:
        raise ValueError(f"{name!r} is a pipeline stage, not a background task")

    def add(sess: Session) -> int:
        if key is not None:
            found = sess.scalars(select(Job.id).where(Job.asset_id.is_(None), Job.stage == name,
                                                      Job.input_hash == key,
                                                      Job.status.in_(ACTIVE_STATUSES))).first()
            if found is not None:
                return found
        job = Job(asset_id=None, stage=name, status="queued", depends_on=[], priority=st.priority,
                  max_attempts=st.max_attempts or s.job_max_attempts, input_hash=key, payload=dict(payload or {}),
                  not_before=not_before)
        sess.add(job)
        sess.flush()
        return job.id

    if session is not None:  # sent to Celery once the caller's transaction commits
        job_id = add(session)
        if s.job_backend == "celery":
            event.listen(session, "after_commit", lambda _sess: _dispatch(job_id, not_before), once=True)
        return job_id
    with session_scope() as sess:
        job_id = add(sess)
    _dispatch(job_id, not_before)
    return job_id


def _dispatch(job_id: int, not_before: datetime | None) -> None:
    s = get_settings()
    if s.job_backend != "celery":
        return
    from zhimei.jobs.celery_app import run_job_task

    countdown = max(0.0, (not_before - utcnow()).total_seconds()) if not_before else 0
    run_job_task.apply_async(args=[job_id], countdown=countdown, queue=s.celery_queue)


def run_periodic(now: datetime | None = None) -> list[int]:
    """Enqueue each periodic task that has no active job and whose last run finished `every` seconds ago or more
    (or never ran). Returns the new job ids."""
    now = now or utcnow()
    started: list[int] = []
    for name, every in periodic_tasks().items():
        with session_scope() as sess:
            active = sess.scalar(select(func.count()).select_from(Job).where(
                Job.asset_id.is_(None), Job.stage == name, Job.status.in_(ACTIVE_STATUSES)))
            if active:
                continue
            last = sess.scalar(select(func.max(Job.finished_at)).where(Job.asset_id.is_(None), Job.stage == name))
            if last is not None and now - last < timedelta(seconds=every):
                continue
        started.append(enqueue_task(name, {"periodic": True}))
    return started
