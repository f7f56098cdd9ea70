"""`zhimei studio <task>`: the studio text tasks from the command line.

    zhimei studio headlines 12 --n 5            # headline variants for asset 12 (method chosen by benchmark)
    zhimei studio summary 12 13 --length long   # one summary of two sources
    zhimei studio draft 12 13 --save            # a cited draft with a support check, saved as a new asset
    zhimei studio translate --file story.txt --to en
    zhimei studio rewrite 12 --style broadcast --backend openai

Sources are asset ids, or ``--text`` / ``--file``. Generation streams to the terminal; ``--json`` prints the
whole result as JSON instead; ``--save`` stores it as an AI-marked asset (review pending) with lineage.
Bad input prints the problem and exits with status 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

__all__ = ["studio_app", "register"]

studio_app = typer.Typer(help="智能创作 Studio: summaries, headlines, drafts, rewrites, translation, outlines.",
                         no_args_is_help=True)
console = Console()
err = Console(stderr=True)

_SOURCES = typer.Argument(None, help="Source asset ids.")
_TEXT = typer.Option(None, "--text", help="Use this text instead of assets.")
_FILE = typer.Option(None, "--file", help="Read the text from this UTF-8 file instead of assets.")
_BACKEND = typer.Option(None, "--backend", help="LLM backend (gemma3|smollm2|openai; default: settings).")
_JSON = typer.Option(False, "--json", help="Print the result as JSON.")
_SAVE = typer.Option(False, "--save", help="Save the result as a new asset (AI-generated, review pending).")
_NOCACHE = typer.Option(False, "--no-cache", help="Run again even when a cached result exists.")
_LANG = typer.Option(None, "--language", help="zh or en (default: detected).")


def register(app: typer.Typer) -> None:
    """Mount `zhimei studio` on the main app."""
    app.add_typer(studio_app, name="studio")


def _text_arg(text: str | None, file: Path | None) -> str | None:
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            err.print(Text(f"error: cannot read {file}: {exc}", style="red"))
            raise typer.Exit(2) from None
    return text


def _run(fn: Callable[..., Any], *, as_json: bool, save: bool, **kwargs: Any) -> None:
    """Migrate, run with a progress bar and streamed tokens, print, optionally save. StudioError → exit 2."""
    from zhimei.store import migrate
    from zhimei.studio.errors import StudioError

    migrate()
    streamed: list[str] = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err, transient=True, disable=as_json) as bar:
        job = bar.add_task(fn.__name__, total=1)

        def emit(ev: dict[str, Any]) -> None:
            if ev.get("type") == "progress":
                bar.update(job, completed=ev.get("done", 0), total=ev.get("total", 1),
                           description=f"{fn.__name__}: {ev.get('message', '')}".strip(": "))
            elif ev.get("type") == "token" and not as_json:
                streamed.append(ev.get("text", ""))
                bar.update(job, description=f"{fn.__name__}: " + "".join(streamed)[-40:].replace("\n", " "))
            elif ev.get("type") == "variant_start":
                streamed.clear()

        try:
            result = fn(emit=emit, **kwargs)
        except StudioError as exc:
            err.print(Text(f"error: {exc}", style="red"))
            raise typer.Exit(2) from None
    saved = None
    if save:
        try:
            saved = result.save(created_by="cli")
        except StudioError as exc:
            err.print(Text(f"error: {exc}", style="red"))
            raise typer.Exit(2) from None
    if as_json:
        out = result.to_dict()
        if saved is not None:
            out["saved_asset_id"] = saved
        console.print_json(json.dumps(out, ensure_ascii=False))
        return
    head = f"{result.task} · method {result.method} · {result.backend}/{result.model}"
    console.print(Text(head + (" · cached" if result.cached else ""), style="bold"))
    if result.task == "headlines":
        for i, v in enumerate(result.variants, 1):
            console.print(f"{i}. {v.text}  [dim]({v.method}{'; ' + v.note if v.note else ''})[/dim]",
                          highlight=False)
    else:
        console.print(result.text, highlight=False, markup=False)
    for call in result.calls:
        if "tokens_out" in call:
            err.print(f"[dim]{call['backend']}: {call['tokens_in']} tokens in, {call['tokens_out']} out, "
                      f"{call['seconds']:.2f}s[/dim]")
    for note in result.notes:
        err.print(Text(f"note: {note}", style="yellow"))
    if saved is not None:
        console.print(f"saved as asset {saved} (AI-generated, review pending)")


@studio_app.command("headlines")
def headlines_cmd(sources: list[int] = _SOURCES, n: int = typer.Option(3, "--n", help="Variants (1-10)."),
                  method: str = typer.Option("auto", "--method", help="auto|hybrid|llm|extractive|textrank|lead"),
                  text: str = _TEXT, file: Path = _FILE, language: str = _LANG, backend: str = _BACKEND,
                  as_json: bool = _JSON, save: bool = _SAVE, no_cache: bool = _NOCACHE) -> None:
    """N headline variants."""
    from zhimei.studio.text import headlines

    _run(headlines, as_json=as_json, save=save, sources=sources or None, text=_text_arg(text, file), n=n,
         method=method, language=language, backend=backend, use_cache=not no_cache)


@studio_app.command("summary")
def summary_cmd(sources: list[int] = _SOURCES,
                length: str = typer.Option("short", "--length", help="one-line|short|long"),
                method: str = typer.Option("auto", "--method", help="auto|llm|textrank|lead"),
                text: str = _TEXT, file: Path = _FILE, language: str = _LANG, backend: str = _BACKEND,
                as_json: bool = _JSON, save: bool = _SAVE, no_cache: bool = _NOCACHE) -> None:
    """A one-line, short or long summary."""
    from zhimei.studio.text import summary

    _run(summary, as_json=as_json, save=save, sources=sources or None, text=_text_arg(text, file), length=length,
         method=method, language=language, backend=backend, use_cache=not no_cache)


@studio_app.command("draft")
def draft_cmd(sources: list[int] = _SOURCES,
              method: str = typer.Option("auto", "--method", help="auto|llm|extractive"),
              language: str = _LANG, backend: str = _BACKEND, as_json: bool = _JSON, save: bool = _SAVE,
              no_cache: bool = _NOCACHE) -> None:
    """A news draft from the sources: each paragraph cites them; unsupported sentences are marked ⚠."""
    from zhimei.studio.text import draft

    _run(draft, as_json=as_json, save=save, sources=list(sources or []), method=method, language=language,
         backend=backend, use_cache=not no_cache)


@studio_app.command("rewrite")
def rewrite_cmd(sources: list[int] = _SOURCES,
                style: str = typer.Option("news", "--style", help="news|broadcast|social"),
                method: str = typer.Option("auto", "--method", help="auto|llm|template"),
                text: str = _TEXT, file: Path = _FILE, language: str = _LANG, backend: str = _BACKEND,
                as_json: bool = _JSON, save: bool = _SAVE, no_cache: bool = _NOCACHE) -> None:
    """Rewrite in a house style."""
    from zhimei.studio.text import rewrite

    _run(rewrite, as_json=as_json, save=save, sources=sources or None, text=_text_arg(text, file), style=style,
         method=method, language=language, backend=backend, use_cache=not no_cache)


@studio_app.command("translate")
def translate_cmd(sources: list[int] = _SOURCES, to: str = typer.Option(None, "--to", help="zh or en "
                                                                         "(default: the other language)"),
                  text: str = _TEXT, file: Path = _FILE, language: str = _LANG, backend: str = _BACKEND,
                  as_json: bool = _JSON, save: bool = _SAVE, no_cache: bool = _NOCACHE) -> None:
    """zh↔en translation (a remote model when configured; the embedded one is weak)."""
    from zhimei.studio.text import translate

    _run(translate, as_json=as_json, save=save, sources=sources or None, text=_text_arg(text, file), target=to,
         language=language, backend=backend, use_cache=not no_cache)


@studio_app.command("outline")
def outline_cmd(sources: list[int] = _SOURCES,
                method: str = typer.Option("auto", "--method", help="auto|llm|textrank"),
                text: str = _TEXT, file: Path = _FILE, language: str = _LANG, backend: str = _BACKEND,
                as_json: bool = _JSON, save: bool = _SAVE, no_cache: bool = _NOCACHE) -> None:
    """A story outline, one point per line."""
    from zhimei.studio.text import outline

    _run(outline, as_json=as_json, save=save, sources=sources or None, text=_text_arg(text, file), method=method,
         language=language, backend=backend, use_cache=not no_cache)


# the media studio (subtitles, clips, covers, voice-over, rough cut) adds its commands to studio_app
from zhimei.studio.media import cli as _media_cli  # noqa: F401,E402  registers media commands
