"""CLI: ``zhimei publish ASSET_ID --channel NAME [--at ISO] [--embargo ISO]`` and ``zhimei publish channels|list|
withdraw|export|feed|deliveries|retry|due`` (registered on the `zhimei` app by `register`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

__all__ = ["register", "publish_app", "channels_app"]

out = Console()


class _PublishGroup(TyperGroup):
    """`zhimei publish 12 --channel web` runs the hidden `asset` command; words run the subcommands."""

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[override]
        if args and args[0].isdigit():
            args = ["asset", *args]
        return super().resolve_command(ctx, args)


publish_app = typer.Typer(cls=_PublishGroup, no_args_is_help=True,
                          help="发布 Publish an asset (zhimei publish ASSET_ID --channel NAME [--at ISO] [--embargo "
                               "ISO]); manage channels, withdraw, export ninjs/NewsML-G2, webhook deliveries.")
channels_app = typer.Typer(help="Publishing channels (rss, atom, jsonfeed, webhook, ninjs, newsml, ott).",
                           no_args_is_help=True)


def _ready() -> None:
    from zhimei.store import migrate

    migrate()


def _fail(msg: str, code: int = 2) -> None:
    from zhimei.cli_common import fail

    fail(msg, code)


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    from zhimei.distribute.publish import PublishError

    try:
        return fn(*args, **kwargs)
    except PublishError as exc:
        _fail(str(exc), 1 if exc.status == 409 else 2)


def _actor() -> str:
    from zhimei.cli_common import actor

    return actor()


def _json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False))


def _config(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        _fail(f"--config is not valid JSON: {exc}")
    return value


def _pub_line(p: dict[str, Any]) -> None:
    style = {"live": "green", "scheduled": "yellow", "withdrawn": "red", "superseded": "dim"}.get(p["status"], "bold")
    when = "visible now" if p["visible"] else f"live from {p['live_from']}"
    ai = f" · AI label PropagateID {p['aigc'].get('PropagateID')}" if p.get("aigc") else ""
    out.print(f"publication {p['id']} · asset {p['asset_id']} → {p['channel']} · [{style}]{p['status']}[/{style}] · "
              f"{when}{ai}")


# ---- publish one asset ----------------------------------------------------------------------------------

@publish_app.command("asset", hidden=True)
def publish_asset(asset_id: int = typer.Argument(..., help="The asset to publish."),
                  channel: str = typer.Option(..., "--channel", "-c", help="Channel name."),
                  at: str = typer.Option(None, "--at", help="Publish at (ISO 8601; default now; no offset = UTC)."),
                  embargo: str = typer.Option(None, "--embargo", help="Not before (ISO 8601)."),
                  as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Publish ASSET_ID's current version in a channel (it must have passed review)."""
    from zhimei.distribute.publish import publish

    _ready()
    p = _call(publish, asset_id, channel, publish_at=at, embargo_until=embargo, actor=_actor())
    if as_json:
        _json(p)
        return
    _pub_line(p)
    if not p["created"]:
        out.print("  (this version was published in this channel before: nothing new was made)")


