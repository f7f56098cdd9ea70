"""Approval steps: open (the run waits, no job held), the inbox, deciding (exactly once: a second decision is a
409 naming who decided), escalation and timeouts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import utcnow
from zhimei.store.models_workflow import APPROVAL_STATUSES, WorkflowApproval, WorkflowRun, WorkflowStep
from zhimei.workflow.errors import WorkflowError
from zhimei.workflow.expr import resolve

__all__ = ["open_approval", "approval_inbox", "get_approval", "decide_approval", "expire_approvals",
           "approval_dict", "MAX_COMMENT"]

MAX_COMMENT = 4000
_MAX_TEXT = 200_000


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def open_approval(session: Session, run: WorkflowRun, step: WorkflowStep, d: dict[str, Any], scope: dict[str, Any],
                  now: datetime) -> WorkflowApproval:
    """Create the approval of a step's new attempt and leave the step waiting."""
    show = resolve(d.get("show") or {}, scope)
    editable = [{"name": e["name"], "type": e["type"], "label": e["label"], "value": resolve(e.get("value"), scope)}
                for e in d.get("edit") or []]
    step.attempt += 1
    step.status, step.started_at, step.finished_at, step.stuck = "waiting", now, None, False
    step.inputs = {"show": show, "edit": editable}
    a = WorkflowApproval(run_id=run.id, step_key=step.key, attempt=step.attempt, title=d.get("title") or step.key,
                         instructions=d.get("instructions") or "", status="waiting", show=show, editable=editable,
                         requested_at=now, escalated=False, comment="", edits={},
                         due_at=now + timedelta(seconds=d["timeout"]) if d.get("timeout") else None,
                         escalate_at=now + timedelta(seconds=d["escalate_after"]) if d.get("escalate_after") else None)
    session.add(a)
    session.flush()
    return a


def approval_dict(a: WorkflowApproval, workflow: str | None) -> dict[str, Any]:
    """An approval as JSON."""
    return {"id": a.id, "run_id": a.run_id, "workflow": workflow, "step_key": a.step_key, "attempt": a.attempt,
            "title": a.title, "instructions": a.instructions, "status": a.status, "show": a.show or {},
            "editable": a.editable or [], "requested_at": _iso(a.requested_at), "due_at": _iso(a.due_at),
            "escalate_at": _iso(a.escalate_at), "escalated": a.escalated, "escalated_at": _iso(a.escalated_at),
            "decided_by": a.decided_by, "decided_at": _iso(a.decided_at), "decision": a.decision,
            "comment": a.comment, "edits": a.edits or {}}


def approval_inbox(*, status: str | None = "waiting", limit: int = 100) -> list[dict[str, Any]]:
    """Approvals (default: those waiting), oldest request first for waiting ones, newest first otherwise."""
    if status not in (None, "all", *APPROVAL_STATUSES):
        raise WorkflowError(f"status must be one of {', '.join(APPROVAL_STATUSES)} or all, not {status!r}", 422)
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise WorkflowError("limit must be between 1 and 1000", 422)
    q = select(WorkflowApproval, WorkflowRun.workflow).join(WorkflowRun, WorkflowRun.id == WorkflowApproval.run_id)
    if status not in (None, "all"):
        q = q.where(WorkflowApproval.status == status)
    order = WorkflowApproval.id if status == "waiting" else WorkflowApproval.id.desc()
    with read_scope() as s:
        return [approval_dict(a, wf) for a, wf in s.execute(q.order_by(order).limit(limit))]


def get_approval(approval_id: int) -> dict[str, Any]:
    """One approval. WorkflowError 404 when unknown."""
    _check_id(approval_id)
    with read_scope() as s:
        row = s.execute(select(WorkflowApproval, WorkflowRun.workflow).join(
            WorkflowRun, WorkflowRun.id == WorkflowApproval.run_id).where(WorkflowApproval.id == approval_id)).first()
        if row is None:
            raise WorkflowError(f"no approval {approval_id}", 404)
        return approval_dict(*row)


