"""`zhimei review …`: moderation from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["review_app"]

review_app = typer.Typer(help="Moderation: word lists, the offensive-text classifier, channel policies.",
                         no_args_is_help=True)
out = Console()
err = Console(stderr=True)
_TIER_STYLE = {"pass": "green", "needs_review": "yellow", "block": "bold red"}


def _fail(msg: str) -> None:
    err.print(f"[red]error:[/red] {msg}")
    raise typer.Exit(2)


def _show(verdict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(verdict.to_dict(), ensure_ascii=False))
        return
    style = _TIER_STYLE.get(verdict.tier, "")
    clf = "—" if verdict.classifier is None else f"{verdict.classifier:.3f}"
    out.print(f"[{style}]{verdict.tier}[/{style}]  score {verdict.score:.3f}  classifier {clf}  "
              f"channel {verdict.channel}{' (strict)' if verdict.strict else ''}")
    for r in verdict.reasons:
        out.print(f"  • {r.zh}\n    {r.en}")


@review_app.command()
def train(data: Path = typer.Option(None, "--data", help="COLD-format CSV (default: shared COLD_dev.csv)."),
          english: Path = typer.Option(None, "--english", help="Jigsaw-format CSV (default: shared jigsaw_sample "
                                       "when --data is not given)."),
          out_dir: Path = typer.Option(None, "--out", help="Folder for the model (default: the package data)."),
          version: str = typer.Option(None, "--version", help="Model version (default: the code's MODEL_VERSION)."),
          as_json: bool = typer.Option(False, "--json", help="Print the metadata as JSON.")) -> None:
    """Train the offensive-text classifier reproducibly (5-fold CV model selection, then refit)."""
    from zhimei.review.moderation.train import MODEL_VERSION, TrainError, train_classifier

    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                      disable=as_json or not err.is_terminal) as bar:
            task = bar.add_task("training", total=None)
            meta = train_classifier(data, english, out_dir=out_dir, version=version or MODEL_VERSION,
                                    progress=lambda s: bar.update(task, description=s))
    except TrainError as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(meta, ensure_ascii=False))
        return
    t = Table("candidate", "COLD macro-F1", "P", "R", "English macro-F1", title="5-fold cross-validation")
    for c in meta["cv"]["candidates"]:
        en = c.get("english", {}).get("macro_f1", "")
        t.add_row(c["name"], str(c["cold"]["macro_f1"]), str(c["cold"]["precision"]), str(c["cold"]["recall"]),
                  str(en))
    out.print(t)
    out.print(f"selected {meta['selected']} → {meta['path']} ({meta['bytes'] / 1e6:.2f} MB, "
              f"{meta['features']['n_features']} features)")
    if meta.get("semantic"):
        sem = meta["semantic"]
        out.print(f"semantic member: {sem['words']} words × {sem['dim']} dims from {sem['embedder']}, "
                  f"share {sem['share']}")


@review_app.command()
def check(text: str = typer.Argument(..., help="The text to check ('-' reads standard input)."),
          channel: str = typer.Option("default", "--channel", help="Policy channel."),
          strict: bool = typer.Option(False, "--strict", help="Strict mode (lower thresholds)."),
          as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON.")) -> None:
    """Moderate a text: tier, score, reasons, word-list hits with spans, classifier score."""
    from zhimei.review.moderation import ClassifierError, ModerationError, PolicyError, moderate_text

    if text == "-":
        text = sys.stdin.read()
    try:
        verdict = moderate_text(text, channel, strict=strict)
    except (ModerationError, PolicyError, ClassifierError) as exc:
        _fail(str(exc))
        return
    _show(verdict, as_json)


@review_app.command()
def asset(asset_id: int = typer.Argument(..., help="Asset id."),
          channel: str = typer.Option("default", "--channel", help="Policy channel."),
          strict: bool = typer.Option(False, "--strict", help="Strict mode (lower thresholds)."),
          as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON.")) -> None:
    """Moderate a stored asset over its title, transcript/OCR/paragraph segments and image-safety scores."""
    from zhimei.review.moderation import ClassifierError, ModerationError, PolicyError, moderate_asset
    from zhimei.store import migrate

    migrate()
    try:
        verdict = moderate_asset(asset_id, channel, strict=strict)
    except (ModerationError, PolicyError, ClassifierError) as exc:
        _fail(str(exc))
        return
    _show(verdict, as_json)


@review_app.command("lists")
def lists(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """The word lists in force (shipped + $ZHIMEI_HOME/review/wordlists), with counts and any file errors."""
    from collections import Counter

    from zhimei.review.moderation import default_lexicon

    lex = default_lexicon()
    comp = lex.current()
    files = Counter(t.source for t in comp.terms)
    cats = Counter(t.category for t in comp.terms)
    info = {"sources": [str(s) for s in lex.sources], "files": dict(files), "categories": dict(cats),
            "errors": lex.errors}
    if as_json:
        print(json.dumps(info, ensure_ascii=False))
        return
    for s in info["sources"]:
        out.print(f"folder {s}")
    for f, n in files.items():
        out.print(f"  {f}: {n} entries")
    out.print("categories: " + ", ".join(f"{k} {v}" for k, v in cats.items()))
    for e in lex.errors:
        err.print(f"[red]{e}[/red]")
