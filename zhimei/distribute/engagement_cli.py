"""`zhimei events load|counters|popular|rollup`, `zhimei experiments list|create|show|serve|promote|stop` and
`zhimei readers export|delete|consent`: engagement, title/cover experiments and reader privacy from the shell."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from zhimei.cli_common import actor as _me
from zhimei.cli_common import fail as _fail
from zhimei.cli_common import ready as _ready

__all__ = ["register", "events_app", "experiments_app", "readers_app"]

events_app = typer.Typer(help="Engagement events: load, totals, popularity, roll-up.", no_args_is_help=True)
experiments_app = typer.Typer(help="Title and cover experiments (Thompson sampling).", no_args_is_help=True)
readers_app = typer.Typer(help="Reader privacy: export, delete, personalisation consent.", no_args_is_help=True)
out = Console()


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    from zhimei.distribute.engagement import EngagementError

    try:
        return fn(*args, **kwargs)
    except EngagementError as exc:
        _fail(str(exc))


def _json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


# ---- events --------------------------------------------------------------------------------------------

@events_app.command("load")
def events_load(file: Path = typer.Argument(..., help="JSON lines: one event object per line."),
                as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Count the events of a JSONL file (streamed in chunks; resending a file counts nothing twice)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from zhimei.distribute.engagement import ingest_jsonl

    if not file.is_file():
        _fail(f"no such file: {file}")
    _ready()
    total = _count_lines(file)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=as_json) as bar:
        task = bar.add_task(f"events {file.name}", total=total or None)
        report = _call(ingest_jsonl, file, progress=lambda n: bar.advance(task, n))
    data = report.to_dict()
    if as_json:
        _json(data)
        return
    out.print(f"{data['received']} received · [green]{data['accepted']} counted[/green] · "
              f"{data['duplicates']} duplicates · [red]{data['rejected']} rejected[/red] · {data['readers']} readers")
    for kind, n in data["rejected_by_reason"].items():
        out.print(f"  {kind}: {n}")
    for e in data["errors"][:10]:
        out.print(f"  line {e['index'] + 1}: {e['reason']}")


@events_app.command("counters")
def events_counters(asset: list[int] = typer.Option(None, "--asset", help="Asset id (repeatable)."),
                    channel: str = typer.Option(None, "--channel", help="Only this channel ('' = none)."),
                    bucket: str = typer.Option("day", "--bucket", help="hour | day"),
                    since: datetime = typer.Option(None, "--since", help="From this time (ISO)."),
                    as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Engagement totals per asset × channel × hour or day."""
    from zhimei.distribute.engagement import counters
    from zhimei.store.db import read_scope

    _ready()
    with read_scope() as session:
        rows = _call(counters, session, asset_ids=asset or None, channel=channel, since=since, bucket=bucket)
    if as_json:
        _json(rows)
        return
    t = Table("bucket", "asset", "channel", "impr.", "clicks", "plays", "watch s", "shares", "dwell s")
    for r in rows:
        t.add_row(r["bucket_start"].isoformat(timespec="minutes"), str(r["asset_id"]), r["channel"] or "—",
                  str(r["impressions"]), str(r["clicks"]), str(r["plays"]), f"{r['watch_seconds']:.0f}",
                  str(r["shares"]), f"{r['dwell_seconds']:.0f}")
    out.print(t)


