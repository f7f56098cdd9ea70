"""Runs: start, advance, execute steps as jobs, retry, cancel, and the run view.

Each step execution is one background-task job (``workflow.step``, keyed ``run:ID:step:KEY:ATTEMPT`` so a retry of
the caller never queues it twice). A step's outputs, its status and the run's advance (queueing the next steps or
opening an approval) are written in the job's own completion transaction, under a lock on the run row. Approval
steps hold no job: the run waits in the database until a person decides, so any process may stop meanwhile.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhimei.settings import get_settings
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Job, utcnow
from zhimei.store.models_workflow import Workflow, WorkflowApproval, WorkflowRun, WorkflowStep
from zhimei.workflow.errors import StepFailed, WorkflowError
from zhimei.workflow.expr import ResolveError, evaluate, resolve
from zhimei.workflow.steps import APPROVAL, StepCall, get_step_type

__all__ = ["STEP_TASK", "start_run", "get_run", "list_runs", "retry_step", "cancel_run", "execute_step",
           "advance", "lock_run", "TERMINAL", "step_scope", "coerce_inputs", "run_dict"]

STEP_TASK = "workflow.step"
TERMINAL = ("succeeded", "failed", "cancelled")
_DONE = ("succeeded", "skipped")


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _secs(a: datetime | None, b: datetime | None) -> float | None:
    return round((b - a).total_seconds(), 3) if a and b else None


def lock_run(session: Session, run_id: int) -> WorkflowRun | None:
    """The run row, locked for this transaction (PostgreSQL: FOR UPDATE; SQLite: the write lock is already ours)."""
    return session.get(WorkflowRun, run_id, with_for_update=True, populate_existing=True)


def _steps(session: Session, run_id: int) -> list[WorkflowStep]:
    return list(session.scalars(select(WorkflowStep).where(WorkflowStep.run_id == run_id)
                                .order_by(WorkflowStep.position).execution_options(populate_existing=True)))


def step_scope(run: WorkflowRun, steps: list[WorkflowStep]) -> dict[str, Any]:
    """What references see: the run's inputs and the outputs of finished steps (None for skipped ones)."""
    return {"inputs": dict(run.inputs or {}),
            "steps": {s.key: {"outputs": dict(s.outputs or {}) if s.status == "succeeded" else None,
                              "status": s.status} for s in steps},
            "run": {"id": run.id, "workflow": run.workflow, "actor": run.actor, "trigger": run.trigger}}


def _defs(run: WorkflowRun) -> dict[str, dict[str, Any]]:
    return {d["key"]: d for d in run.definition["steps"]}


