"""CLI: ``zhimei desk list|create|show|members|add-member|remove-member|items|add|move|assign|handover|transfer|
retitle|note|lock|renew|unlock|break-lock|history`` (registered on the `zhimei` app by `register`).

The command line is the operator's: it passes every desk-role check (like an admin token) but never someone
else's edit lock. ``--as NAME`` records who did it (default ``cli:<login name>``). A change without
``--version`` or ``--lock-token`` uses the item's current version."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["register", "desk_app"]

out = Console()
desk_app = typer.Typer(no_args_is_help=True,
                       help="编辑部 Desks: members and desk roles, items through the stages (incoming → in_progress → "
                            "proofread → review → ready → published), assignment, hand-over, edit locks, history.")

_AS = typer.Option(None, "--as", help="Who does it (default cli:<login name>).")
_JSON = typer.Option(False, "--json", help="Print JSON.")
_VERSION = typer.Option(None, "--version", help="The item version you read (default: the current one).")
_TOKEN = typer.Option(None, "--lock-token", help="Your lock token (from `zhimei desk lock`).")
_NOTE = typer.Option("", "--note", "-n", help="A note kept in the item's history.")


def _ready() -> None:
    from zhimei.cli_common import ready

    ready()


def _fail(msg: str, code: int = 2) -> None:
    from zhimei.cli_common import fail

    fail(msg, code)


def _actor(name: str | None) -> str:
    from zhimei.cli_common import actor

    return name or actor()


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    from zhimei.desk import DeskError

    try:
        return fn(*args, **kwargs)
    except DeskError as exc:
        _fail(str(exc), 1 if exc.status in (409, 428) else 2)


def _json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False))


def _version(item_id: int, version: int | None, token: str | None) -> int | None:
    from zhimei.desk import get_item

    if version is None and token is None:
        return _call(get_item, item_id)["version"]
    return version


def _item_line(it: dict[str, Any]) -> None:
    lock = ""
    if it["lock"]:
        lock = f" · [yellow]🔒 {escape(it['lock']['holder'])} until {it['lock']['expires_at']}[/yellow]"
    out.print(f"item {it['id']} · [bold]{escape(it['stage'])}[/bold] · {escape(it['desk'] or '')} · asset "
              f"{it['asset_id']} · {escape(it['title'])} · {escape(it['assignee'] or 'unassigned')} · v{it['version']}"
              f"{lock}", soft_wrap=True)


def _show(value: Any, as_json: bool) -> None:
    if as_json:
        _json(value)
    elif isinstance(value, dict) and "stage" in value:
        _item_line(value)
    else:
        out.print(escape(json.dumps(value, ensure_ascii=False)), soft_wrap=True)


@desk_app.command("list")
def list_cmd(as_json: bool = _JSON) -> None:
    """Desks with their members and items per stage."""
    from zhimei.desk import STAGES, list_desks

    _ready()
    desks = list_desks()
    if as_json:
        _json(desks)
        return
    t = Table("id", "desk", "members", "items", *STAGES)
    for d in desks:
        t.add_row(str(d["id"]), d["name"], str(d["member_count"]), str(d["item_count"]),
                  *(str(d["stages"][s]) for s in STAGES))
    out.print(t)


@desk_app.command("create")
def create_cmd(name: str = typer.Argument(..., help="Desk name, e.g. 时政."),
               description: str = typer.Option("", "--description", "-d"), who: str = _AS,
               as_json: bool = _JSON) -> None:
    """Create a desk (who creates it becomes its chief)."""
    from zhimei.desk import create_desk

    _ready()
    d = _call(create_desk, name, actor=_actor(who), description=description)
    if as_json:
        _json(d)
    else:
        out.print(f"desk {d['id']} · {escape(d['name'])} · chief {escape(d['members'][0]['name'])}")


@desk_app.command("show")
def show_cmd(desk: str = typer.Argument(..., help="Desk id or name."), as_json: bool = _JSON) -> None:
    """The desk board: members, then each stage's items."""
    from zhimei.desk import desk_board

    _ready()
    board = _call(desk_board, desk)
    if as_json:
        _json(board)
        return
    out.print(f"[bold]{escape(board['name'])}[/bold] · " + ", ".join(
        f"{escape(m['name'])} ({m['role']})" for m in board["members"]), soft_wrap=True)
    for col in board["columns"]:
        out.print(f"[bold]{col['stage']}[/bold] ({len(col['items'])})")
        for it in col["items"]:
            _item_line(it)


@desk_app.command("members")
def members_cmd(desk: str = typer.Argument(..., help="Desk id or name."), as_json: bool = _JSON) -> None:
    """The desk's members and their desk roles."""
    from zhimei.desk import list_members

    _ready()
    members = _call(list_members, desk)
    if as_json:
        _json(members)
        return
    t = Table("member", "role", "added by", "added at")
    for m in members:
        t.add_row(m["name"], m["role"], m["added_by"], m["added_at"])
    out.print(t)


