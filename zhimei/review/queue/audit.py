"""The append-only audit log: every review decision and moderation-admin edit, hash-chained.

Entry n stores ``prev_hash`` = hash of entry n-1 (``GENESIS`` for the first) and
``hash = sha256(canonical_json({"seq", "at", "actor", "action", "subject", "payload", "prev_hash"}))`` where
``payload`` is the entry's canonical JSON text as stored and ``at`` its ISO-8601 UTC time. A one-row head table
holds the newest seq and hash. Appends are serialised (SQLite: the write lock that every write transaction takes
up front; PostgreSQL: a transaction-scoped advisory lock), so seq numbers have no gaps. Database triggers refuse
UPDATE and DELETE on the table; `verify_audit` proves that nobody went around them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from zhimei.store.db import read_scope
from zhimei.store.models import AuditEntry, AuditHead, utcnow

__all__ = ["GENESIS", "AuditReport", "append_audit", "verify_audit", "list_audit", "entry_hash", "canonical_json",
           "lock_audit", "audit_entry_dict"]

GENESIS = "0" * 64
"""prev_hash of the first entry."""
_PG_LOCK_KEY = 0x7A686D61  # "zhma": the advisory lock that serialises audit appends on PostgreSQL


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: the one text a value hashes as."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
                      allow_nan=False)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def entry_hash(seq: int, at: datetime, actor: str, action: str, subject: str, payload: str, prev_hash: str) -> str:
    """The hash of one entry's content and its predecessor's hash."""
    body = canonical_json({"seq": seq, "at": _iso(at), "actor": actor, "action": action, "subject": subject,
                           "payload": payload, "prev_hash": prev_hash})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def lock_audit(session: Session) -> None:
    """Serialise audit appends: on PostgreSQL a transaction-scoped advisory lock (SQLite's write transactions
    are serialised already by BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def append_audit(session: Session, actor: str, action: str, subject: str, payload: dict[str, Any] | None = None,
                 ) -> AuditEntry:
    """Append one entry in the caller's transaction (so it commits or rolls back with the change it records)."""
    lock_audit(session)
    head = session.get(AuditHead, 1, populate_existing=True)
    last = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    if head is not None and head.seq >= seq:  # the newest rows were deleted: keep counting from the head
        seq, prev = head.seq + 1, head.hash
    at = utcnow()
    body = canonical_json(payload or {})
    digest = entry_hash(seq, at, actor, action, subject, body, prev)
    entry = AuditEntry(seq=seq, at=at, actor=actor[:100], action=action[:64], subject=subject[:200], payload=body,
                       prev_hash=prev, hash=digest)
    if entry.actor != actor or entry.action != action or entry.subject != subject:
        raise ValueError("audit actor (100), action (64) and subject (200) must fit their columns")
    session.add(entry)
    if head is None:
        session.add(AuditHead(id=1, seq=seq, hash=digest, updated_at=at))
    else:
        head.seq, head.hash, head.updated_at = seq, digest, at
    session.flush()
    return entry


@dataclass
class AuditReport:
    """The outcome of `verify_audit`: ok, how many entries, the head hash, and the first broken seq with why."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str | None
    broken_seq: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq, "head_hash": self.head_hash,
                "broken_seq": self.broken_seq, "problem": self.problem}

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.entries} entries, head seq {self.head_seq} hash {self.head_hash}"
        return f"audit chain BROKEN at seq {self.broken_seq}: {self.problem}"


def verify_audit(batch: int = 5000) -> AuditReport:
    """Walk the whole chain in seq order; report the first entry that was edited, deleted or reordered."""
    with read_scope() as s:
        head = s.get(AuditHead, 1)
        head_seq, head_hash = (head.seq, head.hash) if head else (0, None)
        expected_seq, prev, count, after = 1, GENESIS, 0, 0
        while True:
            rows = s.execute(select(AuditEntry.seq, AuditEntry.at, AuditEntry.actor, AuditEntry.action,
                                    AuditEntry.subject, AuditEntry.payload, AuditEntry.prev_hash, AuditEntry.hash)
                             .where(AuditEntry.seq >= after).order_by(AuditEntry.seq).limit(batch)).all()
            for seq, at, actor, action, subject, payload, prev_hash, stored in rows:
                if seq != expected_seq:
                    gap = (f"entries {expected_seq}–{seq - 1} are" if seq - expected_seq > 1
                           else f"entry {expected_seq} is")
                    return AuditReport(False, count, head_seq, head_hash, expected_seq,
                                       f"audit {gap} missing (deleted): the chain jumps from seq {expected_seq - 1} "
                                       f"to seq {seq}")
                if entry_hash(seq, at, actor, action, subject, payload, prev_hash) != stored:
                    return AuditReport(False, count, head_seq, head_hash, seq,
                                       f"audit entry seq {seq} was altered: its content does not match its stored "
                                       f"hash ({action} on {subject} by {actor})")
                if prev_hash != prev:
                    return AuditReport(False, count, head_seq, head_hash, seq,
                                       f"audit entry seq {seq} does not follow seq {seq - 1}: its prev_hash is not "
                                       "the previous entry's hash (entries reordered, replaced or re-hashed)")
                prev, expected_seq, count = stored, seq + 1, count + 1
            if len(rows) < batch:
                break
            after = expected_seq
        last_seq = expected_seq - 1
        if head is None and count:
            return AuditReport(False, count, head_seq, head_hash, 1,
                               "the audit head row is missing although the log has entries")
        if head is not None and (head_seq != last_seq or head_hash != prev):
            if head_seq > last_seq:
                return AuditReport(False, count, head_seq, head_hash, last_seq + 1,
                                   f"audit entries {last_seq + 1}–{head_seq} are missing (deleted): the head says "
                                   f"the log ends at seq {head_seq}, the table at seq {last_seq}")
            return AuditReport(False, count, head_seq, head_hash, last_seq,
                               f"the audit head (seq {head_seq}) does not match the last entry (seq {last_seq})")
    return AuditReport(True, count, head_seq, head_hash)


def audit_entry_dict(e: AuditEntry) -> dict[str, Any]:
    """An entry as JSON, payload decoded."""
    try:
        payload = json.loads(e.payload)
    except ValueError:
        payload = e.payload
    return {"seq": e.seq, "at": _iso(e.at), "actor": e.actor, "action": e.action, "subject": e.subject,
            "payload": payload, "prev_hash": e.prev_hash, "hash": e.hash}


def list_audit(*, subject: str | None = None, action: str | None = None, limit: int = 100, offset: int = 0,
               ) -> dict[str, Any]:
    """Entries newest first (optionally for one subject or action), with the total."""
    with read_scope() as s:
        q = select(AuditEntry)
        c = select(func.count()).select_from(AuditEntry)
        if subject:
            q, c = q.where(AuditEntry.subject == subject), c.where(AuditEntry.subject == subject)
        if action:
            q, c = q.where(AuditEntry.action == action), c.where(AuditEntry.action == action)
        total = s.scalar(c) or 0
        items = [audit_entry_dict(e) for e in s.scalars(q.order_by(AuditEntry.seq.desc()).limit(limit)
                                                         .offset(offset))]
    return {"total": total, "items": items}