def _resolve_inputs(d: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    st = get_step_type(d["type"])
    if st is None:
        raise StepFailed(f"step type {d['type']!r} is not available in this process")
    args = {p.name: p.default for p in st.inputs if p.default is not None}
    args.update(resolve(d.get("with") or {}, scope, keep=("item",)))
    if d.get("foreach") is not None:
        items = resolve(d["foreach"], scope)
        items = [] if items is None else items  # the outputs of a skipped step: nothing to loop over
        if not isinstance(items, list):
            raise StepFailed(f"foreach gave {type(items).__name__}, not a list")
        limit = get_settings().workflow_max_items
        if len(items) > limit:
            raise StepFailed(f"foreach gave {len(items)} items; at most {limit} (setting workflow_max_items)")
        args["foreach"] = items
    else:
        _check_required(st, args)
    return args


def _check_required(st: Any, args: dict[str, Any]) -> dict[str, Any]:
    missing = [p.name for p in st.inputs if p.required and args.get(p.name) is None]
    if missing:
        raise StepFailed(f"missing input(s) {', '.join(missing)} of {st.name} (a referenced value was empty)")
    return args


def advance(session: Session, run: WorkflowRun, now: datetime | None = None) -> list[int]:
    """Queue every step whose predecessors are done (skip those whose `when` is false, open approvals), then settle
    the run's status. Call with the run locked. Returns the job ids queued (Celery gets them once the transaction
    commits)."""
    now = now or utcnow()
    if run.status in TERMINAL:
        return []
    from zhimei.jobs.tasks import enqueue_task
    from zhimei.workflow.approvals import open_approval

    steps = _steps(session, run.id)
    by_key = {s.key: s for s in steps}
    defs = _defs(run)
    jobs: list[int] = []
    changed = True
    while changed and not any(s.status == "failed" for s in steps):
        changed = False
        for s in steps:
            d = defs[s.key]
            if s.status != "pending" or not all(by_key[k].status in _DONE for k in d.get("deps", [])):
                continue
            changed = True
            scope = step_scope(run, steps)
            try:
                if d.get("when") is not None and not evaluate(d["when"], scope):
                    s.status, s.finished_at, s.outputs = "skipped", now, {}
                    continue
                if d["type"] == APPROVAL:
                    open_approval(session, run, s, d, scope, now)
                    continue
                s.inputs = _resolve_inputs(d, scope)
            except (ResolveError, StepFailed, WorkflowError) as exc:
                s.status, s.error, s.finished_at = "failed", str(exc), now
                break
            s.attempt += 1
            s.status, s.queued_at, s.stuck, s.started_at, s.finished_at = "queued", now, False, None, None
            try:
                s.job_id = enqueue_task(STEP_TASK, {"run_id": run.id, "step": s.key, "attempt": s.attempt},
                                        key=f"run:{run.id}:step:{s.key}:{s.attempt}", session=session)
            except KeyError:
                raise WorkflowError("workflow steps cannot run: add zhimei.workflow.tasks to the stage_modules "
                                    "setting", 409) from None
            jobs.append(s.job_id)
    _settle(session, run, steps, now)
    session.flush()
    return jobs


def _settle(session: Session, run: WorkflowRun, steps: list[WorkflowStep], now: datetime) -> None:
    statuses = {s.status for s in steps}
    failed = [s for s in steps if s.status == "failed"]
    if failed:
        for s in steps:
            if s.status in ("pending", "queued", "waiting"):
                s.status = "cancelled"
        for a in session.scalars(select(WorkflowApproval).where(WorkflowApproval.run_id == run.id,
                                                                WorkflowApproval.status == "waiting")):
            a.status, a.decided_at, a.comment = "expired", now, "the run failed at another step"
        run.status, run.finished_at = "failed", now
        run.error = f"step {failed[0].key!r} failed: {failed[0].error or 'no detail'}"
    elif statuses <= set(_DONE):
        run.status, run.finished_at, run.error = "succeeded", now, None
    elif statuses & {"queued", "running"}:
        run.status = "running" if (run.started_at or "running" in statuses) else "queued"
    elif "waiting" in statuses:
        run.status = "waiting"
    run.started_at = run.started_at or (now if run.status != "queued" else None)


# ---------------------------------------------------------------- starting
def coerce_inputs(declared: dict[str, dict[str, Any]], given: dict[str, Any] | None) -> dict[str, Any]:
    """The run's inputs: given values (text from forms and the CLI converted to the declared type) and defaults.
    WorkflowError 422 names every unknown, missing or malformed input."""
    given = dict(given or {})
    problems: list[dict[str, str]] = []
    out: dict[str, Any] = {}
    for name in given:
        if name not in declared:
            problems.append({"path": f"inputs.{name}", "message": f"unknown input {name!r} (declared: "
                                                                  f"{', '.join(declared) or 'none'})"})
    for name, spec in declared.items():
        value = given.get(name, spec.get("default"))
        if value is None or value == "":
            if spec.get("required"):
                doc = f" ({spec['doc']})" if spec.get("doc") else ""
                problems.append({"path": f"inputs.{name}", "message": f"missing input {name!r}{doc}"})
            out[name] = spec.get("default")
            continue
        try:
            out[name] = _coerce(value, spec.get("type", "any"))
        except (ValueError, TypeError):
            problems.append({"path": f"inputs.{name}", "message": f"input {name!r} must be a {spec['type']}, "
                                                                  f"not {value!r}"})
    if problems:
        raise WorkflowError("; ".join(p["message"] for p in problems), 422, problems)
    return out


def _coerce(value: Any, kind: str) -> Any:
    if kind in ("any",) or not isinstance(value, str):
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError
        if kind == "float" and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError
        if kind in ("list", "dict", "bool", "str") and not isinstance(value, {"list": list, "dict": dict,
                                                                             "bool": bool, "str": str}[kind]):
            raise ValueError
        return float(value) if kind == "float" else value
    v = value.strip()
    if kind == "int":
        return int(v)
    if kind == "float":
        return float(v)
    if kind == "bool":
        if v.lower() in ("1", "true", "yes", "on"):
            return True
        if v.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError
    if kind in ("list", "dict"):
        parsed = json.loads(v) if v.startswith(("[", "{")) else [x.strip() for x in v.split(",") if x.strip()]
        if not isinstance(parsed, list if kind == "list" else dict):
            raise ValueError
        return parsed
    return value


def start_run(name: str, inputs: dict[str, Any] | None = None, *, actor: str, trigger: str = "manual",
              trigger_key: str | None = None) -> dict[str, Any]:
    """Start a run of the saved workflow `name` (its current version); returns the run. With `trigger_key` (what
    fired it) a second start for the same key gives back the first run. WorkflowError: 404 unknown workflow, 409
    disabled (for triggers), 422 bad inputs."""
    if not isinstance(actor, str) or not actor.strip():
        raise WorkflowError("actor must be a non-empty name", 422)
    with read_scope() as s:
        wf = s.scalars(select(Workflow).where(Workflow.name == name)).first()
        if wf is None:
            raise WorkflowError(f"no workflow named {name!r}", 404)
        if not wf.enabled and trigger != "manual":
            raise WorkflowError(f"workflow {name!r} is disabled", 409)
        definition, version = dict(wf.definition), wf.version
    values = coerce_inputs(definition.get("inputs") or {}, inputs)
    try:
        with session_scope() as s:
            if trigger_key is not None:
                found = s.scalars(select(WorkflowRun.id).where(WorkflowRun.workflow == name,
                                                               WorkflowRun.trigger_key == trigger_key)).first()
                if found is not None:
                    return get_run(found)
            run = WorkflowRun(workflow=name, version=version, definition=definition, status="queued",
                              trigger=trigger, trigger_key=trigger_key, inputs=values, actor=actor.strip()[:200])
            s.add(run)
            s.flush()
            for d in definition["steps"]:
                s.add(WorkflowStep(run_id=run.id, key=d["key"], position=d["position"], type=d["type"],
                                   title=d.get("title") or d["key"], status="pending", attempt=0, inputs={},
                                   outputs={}, tokens=0, stuck=False))
            s.flush()
            advance(s, run)
            run_id = run.id
    except IntegrityError:
        if trigger_key is None:
            raise
        with read_scope() as s:
            found = s.scalars(select(WorkflowRun.id).where(WorkflowRun.workflow == name,
                                                           WorkflowRun.trigger_key == trigger_key)).one()
        return get_run(found)
    return get_run(run_id)


# ---------------------------------------------------------------- executing a step (inside its job)
def _call(st: Any, inputs: dict[str, Any], run_id: int, key: str, actor: str, stop: threading.Event,
          on_progress: Any) -> tuple[dict[str, Any], int]:
    items = inputs.pop("foreach", None)
    if items is None:
        call = StepCall(inputs=_check_required(st, inputs), run_id=run_id, step_key=key, actor=actor,
                        on_progress=on_progress, stop=stop)
        out = st.run(call) or {}
        return out, call.tokens
    results: list[dict[str, Any]] = []
    tokens = 0
    for i, item in enumerate(items):
        args = _check_required(st, resolve(inputs, {"item": item}, keep=("inputs", "steps", "run")))

        def prog(p: float, m: str, i: int = i) -> None:
            if on_progress:
                on_progress(100.0 * (i + p / 100.0) / len(items), f"item {i + 1}/{len(items)}: {m}")

        call = StepCall(inputs=args, run_id=run_id, step_key=key, actor=actor, on_progress=prog, stop=stop)
        results.append(st.run(call) or {})
        tokens += call.tokens
    names = [p.name for p in st.outputs]
    out = {n: [r.get(n) for r in results] for n in names}
    out["items"] = results
    return out, tokens


def execute_step(ctx: Any) -> None:
    """Run one step attempt (the body of the ``workflow.step`` task); stale attempts do nothing."""
    from zhimei.jobs import Cancelled

    run_id, key, attempt = int(ctx.payload["run_id"]), str(ctx.payload["step"]), int(ctx.payload["attempt"])
    now = utcnow()
    with session_scope() as s:
        run = lock_run(s, run_id)
        step = s.scalars(select(WorkflowStep).where(WorkflowStep.run_id == run_id, WorkflowStep.key == key)).first()
        if (run is None or step is None or run.status in TERMINAL or step.attempt != attempt
                or step.status not in ("queued", "running")):
            return
        step.status, step.started_at, step.job_id, step.stuck = "running", now, ctx.job_id, False
        if run.status in ("queued", "waiting"):
            run.status = "running"
        run.started_at = run.started_at or now
        d = _defs(run)[key]
        inputs, actor = json.loads(json.dumps(step.inputs or {})), run.actor
    st = get_step_type(d["type"])
    stop = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            if st is None:
                raise StepFailed(f"step type {d['type']!r} is not available in this worker")
            box["out"], box["tokens"] = _call(st, inputs, run_id, key, actor, stop,
                                              lambda p, m: ctx.progress(p, m))
        except BaseException as exc:  # noqa: BLE001 - handed to the job's thread below
            box["exc"] = exc

    timeout = d.get("timeout")
    if timeout:
        t = threading.Thread(target=work, name=f"workflow-step-{run_id}-{key}", daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            stop.set()
            box = {"exc": StepFailed(f"timed out after {timeout:g} s (timeout: {timeout:g})")}
    else:
        work()
    exc = box.get("exc")
    if isinstance(exc, Cancelled):
        raise exc
    if exc is None and ctx._stop.is_set():
        raise Cancelled(f"job {ctx.job_id} was cancelled")
    with ctx.outputs() as s:
        run = lock_run(s, run_id)
        step = s.scalars(select(WorkflowStep).where(WorkflowStep.run_id == run_id, WorkflowStep.key == key)
                         .execution_options(populate_existing=True)).first()
        if run is None or step is None or step.attempt != attempt or step.status != "running":
            return  # cancelled, timed out or taken over meanwhile: this attempt's result is dropped
        done = utcnow()
        step.finished_at, step.seconds = done, _secs(step.started_at, done)
        step.tokens = int((step.tokens or 0) + box.get("tokens", 0))
        if exc is None:
            try:
                json.dumps(box["out"])
            except (TypeError, ValueError) as e:
                exc = StepFailed(f"the step's outputs are not JSON: {e}")
        if exc is None:
            step.status, step.outputs, step.error = "succeeded", box["out"], None
        else:
            msg = str(exc) if isinstance(exc, StepFailed | WorkflowError | ResolveError) else \
                f"{type(exc).__name__}: {exc}"
            step.error = msg[:4000]
            step.status = "pending" if attempt <= int(d.get("retries") or 0) else "failed"
        if run.status not in TERMINAL:
            advance(s, run)


# ---------------------------------------------------------------- the run view
def _job_beats(session: Session, ids: list[int]) -> dict[int, Job]:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    return {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(ids)))}


