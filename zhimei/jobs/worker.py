"""Embedded workers: claim jobs with leases, heartbeat while running, retry with backoff."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid

from zhimei.jobs import queue
from zhimei.jobs.context import Cancelled, StageContext, discard_orphans
from zhimei.jobs.stages import PermanentError, load_stage_modules
from zhimei.settings import get_settings
from zhimei.store.blobs import get_blob_store
from zhimei.store.models import Job

__all__ = ["run_job", "Worker", "worker_name", "drain"]

log = logging.getLogger("zhimei.jobs")


def worker_name() -> str:
    """host:pid:random, unique per worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_job(job: Job) -> str:
    """Run one claimed job to its end; returns its final status for this attempt."""
    s = get_settings()
    reg = load_stage_modules(s.stage_modules)
    ctx = StageContext(job_id=job.id, attempt=job.attempts, asset_id=job.asset_id, stage=job.stage,
                       settings=s, blobs=get_blob_store(s), payload=dict(job.payload or {}))
    stop_beat = threading.Event()

    def beat() -> None:
        interval = max(0.2, s.job_lease_seconds / 4)
        while not stop_beat.wait(interval):
            try:
                queue.heartbeat(job.id, job.attempts, ctx._progress, ctx._message)
            except queue.LeaseLost:
                ctx._stop.set()
                return
            except Exception:  # database hiccup: try again next beat
                log.exception("heartbeat failed for job %s", job.id)

    beater = threading.Thread(target=beat, name=f"heartbeat-{job.id}", daemon=True)
    beater.start()
    try:
        if job.attempts > 1:
            discard_orphans(job.id, ctx.blobs)
        reg.get(job.stage).run(ctx)
        if not ctx.completed:
            with ctx.outputs():
                pass
        return "done"
    except (Cancelled, queue.LeaseLost) as exc:
        log.info("job %s stopped: %s", job.id, exc)
        return "cancelled"
    except PermanentError as exc:
        return queue.fail(job.id, job.attempts, str(exc), permanent=True)
    except Exception as exc:
        log.warning("job %s (%s) failed: %s", job.id, job.stage, exc)
        detail = f"{type(exc).__name__}: {exc}"
        if os.environ.get("ZHIMEI_DEBUG"):
            detail += "\n" + traceback.format_exc()
        return queue.fail(job.id, job.attempts, detail)
    finally:
        stop_beat.set()
        beater.join(timeout=5)
        ctx.cleanup()


class Worker:
    """A loop that claims and runs jobs until stopped (threads inside `zhimei serve`, or `zhimei worker`)."""

    def __init__(self, name: str | None = None, stages: list[str] | None = None):
        self.name = name or worker_name()
        self.stages = stages
        self._stop = threading.Event()

    def run_once(self) -> bool:
        """Claim and run one job; False if there was nothing to do."""
        job = queue.claim(self.name, self.stages)
        if job is None:
            return False
        run_job(job)
        return True

    def run(self) -> None:
        """Work until `stop()`."""
        poll = get_settings().job_poll_seconds
        while not self._stop.is_set():
            try:
                if not self.run_once():
                    self._stop.wait(poll)
            except Exception:
                log.exception("worker %s loop error", self.name)
                self._stop.wait(poll)

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread."""
        t = threading.Thread(target=self.run, name=f"worker-{self.name}", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        """Ask the loop to end after the current job."""
        self._stop.set()


def drain(max_jobs: int = 10_000) -> int:
    """Run jobs in this thread until none is runnable now; returns how many ran (tests, `ingest --wait`)."""
    w = Worker()
    n = 0
    while n < max_jobs and w.run_once():
        n += 1
    return n


def run_asset_jobs(asset_ids: list[int], label: str = "helper") -> int:
    """Run the assets' runnable queued jobs in this thread, claimed like any worker would (so none runs twice), for
    the stages this process has loaded: a job that waits for those assets never holds back the only worker that
    could process them. `label` is added to the worker name the jobs record. Returns how many ran."""
    from sqlalchemy import or_, select

    from zhimei.store.db import read_scope
    from zhimei.store.models import Job, utcnow

    if not asset_ids:
        return 0
    here = load_stage_modules(get_settings().stage_modules).names()
    with read_scope() as s:
        queued = list(s.scalars(select(Job.id).where(
            Job.asset_id.in_(asset_ids), Job.status == "queued", Job.stage.in_(here),
            or_(Job.not_before.is_(None), Job.not_before <= utcnow())).order_by(Job.priority, Job.id)))
    worker = f"{worker_name()}:{label}"
    ran = 0
    for jid in queued:
        job = queue.claim_job(jid, worker)
        if job is not None:
            run_job(job)
            ran += 1
    return ran