@desk_app.command("add-member")
def add_member_cmd(desk: str = typer.Argument(..., help="Desk id or name."),
                   name: str = typer.Argument(..., help="The person (a token name)."),
                   role: str = typer.Option("reporter", "--role", "-r", help="chief | editor | reporter | proofreader"),
                   who: str = _AS, as_json: bool = _JSON) -> None:
    """Add a member to a desk, or change their desk role."""
    from zhimei.desk import add_member

    _ready()
    m = _call(add_member, desk, name, role, actor=_actor(who), admin=True)
    if as_json:
        _json(m)
    else:
        out.print(f"{escape(m['name'])} is {m['role']} on {escape(m['desk'])}")


@desk_app.command("remove-member")
def remove_member_cmd(desk: str = typer.Argument(..., help="Desk id or name."),
                      name: str = typer.Argument(..., help="The member."), who: str = _AS,
                      note: str = _NOTE) -> None:
    """Take a member off a desk."""
    from zhimei.desk import remove_member

    _ready()
    _call(remove_member, desk, name, actor=_actor(who), admin=True, note=note)
    out.print(f"removed {escape(name)}")


@desk_app.command("items")
def items_cmd(desk: str = typer.Argument(..., help="Desk id or name."),
              stage: str = typer.Option(None, "--stage", "-s"), assignee: str = typer.Option(None, "--assignee"),
              as_json: bool = _JSON) -> None:
    """The desk's items by stage."""
    from zhimei.desk import list_items

    _ready()
    items = _call(list_items, desk, stage=stage, assignee=assignee)
    if as_json:
        _json(items)
        return
    for it in items:
        _item_line(it)
    out.print(f"{len(items)} item(s)")


@desk_app.command("add")
def add_cmd(desk: str = typer.Argument(..., help="Desk id or name."),
            asset_id: int = typer.Argument(..., help="The asset to work on."),
            title: str = typer.Option(None, "--title", help="Default: the asset's title."),
            assignee: str = typer.Option(None, "--assignee", help="A member of the desk."),
            note: str = _NOTE, who: str = _AS, as_json: bool = _JSON) -> None:
    """Put an asset on a desk (stage incoming); the same asset again shows the existing item."""
    from zhimei.desk import add_item

    _ready()
    it = _call(add_item, desk, asset_id, actor=_actor(who), title=title, assignee=assignee, note=note, admin=True)
    _show(it, as_json)


@desk_app.command("move")
def move_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
             stage: str = typer.Argument(..., help="incoming | in_progress | proofread | review | ready | published"),
             version: int = _VERSION, lock_token: str = _TOKEN, note: str = _NOTE, who: str = _AS,
             as_json: bool = _JSON) -> None:
    """Move an item to another stage (a move its stage does not allow names the allowed ones)."""
    from zhimei.desk import move_item

    _ready()
    it = _call(move_item, item_id, stage, actor=_actor(who), version=_version(item_id, version, lock_token),
               lock_token=lock_token, note=note, admin=True)
    _show(it, as_json)


@desk_app.command("assign")
def assign_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
               name: str = typer.Argument(None, help="A member of the desk (leave out with --nobody)."),
               nobody: bool = typer.Option(False, "--nobody", help="Unassign."),
               version: int = _VERSION, lock_token: str = _TOKEN, note: str = _NOTE, who: str = _AS,
               as_json: bool = _JSON) -> None:
    """Assign an item to a member of its desk."""
    from zhimei.desk import assign_item

    _ready()
    if (name is None) == (not nobody):
        _fail("give a member NAME or --nobody (one of them)")
    it = _call(assign_item, item_id, None if nobody else name, actor=_actor(who),
               version=_version(item_id, version, lock_token), lock_token=lock_token, note=note, admin=True)
    _show(it, as_json)


@desk_app.command("handover")
def handover_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
                 to: str = typer.Argument(..., help="The member taking it over."),
                 note: str = typer.Option(..., "--note", "-n", help="Where the item stands (required)."),
                 version: int = _VERSION, lock_token: str = _TOKEN, who: str = _AS, as_json: bool = _JSON) -> None:
    """Hand an item over to another member, with a note."""
    from zhimei.desk import handover_item

    _ready()
    it = _call(handover_item, item_id, to, actor=_actor(who), note=note,
               version=_version(item_id, version, lock_token), lock_token=lock_token, admin=True)
    _show(it, as_json)