def _stuck(step: WorkflowStep, job: Job | None, now: datetime) -> bool:
    limit = timedelta(seconds=get_settings().workflow_stuck_seconds)
    if step.stuck:
        return True
    if step.status == "running" or (step.status == "queued" and job is not None and job.status == "running"):
        beat = job.heartbeat_at if job else None
        return beat is None or now - beat > limit
    if step.status == "queued":
        return step.queued_at is not None and now - step.queued_at > limit
    return False


def _step_dict(s: WorkflowStep, job: Job | None, approval_id: int | None, now: datetime) -> dict[str, Any]:
    return {"key": s.key, "type": s.type, "title": s.title, "status": s.status, "attempt": s.attempt,
            "inputs": s.inputs or {}, "outputs": s.outputs or {}, "queued_at": _iso(s.queued_at),
            "started_at": _iso(s.started_at), "finished_at": _iso(s.finished_at),
            "seconds": s.seconds if s.seconds is not None else (
                _secs(s.started_at, now) if s.status in ("running", "waiting") else None),
            "tokens": s.tokens or 0, "error": s.error, "job_id": s.job_id,
            "heartbeat_at": _iso(job.heartbeat_at) if job and s.status == "running" else None,
            "progress": job.progress if job and s.status == "running" else None,
            "stuck": _stuck(s, job, now), "approval_id": approval_id}


