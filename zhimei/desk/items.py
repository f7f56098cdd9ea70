"""Items on a desk: add an asset, move it through the stages, assign and hand over, transfer to another desk,
notes, and the per-item history.

Every change of an item names the version it read (``version``) or carries the edit lock's token
(``lock_token``); an item locked by someone else refuses the change with 409 naming the holder and the expiry."""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhimei.desk.checks import check_id, check_note, check_person, clean_text
from zhimei.desk.core import (
    MANAGERS,
    STAGE_ROLES,
    STAGES,
    TRANSITIONS,
    allowed_moves,
    desk_dict,
    event_dict,
    find_desk,
    iso,
    item_dict,
    item_dicts,
    load_item,
    lock_active,
    member_role,
    need_role,
    record,
)
from zhimei.desk.errors import DeskError
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset, utcnow
from zhimei.store.models_desk import Desk, DeskEvent, DeskItem

__all__ = ["add_item", "list_items", "get_item", "item_history", "move_item", "assign_item", "handover_item",
           "transfer_item", "retitle_item", "add_note", "desk_board", "check_write"]


def check_write(item: DeskItem, actor: str, version: int | None, lock_token: str | None) -> None:
    """Refuse a change that could overwrite someone else's: locked by another person (409 naming them and
    until when), a wrong or expired lock token (409), a stale version (409), or neither version nor token (428)."""
    now = utcnow()
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise DeskError(f"version must be a positive whole number, got {version!r}")
    if lock_active(item, now):
        if item.lock_holder != actor:
            raise DeskError(f"item {item.id} is locked by {item.lock_holder} until {iso(item.lock_expires_at)}",
                            409, holder=item.lock_holder, until=iso(item.lock_expires_at))
        if lock_token is None:
            raise DeskError(f"item {item.id} is locked by you ({actor}) until {iso(item.lock_expires_at)}: "
                            "send the lock token with the change", 409, holder=actor,
                            until=iso(item.lock_expires_at))
        if not hmac.compare_digest(str(lock_token).encode(), (item.lock_token or "").encode()):
            raise DeskError(f"the lock token does not match the lock on item {item.id}", 409)
    elif lock_token is not None:
        if item.lock_holder and item.lock_token and hmac.compare_digest(str(lock_token).encode(),
                                                                         item.lock_token.encode()):
            raise DeskError(f"your lock on item {item.id} expired at {iso(item.lock_expires_at)}: lock it again",
                            409)
        raise DeskError(f"item {item.id} is not locked with that token (the lock was released, broken or taken "
                        "over): lock it again", 409)
    if version is not None and version != item.version:
        raise DeskError(f"item {item.id} has changed since you read it (you have version {version}, it is now "
                        f"version {item.version}): reload it", 409, version=item.version)
    if version is None and lock_token is None:
        raise DeskError(f"send the version of item {item.id} you read (it is {item.version}) or your lock token "
                        "with the change", 428, version=item.version)


def _touch(item: DeskItem) -> None:
    item.version += 1
    item.updated_at = utcnow()


def _writable(s: Session, item_id: int, actor: str, admin: bool, roles: tuple[str, ...] | None = None,
              doing: str = "this") -> tuple[DeskItem, Desk, str | None]:
    item = load_item(s, item_id, for_update=True)
    desk = s.get(Desk, item.desk_id)
    assert desk is not None
    role = need_role(s, desk, actor, admin, roles or ("chief", "editor", "reporter", "proofreader"), doing)
    return item, desk, role


def _member_or_404(s: Session, desk: Desk, name: str) -> str:
    role = member_role(s, desk.id, name)
    if role is None:
        raise DeskError(f"no member {name!r} on desk {desk.name!r}", 404)
    return role


def add_item(desk: int | str, asset_id: int, *, actor: str, title: str | None = None, assignee: str | None = None,
             note: str = "", admin: bool = False) -> dict[str, Any]:
    """Put an asset on a desk as a new item in stage incoming (title: the asset's unless given). The same asset
    again on the same desk returns the existing item (``created`` false); on another desk: 409 naming it."""
    asset_id = check_id(asset_id, "asset id")
    actor = check_person(actor, "actor")
    note = check_note(note)
    title = clean_text(title, "title", 1000) if title is not None else None
    assignee = check_person(assignee, "assignee") if assignee else None
    try:
        return _add_item(desk, asset_id, actor, title, assignee, note, admin)
    except IntegrityError:  # the same asset added at the same moment elsewhere: answer with the winner
        return _add_item(desk, asset_id, actor, title, assignee, note, admin)


