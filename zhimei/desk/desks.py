"""Desks (编辑部门) and their members: create, list, add/change/remove members, the desk's own history.

Only a chief of the desk (or an admin) manages its members; whoever creates a desk becomes its first chief."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from zhimei.desk.checks import check_desk_name, check_note, check_person, clean_text
from zhimei.desk.core import DESK_ROLES, desk_dict, event_dict, find_desk, need_role, record
from zhimei.desk.errors import DeskError
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models_desk import Desk, DeskEvent, DeskMember

__all__ = ["create_desk", "list_desks", "get_desk", "add_member", "remove_member", "list_members", "desk_history"]


def _check_role(role: Any) -> str:
    if role not in DESK_ROLES:
        raise DeskError(f"unknown desk role {role!r}: desk roles are {', '.join(DESK_ROLES)}")
    return role


def create_desk(name: str, *, actor: str, description: str = "") -> dict[str, Any]:
    """Create a desk; `actor` becomes its chief. A desk of that name already there: DeskError 409."""
    name = check_desk_name(name)
    actor = check_person(actor, "actor")
    description = clean_text(description, "description", 2000, multiline=True)
    try:
        with session_scope() as s:
            if s.scalars(select(Desk.id).where(Desk.name == name)).first() is not None:
                raise DeskError(f"a desk named {name!r} already exists", 409)
            desk = Desk(name=name, description=description, created_by=actor)
            s.add(desk)
            s.flush()
            s.add(DeskMember(desk_id=desk.id, name=actor, role="chief", added_by=actor))
            record(s, desk.id, None, actor, "desk_created", {"name": name})
            record(s, desk.id, None, actor, "member_added", {"member": actor, "role": "chief"})
            s.flush()
            return desk_dict(s, desk, members=True)
    except IntegrityError:
        raise DeskError(f"a desk named {name!r} already exists", 409) from None


def list_desks() -> list[dict[str, Any]]:
    """Every desk with its member count and item count per stage, by name."""
    with read_scope() as s:
        return [desk_dict(s, d) for d in s.scalars(select(Desk).order_by(Desk.name)).all()]


def get_desk(desk: int | str) -> dict[str, Any]:
    """One desk (by id or name) with its members."""
    with read_scope() as s:
        return desk_dict(s, find_desk(s, desk), members=True)


def list_members(desk: int | str) -> list[dict[str, Any]]:
    """The desk's members: chiefs first, then editors, reporters, proofreaders."""
    return get_desk(desk)["members"]


def add_member(desk: int | str, name: str, role: str, *, actor: str, admin: bool = False) -> dict[str, Any]:
    """Add `name` to the desk with a desk role, or change their role (a chief of the desk, or an admin).
    Returns the member; doing it twice changes nothing."""
    name = check_person(name)
    role = _check_role(role)
    actor = check_person(actor, "actor")
    try:
        return _add_member(desk, name, role, actor, admin)
    except IntegrityError:  # added by someone else at the same moment: now it is there, set the role
        return _add_member(desk, name, role, actor, admin)


def _add_member(desk: int | str, name: str, role: str, actor: str, admin: bool) -> dict[str, Any]:
    with session_scope() as s:
        d = find_desk(s, desk)
        need_role(s, d, actor, admin, ("chief",), "managing members")
        m = s.scalars(select(DeskMember).where(DeskMember.desk_id == d.id, DeskMember.name == name)
                      .with_for_update()).first()
        if m is None:
            m = DeskMember(desk_id=d.id, name=name, role=role, added_by=actor)
            s.add(m)
            record(s, d.id, None, actor, "member_added", {"member": name, "role": role})
        elif m.role != role:
            if m.role == "chief" and _chiefs(s, d.id) == 1:
                raise DeskError(f"{name!r} is the only chief of desk {d.name!r}; make someone else chief first", 409)
            record(s, d.id, None, actor, "member_changed", {"member": name, "from": m.role, "to": role})
            m.role = role
        s.flush()
        return {"desk": d.name, "name": m.name, "role": m.role, "added_by": m.added_by}


def _chiefs(s, desk_id: int) -> int:
    return s.scalar(select(func.count()).select_from(DeskMember)
                    .where(DeskMember.desk_id == desk_id, DeskMember.role == "chief")) or 0


def remove_member(desk: int | str, name: str, *, actor: str, admin: bool = False, note: str = "") -> None:
    """Take `name` off the desk (a chief of the desk, or an admin); items assigned to them keep their assignee
    until reassigned. The last chief cannot be removed."""
    name = check_person(name)
    actor = check_person(actor, "actor")
    note = check_note(note)
    with session_scope() as s:
        d = find_desk(s, desk)
        need_role(s, d, actor, admin, ("chief",), "managing members")
        m = s.scalars(select(DeskMember).where(DeskMember.desk_id == d.id, DeskMember.name == name)).first()
        if m is None:
            raise DeskError(f"no member {name!r} on desk {d.name!r}", 404)
        if m.role == "chief" and _chiefs(s, d.id) == 1:
            raise DeskError(f"{name!r} is the only chief of desk {d.name!r}; make someone else chief first", 409)
        s.delete(m)
        record(s, d.id, None, actor, "member_removed", {"member": name, "role": m.role}, note)


def desk_history(desk: int | str, *, limit: int = 200) -> list[dict[str, Any]]:
    """The desk's history, newest first: member changes and everything done to its items."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 5000:
        raise DeskError(f"limit must be between 1 and 5000, got {limit!r}")
    with read_scope() as s:
        d = find_desk(s, desk)
        rows = s.scalars(select(DeskEvent).where(DeskEvent.desk_id == d.id)
                         .order_by(DeskEvent.id.desc()).limit(limit)).all()
        names = dict(s.execute(select(Desk.id, Desk.name)).all())
        return [event_dict(e, names) for e in rows]
