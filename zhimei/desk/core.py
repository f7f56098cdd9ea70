"""What the desk modules share: stages and the moves between them (defined once here), desk and member look-ups,
desk-role checks, the history writer and the dicts the API shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.desk.errors import DeskError
from zhimei.store.models import Asset, utcnow
from zhimei.store.models_desk import DESK_ROLES, DESK_STAGES, Desk, DeskEvent, DeskItem, DeskMember

__all__ = ["STAGES", "DESK_ROLES", "TRANSITIONS", "STAGE_ROLES", "MANAGERS", "allowed_moves", "find_desk",
           "member_role", "need_role", "record", "desk_dict", "item_dict", "item_dicts", "event_dict", "lock_active",
           "iso", "load_item"]

STAGES = DESK_STAGES
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "incoming": ("in_progress",),
    "in_progress": ("proofread", "incoming"),
    "proofread": ("review", "in_progress"),
    "review": ("ready", "in_progress"),
    "ready": ("published", "review"),
    "published": ("in_progress",),  # a correction (更正) reopens a published item
}
"""The moves each stage allows (the one place they are defined)."""
MANAGERS = ("chief", "editor")
STAGE_ROLES: dict[str, tuple[str, ...]] = {"ready": MANAGERS, "published": MANAGERS}
"""Desk roles needed to move an item into a stage (any member otherwise)."""


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with offset, or None."""
    return dt.isoformat() if dt else None


def allowed_moves(stage: str) -> tuple[str, ...]:
    """The stages an item in `stage` may move to."""
    if stage not in TRANSITIONS:
        raise DeskError(f"unknown stage {stage!r}: stages are {', '.join(STAGES)}")
    return TRANSITIONS[stage]


def find_desk(s: Session, ref: Any) -> Desk:
    """A desk by id (a number) or name; DeskError 404 naming it."""
    desk = None
    if isinstance(ref, int) and not isinstance(ref, bool):
        desk = s.get(Desk, ref)
    elif isinstance(ref, str) and ref.strip():
        text = ref.strip()
        desk = s.get(Desk, int(text)) if text.isdigit() and len(text) < 12 else \
            s.scalars(select(Desk).where(Desk.name == text)).first()
    if desk is None:
        raise DeskError(f"no desk {ref!r}", 404)
    return desk


def load_item(s: Session, item_id: Any, *, for_update: bool = False) -> DeskItem:
    """An item by id (locked for the transaction when `for_update`); DeskError 404 naming it."""
    if isinstance(item_id, bool) or not isinstance(item_id, int) or item_id < 1:
        raise DeskError(f"item id must be a positive whole number, got {item_id!r}")
    item = s.get(DeskItem, item_id, with_for_update=for_update or None)
    if item is None:
        raise DeskError(f"no desk item {item_id}", 404)
    return item


def member_role(s: Session, desk_id: int, name: str) -> str | None:
    """The desk role of `name` on the desk, or None when not a member."""
    return s.scalars(select(DeskMember.role).where(DeskMember.desk_id == desk_id,
                                                   DeskMember.name == name)).first()


def need_role(s: Session, desk: Desk, actor: str, admin: bool, roles: tuple[str, ...] = DESK_ROLES,
              doing: str = "this") -> str | None:
    """The actor's desk role, or DeskError 403 when not a member or not in `roles` (admins pass: None/role)."""
    role = member_role(s, desk.id, actor)
    if admin:
        return role
    if role is None:
        raise DeskError(f"{actor!r} is not a member of desk {desk.name!r} (a chief of the desk adds members)", 403)
    if role not in roles:
        raise DeskError(f"{doing} needs the desk role {' or '.join(roles)} on desk {desk.name!r}; "
                        f"{actor!r} is {role}", 403)
    return role


def record(s: Session, desk_id: int, item_id: int | None, actor: str, action: str,
           detail: dict[str, Any] | None = None, note: str = "") -> DeskEvent:
    """Append one history row (history rows are never changed)."""
    ev = DeskEvent(desk_id=desk_id, item_id=item_id, actor=actor, action=action, detail=detail or {}, note=note,
                   at=utcnow())
    s.add(ev)
    return ev


def lock_active(item: DeskItem, now: datetime | None = None) -> bool:
    """Whether the item has an unexpired edit lock."""
    return bool(item.lock_holder and item.lock_expires_at and item.lock_expires_at > (now or utcnow()))


def desk_dict(s: Session, desk: Desk, *, members: bool = False) -> dict[str, Any]:
    """A desk with its item count per stage (and its members when asked)."""
    counts = dict(s.execute(select(DeskItem.stage, func.count()).where(DeskItem.desk_id == desk.id)
                            .group_by(DeskItem.stage)).all())
    n_members = s.scalar(select(func.count()).select_from(DeskMember).where(DeskMember.desk_id == desk.id)) or 0
    out: dict[str, Any] = {"id": desk.id, "name": desk.name, "description": desk.description,
                           "created_by": desk.created_by, "created_at": iso(desk.created_at),
                           "member_count": n_members, "item_count": sum(counts.values()),
                           "stages": {st: counts.get(st, 0) for st in STAGES}}
    if members:
        rows = s.scalars(select(DeskMember).where(DeskMember.desk_id == desk.id)
                         .order_by(DeskMember.added_at, DeskMember.id)).all()
        order = {r: i for i, r in enumerate(DESK_ROLES)}
        out["members"] = sorted(({"name": m.name, "role": m.role, "added_by": m.added_by,
                                  "added_at": iso(m.added_at)} for m in rows),
                                key=lambda m: (order.get(m["role"], 9), m["name"]))
    return out


def item_dict(s: Session, item: DeskItem, desk: Desk | None = None, asset: Asset | None = None) -> dict[str, Any]:
    """An item as the API shows it (the lock's holder and expiry, never its token)."""
    desk = desk or s.get(Desk, item.desk_id)
    asset = asset or s.get(Asset, item.asset_id)
    active = lock_active(item)
    return {"id": item.id, "desk": desk.name if desk else None, "desk_id": item.desk_id,
            "asset_id": item.asset_id, "asset_kind": asset.kind if asset else None,
            "asset_title": asset.title if asset else "", "title": item.title, "stage": item.stage,
            "assignee": item.assignee, "version": item.version,
            "lock": {"holder": item.lock_holder, "expires_at": iso(item.lock_expires_at)} if active else None,
            "allowed_moves": list(TRANSITIONS.get(item.stage, ())), "created_by": item.created_by,
            "created_at": iso(item.created_at), "updated_at": iso(item.updated_at), "stage_at": iso(item.stage_at)}


def item_dicts(s: Session, items: list[DeskItem], desk: Desk) -> list[dict[str, Any]]:
    """Many items of one desk, their assets loaded in one query."""
    ids = {i.asset_id for i in items}
    assets = {a.id: a for a in s.scalars(select(Asset).where(Asset.id.in_(ids)))} if ids else {}
    return [item_dict(s, i, desk, assets.get(i.asset_id)) for i in items]


def event_dict(ev: DeskEvent, desk_names: dict[int, str] | None = None) -> dict[str, Any]:
    """One history row."""
    return {"id": ev.id, "at": iso(ev.at), "actor": ev.actor, "action": ev.action, "item_id": ev.item_id,
            "desk_id": ev.desk_id, "desk": (desk_names or {}).get(ev.desk_id), "detail": ev.detail or {},
            "note": ev.note}
