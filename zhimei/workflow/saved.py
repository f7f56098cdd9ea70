"""Saved workflows (create, new versions, list, delete) and the templates shipped with zhimei."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import utcnow
from zhimei.store.models_workflow import Workflow, WorkflowRun
from zhimei.workflow.definition import NAME_RE, parse_workflow
from zhimei.workflow.errors import WorkflowError

__all__ = ["save_workflow", "list_workflows", "get_workflow", "delete_workflow", "list_templates",
           "install_template", "set_enabled", "TEMPLATES"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _iso(t: Any) -> str | None:
    return t.isoformat() if t else None


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise WorkflowError("actor must be a non-empty name", 422)
    return actor.strip()[:200]


def _dict(w: Workflow, last: WorkflowRun | None) -> dict[str, Any]:
    return {"name": w.name, "title": w.title, "description": w.description, "version": w.version,
            "triggers": (w.definition or {}).get("triggers", []), "inputs": (w.definition or {}).get("inputs", {}),
            "enabled": w.enabled, "created_at": _iso(w.created_at), "updated_at": _iso(w.updated_at),
            "updated_by": w.updated_by,
            "last_run": {"id": last.id, "status": last.status, "started_at": _iso(last.started_at),
                         "created_at": _iso(last.created_at)} if last else None}


def _last_runs(session: Any, names: list[str]) -> dict[str, WorkflowRun]:
    if not names:
        return {}
    ids = select(func.max(WorkflowRun.id)).where(WorkflowRun.workflow.in_(names)).group_by(WorkflowRun.workflow)
    return {r.workflow: r for r in session.scalars(select(WorkflowRun).where(WorkflowRun.id.in_(ids)))}


def save_workflow(text: str, *, actor: str, fmt: str | None = None) -> dict[str, Any]:
    """Validate and save a workflow file: a new workflow, or a new version of the one named inside it (the same
    text again changes nothing). WorkflowError 422 with every problem listed."""
    actor = _actor(actor)
    definition = parse_workflow(text, fmt=fmt)
    now = utcnow()
    with session_scope() as s:
        w = s.scalars(select(Workflow).where(Workflow.name == definition["name"]).with_for_update()).first()
        if w is None:
            w = Workflow(name=definition["name"], version=1, created_at=now, trigger_state={})
            s.add(w)
        elif w.source == text and w.definition == definition:
            return get_workflow(w.name)
        else:
            w.version += 1
        w.title, w.description = definition["title"][:300], definition["description"]
        w.format, w.source, w.definition = definition["format"], text, definition
        w.enabled = definition["enabled"]
        w.updated_at, w.updated_by = now, actor
        name = w.name
    return get_workflow(name)


def list_workflows() -> list[dict[str, Any]]:
    """Saved workflows by name, each with its triggers and last run."""
    with read_scope() as s:
        rows = list(s.scalars(select(Workflow).order_by(Workflow.name)))
        last = _last_runs(s, [w.name for w in rows])
        return [_dict(w, last.get(w.name)) for w in rows]


def get_workflow(name: str) -> dict[str, Any]:
    """One workflow with its source text, format and validated definition. WorkflowError 404 when unknown."""
    with read_scope() as s:
        w = s.scalars(select(Workflow).where(Workflow.name == name)).first()
        if w is None:
            raise WorkflowError(f"no workflow named {name!r}", 404)
        return {**_dict(w, _last_runs(s, [w.name]).get(w.name)), "source": w.source, "format": w.format,
                "definition": w.definition}


def set_enabled(name: str, enabled: bool, *, actor: str) -> dict[str, Any]:
    """Switch a workflow's triggers on or off (manual runs are always allowed)."""
    actor = _actor(actor)
    with session_scope() as s:
        w = s.scalars(select(Workflow).where(Workflow.name == name)).first()
        if w is None:
            raise WorkflowError(f"no workflow named {name!r}", 404)
        w.enabled, w.updated_at, w.updated_by = bool(enabled), utcnow(), actor
    return get_workflow(name)


def delete_workflow(name: str, *, actor: str) -> None:
    """Delete a workflow (its past runs stay visible). 409 while a run of it is unfinished."""
    _actor(actor)
    with session_scope() as s:
        w = s.scalars(select(Workflow).where(Workflow.name == name)).first()
        if w is None:
            raise WorkflowError(f"no workflow named {name!r}", 404)
        active = s.scalar(select(func.count()).select_from(WorkflowRun).where(
            WorkflowRun.workflow == name, WorkflowRun.status.in_(("queued", "running", "waiting"))))
        if active:
            raise WorkflowError(f"workflow {name!r} has {active} unfinished run(s); cancel them first", 409)
        s.delete(w)


def list_templates() -> list[dict[str, Any]]:
    """The workflow templates shipped with zhimei (name, title, description, source, format)."""
    out = []
    for p in sorted(TEMPLATES.glob("*.yaml")) + sorted(TEMPLATES.glob("*.toml")):
        text = p.read_text(encoding="utf-8")
        d = parse_workflow(text, fmt=p.suffix.lstrip("."))
        out.append({"name": d["name"], "title": d["title"], "description": d["description"], "source": text,
                    "format": d["format"]})
    return out


def install_template(name: str, *, actor: str) -> dict[str, Any]:
    """Save a shipped template as a workflow of the same name; returns the workflow."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise WorkflowError(f"{name!r} is not a template name", 422)
    for t in list_templates():
        if t["name"] == name:
            return save_workflow(t["source"], actor=actor, fmt=t["format"])
    raise WorkflowError(f"no template named {name!r} (templates: "
                        f"{', '.join(t['name'] for t in list_templates())})", 404)
