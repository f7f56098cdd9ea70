"""Review cases: one per asset version and channel, opened from the moderation verdict, decided by reviewers.

Statuses: open → in_review (assigned, or approved once while a second approval is due) → passed | rejected;
escalate → escalated (a second reviewer is then required). Opening a case for a new version supersedes the
asset's older undecided cases in that channel. Every change writes an audit entry in the same transaction and
updates ``Asset.meta["review_status"]`` (pending / needs_review / blocked / passed / rejected) for search.
"""

from __future__ import annotations

import hashlib
import importlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhimei.review.moderation import ClassifierError, ModerationError, PolicyError, Verdict, get_policy, moderate_asset
from zhimei.review.queue.audit import append_audit, canonical_json, lock_audit
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import (
    REVIEW_CASE_STATUSES,
    REVIEW_DECISIONS,
    Asset,
    ReviewCase,
    ReviewDecision,
    Segment,
    utcnow,
)

prio = importlib.import_module("zhimei.review.queue.priority")  # the module (the package re-exports a function
# of the same name, so `from zhimei.review.queue import priority` would not be it)

__all__ = ["ReviewError", "NotPassed", "REASON_CODES", "ACTIVE", "CLOSED", "MAX_BULK", "MAX_NOTE",
           "asset_version", "open_case", "store_case", "assign", "decide", "bulk_decide", "get_case", "list_cases",
           "overdue_cases", "require_passed", "review_state", "case_dict", "check_reasons"]

ACTIVE = ("open", "in_review", "escalated")
CLOSED = ("passed", "rejected", "superseded")
MAX_BULK = 500
MAX_NOTE = 2000
REASON_CODES: dict[str, tuple[str, str]] = {
    "approve.no_violation": ("未发现违规", "no violation found"),
    "approve.false_positive": ("误报", "false positive of the word list or classifier"),
    "approve.newsworthy": ("新闻价值：引用或报道性使用", "newsworthy: quoted or reported use"),
    "approve.edited": ("修改后通过", "passed after editing"),
    "reject.abuse": ("辱骂或冒犯", "abuse or offensive language"),
    "reject.hate": ("歧视或仇恨", "hate or slur"),
    "reject.sexual": ("色情或裸露", "sexual content or nudity"),
    "reject.violence": ("暴力或威胁", "violence or threat"),
    "reject.legal": ("法律风险", "legal risk"),
    "reject.other": ("其他违规", "other violation"),
    "escalate.senior": ("需资深编辑审核", "needs a senior reviewer"),
    "escalate.legal": ("需法务审核", "needs legal review"),
    "escalate.unclear": ("无法判断", "unclear, needs a second opinion"),
}
"""Reason codes a reviewer gives with a decision; the prefix names the decision it goes with."""


class ReviewError(ValueError):
    """A review request that cannot be done; `status` is the HTTP status it maps to (404, 409, 422)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class NotPassed(ReviewError):
    """The asset's current version has no passed review case (publishing must not go ahead)."""

    def __init__(self, message: str):
        super().__init__(message, 409)


def _check_id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ReviewError(f"{what} must be a positive integer, got {value!r}")
    return value


def _check_name(value: Any, what: str = "reviewer") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ReviewError(f"{what} must be a non-empty name")
    value = value.strip()
    if len(value) > 100:
        raise ReviewError(f"{what} name is longer than 100 characters")
    return value


def check_reasons(decision: str, reasons: list[str] | tuple[str, ...] | None) -> list[str]:
    """The decision and its reason codes, validated: at least one code, each known and of that decision."""
    if decision not in REVIEW_DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}; use one of {', '.join(REVIEW_DECISIONS)}")
    codes = list(dict.fromkeys(r.strip() for r in (reasons or []) if isinstance(r, str) and r.strip()))
    if not codes:
        mine = ", ".join(c for c in REASON_CODES if c.startswith(decision + "."))
        raise ReviewError(f"give at least one reason code for {decision}: {mine}")
    for c in codes:
        if c not in REASON_CODES:
            raise ReviewError(f"unknown reason code {c!r}; known: {', '.join(REASON_CODES)}")
        if not c.startswith(decision + "."):
            raise ReviewError(f"reason code {c!r} does not go with the decision {decision!r}")
    return codes


# ---- versions, status -------------------------------------------------------------------------------

