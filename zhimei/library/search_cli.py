"""`zhimei search|similar|ask|timeline|reindex|sources`: the archive's search, cited answers, event timelines,
the re-index and source credibility from the command line. Tables by default, JSON with --json; a bad query
or filter prints the problem and exits with status 2."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

__all__ = ["register", "sources_app", "search_cmd", "similar_cmd", "ask_cmd", "timeline_cmd", "reindex_cmd"]

sources_app = typer.Typer(help="Source credibility (1 unreliable … 5 authoritative; 3 is unrated).",
                          no_args_is_help=True)
console = Console()
err = Console(stderr=True)
MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def register(app: typer.Typer) -> None:
    """Mount the search commands on the main `zhimei` app."""
    app.command("search")(search_cmd)
    app.command("similar")(similar_cmd)
    app.command("ask")(ask_cmd)
    app.command("timeline")(timeline_cmd)
    app.command("reindex")(reindex_cmd)
    app.add_typer(sources_app, name="sources")


def _run(fn, *args: Any, **kwargs: Any) -> Any:
    """Migrate, call; SearchError → its message and exit 2; a model that cannot answer → exit 1."""
    from zhimei.library.search import SearchError
    from zhimei.models import ModelError, NotReady
    from zhimei.store import migrate

    migrate()
    try:
        return fn(*args, **kwargs)
    except SearchError as exc:
        err.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(2) from None
    except (NotReady, ModelError) as exc:
        err.print(Text(f"the model behind this is not available: {exc}", style="red"))
        raise typer.Exit(1) from None


def _marked(snippet: str) -> Text:
    """A <mark>-highlighted HTML snippet as rich Text with the marks in bold."""
    out = Text()
    pos = 0
    for m in MARK.finditer(snippet):
        out.append(html.unescape(snippet[pos:m.start()]))
        out.append(html.unescape(m.group(1)), style="bold yellow")
        pos = m.end()
    out.append(html.unescape(snippet[pos:]))
    return out


def _tc(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:04.1f}"


def _filters(kind: list[str] | None, language: list[str] | None, source: list[str] | None,
             tag: list[str] | None, person: list[str] | None, review_status: list[str] | None,
             date_from: str, date_to: str, min_credibility: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, values in (("kind", kind), ("language", language), ("source", source), ("tags", tag),
                         ("people", person), ("review_status", review_status)):
        if values:
            out[name] = values[0] if len(values) == 1 else list(values)
    if date_from:
        out["date_from"] = date_from
    if date_to:
        out["date_to"] = date_to
    if min_credibility is not None:
        out["min_credibility"] = min_credibility
    return out


def _print_results(res: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(res.to_dict(), ensure_ascii=False, indent=2))
        return
    for note in res.notes:
        err.print(Text(note, style="yellow"))
    if not res.hits:
        return
    table = Table(show_lines=False, pad_edge=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("asset", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("time", no_wrap=True)
    table.add_column("cred", justify="center", no_wrap=True)
    table.add_column("title / snippet", ratio=1)
    for i, h in enumerate(res.hits, res.offset + 1):
        body = Text(h.asset_title, style="bold")
        body.append("\n")
        body.append_text(_marked(h.snippet))
        for m in h.moments[:3]:
            body.append(f"\n  {_tc(m.start) or '¶'} ", style="cyan")
            body.append_text(_marked(m.snippet))
        table.add_row(str(i), f"#{h.asset_id}", f"{h.asset_kind}/{h.kind}", _tc(h.start), str(h.credibility), body)
    console.print(table)
    console.print(f"{res.total} results · {res.took_ms:.0f} ms · mode {res.mode}")


def search_cmd(
    query: str = typer.Argument("", help="What to look for (empty: the newest assets)."),
    mode: str = typer.Option("hybrid", help="hybrid | keyword | vector"),
    kind: list[str] | None = typer.Option(None, "--kind", help="video, audio, image, article (repeat for more)."),
    language: list[str] | None = typer.Option(None, "--language", help="e.g. zh, en (repeatable)."),
    source: list[str] | None = typer.Option(None, "--source", help="Source name (repeatable)."),
    tag: list[str] | None = typer.Option(None, "--tag", help="Tag the asset must have (repeatable: all of them)."),
    person: list[str] | None = typer.Option(None, "--person", help="Person id the asset must show (repeatable)."),
    review_status: list[str] | None = typer.Option(None, "--review-status", help="Review status (repeatable)."),
    date_from: str = typer.Option("", "--from", help="Published or added on/after YYYY-MM-DD."),
    date_to: str = typer.Option("", "--to", help="Published or added on/before YYYY-MM-DD."),
    min_credibility: int | None = typer.Option(None, "--min-credibility", help="Lowest source credibility, 1-5."),
    limit: int = typer.Option(20, help="Hits to show (1-200)."),
    offset: int = typer.Option(0, help="Hits to skip."),
    group: bool = typer.Option(True, help="One hit per asset with its other moments (--no-group: every moment)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Search the archive: words spoken, shown on screen or written; hits carry their time in the media."""
    from zhimei.library.search import search

    filters = _filters(kind, language, source, tag, person, review_status, date_from, date_to, min_credibility)
    res = _run(search, query, filters=filters, limit=limit, offset=offset, mode=mode, group=group)
    _print_results(res, as_json)


