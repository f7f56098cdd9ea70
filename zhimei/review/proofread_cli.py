"""`zhimei proofread FILE_OR_TEXT [--json]` and `zhimei proofread terms add|list|remove`: proofreading from the
command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperGroup

from zhimei.cli_common import fail as _fail
from zhimei.store.files import write_atomic

__all__ = ["register", "proofread_app", "terms_app"]

out = Console()
err = Console(stderr=True)


class _DefaultCheck(TyperGroup):
    """`zhimei proofread X` means `zhimei proofread check X` unless X names a sub-command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["check", *args]
        return super().parse_args(ctx, args)


proofread_app = typer.Typer(cls=_DefaultCheck, no_args_is_help=True,
                            help="智能校对 Proofreading: Chinese and English spelling, terms, number/date/punctuation "
                                 "style. `zhimei proofread FILE_OR_TEXT` checks a file or a text.")
terms_app = typer.Typer(help="The term dictionary ($ZHIMEI_HOME/proofread/terms.json).", no_args_is_help=True)
proofread_app.add_typer(terms_app, name="terms")


def _read_input(value: str) -> str:
    if value == "-":
        return sys.stdin.read()
    p = Path(value)
    if len(value) < 4096 and "\n" not in value and p.is_file():
        try:
            return p.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            _fail(f"{value} is not UTF-8 text")
        except OSError as exc:
            _fail(f"{value} cannot be read: {exc}")
    return value


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"{line}:{col}"


@proofread_app.command("check")
def check_cmd(
    source: str = typer.Argument(..., metavar="FILE_OR_TEXT", help="a UTF-8 text file, '-' for stdin, or the text"),
    as_json: bool = typer.Option(False, "--json", help="print the suggestions as JSON"),
    lang: str = typer.Option("auto", "--lang", help="auto, zh or en"),
    kinds: str = typer.Option("", "--kinds", help="comma-separated: spelling,term,english,number,date,punctuation"),
    no_lm: bool = typer.Option(False, "--no-lm", help="skip Chinese spelling (the slow language-model pass)"),
    apply_to: Path | None = typer.Option(None, "--apply", help="write the text with every suggestion applied here"),
) -> None:
    """Proofread a file or a text; suggestions with line:column, or JSON."""
    from zhimei.review.proofread import MAX_CHARS, ProofreadError, apply_suggestions, proofread

    text = _read_input(source)
    limit = -1 if no_lm else MAX_CHARS
    kind_list = [k.strip() for k in kinds.split(",") if k.strip()] or None
    try:
        if len(text) > 2000 and not as_json:
            with Progress(TextColumn("校对 proofreading"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                          TimeRemainingColumn(), console=err, transient=True) as bar:
                task = bar.add_task("proofread", total=len(text))
                found = proofread(text, lang=lang, kinds=kind_list, lm_max_chars=limit,
                                  progress=lambda done, total: bar.update(task, completed=done))
        else:
            found = proofread(text, lang=lang, kinds=kind_list, lm_max_chars=limit)
    except ProofreadError as exc:
        _fail(str(exc))
    if apply_to is not None:
        write_atomic(apply_to, apply_suggestions(text, found))
    if as_json:
        print(json.dumps({"chars": len(text), "suggestions": [s.to_dict() for s in found]}, ensure_ascii=False))
        return
    if not found:
        out.print("没有发现问题 No suggestions.")
        return
    table = Table("位置 at", "原文 original", "建议 suggestion", "类型 kind", "置信 conf.", "说明 reason")
    for s in found:
        table.add_row(_line_col(text, s.start), s.original, s.replacement, s.kind, f"{s.confidence:.2f}",
                      f"{s.reason_zh} / {s.reason_en}")
    out.print(table)
    out.print(f"{len(found)} 条建议 suggestions" + (f"; corrected text written to {apply_to}" if apply_to else ""))


@terms_app.command("add")
def terms_add(term: str = typer.Argument(..., help="the exact form"),
              variant: list[str] = typer.Option([], "--variant", "-v", help="a wrong form (repeatable)"),
              note: str = typer.Option("", "--note")) -> None:
    """Add (or replace) a term with its wrong variants."""
    from zhimei.review.proofread import ProofreadError, add_term

    try:
        t = add_term(term, variant, note)
    except ProofreadError as exc:
        _fail(str(exc))
    out.print(f"added {t.term}" + (f" ← {', '.join(t.variants)}" if t.variants else ""))


@terms_app.command("list")
def terms_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the term dictionary."""
    from zhimei.review.proofread import ProofreadError, load_terms

    try:
        terms = load_terms()
    except ProofreadError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps([t.to_dict() for t in terms], ensure_ascii=False))
        return
    table = Table("术语 term", "误写 variants", "备注 note")
    for t in terms:
        table.add_row(t.term, ", ".join(t.variants), t.note)
    out.print(table)


@terms_app.command("remove")
def terms_remove(term: str) -> None:
    """Remove a term."""
    from zhimei.review.proofread import remove_term

    if not remove_term(term):
        _fail(f"no term {term!r} in the dictionary")
    out.print(f"removed {term}")


@proofread_app.command("build-data")
def build_data() -> None:
    """Rebuild the packaged confusion sets from pycorrector's and pypinyin's data (developers)."""
    root = Path(__file__).resolve().parents[2]
    script = root / "scripts" / "build_proofread_data.py"
    if not script.is_file():
        _fail(f"{script} not found (run from a source checkout)")
    import runpy

    runpy.run_path(str(script), run_name="__main__")


def register(app: typer.Typer, **_: Any) -> None:
    """Mount this module's commands on the top-level `zhimei` app."""
    app.add_typer(proofread_app, name="proofread")