def _check_id(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WorkflowError(f"approval id must be a positive whole number, not {value!r}", 422)


def _check_edits(editable: list[dict[str, Any]], edits: dict[str, Any]) -> dict[str, Any]:
    fields = {e["name"]: e for e in editable}
    problems = []
    for name, value in edits.items():
        f = fields.get(name)
        if f is None:
            problems.append({"path": f"edits.{name}", "message": f"{name!r} is not editable here (editable: "
                                                                 f"{', '.join(fields) or 'nothing'})"})
            continue
        kind = f["type"]
        ok = {"text": isinstance(value, str), "textarea": isinstance(value, str), "list": isinstance(value, list),
              "bool": isinstance(value, bool),
              "number": isinstance(value, int | float) and not isinstance(value, bool)}[kind]
        if not ok:
            problems.append({"path": f"edits.{name}", "message": f"{name} must be {kind}, not {value!r}"})
        elif isinstance(value, str) and len(value) > _MAX_TEXT:
            problems.append({"path": f"edits.{name}", "message": f"{name} is longer than {_MAX_TEXT:,} characters"})
    if problems:
        raise WorkflowError("; ".join(p["message"] for p in problems), 422, problems)
    return dict(edits)


def _already(a: WorkflowApproval) -> WorkflowError:
    if a.status == "expired":
        return WorkflowError(f"approval {a.id} expired at {_iso(a.decided_at)}"
                             f"{' (' + a.comment + ')' if a.comment else ''}", 409)
    return WorkflowError(f"approval {a.id} was already {a.status} by {a.decided_by} at {_iso(a.decided_at)}", 409)


def _resolve_step(session: Session, run: WorkflowRun, a: WorkflowApproval, decision: str, by: str,
                  edits: dict[str, Any], comment: str, now: datetime, *, expired: bool = False) -> list[int]:
    from zhimei.workflow.engine import advance

    step = session.scalars(select(WorkflowStep).where(WorkflowStep.run_id == a.run_id,
                                                      WorkflowStep.key == a.step_key)).first()
    d = next(x for x in run.definition["steps"] if x["key"] == a.step_key)
    if step is None or step.status != "waiting" or step.attempt != a.attempt or run.status in (
            "succeeded", "failed", "cancelled"):
        raise WorkflowError(f"run {a.run_id} no longer waits for approval {a.id} (step {a.step_key!r} is "
                            f"{step.status if step else 'gone'})", 409)
    values = {e["name"]: edits.get(e["name"], e.get("value")) for e in a.editable or []}
    outputs = {"decision": decision, "approved": decision == "approve", "decided_by": by, "comment": comment,
               "edits": edits, **values}
    step.finished_at = now
    step.seconds = round((now - step.started_at).total_seconds(), 3) if step.started_at else None
    if decision == "approve" or d.get("on_reject") == "continue":
        step.status, step.outputs, step.error = "succeeded", outputs, None
    else:
        step.status, step.outputs = "failed", outputs
        step.error = (f"approval expired: nobody decided within {d.get('timeout'):g} s (on_timeout: reject)"
                      if expired else f"rejected by {by}{': ' + comment if comment else ''}")
    return advance(session, run, now)


def decide_approval(approval_id: int, decision: str, *, actor: str, edits: dict[str, Any] | None = None,
                    comment: str = "") -> dict[str, Any]:
    """Approve or reject (with edits to the editable fields and a comment); the run resumes from this step.
    WorkflowError: 404 unknown, 409 already decided ("already approved by X at T") or expired, 422 bad input."""
    from zhimei.workflow.engine import lock_run

    _check_id(approval_id)
    if decision not in ("approve", "reject"):
        raise WorkflowError(f"decision must be approve or reject, not {decision!r}", 422)
    if not isinstance(actor, str) or not actor.strip():
        raise WorkflowError("actor must be a non-empty name", 422)
    comment = comment or ""
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise WorkflowError(f"comment must be text of at most {MAX_COMMENT} characters", 422)
    if edits is not None and not isinstance(edits, dict):
        raise WorkflowError("edits must be an object of field: value", 422)
    with read_scope() as s:
        a = s.get(WorkflowApproval, approval_id)
        if a is None:
            raise WorkflowError(f"no approval {approval_id}", 404)
        run_id = a.run_id
    now = utcnow()
    lost = False
    with session_scope() as s:
        run = lock_run(s, run_id)
        a = s.get(WorkflowApproval, approval_id, populate_existing=True)
        clean = _check_edits(a.editable or [], edits or {})
        res = s.execute(update(WorkflowApproval).where(WorkflowApproval.id == approval_id,
                                                       WorkflowApproval.status == "waiting")
                        .values(status="approved" if decision == "approve" else "rejected", decided_by=actor.strip(),
                                decided_at=now, decision=decision, comment=comment, edits=clean)
                        .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            lost = True
        else:
            _resolve_step(s, run, a, decision, actor.strip(), clean, comment, now)
    if lost:
        with read_scope() as s:
            raise _already(s.get(WorkflowApproval, approval_id))
    return get_approval(approval_id)


def expire_approvals(now: datetime | None = None) -> dict[str, list[int]]:
    """Escalate approvals past `escalate_after` (flag + notify_url POST) and settle those past `timeout` with the
    step's on_timeout (reject: the run fails naming the expiry; approve: it goes on). Returns the ids touched."""
    from zhimei.workflow.engine import lock_run
    from zhimei.workflow.notify import post_json

    now = now or utcnow()
    out: dict[str, list[int]] = {"escalated": [], "expired": []}
    with read_scope() as s:
        due = [(a.id, a.run_id) for a in s.scalars(select(WorkflowApproval).where(
            WorkflowApproval.status == "waiting", WorkflowApproval.due_at.is_not(None),
            WorkflowApproval.due_at <= now))]
        esc = [(a.id, a.run_id) for a in s.scalars(select(WorkflowApproval).where(
            WorkflowApproval.status == "waiting", WorkflowApproval.escalated.is_(False),
            WorkflowApproval.escalate_at.is_not(None), WorkflowApproval.escalate_at <= now))]
    for aid, run_id in esc:
        with session_scope() as s:
            run = lock_run(s, run_id)
            res = s.execute(update(WorkflowApproval).where(WorkflowApproval.id == aid,
                                                           WorkflowApproval.escalated.is_(False),
                                                           WorkflowApproval.status == "waiting")
                            .values(escalated=True, escalated_at=now))
            if res.rowcount != 1:
                continue
            d = next(x for x in run.definition["steps"] if x["key"] == s.get(WorkflowApproval, aid).step_key)
            url = d.get("notify_url")
        out["escalated"].append(aid)
        if url:
            try:
                post_json(url, {"event": "approval.escalated", "approval": get_approval(aid)})
            except Exception as exc:  # noqa: BLE001 - recorded on the approval, the sweep goes on
                with session_scope() as s:
                    a = s.get(WorkflowApproval, aid)
                    a.comment = (a.comment + "\n" if a.comment else "") + f"escalation notice failed: {exc}"
    for aid, run_id in due:
        with session_scope() as s:
            run = lock_run(s, run_id)
            a = s.get(WorkflowApproval, aid, populate_existing=True)
            d = next(x for x in run.definition["steps"] if x["key"] == a.step_key)
            decision = "approve" if d.get("on_timeout") == "approve" else "reject"
            res = s.execute(update(WorkflowApproval).where(WorkflowApproval.id == aid,
                                                           WorkflowApproval.status == "waiting")
                            .values(status="expired", decided_by="system", decided_at=now, decision=decision,
                                    comment=f"no decision within {d.get('timeout'):g} s; on_timeout: "
                                            f"{d.get('on_timeout', 'reject')}")
                            .execution_options(synchronize_session=False))
            if res.rowcount != 1:
                continue
            try:
                _resolve_step(s, run, a, decision, "system (timeout)", {}, "", now, expired=True)
            except WorkflowError:
                pass
        out["expired"].append(aid)
    return out