def _add_item(desk: int | str, asset_id: int, actor: str, title: str | None, assignee: str | None, note: str,
              admin: bool) -> dict[str, Any]:
    with session_scope() as s:
        d = find_desk(s, desk)
        need_role(s, d, actor, admin, doing="adding items")
        asset = s.get(Asset, asset_id)
        if asset is None:
            raise DeskError(f"no asset {asset_id}", 404)
        have = s.scalars(select(DeskItem).where(DeskItem.asset_id == asset_id)).first()
        if have is not None:
            if have.desk_id != d.id:
                other = s.get(Desk, have.desk_id)
                raise DeskError(f"asset {asset_id} is already on desk {other.name if other else have.desk_id!r} "
                                f"as item {have.id}: transfer that item instead", 409, item_id=have.id)
            return {**item_dict(s, have, d), "created": False}
        if assignee:
            _member_or_404(s, d, assignee)
        now = utcnow()
        item = DeskItem(desk_id=d.id, asset_id=asset_id, title=title or asset.title or f"asset {asset_id}",
                        stage="incoming", assignee=assignee, version=1, created_by=actor, created_at=now,
                        updated_at=now, stage_at=now)
        s.add(item)
        s.flush()
        record(s, d.id, item.id, actor, "created", {"asset_id": asset_id, "stage": "incoming",
                                                    "assignee": assignee}, note)
        s.flush()
        return {**item_dict(s, item, d), "created": True}


def _stage_order():
    return case({st: i for i, st in enumerate(STAGES)}, value=DeskItem.stage)