def asset_version(session: Session, asset_id: int) -> str:
    """The content hash a case is opened for: the original's sha256, the title and every segment's text."""
    a = session.get(Asset, asset_id)
    if a is None:
        raise ReviewError(f"asset {asset_id} not found", 404)
    segs = session.execute(select(Segment.kind, Segment.seq, Segment.text).where(Segment.asset_id == asset_id)
                           .order_by(Segment.kind, Segment.seq)).all()
    body = canonical_json({"sha256": a.sha256 or "", "title": a.title or "",
                           "segments": [[k, q, t or ""] for k, q, t in segs]})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _asset_status(case: ReviewCase) -> str:
    if case.status in ("passed", "rejected"):
        return case.status
    return {"block": "blocked", "needs_review": "needs_review"}.get(case.tier, "pending")


def _sync_asset(session: Session, case: ReviewCase) -> None:
    """Mirror the case outcome into Asset.meta (row-locked on PostgreSQL, so no concurrent meta edit is lost)."""
    asset = session.get(Asset, case.asset_id, with_for_update=True, populate_existing=True)
    if asset is None:
        return
    meta = dict(asset.meta or {})
    meta.update(review_status=_asset_status(case), review_case=case.id)
    asset.meta = meta


def _approvers(session: Session, case_id: int) -> list[str]:
    return list(session.scalars(select(ReviewDecision.reviewer).where(ReviewDecision.case_id == case_id,
                                                                     ReviewDecision.decision == "approve")
                                .distinct()))


def case_dict(c: ReviewCase, *, title: str | None = None, kind: str | None = None, approvals: int | None = None,
              now: datetime | None = None) -> dict[str, Any]:
    """A case as JSON."""
    now = now or utcnow()
    return {"id": c.id, "asset_id": c.asset_id, "asset_title": title, "asset_kind": kind, "version": c.version,
            "channel": c.channel, "strict": c.strict, "status": c.status, "tier": c.tier,
            "score": round(c.score, 4), "reasons": c.reasons or [], "flags": c.flags or [],
            "model_version": c.model_version, "priority": round(c.priority, 4), "expected_reach": c.expected_reach,
            "assignee": c.assignee, "second_reviewer_required": c.second_reviewer_required,
            "approvals": approvals, "approvals_needed": 2 if c.second_reviewer_required else 1,
            "due_at": c.due_at.isoformat(), "overdue": c.status in ACTIVE and c.due_at < now,
            "opened_by": c.opened_by, "decided_at": c.decided_at.isoformat() if c.decided_at else None,
            "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
            "review_status": _asset_status(c) if c.status != "superseded" else "superseded"}


# ---- open -------------------------------------------------------------------------------------------

def _flags(verdict: Verdict, strict: bool) -> list[dict[str, Any]]:
    policy = get_policy(verdict.channel)
    out = []
    for f in verdict.findings:
        tier = policy.tier(f.category, f.score, strict)
        if tier != "pass":
            out.append({**f.to_dict(), "tier": tier})
    return out


def open_case(asset_id: int, channel: str = "default", *, strict: bool | None = None,
              expected_reach: int | None = None, actor: str = "system", verdict: Verdict | None = None,
              ) -> dict[str, Any]:
    """The case for the asset's current version in `channel`: the existing one, or a new one opened from
    `moderate_asset` (strict mode: as given, else the channel's stored strict switch). Returns the case with
    ``created`` telling which. ReviewError: unknown asset (404), unknown channel or bad reach (422)."""
    _check_id(asset_id, "asset id")
    actor = _check_name(actor, "actor")
    if not isinstance(channel, str) or not channel.strip():
        raise ReviewError("channel must be a non-empty name")
    try:
        get_policy(channel)
    except PolicyError as exc:
        raise ReviewError(str(exc)) from None
    with read_scope() as s:
        version = asset_version(s, asset_id)
        existing = s.scalars(select(ReviewCase.id).where(ReviewCase.asset_id == asset_id,
                                                         ReviewCase.version == version,
                                                         ReviewCase.channel == channel)).first()
        meta = dict((s.get(Asset, asset_id).meta) or {})
    if existing is not None:
        return {**get_case(existing), "created": False}
    try:
        reach = prio.expected_reach(meta, expected_reach)
    except ValueError as exc:
        raise ReviewError(str(exc)) from None
    if strict is None:
        from zhimei.review.queue.admin import strict_mode

        strict = strict_mode(channel)
    if verdict is None:
        try:
            verdict = moderate_asset(asset_id, channel, strict=strict)
        except (ModerationError, PolicyError, ClassifierError) as exc:
            raise ReviewError(str(exc)) from None
    try:
        with session_scope() as s:
            case, created = store_case(s, asset_id, version, verdict, reach=reach, actor=actor)
            cid = case.id
    except IntegrityError:  # another process opened the same version meanwhile
        with read_scope() as s:
            cid = s.scalars(select(ReviewCase.id).where(ReviewCase.asset_id == asset_id, ReviewCase.version == version,
                                                        ReviewCase.channel == channel)).one()
        created = False
    return {**get_case(cid), "created": created}


