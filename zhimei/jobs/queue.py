"""The durable job table: enqueue, claim with a lease, heartbeat, finish, retry with backoff, cancel.

Every transition is a conditional UPDATE guarded by (status, attempts), so two workers never both own
a job and a worker whose lease was taken over cannot complete it (the attempt number is a fence).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from zhimei.jobs.stages import load_stage_modules
from zhimei.settings import get_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Job, utcnow

__all__ = [
    "enqueue_pipeline", "claim", "claim_job", "heartbeat", "complete", "fail", "cancel", "retry",
    "release_dependents", "refresh_asset_status", "LeaseLost", "ACTIVE",
]

ACTIVE = ("blocked", "queued", "running")


class LeaseLost(RuntimeError):
    """This worker no longer owns the job (lease expired and taken over, or job cancelled)."""


def enqueue_pipeline(session: Session, asset: Asset, *, restart: bool = False) -> list[Job]:
    """Create the asset's stage graph as jobs (idempotent: existing jobs are kept unless `restart`)."""
    s = get_settings()
    reg = load_stage_modules(s.stage_modules)
    existing = {j.stage: j for j in session.scalars(select(Job).where(Job.asset_id == asset.id))}
    jobs: list[Job] = []
    for st in reg.graph_for(asset.kind):
        deps = reg.deps_for(st, asset.kind)
        job = existing.get(st.name)
        if job is None:
            job = Job(asset_id=asset.id, stage=st.name, depends_on=deps, priority=st.priority,
                      max_attempts=st.max_attempts or s.job_max_attempts)
            session.add(job)
        elif restart:
            job.attempts, job.last_error, job.progress, job.result = 0, None, 0.0, {}
            job.finished_at = job.started_at = job.lease_until = job.worker = None
        else:
            jobs.append(job)
            continue
        job.status = "blocked" if deps else "queued"
        job.not_before = None
        jobs.append(job)
    session.flush()
    asset.status = "processing" if jobs else "ready"
    return jobs


def _claimable(now):
    return or_(
        and_(Job.status == "queued", or_(Job.not_before.is_(None), Job.not_before <= now)),
        and_(Job.status == "running", Job.lease_until < now),
    )


def _take(session: Session, job: Job, worker: str, now) -> bool:
    lease = now + timedelta(seconds=get_settings().job_lease_seconds)
    res = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == job.status, Job.attempts == job.attempts)
        .values(status="running", attempts=job.attempts + 1, worker=worker, lease_until=lease,
                heartbeat_at=now, started_at=now, progress=0.0, message="")
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


def claim(worker: str, stages: list[str] | None = None) -> Job | None:
    """Take the next runnable job (queued, or running with an expired lease); None if there is none."""
    now = utcnow()
    with session_scope() as session:
        q = select(Job).where(_claimable(now)).order_by(Job.priority, Job.id).limit(20)
        if stages:
            q = q.where(Job.stage.in_(stages))
        for job in session.scalars(q).all():
            if _expired_out(session, job):
                continue
            if _take(session, job, worker, now):
                session.commit()
                return session.get(Job, job.id, populate_existing=True)
    return None


def claim_job(job_id: int, worker: str) -> Job | None:
    """Take one specific job if it is runnable (Celery tasks name their job)."""
    now = utcnow()
    with session_scope() as session:
        job = session.scalars(select(Job).where(Job.id == job_id, _claimable(now))).first()
        if job is None or _expired_out(session, job):
            return None
        if _take(session, job, worker, now):
            session.commit()
            return session.get(Job, job.id, populate_existing=True)
    return None


def _expired_out(session: Session, job: Job) -> bool:
    """A job whose lease expired on its last allowed attempt fails instead of running again."""
    if job.status == "running" and job.attempts >= job.max_attempts:
        _fail_now(session, job, job.attempts, "worker stopped responding (lease expired) on the last attempt")
        return True
    return False


def heartbeat(job_id: int, attempt: int, progress: float | None = None, message: str | None = None) -> None:
    """Extend the lease and record progress; raises LeaseLost if the job is no longer ours."""
    now = utcnow()
    values: dict = {"heartbeat_at": now,
                    "lease_until": now + timedelta(seconds=get_settings().job_lease_seconds)}
    if progress is not None:
        values["progress"] = max(0.0, min(100.0, progress))
    if message is not None:
        values["message"] = message[:500]
    with session_scope() as session:
        res = session.execute(
            update(Job).where(Job.id == job_id, Job.attempts == attempt, Job.status == "running").values(**values)
        )
        if res.rowcount != 1:
            raise LeaseLost(f"job {job_id} attempt {attempt} is no longer running here")


