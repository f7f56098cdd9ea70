"""Pseudonymous readers: the outside user id is never stored, only HMAC-SHA256(key, id); consent, export, delete.

The key is the ``reader_key`` setting, else a random 32-byte key made once under ``$ZHIMEI_HOME/keys``. Without
the key a pseudonym cannot be linked back to a user id; with it, the same user always maps to the same reader.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from zhimei.distribute.engagement.bulk import Bulk
from zhimei.distribute.engagement.errors import EngagementError
from zhimei.distribute.engagement.sql import upsert
from zhimei.settings import get_settings
from zhimei.store.keyfiles import write_private_once
from zhimei.store.models import utcnow
from zhimei.store.models_engagement import Reader, ReaderInteraction

__all__ = ["MAX_USER_LEN", "pseudonym", "pseudonyms", "reader_id_for", "reader_ids_for", "bulk_reader_ids",
           "personalisation_allowed", "set_consent", "get_consent", "export_reader", "delete_reader", "check_user",
           "reader_key_path"]

MAX_USER_LEN = 256
_LOCK = threading.Lock()
_KEYS: dict[str, bytes] = {}


def reader_key_path() -> Path:
    """Where the generated pseudonym key lives (used only when the ``reader_key`` setting is empty)."""
    return get_settings().home / "keys" / "reader-hmac.key"


def _key() -> bytes:
    configured = get_settings().reader_key
    if configured:
        return configured.encode("utf-8")
    path = reader_key_path()
    cache_key = str(path)
    with _LOCK:
        if cache_key not in _KEYS:
            if not path.exists():
                write_private_once(path, secrets.token_hex(32).encode())
            data = path.read_bytes().strip()
            if len(data) < 32:
                raise EngagementError(f"the reader key {path} is shorter than 32 bytes", 500)
            _KEYS[cache_key] = data
        return _KEYS[cache_key]


def check_user(user: Any) -> str:
    """The outside user id, trimmed; EngagementError (422) when empty, not text or too long."""
    if not isinstance(user, str):
        raise EngagementError("user must be a string (the outside user id)")
    u = user.strip()
    if not u:
        raise EngagementError("user is empty")
    if len(u) > MAX_USER_LEN:
        raise EngagementError(f"user is {len(u)} characters long; at most {MAX_USER_LEN}")
    return u


def pseudonym(user: str) -> str:
    """The stored stand-in for an outside user id: hex HMAC-SHA256 under the reader key."""
    return hmac.new(_key(), check_user(user).encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonyms(users: Iterable[str]) -> dict[str, str]:
    """Pseudonyms of many (already checked) user ids: {user: pseudonym}."""
    key = _key()
    return {u: hmac.new(key, u.encode("utf-8"), hashlib.sha256).hexdigest() for u in set(users)}


def reader_ids_for(session: Session, users: Iterable[str], *, create: bool = True) -> dict[str, int]:
    """Reader ids of many outside user ids in two statements (bulk insert of the new ones, one select)."""
    names = pseudonyms(users)
    if not names:
        return {}
    now = utcnow()
    if create:
        default = get_settings().reader_consent_default
        rows = [{"pseudonym": p, "consent": default, "created_at": now, "last_seen_at": now} for p in names.values()]
        session.execute(upsert(session, Reader.__table__, ["pseudonym"], {"last_seen_at": now}), rows)
    by_p: dict[str, int] = {}
    values = list(names.values())
    for i in range(0, len(values), 5000):
        by_p.update(session.execute(select(Reader.pseudonym, Reader.id)
                                    .where(Reader.pseudonym.in_(values[i:i + 5000]))).all())
    return {u: by_p[p] for u, p in names.items() if p in by_p}


def bulk_reader_ids(bulk: Bulk, users: Iterable[str]) -> dict[str, int]:
    """The ingest's fast path of `reader_ids_for`: one multi-row upsert that RETURNs every reader's id."""
    names = pseudonyms(users)
    if not names:
        return {}
    now = bulk.now(utcnow())
    default = bool(get_settings().reader_consent_default)
    rows = [(p, default, now, now) for p in sorted(names.values())]
    got = dict((p, rid) for rid, p in bulk.insert_returning(
        "INSERT INTO reader (pseudonym, consent, created_at, last_seen_at)",
        "ON CONFLICT (pseudonym) DO UPDATE SET last_seen_at = excluded.last_seen_at RETURNING id, pseudonym", rows))
    return {u: got[p] for u, p in names.items()}


def reader_id_for(session: Session, external_user: str, *, create: bool = True) -> int | None:
    """The pseudonymous reader row id of an outside user id (made on first sight unless `create` is False)."""
    user = check_user(external_user)
    return reader_ids_for(session, [user], create=create).get(user)


def personalisation_allowed(session: Session, reader_id: int | None) -> bool:
    """Whether this reader may get personalised rows (their consent flag; for no reader, the default setting)."""
    if reader_id is None:
        return bool(get_settings().reader_consent_default)
    consent = session.scalar(select(Reader.consent).where(Reader.id == reader_id))
    return bool(get_settings().reader_consent_default) if consent is None else bool(consent)


def set_consent(session: Session, user: str, allowed: bool) -> dict[str, Any]:
    """Record a user's personalisation consent (the reader is created when unknown, to remember the choice)."""
    if not isinstance(allowed, bool):
        raise EngagementError("personalisation must be true or false")
    rid = reader_id_for(session, user, create=True)
    reader = session.get(Reader, rid)
    assert reader is not None
    reader.consent = allowed
    reader.consent_at = utcnow()
    session.flush()
    return {"reader": reader.pseudonym[:12], "personalisation": allowed,
            "consent_at": reader.consent_at.isoformat()}