def list_items(desk: int | str, *, stage: str | None = None, assignee: str | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
    """The desk's items, by stage then most recently changed first; filtered by stage and assignee."""
    if stage is not None:
        allowed_moves(stage)  # names the stages when unknown
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 5000:
        raise DeskError(f"limit must be between 1 and 5000, got {limit!r}")
    with read_scope() as s:
        d = find_desk(s, desk)
        q = select(DeskItem).where(DeskItem.desk_id == d.id)
        if stage is not None:
            q = q.where(DeskItem.stage == stage)
        if assignee is not None:
            q = q.where(DeskItem.assignee == assignee)
        rows = s.scalars(q.order_by(_stage_order(), DeskItem.updated_at.desc(), DeskItem.id.desc())
                         .limit(limit)).all()
        return item_dicts(s, list(rows), d)


def _history(s: Session, item_id: int) -> list[dict[str, Any]]:
    rows = s.scalars(select(DeskEvent).where(DeskEvent.item_id == item_id).order_by(DeskEvent.id)).all()
    names = dict(s.execute(select(Desk.id, Desk.name)).all())
    return [event_dict(e, names) for e in rows]


def get_item(item_id: int) -> dict[str, Any]:
    """One item with its history (oldest first)."""
    with read_scope() as s:
        item = load_item(s, item_id)
        return {**item_dict(s, item), "history": _history(s, item.id)}


def item_history(item_id: int) -> list[dict[str, Any]]:
    """Who did what to the item, oldest first (append-only rows)."""
    with read_scope() as s:
        item = load_item(s, item_id)
        return _history(s, item.id)


def move_item(item_id: int, stage: str, *, actor: str, version: int | None = None, lock_token: str | None = None,
              note: str = "", admin: bool = False) -> dict[str, Any]:
    """Move an item to another stage. A move its stage does not allow: 409 naming the allowed ones; ready and
    published need a chief or editor of the desk. Moving to the stage it is in changes nothing."""
    actor = check_person(actor, "actor")
    note = check_note(note)
    if stage not in TRANSITIONS:
        raise DeskError(f"unknown stage {stage!r}: stages are {', '.join(STAGES)}")
    with session_scope() as s:
        item, desk, _ = _writable(s, item_id, actor, admin, STAGE_ROLES.get(stage), f"moving an item to {stage}")
        if item.stage == stage:
            return item_dict(s, item, desk)
        if stage not in TRANSITIONS[item.stage]:
            raise DeskError(f"item {item.id} cannot move from {item.stage} to {stage}: from {item.stage} it can "
                            f"move to {', '.join(TRANSITIONS[item.stage]) or 'nowhere'}", 409,
                            allowed=list(TRANSITIONS[item.stage]))
        check_write(item, actor, version, lock_token)
        before = item.stage
        item.stage = stage
        item.stage_at = utcnow()
        _touch(item)
        record(s, desk.id, item.id, actor, "moved", {"from": before, "to": stage}, note)
        s.flush()
        return item_dict(s, item, desk)


def assign_item(item_id: int, assignee: str | None, *, actor: str, version: int | None = None,
                lock_token: str | None = None, note: str = "", admin: bool = False) -> dict[str, Any]:
    """Assign the item to a member of its desk (None: nobody). Chiefs and editors assign anyone; other members
    may take an unassigned item themselves."""
    actor = check_person(actor, "actor")
    note = check_note(note)
    assignee = check_person(assignee, "assignee") if assignee else None
    with session_scope() as s:
        item, desk, role = _writable(s, item_id, actor, admin)
        if assignee is not None:
            _member_or_404(s, desk, assignee)
        if assignee == item.assignee:
            return item_dict(s, item, desk)
        if not admin and role not in MANAGERS and not (assignee == actor and item.assignee is None):
            raise DeskError(f"assigning item {item.id} needs the desk role chief or editor on desk {desk.name!r}; "
                            f"a {role} may only take an unassigned item themselves", 403)
        check_write(item, actor, version, lock_token)
        before = item.assignee
        item.assignee = assignee
        _touch(item)
        record(s, desk.id, item.id, actor, "assigned", {"from": before, "to": assignee}, note)
        s.flush()
        return item_dict(s, item, desk)


def handover_item(item_id: int, to: str, *, actor: str, note: str, version: int | None = None,
                  lock_token: str | None = None, admin: bool = False) -> dict[str, Any]:
    """Hand the item over to another member of its desk, with a note saying where it stands (required). The
    current assignee, or a chief or editor of the desk, hands over."""
    actor = check_person(actor, "actor")
    note = check_note(note, "hand-over note", required=True)
    to = check_person(to, "member to hand over to")
    with session_scope() as s:
        item, desk, role = _writable(s, item_id, actor, admin)
        _member_or_404(s, desk, to)
        if not admin and role not in MANAGERS and item.assignee != actor:
            raise DeskError(f"only the assignee of item {item.id} ({item.assignee or 'nobody'}) or a chief or "
                            f"editor of desk {desk.name!r} hands it over", 403)
        if item.assignee == to:
            raise DeskError(f"item {item.id} is already with {to}", 409)
        check_write(item, actor, version, lock_token)
        before = item.assignee
        item.assignee = to
        _touch(item)
        record(s, desk.id, item.id, actor, "handed_over", {"from": before, "to": to}, note)
        s.flush()
        return item_dict(s, item, desk)


def transfer_item(item_id: int, desk: int | str, *, actor: str, version: int | None = None,
                  lock_token: str | None = None, note: str = "", admin: bool = False) -> dict[str, Any]:
    """Move the item to another desk (a chief or editor of its desk). It keeps its stage; its assignee stays only
    when a member of the new desk; its edit lock is released."""
    actor = check_person(actor, "actor")
    note = check_note(note)
    with session_scope() as s:
        item, src, _ = _writable(s, item_id, actor, admin, MANAGERS, "moving an item to another desk")
        dst = find_desk(s, desk)
        if dst.id == src.id:
            return item_dict(s, item, src)
        check_write(item, actor, version, lock_token)
        detail: dict[str, Any] = {"from": src.name, "to": dst.name}
        if item.assignee and member_role(s, dst.id, item.assignee) is None:
            detail["unassigned"] = item.assignee
            item.assignee = None
        if item.lock_holder:
            detail["lock_released"] = item.lock_holder
            item.lock_holder = item.lock_token = None
            item.lock_expires_at = None
        item.desk_id = dst.id
        _touch(item)
        record(s, src.id, item.id, actor, "transferred", detail, note)
        s.flush()
        return item_dict(s, item, dst)


def retitle_item(item_id: int, title: str, *, actor: str, version: int | None = None, lock_token: str | None = None,
                 note: str = "", admin: bool = False) -> dict[str, Any]:
    """Change the item's working title (any member of its desk; the same version/lock rules as every change)."""
    actor = check_person(actor, "actor")
    note = check_note(note)
    title = clean_text(title, "title", 1000, required=True)
    with session_scope() as s:
        item, desk, _ = _writable(s, item_id, actor, admin, doing="changing titles")
        if item.title == title:
            return item_dict(s, item, desk)
        check_write(item, actor, version, lock_token)
        before = item.title
        item.title = title
        _touch(item)
        record(s, desk.id, item.id, actor, "retitled", {"from": before, "to": title}, note)
        s.flush()
        return item_dict(s, item, desk)


def add_note(item_id: int, note: str, *, actor: str, admin: bool = False) -> dict[str, Any]:
    """Add a note to the item's history (any member of its desk; a lock does not stop notes). Returns the row."""
    actor = check_person(actor, "actor")
    note = check_note(note, required=True)
    with session_scope() as s:
        item = load_item(s, item_id)
        desk = s.get(Desk, item.desk_id)
        assert desk is not None
        need_role(s, desk, actor, admin, doing="adding notes")
        ev = record(s, desk.id, item.id, actor, "note", {}, note)
        s.flush()
        return event_dict(ev, {desk.id: desk.name})


def desk_board(desk: int | str, *, per_stage: int = 200) -> dict[str, Any]:
    """The desk board: the desk with its members, and one column per stage with its most recently changed items
    (at most `per_stage`; ``stages`` has the full counts)."""
    if isinstance(per_stage, bool) or not isinstance(per_stage, int) or not 1 <= per_stage <= 2000:
        raise DeskError(f"per_stage must be between 1 and 2000, got {per_stage!r}")
    with read_scope() as s:
        d = find_desk(s, desk)
        out = desk_dict(s, d, members=True)
        columns = []
        for st in STAGES:
            rows = s.scalars(select(DeskItem).where(DeskItem.desk_id == d.id, DeskItem.stage == st)
                             .order_by(DeskItem.updated_at.desc(), DeskItem.id.desc()).limit(per_stage)).all()
            columns.append({"stage": st, "total": out["stages"][st], "items": item_dicts(s, list(rows), d)})
        out["columns"] = columns
        return out
