"""`zhimei people`: list, show, name, merge and split the library's people (face clusters)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

__all__ = ["people_app"]

people_app = typer.Typer(help="People seen in the library (face clusters): list, show, name, merge, split.",
                         no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _run(fn, *args: Any, **kwargs: Any) -> Any:
    from zhimei.library.understand import PeopleError, PersonNotFound
    from zhimei.store import migrate, session_scope

    migrate()
    try:
        with session_scope() as session:
            return fn(session, *args, **kwargs)
    except (PersonNotFound, PeopleError) as exc:
        err.print(f"[red]{str(exc).strip(chr(39))}[/red]")
        raise typer.Exit(1) from None


def _label(p: dict[str, Any]) -> str:
    return p["name"] or f"(unnamed #{p['id']})"


@people_app.command("list")
def list_cmd(q: str = typer.Option("", "--q", help="part of a name"), limit: int = typer.Option(100, min=1, max=500),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """People, most seen first."""
    from zhimei.library.understand import list_people

    items, total = _run(list_people, q=q or None, limit=limit)
    if as_json:
        print(json.dumps({"total": total, "items": items}, ensure_ascii=False, indent=2))
        return
    for p in items:
        console.print(f"#{p['id']:<6} {_label(p):<30} faces {p['faces']:>5}  assets {p['assets']:>4}")
    console.print(f"{total} people")


@people_app.command("show")
def show_cmd(person_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """A person and every appearance (asset and time)."""
    from zhimei.library.understand import person_detail

    p = _run(person_detail, person_id)
    if as_json:
        print(json.dumps(p, ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]#{p['id']} {_label(p)}[/bold]  faces {p['faces']}  assets {p['assets']}")
    for a in p["appearances"]:
        when = f"{a['time']:.2f}s" if a["time"] is not None else "image"
        console.print(f"  asset #{a['asset_id']:<6} {when:>9}  face {a['face_id']}  {a['title'][:60]}")


@people_app.command("name")
def name_cmd(person_id: int, name: str, who: str = typer.Option("cli", help="recorded as who named the person")
             ) -> None:
    """Name a person ("" clears the name)."""
    from zhimei.library.understand import name_person

    p = _run(name_person, person_id, name, who)
    console.print(f"#{p['id']} is now {_label(p)}")


@people_app.command("merge")
def merge_cmd(into: int, others: list[int], who: str = typer.Option("cli")) -> None:
    """Merge OTHERS into INTO (their faces move; they are deleted)."""
    from zhimei.library.understand import merge_people

    p = _run(merge_people, into, others, who)
    console.print(f"#{p['id']} {_label(p)} now has {p['faces']} faces")


@people_app.command("split")
def split_cmd(face_ids: list[int], name: str = typer.Option("", help="name of the new person"),
              who: str = typer.Option("cli")) -> None:
    """Split faces off into a new person."""
    from zhimei.library.understand import split_faces

    p = _run(split_faces, face_ids, who, name)
    console.print(f"new person #{p['id']} {_label(p)} with {p['faces']} faces")
