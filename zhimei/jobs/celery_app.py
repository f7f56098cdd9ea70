"""Scale mode: the same jobs executed by Celery workers over Redis (`ZHIMEI_JOB_BACKEND=celery`).

The job table stays the single source of truth; a Celery task only names a job id and claims it with
the same lease rules as an embedded worker. Start workers with
``celery -A zhimei.jobs.celery_app worker -Q zhimei``.
"""

from __future__ import annotations

from celery import Celery

from zhimei.settings import get_settings

__all__ = ["app", "run_job_task"]


def _make_app() -> Celery:
    s = get_settings()
    celery = Celery("zhimei", broker=s.celery_broker_url)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=s.celery_queue,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
    )
    return celery


app = _make_app()


@app.task(name="zhimei.run_job", bind=True, max_retries=None)
def run_job_task(self, job_id: int) -> str:
    """Claim job `job_id` and run it; dispatch what it unblocks."""
    from zhimei.jobs import dispatch_ready
    from zhimei.jobs.queue import claim_job
    from zhimei.jobs.worker import run_job, worker_name
    from zhimei.store.db import session_scope
    from zhimei.store.models import Job

    job = claim_job(job_id, f"celery:{worker_name()}")
    if job is None:
        with session_scope() as session:
            current = session.get(Job, job_id)
            status = current.status if current else "missing"
        if status == "running":  # another worker holds the lease; look again once it could expire
            raise self.retry(countdown=get_settings().job_lease_seconds)
        return status
    status = run_job(job)
    if job.asset_id is not None:  # the asset's next stages; background tasks send what they queue themselves
        dispatch_ready(asset_id=job.asset_id)
    return status
