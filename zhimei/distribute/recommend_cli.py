"""CLI: ``zhimei recommend USER [--json] [--channel NAME] [-n 20] [--rows]`` and ``zhimei recommend retrain|models|
knob|picks`` (registered on the `zhimei` app by `register`)."""

from __future__ import annotations

import json
from typing import Any

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

__all__ = ["register", "recommend_app", "picks_app"]

out = Console()
_SUBCOMMANDS = {"retrain", "models", "knob", "picks", "user"}


class _RecommendGroup(TyperGroup):
    """`zhimei recommend alice` runs the hidden `user` command; the words below run the subcommands."""

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[override]
        if args and args[0] not in _SUBCOMMANDS and not args[0].startswith("-"):
            args = ["user", *args]
        return super().resolve_command(ctx, args)


recommend_app = typer.Typer(cls=_RecommendGroup, no_args_is_help=True,
                            help="智能推荐 Recommendations for a reader (zhimei recommend USER [--json]); retrain the "
                                 "model, the channel knob, editors' picks.")
picks_app = typer.Typer(help="编辑推荐 Editors' picks.", no_args_is_help=True)


def _ready() -> None:
    from zhimei.store import migrate

    migrate()


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    from zhimei.cli_common import fail
    from zhimei.distribute.recommend import RecommendError

    try:
        return fn(*args, **kwargs)
    except RecommendError as exc:
        fail(str(exc), 1 if exc.status == 404 else 2)


@recommend_app.command("user", hidden=True)
def user_cmd(user: str = typer.Argument(..., help="the outside user id"),
             channel: str | None = typer.Option(None, "--channel", "-c", help="publishing channel"),
             n: int = typer.Option(20, "-n", min=1, max=100, help="how many"),
             rows: bool = typer.Option(False, "--rows", help="launcher rows instead of one list"),
             as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Recommendations for one reader, each with why."""
    from zhimei.distribute.recommend import launcher_rows, personalised, recommend
    from zhimei.store.db import read_scope

    _ready()
    with read_scope() as s:
        if rows:
            data = _call(launcher_rows, s, user, channel=channel, size=min(n, 50))
        else:
            data = [r.as_dict() for r in _call(recommend, s, user, n=n, channel=channel)]
        personal = _call(personalised, s, user)
    if as_json:
        typer.echo(json.dumps({"user": user, "channel": channel, "personalised": personal,
                               "rows" if rows else "items": data}, ensure_ascii=False))
        return
    out.print(f"[bold]{user}[/bold] · {'个性化 personalised' if personal else '非个性化 not personalised'}")
    for row in (data if rows else [{"title": "推荐 Recommendations", "items": data}]):
        table = Table(title=row["title"], show_lines=False)
        for col in ("#", "asset", "title", "why", "source"):
            table.add_column(col)
        for i, it in enumerate(row["items"], 1):
            table.add_row(str(i), str(it["asset_id"]), it["title"], it["why"], it["source"])
        out.print(table)


@recommend_app.command("retrain")
def retrain_cmd(wait: bool = typer.Option(True, "--wait/--no-wait", help="run it here now (else: queue only)"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Retrain the model through the job system (queued as task recommend.retrain)."""
    from zhimei.distribute.recommend import request_retrain
    from zhimei.jobs import Worker
    from zhimei.store.db import read_scope
    from zhimei.store.models import Job

    _ready()
    job_id = request_retrain()
    result: dict[str, Any] = {"job_id": job_id}
    if wait:
        w = Worker(stages=["recommend.retrain"])
        with out.status("训练中 Training the recommendation model…"):
            while w.run_once():
                pass
        with read_scope() as s:
            job = s.get(Job, job_id)
            result.update(status=job.status, **(job.result or {}))
            if job.status != "done":
                result["error"] = job.last_error
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        out.print(result)
    if wait and result.get("status") != "done":
        raise typer.Exit(1)


@recommend_app.command("models")
def models_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Trained model versions, newest first."""
    from zhimei.distribute.recommend import model_rows
    from zhimei.store.db import read_scope

    _ready()
    with read_scope() as s:
        rows = model_rows(s)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title="模型 Models")
    for col in ("version", "created", "readers", "items", "interactions", "neighbours", "seconds"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["version"]), r["created_at"][:19], str(r["readers"]), str(r["items"]),
                      str(r["interactions"]), r["neighbour_kind"], str(r["train_seconds"]))
    out.print(table)


@recommend_app.command("knob")
def knob_cmd(channel: str | None = typer.Option(None, "--channel", "-c", help="channel (none: the default)"),
             diversity: float | None = typer.Option(None, help="MMR diversity 0..1"),
             explore: float | None = typer.Option(None, help="exploration share 0..0.5"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Show or set a channel's anti-filter-bubble knob."""
    from zhimei.cli_common import actor
    from zhimei.distribute.recommend import channel_knob, set_channel_knob
    from zhimei.store.db import session_scope

    _ready()
    with session_scope() as s:
        if diversity is not None or explore is not None:
            data = _call(set_channel_knob, s, channel, diversity=diversity, explore_share=explore, actor=actor())
        else:
            data = {"channel": channel or "", **_call(channel_knob, s, channel)}
    typer.echo(json.dumps(data)) if as_json else out.print(data)


@picks_app.command("list")
def picks_list(channel: str | None = typer.Option(None, "--channel", "-c"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Editors' picks (of a channel and the all-channel ones)."""
    from zhimei.distribute.recommend import list_picks
    from zhimei.store.db import read_scope

    _ready()
    with read_scope() as s:
        rows = _call(list_picks, s, channel)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title="编辑推荐 Editors' picks")
    for col in ("id", "asset", "title", "channel", "rank", "note"):
        table.add_column(col)
    for p in rows:
        table.add_row(str(p["id"]), str(p["asset_id"]), p["title"], p["channel"] or "*", str(p["rank"]), p["note"])
    out.print(table)


@picks_app.command("add")
def picks_add(asset_id: int = typer.Argument(..., min=1), channel: str = typer.Option("", "--channel", "-c"),
              rank: int = typer.Option(0, min=-1000, max=1000), note: str = typer.Option(""),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Pick an asset for a channel (none: every channel)."""
    from zhimei.cli_common import actor
    from zhimei.distribute.recommend import add_pick
    from zhimei.store.db import session_scope

    _ready()
    with session_scope() as s:
        data = _call(add_pick, s, asset_id, channel=channel, rank=rank, note=note, actor=actor())
    typer.echo(json.dumps(data, ensure_ascii=False)) if as_json else out.print(data)


@picks_app.command("remove")
def picks_remove(pick_id: int = typer.Argument(..., min=1)) -> None:
    """Remove an editor's pick by its id."""
    from zhimei.distribute.recommend import remove_pick
    from zhimei.store.db import session_scope

    _ready()
    with session_scope() as s:
        data = _call(remove_pick, s, pick_id)
    out.print(data)


recommend_app.add_typer(picks_app, name="picks")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `zhimei` command line."""
    app.add_typer(recommend_app, name="recommend")
