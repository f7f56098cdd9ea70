"""CLI: ``zhimei flow list|show|validate|save|templates|install|run|runs|status|approve|inbox|retry|cancel``
(registered on the `zhimei` app by `register`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

__all__ = ["register", "flow_app"]

out = Console()
flow_app = typer.Typer(no_args_is_help=True, help="智能体 Workflows: declarative chains of zhimei capabilities with "
                                                  "approval steps (run, list, approve, retry, cancel).")
_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "red", "waiting": "yellow", "running": "cyan",
          "queued": "cyan", "skipped": "dim", "pending": "dim", "approved": "green", "rejected": "red",
          "expired": "red"}


def _ready() -> None:
    from zhimei.cli_common import ready

    ready()


def _fail(msg: str, code: int = 2) -> None:
    from zhimei.cli_common import fail

    fail(msg, code)


def _actor() -> str:
    from zhimei.cli_common import actor

    return actor()


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    from zhimei.workflow import WorkflowError

    try:
        return fn(*args, **kwargs)
    except WorkflowError as exc:
        lines = [str(exc)] + [f"  {p['path'] or '(file)'}: {p['message']}" for p in exc.problems[1:]]
        _fail("\n".join(lines), 1 if exc.status == 409 else 2)


def _json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


def _st(status: str) -> str:
    style = _STYLE.get(status, "bold")
    return f"[{style}]{status}[/{style}]"


def _pairs(items: list[str] | None, what: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            _fail(f"{what} {item!r} must be NAME=VALUE")
        k, v = item.split("=", 1)
        values[k.strip()] = v
    return values


def _read(path: Path) -> tuple[str, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}")
    fmt = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}.get(path.suffix.lower())
    return text, fmt


def _print_run(r: dict[str, Any]) -> None:
    out.print(f"run {r['id']} · {r['workflow']} v{r['version']} · {_st(r['status'])} · trigger {r['trigger']} · "
              f"{r.get('tokens', 0)} tokens" + (f" · {r['seconds']:.1f}s" if r.get("seconds") is not None else ""))
    if r.get("error"):
        out.print(f"  [red]{r['error']}[/red]")
    for s in r.get("steps", []):
        extra = " [red]STUCK[/red]" if s["stuck"] else ""
        if s.get("approval_id") and s["status"] == "waiting":
            extra += f" → zhimei flow approve {s['approval_id']}"
        secs = f" {s['seconds']:.1f}s" if s.get("seconds") is not None else ""
        out.print(f"  {s['key']:<16} {s['type']:<20} {_st(s['status'])} #{s['attempt']}{secs} "
                  f"{s['tokens']} tok{extra}")
        if s.get("error") and s["status"] != "succeeded":
            out.print(f"    [red]{s['error']}[/red]")


@flow_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Saved workflows with their last run."""
    from zhimei.workflow import list_workflows

    _ready()
    flows = _call(list_workflows)
    if as_json:
        _json(flows)
        return
    for w in flows:
        last = w["last_run"]
        trig = ", ".join(t["type"] for t in w["triggers"])
        out.print(f"{w['name']:<20} v{w['version']} {'on ' if w['enabled'] else 'off'} [{trig}] {w['title']}"
                  + (f" · last run {last['id']} {_st(last['status'])}" if last else ""))
    if not flows:
        out.print("no workflows yet: zhimei flow templates / zhimei flow install NAME / zhimei flow save FILE")


