"""The periodic checks: stuck steps (no heartbeat, or queued with no worker), steps past their timeout whose
worker stopped answering, jobs that failed under a step, approvals to escalate or expire."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from zhimei.settings import get_settings
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Job, utcnow
from zhimei.store.models_workflow import WorkflowStep

__all__ = ["sweep"]


def sweep(now: datetime | None = None) -> dict[str, Any]:
    """Mark stuck steps (recording why), fail steps whose job failed or that ran past their timeout, escalate and
    expire approvals. Returns what it did: {"stuck": [...], "failed": [...], "escalated": [...], "expired": [...]}."""
    from zhimei.jobs import cancel
    from zhimei.workflow.approvals import expire_approvals
    from zhimei.workflow.engine import advance, lock_run

    now = now or utcnow()
    limit = timedelta(seconds=get_settings().workflow_stuck_seconds)
    out: dict[str, Any] = {"stuck": [], "failed": []}
    with read_scope() as s:
        rows = [(st.run_id, st.key, st.attempt) for st in s.scalars(select(WorkflowStep).where(
            WorkflowStep.status.in_(("queued", "running"))))]
    for run_id, key, attempt in rows:
        to_cancel = None
        with session_scope() as s:
            run = lock_run(s, run_id)
            st = s.scalars(select(WorkflowStep).where(WorkflowStep.run_id == run_id, WorkflowStep.key == key)
                           .execution_options(populate_existing=True)).first()
            if run is None or st is None or st.attempt != attempt or st.status not in ("queued", "running"):
                continue
            job = s.get(Job, st.job_id) if st.job_id else None
            d = next(x for x in run.definition["steps"] if x["key"] == key)
            fail = None
            if job is not None and job.status in ("failed", "cancelled"):
                fail = f"its job {job.id} {job.status}: {job.last_error or 'no detail'}"
            elif st.status == "running" and d.get("timeout") and st.started_at and \
                    now - st.started_at > timedelta(seconds=d["timeout"] + 5):
                fail = f"timed out after {d['timeout']:g} s (its worker stopped answering)"
                to_cancel = st.job_id
            if fail:
                st.status, st.error, st.finished_at = "failed", fail, now
                out["failed"].append({"run_id": run_id, "step": key, "error": fail})
                advance(s, run, now)
            elif not st.stuck:
                beat = job.heartbeat_at if job else None
                why = None
                taken = st.status == "running" or (job is not None and job.status == "running")
                if taken and (beat is None or now - beat > limit):
                    why = (f"stuck: no heartbeat from its worker since {beat.isoformat() if beat else 'it started'} "
                           f"(over {limit.total_seconds():g} s); it resumes when its lease expires and a worker takes "
                           "it, or retry the step")
                elif not taken and st.queued_at and now - st.queued_at > limit:
                    why = (f"stuck: queued since {st.queued_at.isoformat()} and no worker took it (is a worker "
                           "running? `zhimei worker`)")
                if why:
                    st.stuck, st.error = True, why
                    out["stuck"].append({"run_id": run_id, "step": key, "error": why})
        if to_cancel:
            cancel(to_cancel)
    out.update(expire_approvals(now))
    return out
