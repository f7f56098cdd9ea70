"""CLI: `zhimei trends`, `zhimei watchlist add|list|remove|alerts`, `zhimei reach`, `zhimei train-insight`
(registered by `register`)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from zhimei.cli_common import actor as _actor
from zhimei.cli_common import err
from zhimei.cli_common import fail as _fail
from zhimei.cli_common import ready as _ready

__all__ = ["register", "watchlist_app", "parse_since"]

out = Console()
watchlist_app = typer.Typer(help="舆情监测清单 Watchlists: terms, people and organisations with webhook alerts.",
                            no_args_is_help=True)


def parse_since(value: str | None) -> datetime | None:
    """'24h', '7d', '90m', '2w' before now, or an ISO time (UTC when it has no zone)."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([mhdw])", v)
    if m:
        n = float(m.group(1))
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: n})
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither a span like 24h/7d nor an ISO time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _call(fn, *args: Any, write: bool = False, **kwargs: Any) -> Any:
    from zhimei.insight.trends import InsightError
    from zhimei.store.db import read_scope, session_scope

    try:
        with (session_scope() if write else read_scope()) as session:
            return fn(session, *args, **kwargs)
    except (InsightError, ValueError) as exc:
        _fail(str(exc))


def _json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


def trends(as_json: bool = typer.Option(False, "--json", help="Print JSON."),
           since: str = typer.Option(None, "--since", help="Current window from here: 24h, 7d, or an ISO time."),
           limit: int = typer.Option(20, "--limit", min=1, max=500, help="Most stories and terms."),
           refresh: bool = typer.Option(False, "--refresh", help="Analyse new items and recompute stories first.")
           ) -> None:
    """热点 Rising stories by heat, and the terms and names bursting now."""
    from zhimei.insight.stories import hot_topics
    from zhimei.insight.trends import term_bursts

    _ready()
    start = parse_since(since)
    if refresh:
        from zhimei.insight.tasks import run_stories

        with Progress(transient=True, console=err) as bar:
            t = bar.add_task("stories", total=100)
            run_stories(tick=lambda pct, msg=None: bar.update(t, completed=pct, description=msg or "stories"))

    def go(session):
        return ([s.to_dict() for s in hot_topics(session, since=start, limit=limit)],
                [b.to_dict() for b in term_bursts(session, since=start, limit=limit)])

    stories, bursts = _call(go)
    if as_json:
        _json({"stories": stories, "bursts": bursts})
        return
    t = Table("story", "heat", "in window", "growth", "burst", "engagement", "sources", "sentiment", "title",
              title=f"{len(stories)} rising stor{'y' if len(stories) == 1 else 'ies'}")
    for s in stories:
        t.add_row(str(s["id"]), f"{s['heat']:.2f}", str(s["volume"]), f"×{s['growth']:.2f}", f"{s['burst']:.1f}",
                  f"{s['engagement']:.1f}", str(s["source_count"]),
                  "—" if s["sentiment"] is None else f"{s['sentiment']:.2f}", s["title"][:60])
    out.print(t)
    b = Table("term", "kind", "now", "expected", "z", title="bursting terms")
    for x in bursts:
        b.add_row(x["term"], x["kind"], str(x["count"]), f"{x['expected']:.2f}", f"{x['z']:.1f}")
    out.print(b)