@flow_app.command("show")
def show_cmd(name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A workflow's source."""
    from zhimei.workflow import get_workflow

    _ready()
    w = _call(get_workflow, name)
    if as_json:
        _json(w)
    else:
        print(w["source"])


@flow_app.command("validate")
def validate_cmd(file: Path, as_json: bool = typer.Option(False, "--json")) -> None:
    """Check a workflow file (YAML or TOML) without saving it; lists every problem."""
    from zhimei.workflow import WorkflowError, parse_workflow

    text, fmt = _read(file)
    try:
        d = parse_workflow(text, fmt=fmt)
    except WorkflowError as exc:
        if as_json:
            _json({"ok": False, "problems": exc.problems})
            raise typer.Exit(2) from None
        _fail(f"{file}: {len(exc.problems)} problem(s)\n" + "\n".join(
            f"  {p['path'] or '(file)'}: {p['message']}" for p in exc.problems))
    if as_json:
        _json({"ok": True, "problems": [], "definition": d})
    else:
        out.print(f"{file}: ok · {d['name']} · {len(d['steps'])} steps")


@flow_app.command("save")
def save_cmd(file: Path, as_json: bool = typer.Option(False, "--json")) -> None:
    """Save a workflow file (a new workflow, or a new version of the one named inside)."""
    from zhimei.workflow import save_workflow

    _ready()
    text, fmt = _read(file)
    w = _call(save_workflow, text, actor=_actor(), fmt=fmt)
    _json(w) if as_json else out.print(f"saved {w['name']} v{w['version']}")


@flow_app.command("templates")
def templates_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Templates shipped with zhimei."""
    from zhimei.workflow import list_templates

    ts = _call(list_templates)
    if as_json:
        _json(ts)
        return
    for t in ts:
        out.print(f"{t['name']:<18} {t['title']}")


@flow_app.command("install")
def install_cmd(name: str) -> None:
    """Save a shipped template as a workflow."""
    from zhimei.workflow import install_template

    _ready()
    w = _call(install_template, name, actor=_actor())
    out.print(f"installed {w['name']} v{w['version']}")


def _wait(run_id: int, timeout: float) -> dict[str, Any]:
    """Run jobs here (embedded mode) or watch (Celery) until the run waits for a person or ends."""
    from zhimei.jobs import drain
    from zhimei.settings import get_settings
    from zhimei.workflow import get_run

    deadline = time.monotonic() + timeout
    embedded = get_settings().job_backend != "celery"
    with out.status("running…") as status:
        while True:
            if embedded:
                drain(max_jobs=1)
            r = get_run(run_id)
            active = next((s for s in r["steps"] if s["status"] in ("running", "queued")), None)
            status.update(f"run {run_id}: {r['status']}" + (f" · {active['key']}" if active else ""))
            if r["status"] in ("succeeded", "failed", "cancelled", "waiting") or time.monotonic() > deadline:
                return r
            time.sleep(0.05 if embedded else 0.5)


@flow_app.command("run")
def run_cmd(name: str, inputs: list[str] = typer.Option(None, "--input", "-i", help="NAME=VALUE (repeatable)."),
            wait: bool = typer.Option(False, "--wait", help="Run until it waits for approval or ends."),
            timeout: float = typer.Option(3600, "--timeout", help="With --wait: give up after this many seconds."),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Start a run of a saved workflow."""
    from zhimei.workflow import start_run

    _ready()
    r = _call(start_run, name, _pairs(inputs, "--input"), actor=_actor())
    if wait:
        r = _wait(r["id"], timeout)
    if as_json:
        _json(r)
        return
    _print_run(r)
    if r["status"] == "failed":
        raise typer.Exit(1)


@flow_app.command("runs")
def runs_cmd(workflow: str = typer.Option(None, "--workflow", "-w"), status: str = typer.Option(None, "--status"),
             limit: int = typer.Option(20, "--limit"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Runs, newest first."""
    from zhimei.workflow import list_runs

    _ready()
    runs = _call(list_runs, workflow=workflow, status=status, limit=limit)
    if as_json:
        _json(runs)
        return
    for r in runs:
        out.print(f"{r['id']:>5} {r['workflow']:<20} {_st(r['status'])} {r['trigger']:<10} {r['created_at']}")


@flow_app.command("status")
def status_cmd(run_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """A run's steps: status, timings, tokens, errors, stuck flags."""
    from zhimei.workflow import get_run

    _ready()
    r = _call(get_run, run_id)
    _json(r) if as_json else _print_run(r)


@flow_app.command("inbox")
def inbox_cmd(status: str = typer.Option("waiting", "--status", help="waiting, approved, rejected, expired, all"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Approvals waiting for a person."""
    from zhimei.workflow import approval_inbox

    _ready()
    items = _call(approval_inbox, status=status)
    if as_json:
        _json(items)
        return
    for a in items:
        esc = " [red]ESCALATED[/red]" if a["escalated"] else ""
        out.print(f"{a['id']:>5} {_st(a['status'])} run {a['run_id']} {a['workflow']} · {a['title']}{esc}"
                  + (f" · due {a['due_at']}" if a["due_at"] else ""))
    if not items:
        out.print("nothing to approve")


@flow_app.command("approve")
def approve_cmd(approval_id: int, reject: bool = typer.Option(False, "--reject", help="Reject instead."),
                edits: list[str] = typer.Option(None, "--edit", "-e", help="FIELD=VALUE (JSON or text; repeatable)."),
                comment: str = typer.Option("", "--comment", "-m"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Approve (or --reject) an approval step; the run resumes from it."""
    from zhimei.workflow import decide_approval

    _ready()
    values = {}
    for k, v in _pairs(edits, "--edit").items():
        try:
            values[k] = json.loads(v)
        except json.JSONDecodeError:
            values[k] = v
    a = _call(decide_approval, approval_id, "reject" if reject else "approve", actor=_actor(), edits=values,
              comment=comment)
    _json(a) if as_json else out.print(f"approval {a['id']} {_st(a['status'])} by {a['decided_by']}; run "
                                       f"{a['run_id']} resumes")


@flow_app.command("retry")
def retry_cmd(run_id: int, step: str) -> None:
    """Run a failed, cancelled or stuck step again (the steps after it follow)."""
    from zhimei.workflow import retry_step

    _ready()
    _print_run(_call(retry_step, run_id, step, actor=_actor()))


@flow_app.command("cancel")
def cancel_cmd(run_id: int) -> None:
    """Cancel an unfinished run."""
    from zhimei.workflow import cancel_run

    _ready()
    _print_run(_call(cancel_run, run_id, actor=_actor()))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `zhimei` command line."""
    app.add_typer(flow_app, name="flow")
