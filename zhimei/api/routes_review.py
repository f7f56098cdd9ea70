"""审核 review queue, cases, audit log, moderation admin: endpoints and pages.

Reviewers read the queue, open cases and decide them; admins edit word lists and channel policies. Bad input is
a 4xx naming the problem: unknown case 404, a decided case 409, an unknown decision or reason code 422.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.api.routes_assets import get_detail
from zhimei.api.routes_pages import NOTICES, _player, render
from zhimei.review.queue import (
    REASON_CODES,
    ReviewError,
    add_word,
    assign,
    bulk_decide,
    decide,
    get_case,
    list_audit,
    list_cases,
    list_wordlists,
    open_case,
    policies_view,
    remove_word,
    review_state,
    set_strict,
    set_threshold,
    verify_audit,
)
from zhimei.review.queue.cases import ACTIVE, MAX_BULK, MAX_NOTE
from zhimei.store.db import read_scope
from zhimei.store.models import Keyframe

__all__ = ["router", "OpenIn", "AssignIn", "DecideIn", "BulkIn", "WordIn", "StrictIn", "ThresholdIn",
           "text_blocks", "mark_pieces"]

router = APIRouter(tags=["review"])
TIER_LABELS = {"pass": "通过 Pass", "needs_review": "需审核 Needs review", "block": "拦截 Block"}
CASE_STATUS_LABELS = {"open": "待审 Open", "in_review": "审核中 In review", "escalated": "已升级 Escalated",
                      "passed": "已通过 Passed", "rejected": "已驳回 Rejected", "superseded": "已过期 Superseded"}
DECISION_LABELS = {"approve": "通过 Approve", "reject": "驳回 Reject", "escalate": "升级 Escalate"}
NOTICES.update({"review-decided": "已记录 The decision was recorded.",
                "review-assigned": "已分配 The case was assigned.",
                "review-opened": "已建案 The review case is open.",
                "moderation-saved": "已保存 Saved; the moderation lists and policies reload within a second."})


def _err(exc: ReviewError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def _run(fn, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ReviewError as exc:
        raise _err(exc) from None


# ---- bodies -----------------------------------------------------------------------------------------

class OpenIn(BaseModel):
    """Open (or find) the review case of an asset's current version."""

    asset_id: int = Field(..., ge=1)
    channel: str = Field("default", min_length=1, max_length=64)
    strict: bool | None = Field(None, description="strict mode; default: the channel's stored switch")
    expected_reach: int | None = Field(None, ge=0, description="default: asset meta expected_reach, else 1000")


class AssignIn(BaseModel):
    """Who gets the case; omitted: the caller; null with unassign=true: nobody."""

    reviewer: str | None = Field(None, max_length=100)
    unassign: bool = False


class DecideIn(BaseModel):
    """A decision with reason codes (GET /api/review/reasons) and a note."""

    decision: str = Field(..., description="approve | reject | escalate")
    reasons: list[str] = Field(..., max_length=20)
    note: str = Field("", max_length=MAX_NOTE)


class BulkIn(DecideIn):
    """The same decision on many cases."""

    ids: list[int] = Field(..., min_length=1, max_length=MAX_BULK)


class WordIn(BaseModel):
    """A word-list entry; category "allow" makes an allowed phrase."""

    word: str = Field(..., min_length=1, max_length=100)
    category: str = Field(..., min_length=1, max_length=32)
    severity: int = Field(2, ge=1, le=3)


class StrictIn(BaseModel):
    strict: bool


class ThresholdIn(BaseModel):
    review_at: float = Field(..., ge=0, le=1.01)
    block_at: float = Field(..., ge=0, le=1.01)


# ---- API: cases -------------------------------------------------------------------------------------

