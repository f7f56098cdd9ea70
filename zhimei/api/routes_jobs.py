"""Job endpoints: list and inspect jobs, retry failed ones, cancel running ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from zhimei import jobs as job_queue
from zhimei.api.auth import Principal, require
from zhimei.store.db import session_scope
from zhimei.store.models import JOB_STATUSES, Asset, Job

__all__ = ["router", "JobOut", "JobList", "list_jobs", "job_dict", "retry_job", "cancel_job", "ACTIVE_STATUSES"]

router = APIRouter(prefix="/api", tags=["jobs"])
ACTIVE_STATUSES = ("blocked", "queued", "running")


class JobOut(BaseModel):
    """A job: one stage of work on one asset."""

    id: int
    asset_id: int | None
    asset_title: str | None = None
    stage: str
    status: str
    progress: float
    attempts: int
    max_attempts: int
    message: str = ""
    last_error: str | None = None
    worker: str | None = None
    depends_on: list[str] = []
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    heartbeat_at: str | None = None


class JobList(BaseModel):
    """Jobs newest first, the total matching, and how many of them are still active."""

    total: int
    active: int
    items: list[JobOut]


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def job_dict(j: Job, asset_title: str | None = None) -> dict[str, Any]:
    """JSON-ready fields of a job."""
    return {"id": j.id, "asset_id": j.asset_id, "asset_title": asset_title, "stage": j.stage, "status": j.status,
            "progress": round(j.progress or 0.0, 1), "attempts": j.attempts, "max_attempts": j.max_attempts,
            "message": j.message or "", "last_error": j.last_error, "worker": j.worker,
            "depends_on": list(j.depends_on or []), "created_at": _iso(j.created_at),
            "started_at": _iso(j.started_at), "finished_at": _iso(j.finished_at),
            "heartbeat_at": _iso(j.heartbeat_at)}


def list_jobs(status: str | None = None, asset_id: int | None = None, limit: int = 100,
              offset: int = 0) -> dict[str, Any]:
    """Jobs newest first (an asset's jobs in stage order), with totals."""
    with session_scope() as session:
        stmt = select(Job, Asset.title).outerjoin(Asset, Asset.id == Job.asset_id)
        count = select(func.count(Job.id))
        active = select(func.count(Job.id)).where(Job.status.in_(ACTIVE_STATUSES))
        if status:
            stmt, count, active = (x.where(Job.status == status) for x in (stmt, count, active))
        if asset_id is not None:
            stmt, count, active = (x.where(Job.asset_id == asset_id) for x in (stmt, count, active))
        order = Job.id.asc() if asset_id is not None else Job.id.desc()
        rows = session.execute(stmt.order_by(order).limit(limit).offset(offset)).all()
        return {"total": session.scalar(count) or 0, "active": session.scalar(active) or 0,
                "items": [job_dict(j, title) for j, title in rows]}


def _get_job(job_id: int) -> dict[str, Any]:
    with session_scope() as session:
        j = session.get(Job, job_id)
        if j is None:
            raise HTTPException(404, f"no job {job_id}")
        title = session.scalar(select(Asset.title).where(Asset.id == j.asset_id)) if j.asset_id else None
        return job_dict(j, title)


def retry_job(job_id: int) -> dict[str, Any]:
    """Queue a failed or cancelled job again (409 otherwise)."""
    job = _get_job(job_id)
    if not job_queue.retry(job_id):
        raise HTTPException(409, f"job {job_id} is {job['status']}; only failed or cancelled jobs can be retried")
    job_queue.dispatch_ready()
    return _get_job(job_id)


def cancel_job(job_id: int) -> dict[str, Any]:
    """Cancel a job that has not finished (409 otherwise)."""
    job = _get_job(job_id)
    if not job_queue.cancel(job_id):
        raise HTTPException(409, f"job {job_id} is {job['status']}; only unfinished jobs can be cancelled")
    job_queue.dispatch_ready()
    return _get_job(job_id)


@router.get("/jobs", response_model=JobList, summary="Jobs, newest first (an asset's jobs in stage order)")
def api_list_jobs(status: str | None = Query(None, description=f"one of {', '.join(JOB_STATUSES)}"),
                  asset: int | None = Query(None, description="only this asset's jobs"),
                  limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                  _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return list_jobs(status or None, asset, limit, offset)


@router.get("/jobs/{job_id}", response_model=JobOut, summary="One job")
def api_job(job_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _get_job(job_id)


@router.post("/jobs/{job_id}/retry", response_model=JobOut, summary="Run a failed or cancelled job again")
async def api_retry(job_id: int, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return await run_in_threadpool(retry_job, job_id)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, summary="Cancel a job that has not finished")
async def api_cancel(job_id: int, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return await run_in_threadpool(cancel_job, job_id)
