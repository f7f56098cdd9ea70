"""`zhimei models`: every model backend with readiness, licence and measured speed."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["models_app"]

models_app = typer.Typer(help="Model backends: what is ready here, licences, measured speeds.",
                         invoke_without_command=True)
console = Console()


@models_app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    measure: bool = typer.Option(False, "--measure", help="Measure the selected local backends now (slow)."),
    measure_all: bool = typer.Option(False, "--measure-all", help="Measure every ready local backend."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List every backend: capability, name, ready (or why not), licence, measured speed."""
    if ctx.invoked_subcommand is not None:
        return
    from zhimei.models import get_backend, list_backends
    from zhimei.models.base import ModelError, NotReady
    from zhimei.models.speeds import load_speeds
    from zhimei.models.speeds import measure as measure_one

    rows = list_backends()
    if measure or measure_all:
        for r in rows:
            if r.ready and not r.remote and (measure_all or r.selected):
                console.print(f"measuring {r.capability}/{r.name} …", style="dim")
                try:
                    measure_one(get_backend(r.capability, r.name))
                except (ModelError, NotReady, OSError) as exc:
                    console.print(f"  {r.capability}/{r.name}: {exc}", style="red")
    speeds = load_speeds()
    if as_json:
        out = [{"capability": r.capability, "name": r.name, "selected": r.selected, "ready": r.ready,
                "reason": r.reason, "degraded": r.degraded, "licence": r.licence, "remote": r.remote,
                "speed": speeds.get(f"{r.capability}/{r.name}", {}).get("speed")} for r in rows]
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    table = Table(title="model backends (* = selected in settings)")
    for col in ("capability", "name"):
        table.add_column(col, no_wrap=True)
    for col in ("ready", "licence", "speed"):
        table.add_column(col)
    for r in rows:
        speed = speeds.get(f"{r.capability}/{r.name}", {}).get("speed") or ("remote" if r.remote else "—")
        ready = (f"[red]no[/red]: {r.reason}" if not r.ready else
                 f"[yellow]yes, without[/yellow]: {r.degraded}" if r.degraded else "[green]yes[/green]")
        table.add_row(r.capability, ("* " if r.selected else "  ") + r.name, ready, r.licence, speed)
    console.print(table)


@models_app.command("transcribe")
def transcribe(
    files: list[Path] = typer.Argument(..., help="Recordings (any format ffmpeg reads)."),
    language: str = typer.Option("", "--language", "-l", help="Language code (empty: detect per recording)."),
    hotwords: str = typer.Option("", "--hotwords", help="Names and terms likely to occur, comma-separated."),
    as_json: bool = typer.Option(False, "--json", help="Print each transcript as a JSON line (segments, words)."),
) -> None:
    """Transcribe recordings with the configured ASR backend, as one batch (whisper reads the next recording while
    the text of the last is corrected), with a progress bar."""
    from dataclasses import asdict

    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from zhimei.models import get_backend
    from zhimei.models.base import ModelError, NotReady

    asr = get_backend("asr")
    err = Console(stderr=True)
    with Progress(TextColumn("transcribing"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("asr", total=1.0)
        try:
            for path, t in zip(files, asr.transcribe_many(files, language=language or None, hotwords=hotwords or None,
                                                          progress=lambda f: bar.update(task, completed=f)),
                               strict=False):
                if as_json:
                    typer.echo(json.dumps({"file": str(path), **asdict(t)}, ensure_ascii=False))
                else:
                    heard = f"{t.language or 'no speech'}, {t.duration:.1f} s"
                    bar.console.print(f"[bold]{escape(path.name)}[/bold] ({heard})")
                    typer.echo(t.text)
        except (ModelError, NotReady) as exc:  # a recording's error names its file
            err.print(str(exc), style="red", markup=False)
            raise typer.Exit(1) from None
