"""Edit locks on desk items, so two editors never overwrite each other: acquire (or renew your own), release,
and break (a chief of the desk, or an admin; recorded). A lock lasts `desk_lock_minutes` unless renewed; an
expired lock is simply taken over by the next person who locks the item.

Two people locking at once: the item row is locked for the transaction (SELECT … FOR UPDATE on PostgreSQL,
the write lock of BEGIN IMMEDIATE on SQLite), so exactly one wins and the other gets 409 naming the winner."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any

from zhimei.desk.checks import check_note, check_person
from zhimei.desk.core import iso, load_item, lock_active, need_role, record
from zhimei.desk.errors import DeskError
from zhimei.settings import get_settings
from zhimei.store.db import session_scope
from zhimei.store.models import utcnow
from zhimei.store.models_desk import Desk, DeskItem

__all__ = ["acquire_lock", "renew_lock", "release_lock", "break_lock"]


def _minutes(minutes: float | None) -> float:
    if minutes is None:
        return float(get_settings().desk_lock_minutes)
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 < minutes <= 1440:
        raise DeskError(f"lock minutes must be more than 0 and at most 1440, got {minutes!r}")
    return float(minutes)


def _lock_out(item: DeskItem, **extra: Any) -> dict[str, Any]:
    return {"item_id": item.id, "holder": item.lock_holder, "token": item.lock_token,
            "expires_at": iso(item.lock_expires_at), "version": item.version, **extra}


def _load(s, item_id: int, actor: str, admin: bool, roles: tuple[str, ...] | None = None,
          doing: str = "locking items") -> tuple[DeskItem, Desk]:
    item = load_item(s, item_id, for_update=True)
    desk = s.get(Desk, item.desk_id)
    assert desk is not None
    if roles:
        need_role(s, desk, actor, admin, roles, doing)
    else:
        need_role(s, desk, actor, admin, doing=doing)
    return item, desk


def acquire_lock(item_id: int, *, actor: str, minutes: float | None = None, admin: bool = False) -> dict[str, Any]:
    """Lock the item for `actor` (any member of its desk) and return the lock with its token (the token is shown
    to the holder only). Held by someone else: DeskError 409 naming them and until when. Your own lock is renewed
    (same token); an expired lock is taken over (recorded)."""
    actor = check_person(actor, "actor")
    span = timedelta(minutes=_minutes(minutes))
    with session_scope() as s:
        item, desk = _load(s, item_id, actor, admin)
        now = utcnow()
        if lock_active(item, now):
            if item.lock_holder != actor:
                raise DeskError(f"item {item.id} is locked by {item.lock_holder} until {iso(item.lock_expires_at)}",
                                409, holder=item.lock_holder, until=iso(item.lock_expires_at))
            item.lock_expires_at = now + span
            return _lock_out(item, renewed=True)
        detail: dict[str, Any] = {}
        if item.lock_holder:
            detail = {"took_over_from": item.lock_holder, "expired_at": iso(item.lock_expires_at)}
        item.lock_holder = actor
        item.lock_token = secrets.token_urlsafe(24)
        item.lock_expires_at = now + span
        record(s, desk.id, item.id, actor, "locked", {"until": iso(item.lock_expires_at), **detail})
        s.flush()
        return _lock_out(item, renewed=False)


def _token_matches(item: DeskItem, token: Any) -> bool:
    if not isinstance(token, str) or not token or not item.lock_token:
        return False
    return hmac.compare_digest(token.encode(), item.lock_token.encode())


def renew_lock(item_id: int, token: str, *, actor: str, minutes: float | None = None) -> dict[str, Any]:
    """Extend your lock from now. The lock expired, released, broken or taken: DeskError 409 (lock it again)."""
    actor = check_person(actor, "actor")
    span = timedelta(minutes=_minutes(minutes))
    with session_scope() as s:
        item = load_item(s, item_id, for_update=True)
        now = utcnow()
        if not _token_matches(item, token) or item.lock_holder != actor:
            if lock_active(item, now):
                raise DeskError(f"item {item.id} is locked by {item.lock_holder} until "
                                f"{iso(item.lock_expires_at)}, not with your token", 409,
                                holder=item.lock_holder, until=iso(item.lock_expires_at))
            raise DeskError(f"item {item.id} is not locked with that token: lock it again", 409)
        if not lock_active(item, now):
            raise DeskError(f"your lock on item {item.id} expired at {iso(item.lock_expires_at)}: lock it again", 409)
        item.lock_expires_at = now + span
        return _lock_out(item, renewed=True)


def release_lock(item_id: int, token: str, *, actor: str) -> dict[str, Any]:
    """Release your lock. Already released (a retry): nothing changes. Someone else holds it now: DeskError 409."""
    actor = check_person(actor, "actor")
    with session_scope() as s:
        item = load_item(s, item_id, for_update=True)
        if _token_matches(item, token) and item.lock_holder == actor:
            record(s, item.desk_id, item.id, actor, "unlocked", {})
            item.lock_holder = item.lock_token = None
            item.lock_expires_at = None
            return {"item_id": item.id, "released": True}
        if lock_active(item):
            raise DeskError(f"item {item.id} is locked by {item.lock_holder} until {iso(item.lock_expires_at)}, "
                            "not with your token", 409, holder=item.lock_holder, until=iso(item.lock_expires_at))
        return {"item_id": item.id, "released": False}


def break_lock(item_id: int, *, actor: str, reason: str = "", admin: bool = False) -> dict[str, Any]:
    """Break someone's lock on the item (a chief of its desk, or an admin); recorded with the reason and the
    holder. Not locked: DeskError 409."""
    actor = check_person(actor, "actor")
    reason = check_note(reason, "reason")
    with session_scope() as s:
        item, desk = _load(s, item_id, actor, admin, ("chief",), "breaking a lock")
        if not lock_active(item):
            raise DeskError(f"item {item.id} is not locked", 409)
        holder, until = item.lock_holder, iso(item.lock_expires_at)
        record(s, desk.id, item.id, actor, "lock_broken", {"holder": holder, "until": until}, reason)
        item.lock_holder = item.lock_token = None
        item.lock_expires_at = None
        return {"item_id": item.id, "broken": True, "holder": holder, "until": until}