def complete(session: Session, job_id: int, attempt: int, result: dict | None = None) -> None:
    """Mark the job done inside the caller's transaction (with the stage's outputs); fenced by attempt."""
    now = utcnow()
    res = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.attempts == attempt, Job.status == "running")
        .values(status="done", progress=100.0, finished_at=now, lease_until=None, staged_blobs=[],
                last_error=None, result=result or {})
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        raise LeaseLost(f"job {job_id} attempt {attempt} lost its lease before completing")
    job = session.get(Job, job_id, populate_existing=True)
    release_dependents(session, job)


def release_dependents(session: Session, job: Job) -> list[int]:
    """Queue the asset's blocked jobs whose dependencies are all done; returns their ids."""
    if job.asset_id is None:
        return []
    siblings = session.scalars(select(Job).where(Job.asset_id == job.asset_id)).all()
    done = {j.stage for j in siblings if j.status == "done"}
    released = []
    for j in siblings:
        if j.status == "blocked" and all(d in done for d in j.depends_on):
            j.status = "queued"
            released.append(j.id)
    session.flush()
    refresh_asset_status(session, job.asset_id)
    return released


def fail(job_id: int, attempt: int, error: str, permanent: bool = False) -> str:
    """Record a failure: requeue with backoff, or fail for good. Returns the new status."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None or job.attempts != attempt or job.status != "running":
            return job.status if job else "missing"
        if permanent or job.attempts >= job.max_attempts:
            _fail_now(session, job, attempt, error)
            return "failed"
        delay = get_settings().job_backoff_seconds * (2 ** (job.attempts - 1))
        session.execute(
            update(Job).where(Job.id == job_id, Job.attempts == attempt, Job.status == "running")
            .values(status="queued", last_error=error[:4000], lease_until=None, worker=None,
                    not_before=utcnow() + timedelta(seconds=delay))
        )
        return "queued"


def _fail_now(session: Session, job: Job, attempt: int, error: str) -> None:
    session.execute(
        update(Job).where(Job.id == job.id, Job.attempts == attempt)
        .values(status="failed", last_error=error[:4000], lease_until=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if job.asset_id is not None:
        for dep in session.scalars(select(Job).where(Job.asset_id == job.asset_id, Job.status == "blocked")):
            dep.status, dep.last_error = "cancelled", f"upstream stage {job.stage!r} failed"
        asset = session.get(Asset, job.asset_id)
        if asset is not None:
            asset.status = "failed"
            asset.failure_reason = f"{job.stage}: {error}"[:4000]
    session.flush()


def cancel(job_id: int) -> bool:
    """Cancel a job that has not finished; a running worker notices at its next heartbeat."""
    with session_scope() as session:
        res = session.execute(
            update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE))
            .values(status="cancelled", lease_until=None, finished_at=utcnow(), message="cancelled")
        )
        if res.rowcount == 1:
            job = session.get(Job, job_id)
            for dep in session.scalars(select(Job).where(Job.asset_id == job.asset_id, Job.status == "blocked")):
                dep.status, dep.last_error = "cancelled", f"upstream stage {job.stage!r} was cancelled"
            session.flush()
            refresh_asset_status(session, job.asset_id)
        return res.rowcount == 1


def retry(job_id: int) -> bool:
    """Run a failed or cancelled job again (and re-block its dependents)."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ("failed", "cancelled"):
            return False
        siblings = {j.stage: j for j in session.scalars(select(Job).where(Job.asset_id == job.asset_id))}
        deps_done = all(siblings[d].status == "done" for d in job.depends_on if d in siblings)
        job.status = "queued" if deps_done else "blocked"
        job.attempts, job.last_error, job.not_before, job.finished_at = 0, None, None, None
        for other in siblings.values():
            if other.status == "cancelled" and job.stage in _ancestors(other, siblings):
                other.status, other.attempts, other.last_error = "blocked", 0, None
        if job.asset_id is not None:
            asset = session.get(Asset, job.asset_id)
            asset.status, asset.failure_reason = "processing", None
        return True


def _ancestors(job: Job, siblings: dict[str, Job]) -> set[str]:
    seen: set[str] = set()
    todo = list(job.depends_on)
    while todo:
        d = todo.pop()
        if d not in seen and d in siblings:
            seen.add(d)
            todo.extend(siblings[d].depends_on)
    return seen


def refresh_asset_status(session: Session, asset_id: int | None) -> None:
    """Derive the asset's status from its jobs: failed or cancelled > processing > ready."""
    if asset_id is None:
        return
    asset = session.get(Asset, asset_id)
    if asset is None:
        return
    statuses = set(session.scalars(select(Job.status).where(Job.asset_id == asset_id)))
    if "failed" in statuses:
        asset.status = "failed"
    elif statuses & set(ACTIVE):
        asset.status = "processing"
    elif "cancelled" in statuses:
        asset.status = "failed"
        asset.failure_reason = asset.failure_reason or "processing was cancelled"
    else:
        asset.status = "ready"