@desk_app.command("transfer")
def transfer_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
                 desk: str = typer.Argument(..., help="The desk (id or name) to move it to."),
                 version: int = _VERSION, lock_token: str = _TOKEN, note: str = _NOTE, who: str = _AS,
                 as_json: bool = _JSON) -> None:
    """Move an item to another desk."""
    from zhimei.desk import transfer_item

    _ready()
    it = _call(transfer_item, item_id, desk, actor=_actor(who), version=_version(item_id, version, lock_token),
               lock_token=lock_token, note=note, admin=True)
    _show(it, as_json)


@desk_app.command("retitle")
def retitle_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
                title: str = typer.Argument(..., help="The new working title."),
                version: int = _VERSION, lock_token: str = _TOKEN, note: str = _NOTE, who: str = _AS,
                as_json: bool = _JSON) -> None:
    """Change an item's working title."""
    from zhimei.desk import retitle_item

    _ready()
    it = _call(retitle_item, item_id, title, actor=_actor(who), version=_version(item_id, version, lock_token),
               lock_token=lock_token, note=note, admin=True)
    _show(it, as_json)


@desk_app.command("note")
def note_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
             text: str = typer.Argument(..., help="The note."), who: str = _AS, as_json: bool = _JSON) -> None:
    """Add a note to an item's history."""
    from zhimei.desk import add_note

    _ready()
    ev = _call(add_note, item_id, text, actor=_actor(who), admin=True)
    if as_json:
        _json(ev)
    else:
        out.print(f"note {ev['id']} on item {item_id}")


@desk_app.command("lock")
def lock_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
             minutes: float = typer.Option(None, "--minutes", help="Default: the desk_lock_minutes setting."),
             who: str = _AS, as_json: bool = _JSON) -> None:
    """Lock an item for editing; prints the lock token that changes and `unlock` need."""
    from zhimei.desk import acquire_lock

    _ready()
    lock = _call(acquire_lock, item_id, actor=_actor(who), minutes=minutes, admin=True)
    if as_json:
        _json(lock)
    else:
        out.print(f"item {item_id} locked by {escape(lock['holder'])} until {lock['expires_at']}"
                  f"{' (renewed)' if lock['renewed'] else ''}")
        typer.echo(f"token: {lock['token']}")


@desk_app.command("renew")
def renew_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
              token: str = typer.Option(..., "--token", help="Your lock token."),
              minutes: float = typer.Option(None, "--minutes"), who: str = _AS, as_json: bool = _JSON) -> None:
    """Extend your lock on an item."""
    from zhimei.desk import renew_lock

    _ready()
    lock = _call(renew_lock, item_id, token, actor=_actor(who), minutes=minutes)
    if as_json:
        _json(lock)
    else:
        out.print(f"item {item_id} locked until {lock['expires_at']}")


@desk_app.command("unlock")
def unlock_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
               token: str = typer.Option(..., "--token", help="Your lock token."), who: str = _AS,
               as_json: bool = _JSON) -> None:
    """Release your lock on an item."""
    from zhimei.desk import release_lock

    _ready()
    r = _call(release_lock, item_id, token, actor=_actor(who))
    if as_json:
        _json(r)
    else:
        out.print(f"item {item_id} {'unlocked' if r['released'] else 'was not locked (nothing to do)'}")


@desk_app.command("break-lock")
def break_cmd(item_id: int = typer.Argument(..., help="Desk item id."),
              reason: str = typer.Option("", "--reason", help="Why (kept in the history)."), who: str = _AS,
              as_json: bool = _JSON) -> None:
    """Break someone's lock on an item (recorded)."""
    from zhimei.desk import break_lock

    _ready()
    r = _call(break_lock, item_id, actor=_actor(who), reason=reason, admin=True)
    if as_json:
        _json(r)
    else:
        out.print(f"broke {escape(r['holder'])}'s lock on item {item_id}")


@desk_app.command("history")
def history_cmd(item_id: int = typer.Argument(None, help="Desk item id (or --desk)."),
                desk: str = typer.Option(None, "--desk", help="A desk's whole history instead, newest first."),
                limit: int = typer.Option(200, "--limit"), as_json: bool = _JSON) -> None:
    """Who did what to an item (oldest first), or on a desk."""
    from zhimei.desk import desk_history, item_history

    _ready()
    if (item_id is None) == (desk is None):
        _fail("give an ITEM_ID or --desk NAME (one of them)")
    rows = _call(item_history, item_id) if item_id is not None else _call(desk_history, desk, limit=limit)
    if as_json:
        _json(rows)
        return
    t = Table("at", "who", "action", "item", "detail", "note")
    for ev in rows:
        t.add_row(ev["at"][:19], ev["actor"], ev["action"], str(ev["item_id"] or ""),
                  json.dumps(ev["detail"], ensure_ascii=False) if ev["detail"] else "", ev["note"])
    out.print(t)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `zhimei` command line."""
    app.add_typer(desk_app, name="desk")