def similar_cmd(asset: int | None = typer.Option(None, "--asset", help="Asset id."),
                segment: int | None = typer.Option(None, "--segment", help="Segment id."),
                limit: int = typer.Option(10, help="How many."),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """More like this: assets and moments similar to an asset or a segment."""
    from zhimei.library.search import more_like_this

    res = _run(more_like_this, asset_id=asset, segment_id=segment, limit=limit)
    _print_results(res, as_json)


def ask_cmd(question: str = typer.Argument(..., help="A question the archive may answer."),
            mode: str = typer.Option("auto", help="auto | extractive | llm"),
            k: int = typer.Option(8, help="Passages to read."),
            as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON.")) -> None:
    """Ask the archive: every sentence of the answer cites its source (asset and time or paragraph)."""
    from zhimei.library.search import SearchError
    from zhimei.library.search.answers import ask

    def run() -> Any:
        if mode not in ("auto", "extractive", "llm"):
            raise SearchError(f"unknown answer mode {mode!r}; modes: auto, extractive, llm")
        return ask(question, mode=mode, k=k)

    answer = _run(run)
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    if not answer.found:
        console.print(Text("资料库中没有这个问题的答案 The archive does not contain the answer.", style="yellow"))
    if getattr(answer, "short", ""):
        console.print(Text(answer.short, style="bold"))
    console.print(Text(answer.text))
    for note in getattr(answer, "notes", []) or []:
        err.print(Text(note, style="yellow"))
    if answer.sources:
        console.print(Text("\n来源 Sources", style="bold"))
    for c in answer.sources:
        where = _tc(c.start) if c.start is not None else (f"¶{c.segment_id}" if c.segment_id else "")
        line = Text(f"[{c.n}] ", style="bold")
        line.append(f"#{c.asset_id} {c.asset_title}")
        line.append(f"  {where}  credibility {c.credibility}{'  verified' if c.verified else ''}  {c.url}",
                    style="dim")
        console.print(line)
    console.print(Text(f"{answer.mode_used}{' · ' + answer.model if answer.model else ''} · "
                       f"{answer.took_ms:.0f} ms", style="dim"))


def timeline_cmd(query: str = typer.Argument(..., help="An event or a topic."),
                 limit: int = typer.Option(20, help="Most events."),
                 as_json: bool = typer.Option(False, "--json", help="Print the timeline as JSON.")) -> None:
    """Event timeline (事件脉络): matching assets grouped into events in time order with who/what/when/where."""
    from zhimei.library.search.timeline import timeline

    tl = _run(timeline, query, limit_events=limit)
    if as_json:
        print(json.dumps(tl.to_dict(), ensure_ascii=False, indent=2))
        return
    if not tl.events:
        err.print(Text("nothing in the archive matches", style="yellow"))
        return
    for e in tl.events:
        when = (e.start or "")[:16].replace("T", " ")
        console.print(Text(f"{when}  ", style="cyan") + Text(e.title, style="bold"))
        for label, values in (("who", e.who), ("what", e.what), ("when", e.when), ("where", e.where)):
            if values:
                console.print(Text(f"    {label:<6}{', '.join(values)}"))
        for a in e.assets:
            console.print(Text(f"    #{a.get('asset_id')} {a.get('title') or ''}  {a.get('url') or ''}", style="dim"))


def reindex_cmd(as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
                keyword_only: bool = typer.Option(False, "--keyword-only", help="Skip the vector cache.")) -> None:
    """Rebuild the search index (keyword index and vector cache) from the store."""
    from zhimei.library.search import reindex

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("re-indexing", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        counts = _run(reindex, progress=progress, vectors=not keyword_only)
    if as_json:
        print(json.dumps(counts, ensure_ascii=False))
        return
    console.print(", ".join(f"{k} {v}" for k, v in counts.items()))


@sources_app.command("list")
def sources_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every source with its credibility level and asset count."""
    from zhimei.library.search import credibility_levels

    items = _run(credibility_levels)
    if as_json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return
    table = Table()
    for col in ("source", "level", "assets", "note", "by"):
        table.add_column(col)
    for s in items:
        table.add_row(s["source"], f"{s['level']} {s['label']}", str(s["assets"]), s["note"], s["updated_by"])
    console.print(table)


@sources_app.command("set")
def sources_set(source: str, level: int = typer.Argument(..., help="1 unreliable … 5 authoritative"),
                note: str = typer.Option("", help="Why."),
                who: str = typer.Option("cli", help="Recorded as who set it.")) -> None:
    """Set a source's credibility level."""
    from zhimei.library.search import set_credibility

    out = _run(set_credibility, source, level, note, who)
    console.print(f"{out['source']}: {out['level']} ({out['label']})")