@events_app.command("popular")
def events_popular(limit: int = typer.Option(20, "--limit", min=1, max=1000),
                   since: datetime = typer.Option(None, "--since", help="From this time (ISO)."),
                   as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The most engaged-with assets."""
    from zhimei.distribute.engagement import popular_asset_ids
    from zhimei.store.db import read_scope

    _ready()
    with read_scope() as session:
        rows = popular_asset_ids(session, since=since, limit=limit)
    if as_json:
        _json([{"asset_id": a, "score": s} for a, s in rows])
        return
    for a, s in rows:
        out.print(f"{a}\t{s:.2f}")


@events_app.command("rollup")
def events_rollup() -> None:
    """Roll hourly counters into days, forget old event ids, prune stale reader feedback — now."""
    from zhimei.distribute.engagement import rollup

    _ready()
    _json(rollup())


# ---- experiments ---------------------------------------------------------------------------------------

def _exp_lines(e: dict[str, Any]) -> None:
    out.print(f"experiment {e['id']} · {e['kind']} · [bold]{e['status']}[/bold] · asset {e['asset_id']} "
              f"{e['asset_title']}\n  {e['impressions']} impressions, {e['clicks']} clicks"
              + (f" · promotable (P(best) {e['leader_p_best']:.3f})" if e["promotable"] else ""))
    t = Table("id", "", "variant", "impr.", "clicks", "CTR", "95% interval", "P(best)")
    for v in e["variants"]:
        t.add_row(str(v["id"]), v["label"] + (" ★" if v["winner"] else ""),
                  (f"[cover {v['cover_asset_id']}] " if v["cover_asset_id"] else "") + v["text"][:60],
                  str(v["impressions"]), str(v["clicks"]), f"{v['ctr'] * 100:.2f}%",
                  f"{v['ci_low'] * 100:.2f}–{v['ci_high'] * 100:.2f}%", f"{v['p_best']:.3f}")
    out.print(t)


@experiments_app.command("list")
def exp_list(status: str = typer.Option(None, "--status", help="running | promoted | stopped"),
             asset: int = typer.Option(None, "--asset", help="Only this asset's experiments."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Experiments, newest first, with per-variant CTR."""
    from zhimei.distribute.engagement import list_experiments

    _ready()
    data = _call(list_experiments, status=status, asset_id=asset, limit=100)
    if as_json:
        _json(data)
        return
    out.print(f"{data['total']} experiment(s)")
    for e in data["items"]:
        _exp_lines(e)


@experiments_app.command("create")
def exp_create(asset_id: int = typer.Argument(..., help="The asset under test."),
               kind: str = typer.Option("title", "--kind", help="title | cover"),
               text: list[str] = typer.Option(None, "--text", help="A title variant (repeatable; default: the "
                                              "current title plus studio headlines)."),
               cover: list[int] = typer.Option(None, "--cover", help="A cover image asset id (repeatable; default: "
                                               "the studio's covers of the asset)."),
               name: str = typer.Option("", "--name"),
               min_impressions: int = typer.Option(None, "--min-impressions", min=0),
               manual: bool = typer.Option(False, "--manual", help="No automatic promotion."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Start a title or cover experiment."""
    from zhimei.distribute.engagement import create_experiment

    _ready()
    e = _call(create_experiment, asset_id, kind=kind, texts=text or None, cover_asset_ids=cover or None, name=name,
              auto_promote=not manual, min_impressions=min_impressions, created_by=_me())
    if as_json:
        _json(e)
        return
    _exp_lines(e)


@experiments_app.command("show")
def exp_show(experiment_id: int = typer.Argument(...),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """One experiment: impressions, clicks, CTR, Wilson 95% interval and P(best) per variant."""
    from zhimei.distribute.engagement import get_experiment

    _ready()
    e = _call(get_experiment, experiment_id)
    if as_json:
        _json(e)
        return
    _exp_lines(e)


@experiments_app.command("serve")
def exp_serve(experiment_id: int = typer.Argument(...), user: str = typer.Option(None, "--user")) -> None:
    """The variant Thompson sampling picks now (records nothing)."""
    from zhimei.distribute.engagement import serve_variant

    _ready()
    _json(_call(serve_variant, experiment_id, user))


@experiments_app.command("promote")
def exp_promote(experiment_id: int = typer.Argument(...),
                variant: int = typer.Option(None, "--variant", help="Variant id (default: the likely best)."),
                auto: bool = typer.Option(False, "--auto", help="Instead: promote every experiment that is sure "
                                          "enough (what the periodic task does)."),
                as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Promote a variant: the experiment ends and the asset's meta gets the winning title/cover."""
    from zhimei.distribute.engagement import auto_promote_due, promote

    _ready()
    if auto:
        _json({"promoted": auto_promote_due()})
        return
    e = _call(promote, experiment_id, variant, actor=_me())
    if as_json:
        _json(e)
        return
    _exp_lines(e)


@experiments_app.command("stop")
def exp_stop(experiment_id: int = typer.Argument(...)) -> None:
    """Stop an experiment without a winner."""
    from zhimei.distribute.engagement import stop_experiment

    _ready()
    _exp_lines(_call(stop_experiment, experiment_id, actor=_me()))


# ---- readers -------------------------------------------------------------------------------------------

@readers_app.command("export")
def readers_export(user: str = typer.Argument(..., help="The outside user id.")) -> None:
    """Everything held about a user, as JSON."""
    from zhimei.distribute.engagement import export_reader
    from zhimei.store.db import read_scope

    _ready()
    with read_scope() as session:
        _json(_call(export_reader, session, user))


@readers_app.command("delete")
def readers_delete(user: str = typer.Argument(..., help="The outside user id."),
                   yes: bool = typer.Option(False, "--yes", help="Do not ask.")) -> None:
    """Erase a user's data now (recommendation models drop them at the next retrain)."""
    from zhimei.distribute.engagement import delete_reader
    from zhimei.store.db import session_scope

    if not yes and not typer.confirm(f"Erase everything held for {user!r}?"):
        raise typer.Exit(1)
    _ready()
    with session_scope() as session:
        _json(_call(delete_reader, session, user))


@readers_app.command("consent")
def readers_consent(user: str = typer.Argument(..., help="The outside user id."),
                    allow: bool = typer.Option(None, "--allow/--deny", help="Set personalisation consent (omit to "
                                               "show it).")) -> None:
    """Show or set a user's personalisation consent (denied: non-personalised rows)."""
    from zhimei.distribute.engagement import get_consent, set_consent
    from zhimei.store.db import read_scope, session_scope

    _ready()
    if allow is None:
        with read_scope() as session:
            _json(_call(get_consent, session, user))
        return
    with session_scope() as session:
        _json(_call(set_consent, session, user, allow))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `zhimei` command line."""
    app.add_typer(events_app, name="events")
    app.add_typer(experiments_app, name="experiments")
    app.add_typer(readers_app, name="readers")