def run_dict(r: WorkflowRun, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A run as JSON (steps included when given)."""
    d = {"id": r.id, "workflow": r.workflow, "version": r.version, "status": r.status, "trigger": r.trigger,
         "trigger_key": r.trigger_key, "inputs": r.inputs or {}, "actor": r.actor, "created_at": _iso(r.created_at),
         "started_at": _iso(r.started_at), "finished_at": _iso(r.finished_at),
         "seconds": _secs(r.started_at, r.finished_at or (utcnow() if r.started_at else None)), "error": r.error}
    if steps is not None:
        d["steps"] = steps
        d["tokens"] = sum(s["tokens"] for s in steps)
    return d


def get_run(run_id: int) -> dict[str, Any]:
    """A run with its steps (inputs, outputs, timings, tokens, errors, heartbeat, stuck flag, approval id)."""
    _check_id(run_id, "run id")
    now = utcnow()
    with read_scope() as s:
        r = s.get(WorkflowRun, run_id)
        if r is None:
            raise WorkflowError(f"no workflow run {run_id}", 404)
        steps = _steps(s, run_id)
        jobs = _job_beats(s, [st.job_id for st in steps])
        approvals = {(a.step_key, a.attempt): a.id for a in s.scalars(
            select(WorkflowApproval).where(WorkflowApproval.run_id == run_id))}
        return run_dict(r, [_step_dict(st, jobs.get(st.job_id), approvals.get((st.key, st.attempt)), now)
                            for st in steps])


def list_runs(*, workflow: str | None = None, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Runs, newest first (without steps; with their token totals)."""
    from sqlalchemy import func

    from zhimei.store.models_workflow import RUN_STATUSES

    if status is not None and status not in RUN_STATUSES:
        raise WorkflowError(f"status must be one of {', '.join(RUN_STATUSES)}, not {status!r}", 422)
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise WorkflowError("limit must be between 1 and 1000", 422)
    q = select(WorkflowRun).order_by(WorkflowRun.id.desc()).limit(limit)
    if workflow:
        q = q.where(WorkflowRun.workflow == workflow)
    if status:
        q = q.where(WorkflowRun.status == status)
    with read_scope() as s:
        runs = list(s.scalars(q))
        tokens = dict(s.execute(select(WorkflowStep.run_id, func.sum(WorkflowStep.tokens))
                                .where(WorkflowStep.run_id.in_([r.id for r in runs]))
                                .group_by(WorkflowStep.run_id)).all()) if runs else {}
        return [{**run_dict(r), "tokens": int(tokens.get(r.id) or 0)} for r in runs]


def _check_id(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WorkflowError(f"{what} must be a positive whole number, not {value!r}", 422)


# ---------------------------------------------------------------- retry and cancel
def retry_step(run_id: int, step_key: str, *, actor: str) -> dict[str, Any]:
    """Run a failed, cancelled or stuck step again (a new attempt; the steps after it follow). A rejected or
    expired approval asks again. WorkflowError 404 unknown run/step, 409 the step is not retryable."""
    from zhimei.jobs import cancel

    _check_id(run_id, "run id")
    now = utcnow()
    with session_scope() as s:
        run = lock_run(s, run_id)
        if run is None:
            raise WorkflowError(f"no workflow run {run_id}", 404)
        steps = _steps(s, run_id)
        step = next((x for x in steps if x.key == step_key), None)
        if step is None:
            raise WorkflowError(f"run {run_id} has no step {step_key!r} (steps: {', '.join(x.key for x in steps)})",
                                404)
        job = s.get(Job, step.job_id) if step.job_id else None
        stuck = step.status in ("running", "queued") and _stuck(step, job, now)
        if step.status not in ("failed", "cancelled") and not stuck:
            raise WorkflowError(f"step {step_key!r} is {step.status}; only a failed, cancelled or stuck step can be "
                                "retried", 409)
        old_job = step.job_id if stuck else None
        for x in steps:
            if x.status == "cancelled" or x is step:
                x.status, x.stuck, x.finished_at = "pending", False, None
        run.status, run.error, run.finished_at = "running", None, None
        run.actor = run.actor or actor
        advance(s, run, now)
    if old_job:
        cancel(old_job)
    return get_run(run_id)


def cancel_run(run_id: int, *, actor: str) -> dict[str, Any]:
    """Stop a run: unfinished steps are cancelled, their jobs too, waiting approvals expire. 409 when finished."""
    from zhimei.jobs import cancel

    _check_id(run_id, "run id")
    now = utcnow()
    with session_scope() as s:
        run = lock_run(s, run_id)
        if run is None:
            raise WorkflowError(f"no workflow run {run_id}", 404)
        if run.status in TERMINAL:
            raise WorkflowError(f"run {run_id} already {run.status}", 409)
        jobs = []
        for x in _steps(s, run_id):
            if x.status in ("pending", "queued", "running", "waiting"):
                if x.status in ("queued", "running") and x.job_id:
                    jobs.append(x.job_id)
                x.status, x.finished_at = "cancelled", now
        for a in s.scalars(select(WorkflowApproval).where(WorkflowApproval.run_id == run_id,
                                                          WorkflowApproval.status == "waiting")):
            a.status, a.decided_at, a.comment = "expired", now, f"run cancelled by {actor}"
        run.status, run.finished_at, run.error = "cancelled", now, f"cancelled by {actor}"
    for jid in jobs:
        cancel(jid)
    return get_run(run_id)


def wait_run(run_id: int, *, timeout: float = 600.0, until: tuple[str, ...] = (*TERMINAL, "waiting")) -> dict[str, Any]:
    """Poll until the run reaches one of `until` (CLI --wait); returns the run."""
    deadline = time.monotonic() + timeout
    while True:
        r = get_run(run_id)
        if r["status"] in until or time.monotonic() > deadline:
            return r
        time.sleep(0.3)