@router.get("/api/review/cases", summary="The review queue (highest priority first), filtered")
def api_cases(status: str = Query("active", max_length=20, description="active | all | a case status"),
              tier: str | None = Query(None, max_length=20), assignee: str | None = Query(None, max_length=100),
              overdue: bool = Query(False, description="only cases past their SLA due time"),
              asset_id: int | None = Query(None, ge=1), channel: str | None = Query(None, max_length=64),
              limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0),
              _: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    return _run(list_cases, status=None if status == "all" else status, tier=tier, assignee=assignee,
                overdue=overdue, asset_id=asset_id, channel=channel, limit=limit, offset=offset)


@router.post("/api/review/cases", summary="Moderate an asset and open its review case (idempotent per version)")
def api_open(body: OpenIn, response: Response, principal: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    c = _run(open_case, body.asset_id, body.channel, strict=body.strict, expected_reach=body.expected_reach,
             actor=principal.name)
    response.status_code = 201 if c["created"] else 200
    return c


@router.post("/api/review/cases/bulk", summary="The same decision on many cases (each on its own)")
def api_bulk(body: BulkIn, principal: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    return _run(bulk_decide, body.ids, principal.name, body.decision, body.reasons, body.note)


@router.get("/api/review/cases/{case_id}", summary="A case: verdict reasons, flagged spans and frames, decisions")
def api_case(case_id: int, _: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    return _run(get_case, case_id)


@router.post("/api/review/cases/{case_id}/assign", summary="Assign a case (default: to yourself)")
def api_assign(case_id: int, body: AssignIn, principal: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    who = None if body.unassign else (body.reviewer or principal.name)
    return _run(assign, case_id, who, actor=principal.name)


@router.post("/api/review/cases/{case_id}/decide", summary="Approve, reject or escalate a case with reason codes")
def api_decide(case_id: int, body: DecideIn, principal: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    return _run(decide, case_id, principal.name, body.decision, body.reasons, body.note)


@router.get("/api/review/reasons", summary="Reason codes for decisions")
def api_reasons(_: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    return {"items": [{"code": k, "decision": k.split(".")[0], "zh": zh, "en": en}
                      for k, (zh, en) in REASON_CODES.items()]}


@router.get("/api/review/assets/{asset_id}", summary="Whether an asset's current version passed review")
def api_asset_state(asset_id: int, channel: str | None = Query(None, max_length=64),
                    _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(review_state, asset_id, channel)


# ---- API: audit -------------------------------------------------------------------------------------

@router.get("/api/audit", summary="Audit log entries, newest first")
def api_audit(subject: str | None = Query(None, max_length=200), action: str | None = Query(None, max_length=64),
              limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
              _: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    return list_audit(subject=subject, action=action, limit=limit, offset=offset)


@router.get("/api/audit/verify", summary="Verify the audit hash chain (ok, or the first broken seq and why)")
def api_audit_verify(_: Principal = Depends(require("reviewer"))) -> dict[str, Any]:
    return verify_audit().to_dict()


# ---- API: moderation admin --------------------------------------------------------------------------

@router.get("/api/moderation/wordlists", tags=["moderation"], summary="Word lists in force, with entries (admin)")
def api_wordlists(_: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return list_wordlists()


@router.post("/api/moderation/wordlists/{file}/words", status_code=201, tags=["moderation"],
             summary="Add a word or allowed phrase to an admin list (admin, audited)")
def api_add_word(file: str, body: WordIn, principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return _run(add_word, body.word, body.category, body.severity, file=file, actor=principal.name)


@router.delete("/api/moderation/wordlists/{file}/words", tags=["moderation"],
               summary="Remove a word from an admin list (admin, audited)")
def api_remove_word(file: str, word: str = Query(..., min_length=1, max_length=100),
                    principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return _run(remove_word, word, file=file, actor=principal.name)


@router.get("/api/moderation/policies", tags=["moderation"], summary="Channel policies in force (admin)")
def api_policies(_: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return {"items": _run(policies_view)}


@router.put("/api/moderation/policies/{channel}/strict", tags=["moderation"],
            summary="Switch a channel's strict mode (admin, audited)")
def api_strict(channel: str, body: StrictIn, principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return _run(set_strict, channel, body.strict, actor=principal.name)


@router.put("/api/moderation/policies/{channel}/thresholds/{category}", tags=["moderation"],
            summary="Set a channel's [review_at, block_at] for a category (admin, audited)")
def api_threshold(channel: str, category: str, body: ThresholdIn,
                  principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return _run(set_threshold, channel, category, body.review_at, body.block_at, actor=principal.name)


# ---- highlighting -----------------------------------------------------------------------------------

def mark_pieces(text: str, spans: list[tuple[int, int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Split a text into plain and flagged pieces (overlapping spans merge; out-of-range spans are clipped)."""
    n = len(text)
    clean = sorted((max(0, s), min(n, e), info) for s, e, info in spans if min(n, e) > max(0, s))
    merged: list[list[Any]] = []
    for s, e, info in clean:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][2].append(info)
        else:
            merged.append([s, e, [info]])
    out, pos = [], 0
    for s, e, infos in merged:
        if s > pos:
            out.append({"text": text[pos:s]})
        out.append({"text": text[s:e], "flags": infos})
        pos = e
    if pos < n or not out:
        out.append({"text": text[pos:]})
    return out


def text_blocks(detail: dict[str, Any], flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The asset's title and segments as blocks of pieces, flagged spans marked; whole-unit flags (the classifier)
    mark the block."""
    by_seg: dict[Any, list[dict[str, Any]]] = {}
    for f in flags:
        w = f.get("where") or {}
        key = "title" if w.get("field") == "title" else w.get("segment_id")
        if key is not None:
            by_seg.setdefault(key, []).append(f)
    blocks = []
    units = [{"key": "title", "kind": "title", "text": detail.get("title") or "", "base": 0, "start": None}]
    units += [{"key": s["id"], "kind": s["kind"], "seq": s["seq"], "text": s["text"] or "",
               "base": s.get("char_start") or 0, "start": s.get("start"), "end": s.get("end")}
              for s in detail.get("segments", [])]
    for u in units:
        if not u["text"].strip():
            continue
        fs = by_seg.get(u["key"], [])
        spans = [(f["where"]["start"] - u["base"], f["where"]["end"] - u["base"],
                  {"tier": f.get("tier"), "category": f.get("category"), "word": (f.get("detail") or {}).get("word")})
                 for f in fs if "start" in f["where"] and "end" in f["where"]]
        whole = [f for f in fs if "start" not in f["where"]]
        blocks.append({**u, "pieces": mark_pieces(u["text"], spans), "flagged": bool(fs),
                       "whole": [{"tier": f.get("tier"), "category": f.get("category"), "score": f.get("score")}
                                 for f in whole]})
    return blocks


def _frames(asset_id: int, flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wanted = [f for f in flags if f.get("source") == "image"]
    if not wanted:
        return []
    with read_scope() as s:
        thumbs = {k.shot_seq: k.thumb_sha for k in s.scalars(select(Keyframe).where(Keyframe.asset_id == asset_id))}
    out = []
    for f in wanted:
        w = f.get("where") or {}
        shot = w.get("keyframe")
        out.append({"shot": shot, "time": w.get("time"), "score": f.get("score"), "tier": f.get("tier"),
                    "labels": (f.get("detail") or {}).get("labels", {}),
                    "thumb": f"/api/blobs/{thumbs[shot]}" if shot in thumbs else None, "image": bool(w.get("image"))})
    return out


# ---- pages ------------------------------------------------------------------------------------------

def _reason_groups() -> dict[str, list[tuple[str, str, str]]]:
    groups: dict[str, list[tuple[str, str, str]]] = {d: [] for d in DECISION_LABELS}
    for code, (zh, en) in REASON_CODES.items():
        groups[code.split(".")[0]].append((code, zh, en))
    return groups


def _page_ctx() -> dict[str, Any]:
    return {"tier_labels": TIER_LABELS, "case_labels": CASE_STATUS_LABELS, "decision_labels": DECISION_LABELS,
            "reason_groups": _reason_groups(), "reason_codes": REASON_CODES}


@router.get("/review", include_in_schema=False)
def review_page(request: Request, status: str = Query("active", max_length=20), overdue: bool = Query(False),
                mine: bool = Query(False), bulk_ok: int | None = Query(None, ge=0),
                bulk_failed: int | None = Query(None, ge=0), bulk_error: str = Query("", max_length=2000),
                principal: Principal = Depends(require("reviewer"))) -> HTMLResponse:
    data = _run(list_cases, status=None if status == "all" else status, overdue=overdue,
                assignee=principal.name if mine else None, limit=500)
    overdue_n = _run(list_cases, status="active", overdue=True, limit=1)["total"]
    return render(request, "review.html", principal, nav="review", cases=data["items"], total=data["total"],
                  status=status, overdue=overdue, mine=mine, overdue_n=overdue_n, statuses=("active", *ACTIVE,
                  "passed", "rejected", "superseded", "all"), bulk_ok=bulk_ok, bulk_failed=bulk_failed,
                  bulk_error=bulk_error, **_page_ctx())


@router.get("/review/cases/{case_id}", include_in_schema=False)
def case_page(request: Request, case_id: int, principal: Principal = Depends(require("reviewer"))) -> HTMLResponse:
    c = _run(get_case, case_id)
    d = get_detail(c["asset_id"])
    queue_ids = [x["id"] for x in _run(list_cases, status="active", limit=1000)["items"]]
    prev_id = next_id = None
    if case_id in queue_ids:
        i = queue_ids.index(case_id)
        prev_id = queue_ids[i - 1] if i > 0 else None
        next_id = queue_ids[i + 1] if i + 1 < len(queue_ids) else None
    elif queue_ids:
        next_id = queue_ids[0]
    approved_by = {x["reviewer"] for x in c["decisions"] if x["decision"] == "approve"}
    return render(request, "review_case.html", principal, nav="review", c=c, a=d, player=_player(d),
                  blocks=text_blocks(d, c["flags"]), frames=_frames(c["asset_id"], c["flags"]), prev_id=prev_id,
                  next_id=next_id, decided=c["status"] in ("passed", "rejected", "superseded"),
                  i_approved=principal.name in approved_by, **_page_ctx())


@router.get("/review/audit", include_in_schema=False)
def audit_page(request: Request, subject: str = Query("", max_length=200), page: int = Query(1, ge=1, le=100_000),
               principal: Principal = Depends(require("reviewer"))) -> HTMLResponse:
    data = list_audit(subject=subject or None, limit=100, offset=(page - 1) * 100)
    report = verify_audit()
    return render(request, "review_audit.html", principal, nav="review", entries=data["items"], total=data["total"],
                  report=report.to_dict(), subject=subject, page=page,
                  next_url=f"/review/audit?{urlencode({'subject': subject, 'page': page + 1})}"
                  if page * 100 < data["total"] else None)


@router.post("/review/open", include_in_schema=False)
async def open_action(asset_id: int = Form(..., ge=1), channel: str = Form("default", max_length=64),
                      principal: Principal = Depends(require("reviewer"))) -> Response:
    c = await run_in_threadpool(_run, open_case, asset_id, channel or "default", actor=principal.name)
    return RedirectResponse(f"/review/cases/{c['id']}?notice=review-opened", status_code=303)


@router.post("/review/cases/{case_id}/decide", include_in_schema=False)
async def decide_action(case_id: int, decision: str = Form(..., max_length=20),
                        reason: list[str] = Form([]), note: str = Form("", max_length=MAX_NOTE),
                        principal: Principal = Depends(require("reviewer"))) -> Response:
    codes = [r for r in reason if r.startswith(f"{decision}.")]  # the form lists every group's codes
    await run_in_threadpool(_run, decide, case_id, principal.name, decision, codes, note)
    return RedirectResponse(f"/review/cases/{case_id}?notice=review-decided", status_code=303)


@router.post("/review/cases/{case_id}/assign", include_in_schema=False)
async def assign_action(case_id: int, reviewer: str = Form("", max_length=100),
                        principal: Principal = Depends(require("reviewer"))) -> Response:
    who = reviewer.strip() or principal.name
    await run_in_threadpool(_run, assign, case_id, None if who == "-" else who, actor=principal.name)
    return RedirectResponse(f"/review/cases/{case_id}?notice=review-assigned", status_code=303)


@router.post("/review/bulk", include_in_schema=False)
async def bulk_action(decision: str = Form(..., max_length=20), ids: list[int] = Form([]),
                      reason: str = Form("", max_length=64), note: str = Form("", max_length=MAX_NOTE),
                      principal: Principal = Depends(require("reviewer"))) -> Response:
    if not ids:
        raise HTTPException(422, "选择案件 Select at least one case for the bulk action")
    res = await run_in_threadpool(_run, bulk_decide, ids, principal.name, decision, [reason] if reason else [],
                                  note)
    errors = "; ".join(f"#{r['id']}: {r['error']}" for r in res["results"] if not r["ok"])
    q = {"bulk_ok": res["ok"], "bulk_failed": res["failed"], **({"bulk_error": errors[:1900]} if errors else {})}
    return RedirectResponse(f"/review?{urlencode(q)}", status_code=303)


@router.get("/admin/moderation", include_in_schema=False)
def moderation_page(request: Request, principal: Principal = Depends(require("admin"))) -> HTMLResponse:
    return render(request, "moderation_admin.html", principal, nav="review", lists=list_wordlists(),
                  policies=_run(policies_view),
                  recent=list_audit(limit=20)["items"])


@router.post("/admin/moderation/words", include_in_schema=False)
async def word_add_action(word: str = Form(..., max_length=100), category: str = Form(..., max_length=32),
                          severity: str = Form("2", max_length=10), file: str = Form("admin.tsv", max_length=80),
                          principal: Principal = Depends(require("admin"))) -> Response:
    await run_in_threadpool(_run, add_word, word, category, severity, file=file, actor=principal.name)
    return RedirectResponse("/admin/moderation?notice=moderation-saved", status_code=303)


@router.post("/admin/moderation/words/remove", include_in_schema=False)
async def word_remove_action(word: str = Form(..., max_length=100), file: str = Form(..., max_length=80),
                             principal: Principal = Depends(require("admin"))) -> Response:
    await run_in_threadpool(_run, remove_word, word, file=file, actor=principal.name)
    return RedirectResponse("/admin/moderation?notice=moderation-saved", status_code=303)


@router.post("/admin/moderation/strict", include_in_schema=False)
async def strict_action(channel: str = Form(..., max_length=64), strict: str = Form(..., max_length=5),
                        principal: Principal = Depends(require("admin"))) -> Response:
    if strict not in ("on", "off"):
        raise HTTPException(422, "strict must be on or off")
    await run_in_threadpool(_run, set_strict, channel, strict == "on", actor=principal.name)
    return RedirectResponse("/admin/moderation?notice=moderation-saved", status_code=303)


@router.post("/admin/moderation/threshold", include_in_schema=False)
async def threshold_action(channel: str = Form(..., max_length=64), category: str = Form(..., max_length=32),
                           review_at: float = Form(..., ge=0, le=1.01), block_at: float = Form(..., ge=0, le=1.01),
                           principal: Principal = Depends(require("admin"))) -> Response:
    await run_in_threadpool(_run, set_threshold, channel, category, review_at, block_at, actor=principal.name)
    return RedirectResponse("/admin/moderation?notice=moderation-saved", status_code=303)
