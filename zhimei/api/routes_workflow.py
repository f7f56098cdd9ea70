"""智能体 workflows: the REST API under /api/flows — workflows (YAML/TOML), templates, validation, runs, steps
(retry), cancel, and the approval inbox. Viewers read; editors write, start runs and decide approvals.

Bad input is a 4xx naming the problem: an invalid workflow file 422 with every problem listed
({"detail": ..., "problems": [{path, message}]}), unknown names/ids 404, a second decision on an approval, a
step that cannot be retried or a finished run 409. The pages are in routes_workflow_pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from zhimei.api.auth import Principal, require
from zhimei.workflow import (
    WorkflowError,
    approval_inbox,
    cancel_run,
    decide_approval,
    delete_workflow,
    get_approval,
    get_run,
    get_workflow,
    install_template,
    list_runs,
    list_templates,
    list_workflows,
    parse_workflow,
    retry_step,
    save_workflow,
    start_run,
    step_types,
)

__all__ = ["router", "SourceIn", "RunIn", "DecisionIn"]

router = APIRouter(tags=["workflows"])
_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def _call(fn, *args: Any, code: int = 200, **kwargs: Any) -> Any:
    try:
        out = fn(*args, **kwargs)
    except WorkflowError as exc:
        body: dict[str, Any] = {"detail": str(exc)}
        if exc.problems:
            body["problems"] = exc.problems
        return JSONResponse(body, status_code=exc.status)
    return JSONResponse(out, status_code=code) if code != 200 else out


class SourceIn(BaseModel):
    """A workflow file's text and its format (null: guessed from the text)."""

    source: str = Field(..., max_length=200_000)
    format: str | None = Field(None, description="yaml | toml | null")


class RunIn(BaseModel):
    """The run's inputs (text values are converted to the declared types)."""

    inputs: dict[str, Any] = Field(default_factory=dict)


class DecisionIn(BaseModel):
    """A person's decision on an approval, with edits to its editable fields."""

    decision: str = Field(..., description="approve | reject")
    edits: dict[str, Any] = Field(default_factory=dict)
    comment: str = Field("", max_length=4000)


# ---- workflows and templates (fixed paths before /api/flows/{name}) ---------------------------------

@router.get("/api/flows", summary="Saved workflows with their triggers and last run")
def api_workflows(_: Principal = Depends(require("viewer"))) -> Any:
    return _call(list_workflows)


@router.post("/api/flows", status_code=201, summary="Save a workflow (new, or a new version of the one named)",
             responses={422: {"description": "the file is invalid; `problems` lists every problem with its path"}})
def api_save(body: SourceIn, principal: Principal = Depends(require("editor"))) -> Any:
    return _call(save_workflow, body.source, actor=principal.name, fmt=body.format, code=201)


@router.get("/api/flows/step-types", summary="Step types with their inputs and outputs")
def api_step_types(_: Principal = Depends(require("viewer"))) -> Any:
    return step_types()


@router.get("/api/flows/templates", summary="Workflow templates shipped with zhimei")
def api_templates(_: Principal = Depends(require("viewer"))) -> Any:
    return _call(list_templates)


@router.post("/api/flows/templates/{name}/install", status_code=201, summary="Save a template as a workflow")
def api_install(name: str = Path(..., pattern=_NAME), principal: Principal = Depends(require("editor"))) -> Any:
    return _call(install_template, name, actor=principal.name, code=201)


@router.post("/api/flows/validate", summary="Validate a workflow file without saving it")
def api_validate(body: SourceIn, _: Principal = Depends(require("viewer"))) -> Any:
    try:
        definition = parse_workflow(body.source, fmt=body.format)
    except WorkflowError as exc:
        return {"ok": False, "problems": exc.problems or [{"path": "", "message": str(exc)}], "definition": None}
    return {"ok": True, "problems": [], "definition": definition}


# ---- runs --------------------------------------------------------------------------------------------

@router.get("/api/flows/runs", summary="Runs, newest first")
def api_runs(workflow: str | None = Query(None, max_length=100), status: str | None = Query(None, max_length=16),
             limit: int = Query(50, ge=1, le=1000), _: Principal = Depends(require("viewer"))) -> Any:
    return _call(list_runs, workflow=workflow, status=status, limit=limit)


@router.get("/api/flows/runs/{run_id}", summary="A run with its steps (inputs, outputs, timings, tokens, errors)")
def api_run(run_id: int = Path(..., ge=1), _: Principal = Depends(require("viewer"))) -> Any:
    return _call(get_run, run_id)


@router.post("/api/flows/runs/{run_id}/cancel", summary="Cancel an unfinished run")
def api_cancel(run_id: int = Path(..., ge=1), principal: Principal = Depends(require("editor"))) -> Any:
    return _call(cancel_run, run_id, actor=principal.name)


@router.post("/api/flows/runs/{run_id}/steps/{key}/retry", summary="Retry a failed, cancelled or stuck step alone")
def api_retry(run_id: int = Path(..., ge=1), key: str = Path(..., pattern=_NAME),
              principal: Principal = Depends(require("editor"))) -> Any:
    return _call(retry_step, run_id, key, actor=principal.name)


# ---- approvals ---------------------------------------------------------------------------------------

@router.get("/api/flows/approvals", summary="The approval inbox (default: waiting)")
def api_inbox(status: str | None = Query("waiting", max_length=16), limit: int = Query(100, ge=1, le=1000),
              _: Principal = Depends(require("viewer"))) -> Any:
    return _call(approval_inbox, status=status, limit=limit)


@router.get("/api/flows/approvals/{approval_id}", summary="One approval")
def api_approval(approval_id: int = Path(..., ge=1), _: Principal = Depends(require("viewer"))) -> Any:
    return _call(get_approval, approval_id)


@router.post("/api/flows/approvals/{approval_id}", summary="Approve or reject (with edits); the run resumes",
             responses={409: {"description": "already decided (names who and when), or expired"}})
def api_decide(body: DecisionIn, approval_id: int = Path(..., ge=1),
               principal: Principal = Depends(require("editor"))) -> Any:
    return _call(decide_approval, approval_id, body.decision, actor=principal.name, edits=body.edits,
                 comment=body.comment)


# ---- one workflow ------------------------------------------------------------------------------------

@router.get("/api/flows/{name}", summary="A workflow with its source, format and definition")
def api_workflow(name: str = Path(..., pattern=_NAME), _: Principal = Depends(require("viewer"))) -> Any:
    return _call(get_workflow, name)


@router.delete("/api/flows/{name}", status_code=204, response_class=Response,
               summary="Delete a workflow (runs stay visible)")
def api_delete(name: str = Path(..., pattern=_NAME), principal: Principal = Depends(require("editor"))) -> Response:
    out = _call(delete_workflow, name, actor=principal.name)
    return out if isinstance(out, JSONResponse) else Response(status_code=204)


@router.post("/api/flows/{name}/runs", status_code=201, summary="Start a run")
def api_start(body: RunIn, name: str = Path(..., pattern=_NAME),
              principal: Principal = Depends(require("editor"))) -> Any:
    return _call(start_run, name, body.inputs, actor=principal.name, code=201)