def reach_cmd(asset: int = typer.Option(None, "--asset", min=1, help="One asset."),
              story: int = typer.Option(None, "--story", min=1, help="One story's assets."),
              channel: str = typer.Option(None, "--channel", help="One channel."),
              since: str = typer.Option(None, "--since", help="From: 24h, 30d, or an ISO time."),
              bucket: str = typer.Option("day", "--bucket", help="hour | day | week | month."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """传播力 Reach: impressions, clicks, CTR, plays, watch time and shares over time."""
    from zhimei.insight.reach import reach

    _ready()
    data = _call(reach, asset_id=asset, story_id=story, channel=channel, since=parse_since(since), bucket=bucket)
    if as_json:
        _json(data)
        return
    tot = data["totals"]
    ctr = "—" if tot["ctr"] is None else f"{tot['ctr'] * 100:.2f}%"
    out.print(f"impressions {tot['impressions']} · clicks {tot['clicks']} · CTR {ctr} · plays {tot['plays']} · "
              f"watch {tot['watch_seconds']} s · shares {tot['shares']}")
    t = Table(data["scope"]["bucket"], "impressions", "clicks", "CTR", "plays", "watch s", "shares")
    for r in data["series"]:
        t.add_row(r["bucket_start"][:16], str(r["impressions"]), str(r["clicks"]),
                  "—" if r["ctr"] is None else f"{r['ctr'] * 100:.2f}%", str(r["plays"]), str(r["watch_seconds"]),
                  str(r["shares"]))
    out.print(t)
    if data["by_channel"]:
        c = Table("channel", "impressions", "clicks", "CTR", "plays", "shares")
        for r in data["by_channel"]:
            c.add_row(r["channel"] or "—", str(r["impressions"]), str(r["clicks"]),
                      "—" if r["ctr"] is None else f"{r['ctr'] * 100:.2f}%", str(r["plays"]), str(r["shares"]))
        out.print(c)


@watchlist_app.command("add")
def watchlist_add(name: str = typer.Argument(..., help="The watchlist's name."),
                  terms: list[str] = typer.Option(..., "--term", "-t", help="A spelling to watch (repeat)."),
                  kind: str = typer.Option("term", "--kind", help="term | person | org."),
                  webhook: str = typer.Option("", "--webhook", help="http(s) URL for signed alert POSTs."),
                  min_volume: int = typer.Option(3, "--min-volume", min=1, help="Fewest items for an alert."),
                  factor: float = typer.Option(2.0, "--factor", help="Volume must reach this × the baseline."),
                  window_hours: float = typer.Option(24.0, "--window-hours", help="Window length in hours."),
                  as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Add a watchlist; prints its webhook signing secret once."""
    from zhimei.insight.watchlists import create_watchlist

    _ready()
    w = _call(create_watchlist, name, terms, kind=kind, webhook_url=webhook, min_volume=min_volume,
              volume_factor=factor, window_hours=window_hours, actor=_actor(), write=True)
    if as_json:
        _json(w)
        return
    out.print(f"watchlist {w['id']} {escape(w['name'])}: {', '.join(w['terms'])}")
    out.print(f"signing secret (shown once): {w['secret']}")


@watchlist_app.command("list")
def watchlist_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The watchlists and their alert counts."""
    from zhimei.insight.watchlists import list_watchlists

    _ready()
    items = _call(list_watchlists)
    if as_json:
        _json(items)
        return
    t = Table("id", "name", "kind", "terms", "webhook", "alerts", title=f"{len(items)} watchlist(s)")
    for w in items:
        t.add_row(str(w["id"]), w["name"], w["kind"], ", ".join(w["terms"]), w["webhook_url"] or "—", str(w["alerts"]))
    out.print(t)


@watchlist_app.command("remove")
def watchlist_remove(watchlist_id: int = typer.Argument(..., help="The watchlist's id.")) -> None:
    """Remove a watchlist and its alert history."""
    from zhimei.insight.watchlists import delete_watchlist

    _ready()
    w = _call(delete_watchlist, watchlist_id, write=True)
    out.print(f"removed watchlist {w['id']} {escape(w['name'])}")


@watchlist_app.command("alerts")
def watchlist_alerts(watchlist_id: int = typer.Option(None, "--watchlist", min=1, help="One watchlist."),
                     limit: int = typer.Option(50, "--limit", min=1, max=1000),
                     as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Alert history, newest first."""
    from zhimei.insight.watchlists import list_alerts

    _ready()
    data = _call(list_alerts, watchlist_id=watchlist_id, limit=limit)
    if as_json:
        _json(data)
        return
    t = Table("id", "watchlist", "reason", "window", "volume", "baseline", "negative", "status",
              title=f"{data['total']} alert(s)")
    for a in data["items"]:
        neg = "—" if a["negative_share"] is None else f"{a['negative_share'] * 100:.0f}%"
        t.add_row(str(a["id"]), a["watchlist"] or "", a["reason"], a["window_start"][:16], str(a["volume"]),
                  f"{a['baseline']:.1f}", neg, f"{a['status']} ({a['attempts']}×)")
    out.print(t)


def train_models(
    sentiment: str = typer.Option(None, "--sentiment", help="ChnSentiCorp-format TSV (default: the shared dev file)."),
    topics: str = typer.Option(None, "--topics", help="THUCNews-format file (default: the shared dev file)."),
    only: str = typer.Option(None, "--only", help="Train only 'sentiment' or 'topics'."),
    out_dir: str = typer.Option(None, "--out", help="Output folder (default: the package's data folder)."),
) -> None:
    """Retrain the sentiment and news-topic models from labelled files (needs scikit-learn)."""
    from zhimei.insight.train import main

    argv = [f"--{k}={v}" for k, v in (("sentiment", sentiment), ("topics", topics), ("only", only),
                                      ("out", out_dir)) if v]
    code = main(argv)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `zhimei` command line."""
    app.command("trends")(trends)
    app.command("train-insight")(train_models)
    app.command("reach")(reach_cmd)
    app.add_typer(watchlist_app, name="watchlist")