def get_consent(session: Session, user: str) -> dict[str, Any]:
    """A user's consent flag (the default setting when they are unknown)."""
    rid = reader_id_for(session, user, create=False)
    reader = session.get(Reader, rid) if rid is not None else None
    if reader is None:
        return {"known": False, "personalisation": bool(get_settings().reader_consent_default), "consent_at": None}
    return {"known": True, "personalisation": reader.consent,
            "consent_at": reader.consent_at.isoformat() if reader.consent_at else None}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_reader(session: Session, user: str) -> dict[str, Any]:
    """Everything held about a user, as JSON-ready data; EngagementError (404) when nothing is held."""
    rid = reader_id_for(session, user, create=False)
    reader = session.get(Reader, rid) if rid is not None else None
    if reader is None:
        raise EngagementError("nothing is held for this user (no reader with that id)", 404)
    rows = session.scalars(select(ReaderInteraction).where(ReaderInteraction.reader_id == reader.id)
                           .order_by(ReaderInteraction.last_at.desc())).all()
    return {
        "reader": {"pseudonym": reader.pseudonym, "personalisation": reader.consent,
                   "consent_at": _iso(reader.consent_at), "created_at": _iso(reader.created_at),
                   "last_seen_at": _iso(reader.last_seen_at)},
        "interactions": [{"asset_id": r.asset_id, "weight": round(r.weight, 4), "impressions": r.impressions,
                          "clicks": r.clicks, "plays": r.plays, "shares": r.shares,
                          "watch_seconds": r.watch_seconds, "dwell_seconds": r.dwell_seconds,
                          "first_at": _iso(r.first_at), "last_at": _iso(r.last_at)} for r in rows],
        "notes": ["The user id itself is not stored: only its keyed hash (pseudonym).",
                  "Raw events are not kept; they are summed into the interactions above and into anonymous "
                  "per-asset totals that hold no reader."],
    }


def delete_reader(session: Session, user: str) -> dict[str, Any]:
    """Erase a user now: their reader row and every per-asset interaction (models drop them at the next retrain).
    Deleting an unknown user is not an error (a retried delete answers ``deleted: false``)."""
    rid = reader_id_for(session, user, create=False)
    if rid is None:
        return {"deleted": False, "interactions_removed": 0}
    n = session.scalar(select(func.count()).select_from(ReaderInteraction)
                       .where(ReaderInteraction.reader_id == rid)) or 0
    session.execute(delete(ReaderInteraction).where(ReaderInteraction.reader_id == rid))
    session.execute(delete(Reader).where(Reader.id == rid))
    return {"deleted": True, "interactions_removed": int(n)}
