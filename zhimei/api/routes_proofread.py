"""智能校对 proofreading: endpoints and the editor page with inline marks.

- ``POST /api/proofread`` {text, lang, kinds?} → suggestions (viewer). Chinese spelling (a language-model pass,
  about a second per sentence) runs on texts of at most LM_MAX_CHARS characters; longer ones get the other checks
  and ``spelling_skipped: true``.
- ``POST /api/proofread/apply`` {text, accepted: [suggestion…]} → the corrected text (viewer).
- ``GET /api/proofread/terms`` (viewer), ``POST /api/proofread/terms`` {term, variants, note} and
  ``DELETE /api/proofread/terms?term=…`` (editor): the term dictionary.
- ``GET /proofread[?asset=ID]``: the editor page (static/proofread.js marks suspect spans inline; accept / reject
  each); ``?asset=`` opens a stored asset's text (title, paragraphs, transcript, captions, on-screen text).

Bad input is a 422 naming the problem, never a 500.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import render
from zhimei.review.proofread import (
    KINDS,
    LANGS,
    LM_MAX_CHARS,
    MAX_CHARS,
    ProofreadError,
    add_term,
    apply_suggestions,
    detect_lang,
    load_terms,
    proofread,
    remove_term,
    spelling_skipped,
)

__all__ = ["router", "ProofreadIn", "ApplyIn", "TermIn", "asset_text"]

router = APIRouter(tags=["review"])
KIND_LABELS = {"spelling": "错别字 Spelling", "term": "术语 Term", "english": "英文 English", "number": "数字 Number",
               "date": "日期 Date", "punctuation": "标点 Punctuation"}


class ProofreadIn(BaseModel):
    """A text to proofread."""

    text: str = Field(..., max_length=MAX_CHARS, description=f"the text (at most {MAX_CHARS:,} characters)")
    lang: str = Field("auto", max_length=10, description="auto | zh | en")
    kinds: list[str] | None = Field(None, max_length=len(KINDS), description=f"checks to run: {', '.join(KINDS)}")


class EditIn(BaseModel):
    """One accepted suggestion (as `POST /api/proofread` returned it)."""

    start: int = Field(..., ge=0)
    end: int = Field(..., ge=0)
    original: str = Field(..., max_length=1000)
    replacement: str = Field(..., max_length=1000)


class ApplyIn(BaseModel):
    """A text and the suggestions accepted for it."""

    text: str = Field(..., max_length=MAX_CHARS)
    accepted: list[EditIn] = Field(default_factory=list, max_length=20_000)


class TermIn(BaseModel):
    """A term: its exact form, the wrong forms to replace, a note."""

    term: str = Field(..., min_length=1, max_length=100)
    variants: list[str] = Field(default_factory=list, max_length=100)
    note: str = Field("", max_length=500)


def _unprocessable(exc: Exception) -> HTTPException:
    return HTTPException(status_code=422, detail=str(exc))


@router.post("/api/proofread", summary="Proofread a text: suggestions with spans, kinds, confidence and reasons")
def api_proofread(body: ProofreadIn, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        found = proofread(body.text, lang=body.lang, kinds=body.kinds)
    except ProofreadError as exc:
        raise _unprocessable(exc) from exc
    lang = detect_lang(body.text) if body.lang == "auto" else body.lang
    skipped = spelling_skipped(body.text, body.lang) and (body.kinds is None or "spelling" in body.kinds)
    return {"lang": lang, "chars": len(body.text), "spelling_skipped": skipped,
            "note": (f"中文错别字检查只用于 {LM_MAX_CHARS:,} 字以内的文本；长文请分段或用命令行。"
                     f"Chinese spelling runs on texts of at most {LM_MAX_CHARS:,} characters: split the text or "
                     "use `zhimei proofread`.")
            if skipped else "",
            "seconds": round(time.perf_counter() - t0, 3), "suggestions": [s.to_dict() for s in found]}


@router.post("/api/proofread/apply", summary="Apply accepted suggestions to a text")
def api_apply(body: ApplyIn, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    try:
        text = apply_suggestions(body.text, [e.model_dump() for e in body.accepted])
    except ProofreadError as exc:
        raise _unprocessable(exc) from exc
    return {"text": text, "applied": len(body.accepted)}


@router.get("/api/proofread/terms", summary="The term dictionary")
def api_terms(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    try:
        return {"terms": [t.to_dict() for t in load_terms()]}
    except ProofreadError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc


@router.post("/api/proofread/terms", summary="Add or replace a term (editor)")
def api_add_term(body: TermIn, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    try:
        return add_term(body.term, body.variants, body.note).to_dict()
    except ProofreadError as exc:
        raise _unprocessable(exc) from exc


@router.delete("/api/proofread/terms", summary="Remove a term (editor)")
def api_remove_term(term: str = Query(..., min_length=1, max_length=100),
                    _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    try:
        removed = remove_term(term)
    except ProofreadError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    if not removed:
        raise HTTPException(status_code=404, detail=f"no term {term!r} in the dictionary")
    return {"removed": term}


def asset_text(asset_id: int) -> tuple[str, str]:
    """(title, text) of a stored asset: its title, then its paragraphs, transcript, captions and on-screen text in
    order, one per line. HTTP 404 for an unknown asset."""
    from sqlalchemy import select

    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset, Segment

    order = {"title": 0, "paragraph": 1, "transcript": 2, "caption": 3, "ocr": 4}
    with read_scope() as s:
        asset = s.get(Asset, asset_id)
        if asset is None:
            raise HTTPException(status_code=404, detail=f"asset {asset_id} not found")
        title = asset.title or ""
        segs = [(g.kind, g.seq, g.text or "") for g in s.scalars(select(Segment).where(Segment.asset_id == asset_id))]
    segs.sort(key=lambda t: (order.get(t[0], 9), t[1]))
    lines = [title] if title.strip() else []
    lines += [t for kind, _seq, t in segs if t.strip() and not (kind == "title" and t == title)]
    return title, "\n".join(lines)[:MAX_CHARS]


@router.get("/proofread", include_in_schema=False)
def proofread_page(request: Request, asset: int | None = Query(None, ge=1, le=2**62),
                   principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    title, text = asset_text(asset) if asset is not None else ("", "")
    return render(request, "proofread.html", principal, nav="proofread", kind_labels=KIND_LABELS,
                  langs=LANGS, max_chars=MAX_CHARS, asset_id=asset, asset_title=title, text=text)