@publish_app.command("list")
def list_cmd(channel: str = typer.Option(None, "--channel", "-c"),
             status: str = typer.Option(None, "--status", help="scheduled, live, withdrawn, superseded, upcoming, "
                                                               "visible"),
             asset_id: int = typer.Option(None, "--asset"), limit: int = typer.Option(50, "--limit"),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Publications, newest first."""
    from zhimei.distribute.publish import list_publications

    _ready()
    data = _call(list_publications, channel=channel, status=status, asset_id=asset_id, limit=limit)
    if as_json:
        _json(data)
        return
    for p in data["items"]:
        _pub_line(p)
    out.print(f"{data['total']} publication(s)")


@publish_app.command("withdraw")
def withdraw_cmd(asset_id: int = typer.Argument(None, help="Withdraw this asset's publications."),
                 channel: str = typer.Option(None, "--channel", "-c", help="Only in this channel."),
                 publication: int = typer.Option(None, "--publication", help="Withdraw this one publication."),
                 reason: str = typer.Option("", "--reason", help="Why (kept with the publication)."),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Take published items down (feeds drop them at once; webhook receivers get a withdraw event)."""
    from zhimei.distribute.publish import withdraw, withdraw_publication

    _ready()
    if (asset_id is None) == (publication is None):
        _fail("give an ASSET_ID or --publication ID (one of them)")
    if publication is not None:
        done = [_call(withdraw_publication, publication, reason=reason, actor=_actor())]
    else:
        done = _call(withdraw, asset_id, channel, reason=reason, actor=_actor())
    if as_json:
        _json(done)
        return
    for p in done:
        _pub_line(p)


@publish_app.command("export")
def export_cmd(asset_id: int = typer.Argument(..., help="A live (published) asset."),
               fmt: str = typer.Option(..., "--format", "-f", help="ninjs | newsml"),
               channel: str = typer.Option(None, "--channel", "-c", help="Its publication in this channel."),
               output: Path = typer.Option(None, "--out", "-o", help="Write to this file (default: stdout).")) -> None:
    """Export a published item as IPTC ninjs 2.1 JSON or a NewsML-G2 newsItem."""
    from zhimei.distribute.publish import export_item

    _ready()
    if fmt not in ("ninjs", "newsml"):
        _fail(f"--format must be ninjs or newsml, not {fmt!r}")
    data = _call(export_item, asset_id, fmt, channel=channel)
    if output is None:
        typer.echo(data.decode("utf-8"), nl=False)
    else:
        output.write_bytes(data)
        out.print(f"wrote {len(data)} bytes to {output}")


@publish_app.command("feed")
def feed_cmd(channel: str = typer.Argument(..., help="Channel name."),
             fmt: str = typer.Option("rss", "--format", "-f", help="rss | atom | jsonfeed | ott"),
             user: str = typer.Option(None, "--user", help="OTT: the reader for personal rows.")) -> None:
    """Print a channel's feed as the public URL serves it (links relative unless publish_base_url is set)."""
    from zhimei.distribute.publish import feed_document

    _ready()
    body, _ = _call(feed_document, channel, fmt, user=user)
    typer.echo(body.decode("utf-8"), nl=False)


@publish_app.command("deliveries")
def deliveries_cmd(channel: str = typer.Option(None, "--channel", "-c"),
                   dead: bool = typer.Option(False, "--dead", help="Only the dead-letter list."),
                   status: str = typer.Option(None, "--status", help="pending, retrying, delivered, dead"),
                   as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Webhook deliveries, newest first."""
    from zhimei.distribute.publish import list_deliveries

    _ready()
    data = _call(list_deliveries, channel=channel, status="dead" if dead else status, limit=200)
    if as_json:
        _json(data)
        return
    t = Table("id", "channel", "event", "asset", "status", "attempts", "next", "last error")
    for d in data["items"]:
        t.add_row(str(d["id"]), d["channel"], d["event"], str(d["asset_id"]), d["status"],
                  f"{d['attempts']}/{d['max_attempts']}", d["next_attempt_at"] or "", (d["last_error"] or "")[:60])
    out.print(t)


@publish_app.command("retry")
def retry_cmd(delivery_id: int = typer.Argument(..., help="A dead-letter delivery."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Send a dead-letter delivery again (same delivery key: the receiver still sees one message)."""
    from zhimei.distribute.publish import retry_delivery

    _ready()
    d = _call(retry_delivery, delivery_id, actor=_actor())
    if as_json:
        _json(d)
    else:
        out.print(f"delivery {d['id']} queued again (job {d['job_id']})")


@publish_app.command("due")
def due_cmd() -> None:
    """Make scheduled publications whose time has come live now (the server does it every 30 s)."""
    from zhimei.distribute.publish import make_due_live

    _ready()
    done = make_due_live()
    out.print(f"{len(done)} publication(s) went live")


# ---- channels -------------------------------------------------------------------------------------------

@channels_app.command("list")
def channels_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every channel with its live item count."""
    from zhimei.distribute.publish import list_channels
    from zhimei.store.db import read_scope

    _ready()
    with read_scope() as s:
        items = list_channels(s)
    if as_json:
        _json(items)
        return
    t = Table("name", "kind", "title", "live", "enabled", "feed / url")
    for c in items:
        where = c["config"].get("url", "") if c["kind"] == "webhook" else c["feeds"].get("rss", "")
        t.add_row(c["name"], c["kind"], c["title"], str(c["live_items"]), "yes" if c["enabled"] else "no", where)
    out.print(t)


@channels_app.command("add")
def channels_add(name: str = typer.Argument(..., help="lowercase letters, digits, - and _"),
                 kind: str = typer.Option(..., "--kind", "-k", help="rss, atom, jsonfeed, webhook, ninjs, newsml, "
                                                                     "ott"),
                 title: str = typer.Option("", "--title"), description: str = typer.Option("", "--description"),
                 url: str = typer.Option(None, "--url", help="Webhook: the receiver's address."),
                 config: str = typer.Option(None, "--config", help="Config as JSON (see the docs of the kind)."),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Add a channel (a webhook's signing secret is printed this once)."""
    from zhimei.distribute.publish import create_channel
    from zhimei.store.db import session_scope

    _ready()
    cfg = _config(config) or {}
    if url is not None:
        cfg["url"] = url

    def make() -> dict[str, Any]:
        with session_scope() as s:
            return create_channel(s, name, kind, title=title, description=description, config=cfg, actor=_actor())

    c = _call(make)
    if as_json:
        _json(c)
        return
    out.print(f"channel {c['name']} ({c['kind']}) added")
    if c.get("secret"):
        out.print(f"signing secret (keep it; shown once): {c['secret']}")


@channels_app.command("edit")
def channels_edit(name: str = typer.Argument(...), title: str = typer.Option(None, "--title"),
                  description: str = typer.Option(None, "--description"),
                  config: str = typer.Option(None, "--config", help="New config as JSON (replaces the old)."),
                  enabled: bool = typer.Option(None, "--enable/--disable"),
                  rotate_secret: bool = typer.Option(False, "--rotate-secret", help="Webhook: a new secret."),
                  as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Change a channel."""
    from zhimei.distribute.publish import update_channel
    from zhimei.store.db import session_scope

    _ready()
    cfg = _config(config)

    def change() -> dict[str, Any]:
        with session_scope() as s:
            return update_channel(s, name, title=title, description=description, config=cfg, enabled=enabled,
                                  rotate_secret=rotate_secret)

    c = _call(change)
    if as_json:
        _json(c)
        return
    out.print(f"channel {c['name']} saved")
    if c.get("secret"):
        out.print(f"new signing secret: {c['secret']}")


@channels_app.command("show")
def channels_show(name: str = typer.Argument(...)) -> None:
    """One channel as JSON."""
    from zhimei.distribute.publish import get_channel
    from zhimei.store.db import read_scope

    _ready()

    def get() -> dict[str, Any]:
        with read_scope() as s:
            return get_channel(s, name)

    _json(_call(get))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `zhimei` command line."""
    publish_app.add_typer(channels_app, name="channels")
    app.add_typer(publish_app, name="publish")
