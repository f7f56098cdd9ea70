"""Web pages of workflows (流程): the list with templates and "start a run", the YAML/TOML editor, the run view
and the approval inbox. The pages are rendered here from zhimei.workflow's public functions; everything they
change goes through the JSON API under /api/flows (routes_workflow) from static/flows.js.

Anyone signed in reads; editing controls (new, edit, install, start, retry, cancel, approve) show to editors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import NOTICES, render
from zhimei.workflow import (
    WorkflowError,
    approval_inbox,
    get_run,
    get_workflow,
    list_runs,
    list_templates,
    list_workflows,
)

__all__ = ["router", "RUN_STATUSES", "ACTIVE_RUN_STATUSES", "APPROVAL_STATUSES"]

router = APIRouter(include_in_schema=False)
RUN_STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "cancelled")
ACTIVE_RUN_STATUSES = ("queued", "running", "waiting")
APPROVAL_STATUSES = ("waiting", "approved", "rejected", "expired", "all")
FLOW_LABELS = {
    "queued": "排队 Queued", "running": "运行 Running", "waiting": "待批 Waiting", "succeeded": "成功 Succeeded",
    "failed": "失败 Failed", "cancelled": "已取消 Cancelled", "pending": "未开始 Pending", "skipped": "跳过 Skipped",
    "approved": "已批准 Approved", "rejected": "已驳回 Rejected", "expired": "已过期 Expired", "all": "全部 All",
}
_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # workflow names, as zhimei.workflow accepts them

NOTICES.update({"flow-deleted": "已删除 The workflow was deleted."})


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a zhimei.workflow function; its WorkflowError becomes the HTTP status it names (a 404 page etc.)."""
    try:
        return fn(*args, **kwargs)
    except WorkflowError as exc:
        raise HTTPException(exc.status, str(exc)) from None


def _pretty(value: Any) -> str:
    """Inputs and outputs as indented JSON for a folded <pre>."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _every(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return str(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _trigger_text(trigger: Any) -> str:
    """One trigger as a short line: "manual", "schedule: every 1h", "asset: video"..."""
    if isinstance(trigger, dict):
        key = next((k for k in ("type", "on") if k in trigger), None)
        kind = str(trigger[key]) if key else ""
        rest = ", ".join(f"{k}={_every(v) if k == 'every' else v}" for k, v in trigger.items() if k != key)
        return f"{kind}: {rest}" if kind and rest else (kind or rest)
    return str(trigger)


def _triggers(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, dict):
        return [f"{k}: {v}" if not isinstance(v, dict) else _trigger_text({"type": k, **v}) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [_trigger_text(t) for t in value]
    return [str(value)]


def declared_inputs(definition: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A workflow's declared run inputs as [{name, type, required, default, doc}] for the start-run form
    (accepts the mapping form `inputs: {name: {...}}` and the list form `inputs: [{name: ...}]`)."""
    raw = (definition or {}).get("inputs") or {}
    out: list[dict[str, Any]] = []
    items = raw.items() if isinstance(raw, dict) else [((r or {}).get("name") if isinstance(r, dict) else r, r)
                                                        for r in raw]
    for name, spec in items:
        if not name:
            continue
        spec = spec if isinstance(spec, dict) else {"type": spec if isinstance(spec, str) else "string"}
        out.append({"name": str(name), "type": str(spec.get("type") or "string"),
                    "required": bool(spec.get("required", False)), "default": spec.get("default"),
                    "doc": str(spec.get("doc") or spec.get("description") or spec.get("title") or "")})
    return out


def _timecode(seconds: Any) -> str:
    try:
        m, sec = divmod(max(0.0, float(seconds)), 60)
    except (TypeError, ValueError):
        return ""
    return f"{int(m)}:{sec:04.1f}"


def item_label(item: Any) -> str:
    """A one-line label for an item of an editable list (a clip, an asset, a headline...)."""
    if not isinstance(item, dict):
        return str(item)
    name = next((str(item[k]) for k in ("title", "headline", "text", "name", "label") if item.get(k)), "")
    span = (f"{_timecode(item['start'])}–{_timecode(item.get('end'))}"
            if isinstance(item.get("start"), int | float) else "")
    asset = f"#{item['asset_id']}" if item.get("asset_id") else ""
    text = " · ".join(x for x in (name[:120], span, asset) if x)
    return text or json.dumps(item, ensure_ascii=False, default=str)[:160]


def _ctx() -> dict[str, Any]:
    return {"FLOW_LABELS": FLOW_LABELS, "pretty": _pretty, "triggers_of": _triggers, "item_label": item_label}


# ---- pages ------------------------------------------------------------------------------------------

@router.get("/flows")
def flows_page(request: Request, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    """Workflows, templates to install, the start-run form and recent runs."""
    flows = _call(list_workflows)
    inputs = {f["name"]: declared_inputs({"inputs": f.get("inputs")}) for f in flows}
    installed = {f["name"] for f in flows}
    waiting = _call(approval_inbox, status="waiting", limit=100)
    return render(request, "flows.html", principal, nav="flows", flows=flows, inputs=inputs,
                  templates=_call(list_templates), installed=installed, runs=_call(list_runs, limit=30),
                  waiting=len(waiting), **_ctx())


@router.get("/flows/new")
def flow_new_page(request: Request, template: str | None = Query(None, pattern=_NAME),
                  principal: Principal = Depends(require("editor"))) -> HTMLResponse:
    """An empty editor, or one filled with a shipped template (?template=name)."""
    source, fmt = "", "yaml"
    if template:
        found = [t for t in _call(list_templates) if t["name"] == template]
        if not found:
            raise HTTPException(404, f"no workflow template named {template!r}")
        source, fmt = found[0]["source"], found[0].get("format") or "yaml"
    return render(request, "flows_edit.html", principal, nav="flows", flow=None, source=source, fmt=fmt,
                  **_ctx())


@router.get("/flows/inbox")
def inbox_page(request: Request, status: str = Query("waiting", pattern="^(waiting|approved|rejected|expired|all)$"),
               principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    """Approvals: what each waiting step asks a person to look at, its editable fields, approve / reject."""
    approvals = _call(approval_inbox, status=status, limit=100)
    return render(request, "flows_inbox.html", principal, nav="flows", approvals=approvals, status=status,
                  statuses=APPROVAL_STATUSES, **_ctx())


@router.get("/flows/runs/{run_id:int}")
def run_page(request: Request, run_id: int, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    """One run: its steps with status, attempt, timings, tokens, inputs/outputs and errors."""
    run = _call(get_run, run_id)
    return render(request, "flows_run.html", principal, nav="flows", run=run,
                  active=run["status"] in ACTIVE_RUN_STATUSES, **_ctx())


@router.get("/flows/{name}/edit")
def flow_edit_page(request: Request, name: str = Path(..., pattern=_NAME),
                   principal: Principal = Depends(require("editor"))) -> HTMLResponse:
    """The editor on the workflow's current source."""
    flow = _call(get_workflow, name)
    return render(request, "flows_edit.html", principal, nav="flows", flow=flow, source=flow.get("source") or "",
                  fmt=flow.get("format") or "yaml", **_ctx())