def store_case(session: Session, asset_id: int, version: str, verdict: Verdict, *, reach: int,
               actor: str = "system") -> tuple[ReviewCase, bool]:
    """Write the case of a moderated version in the caller's transaction (idempotent), superseding the asset's
    older undecided cases in the channel; audited. Returns (case, created)."""
    lock_audit(session)
    channel = verdict.channel
    found = session.scalars(select(ReviewCase).where(ReviewCase.asset_id == asset_id, ReviewCase.version == version,
                                                     ReviewCase.channel == channel)).first()
    if found is not None:
        return found, False
    now = utcnow()
    tier, score = verdict.tier, float(verdict.score)
    case = ReviewCase(asset_id=asset_id, version=version, channel=channel, strict=bool(verdict.strict),
                      status="open", tier=tier, score=score, reasons=[r.to_dict() for r in verdict.reasons],
                      flags=_flags(verdict, bool(verdict.strict)), model_version=verdict.model_version,
                      priority=prio.priority(tier, score, reach), expected_reach=reach, assignee=None,
                      second_reviewer_required=prio.high_risk(tier, score), due_at=prio.due_at(tier, now),
                      opened_by=actor, created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    old = session.scalars(select(ReviewCase).where(ReviewCase.asset_id == asset_id, ReviewCase.channel == channel,
                                                   ReviewCase.id != case.id, ReviewCase.status.in_(ACTIVE)))
    for o in old:
        o.status = "superseded"
        append_audit(session, actor, "case.supersede", f"case:{o.id}",
                     {"case": o.id, "asset_id": asset_id, "version": o.version, "by_case": case.id,
                      "new_version": version})
    append_audit(session, actor, "case.open", f"case:{case.id}",
                 {"case": case.id, "asset_id": asset_id, "version": version, "channel": channel,
                  "strict": case.strict, "tier": tier, "score": round(score, 4), "priority": case.priority,
                  "expected_reach": reach, "reasons": [r["code"] for r in case.reasons],
                  "second_reviewer_required": case.second_reviewer_required, "due_at": case.due_at.isoformat(),
                  "model_version": verdict.model_version})
    _sync_asset(session, case)
    return case, True


# ---- assign and decide ------------------------------------------------------------------------------

def _locked_case(session: Session, case_id: int) -> ReviewCase:
    case = session.get(ReviewCase, case_id, with_for_update=True, populate_existing=True)
    if case is None:
        raise ReviewError(f"review case {case_id} not found", 404)
    return case


def assign(case_id: int, reviewer: str | None, *, actor: str = "system") -> dict[str, Any]:
    """Give a case to a reviewer (None takes it back); an open case becomes in_review. Audited."""
    _check_id(case_id, "case id")
    actor = _check_name(actor, "actor")
    reviewer = None if reviewer is None or (isinstance(reviewer, str) and not reviewer.strip()) \
        else _check_name(reviewer)
    with session_scope() as s:
        lock_audit(s)
        case = _locked_case(s, case_id)
        if case.status in CLOSED:
            raise ReviewError(f"review case {case_id} is {case.status} already; it cannot be reassigned", 409)
        before = (case.assignee, case.status)
        case.assignee = reviewer
        if reviewer and case.status == "open":
            case.status = "in_review"
        elif reviewer is None and case.status == "in_review" and not _approvers(s, case_id):
            case.status = "open"
        case.updated_at = utcnow()
        append_audit(s, actor, "case.assign", f"case:{case_id}",
                     {"case": case_id, "asset_id": case.asset_id, "assignee": reviewer, "before": before[0],
                      "status": case.status})
    return get_case(case_id)


def _decide_in(s: Session, case_id: int, reviewer: str, decision: str, codes: list[str], note: str,
               bulk: bool = False) -> None:
    case = _locked_case(s, case_id)
    if case.status in CLOSED:
        raise ReviewError(f"review case {case_id} is {case.status} already; decisions are final "
                          "(a new asset version opens a new case)", 409)
    before = case.status
    approvers = _approvers(s, case_id)
    now = utcnow()
    if decision == "approve":
        if reviewer in approvers:
            raise ReviewError(f"{reviewer} has approved review case {case_id} already; this high-risk case needs a "
                              "second approval from a different reviewer", 409)
        approvers.append(reviewer)
        needed = 2 if case.second_reviewer_required else 1
        if len(approvers) >= needed:
            case.status, case.decided_at = "passed", now
        else:
            case.status = "in_review"
    elif decision == "reject":
        case.status, case.decided_at = "rejected", now
    else:
        case.status, case.second_reviewer_required = "escalated", True
        case.due_at = prio.due_at("block", now)
    case.updated_at = now
    s.add(ReviewDecision(case_id=case_id, reviewer=reviewer, decision=decision, reasons=codes, note=note, at=now))
    s.flush()
    payload = {"case": case_id, "asset_id": case.asset_id, "version": case.version, "decision": decision,
               "reasons": codes, "note": note, "status_before": before, "status": case.status,
               "approvals": approvers if decision == "approve" else _approvers(s, case_id)}
    if bulk:
        payload["bulk"] = True
    append_audit(s, reviewer, "case.decide", f"case:{case_id}", payload)
    _sync_asset(s, case)


def _check_note(note: Any) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ReviewError("note must be text")
    if len(note) > MAX_NOTE:
        raise ReviewError(f"note is longer than {MAX_NOTE} characters")
    return note.strip()


def decide(case_id: int, reviewer: str, decision: str, reasons: list[str] | tuple[str, ...] | None,
           note: str = "") -> dict[str, Any]:
    """Record a reviewer's decision (approve | reject | escalate) with reason codes and a note. A high-risk case
    passes only after approvals by two different reviewers; reject is final; escalate asks for a second reviewer
    and resets the SLA clock to the block tier's. Audited; the asset's review_status follows."""
    _check_id(case_id, "case id")
    reviewer = _check_name(reviewer)
    codes = check_reasons(decision, reasons)
    note = _check_note(note)
    with session_scope() as s:
        lock_audit(s)
        _decide_in(s, case_id, reviewer, decision, codes, note)
    return get_case(case_id)


def bulk_decide(case_ids: list[int], reviewer: str, decision: str, reasons: list[str] | tuple[str, ...] | None,
                note: str = "") -> dict[str, Any]:
    """The same decision on many cases, each in its own transaction: {"results": [{id, ok, status | error}],
    "ok": n, "failed": m}. A high-risk case approved here still waits for its second reviewer."""
    reviewer = _check_name(reviewer)
    codes = check_reasons(decision, reasons)
    note = _check_note(note)
    if not isinstance(case_ids, list | tuple) or not case_ids:
        raise ReviewError("give at least one case id")
    if len(case_ids) > MAX_BULK:
        raise ReviewError(f"at most {MAX_BULK} cases at a time, got {len(case_ids)}")
    ids = list(dict.fromkeys(_check_id(i, "case id") for i in case_ids))
    results = []
    for cid in ids:
        try:
            with session_scope() as s:
                lock_audit(s)
                _decide_in(s, cid, reviewer, decision, codes, note, bulk=True)
                status = s.get(ReviewCase, cid).status
            results.append({"id": cid, "ok": True, "status": status})
        except ReviewError as exc:
            results.append({"id": cid, "ok": False, "error": str(exc), "status_code": exc.status})
    ok = sum(r["ok"] for r in results)
    return {"results": results, "ok": ok, "failed": len(results) - ok}


# ---- read -------------------------------------------------------------------------------------------

def get_case(case_id: int) -> dict[str, Any]:
    """A case with its decisions, whether it covers the asset's current version, and its neighbours in the queue."""
    _check_id(case_id, "case id")
    with read_scope() as s:
        c = s.get(ReviewCase, case_id)
        if c is None:
            raise ReviewError(f"review case {case_id} not found", 404)
        a = s.get(Asset, c.asset_id)
        decisions = [{"reviewer": d.reviewer, "decision": d.decision, "reasons": d.reasons or [], "note": d.note,
                      "at": d.at.isoformat()}
                     for d in s.scalars(select(ReviewDecision).where(ReviewDecision.case_id == case_id)
                                        .order_by(ReviewDecision.id))]
        approvals = len({d["reviewer"] for d in decisions if d["decision"] == "approve"})
        out = case_dict(c, title=a.title if a else None, kind=a.kind if a else None, approvals=approvals)
        out["decisions"] = decisions
        out["current"] = a is not None and asset_version(s, c.asset_id) == c.version
    return out


def _filtered(q, *, status, tier, assignee, overdue, asset_id, channel, now):
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        expanded = []
        for st in statuses:
            if st == "active":
                expanded += list(ACTIVE)
            elif st in REVIEW_CASE_STATUSES:
                expanded.append(st)
            else:
                raise ReviewError(f"unknown case status {st!r}; use active or one of {', '.join(REVIEW_CASE_STATUSES)}")
        q = q.where(ReviewCase.status.in_(expanded))
    if tier:
        if tier not in prio.TIER_BASE:
            raise ReviewError(f"unknown tier {tier!r}; use one of {', '.join(prio.TIER_BASE)}")
        q = q.where(ReviewCase.tier == tier)
    if assignee is not None:
        q = q.where(ReviewCase.assignee.is_(None)) if assignee == "" else q.where(ReviewCase.assignee == assignee)
    if overdue:
        q = q.where(ReviewCase.status.in_(ACTIVE), ReviewCase.due_at < now)
    if asset_id is not None:
        q = q.where(ReviewCase.asset_id == asset_id)
    if channel:
        q = q.where(ReviewCase.channel == channel)
    return q


def list_cases(*, status: str | list[str] | None = "active", tier: str | None = None, assignee: str | None = None,
               overdue: bool = False, asset_id: int | None = None, channel: str | None = None, limit: int = 50,
               offset: int = 0, now: datetime | None = None) -> dict[str, Any]:
    """The queue: cases by priority (highest first), then due time. `status` may be "active" (open, in_review,
    escalated), any case status, a list of them, or None for all; `assignee=""` means unassigned."""
    now = now or utcnow()
    if not 1 <= limit <= 1000 or offset < 0:
        raise ReviewError("limit must be 1-1000 and offset >= 0")
    kw = dict(status=status, tier=tier, assignee=assignee, overdue=overdue, asset_id=asset_id, channel=channel,
              now=now)
    with read_scope() as s:
        total = s.scalar(_filtered(select(func.count()).select_from(ReviewCase), **kw)) or 0
        q = _filtered(select(ReviewCase, Asset.title, Asset.kind).join(Asset, Asset.id == ReviewCase.asset_id), **kw)
        rows = s.execute(q.order_by(ReviewCase.priority.desc(), ReviewCase.due_at, ReviewCase.id)
                         .limit(limit).offset(offset)).all()
        ids = [c.id for c, _, _ in rows]
        counts = dict(s.execute(select(ReviewDecision.case_id, func.count(func.distinct(ReviewDecision.reviewer)))
                                .where(ReviewDecision.case_id.in_(ids), ReviewDecision.decision == "approve")
                                .group_by(ReviewDecision.case_id)).all()) if ids else {}
        items = [case_dict(c, title=t, kind=k, approvals=counts.get(c.id, 0), now=now) for c, t, k in rows]
    return {"total": total, "items": items}


def overdue_cases(now: datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Undecided cases past their SLA due time, most urgent first."""
    return list_cases(status="active", overdue=True, now=now, limit=limit)["items"]


def review_state(asset_id: int, channel: str | None = None) -> dict[str, Any]:
    """Whether the asset's current version has passed review: {"passed", "case", "detail"} (never raises for a
    missing case; 404 ReviewError for an unknown asset)."""
    _check_id(asset_id, "asset id")
    with read_scope() as s:
        version = asset_version(s, asset_id)
        q = select(ReviewCase.id, ReviewCase.version, ReviewCase.status).where(ReviewCase.asset_id == asset_id)
        if channel:
            q = q.where(ReviewCase.channel == channel)
        cases = s.execute(q.order_by(ReviewCase.id.desc())).all()
    where = f" in channel {channel!r}" if channel else ""
    current = [c for c in cases if c.version == version]
    passed = next((c for c in current if c.status == "passed"), None)
    if passed is not None:
        return {"passed": True, "case": passed.id, "detail": f"asset {asset_id} passed review (case {passed.id})"}
    if current:
        c = current[0]
        return {"passed": False, "case": c.id,
                "detail": f"asset {asset_id} has not passed review{where}: case {c.id} is {c.status}"}
    old = next((c for c in cases if c.status == "passed"), None)
    if old is not None:
        return {"passed": False, "case": old.id,
                "detail": f"asset {asset_id} changed since case {old.id} passed (version {old.version[:12]}… → "
                          f"{version[:12]}…); the new version needs its own review (zhimei review open {asset_id})"}
    return {"passed": False, "case": None,
            "detail": f"asset {asset_id} has no review case{where}; open one first (zhimei review open {asset_id})"}


def require_passed(asset_id: int, channel: str | None = None) -> int:
    """The id of the passed case of the asset's current version (in `channel`, or any channel when None).
    Raises NotPassed (naming why) otherwise: no case, not decided, rejected, or the asset changed since."""
    state = review_state(asset_id, channel)
    if not state["passed"]:
        raise NotPassed(state["detail"])
    return state["case"]
