"""AIGC labels, provenance (C2PA) and evidence packets: endpoints and pages.

Viewers read provenance and verify packets; editors label and publish (propagator fields); reviewers export
evidence. Bad input is a 4xx JSON ``{"detail": ...}`` on the API (an error page on pages), never a 500.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import NOTICES, render
from zhimei.api.uploads import ReceivedFile, discard, receive_multipart, receive_raw
from zhimei.review.evidence import EvidenceError, export_evidence, verify_evidence
from zhimei.review.labels import (
    LABEL_MEANINGS,
    AssetNotFound,
    LabelError,
    add_propagator,
    label_asset,
    provenance_of,
    read_inbound_labels,
    record_inbound,
)
from zhimei.review.labels.keys import KeyError_
from zhimei.settings import get_settings

__all__ = ["router", "LabelIn", "PropagateIn", "EvidenceIn"]

router = APIRouter(tags=["review"])
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
NOTICES.update({"labelled": "已生成标识版本 The labelled version was made (it is processed like any new asset).",
                "propagated": "已写入传播信息 The propagator fields were written into a publication copy.",
                "provenance-read": "已重新读取 The original's labels were read again."})


class LabelIn(BaseModel):
    """What to write into the labels; empty fields take zhimei's defaults."""

    producer: str | None = Field(None, max_length=1024, description="ContentProducer (name or code)")
    produce_id: str | None = Field(None, max_length=1024, description="ProduceID (the producer's content id)")
    label: str = Field("1", pattern="^[123]$", description="1 AI-generated, 2 possibly, 3 suspected")
    corner: str | None = Field(None, description=f"one of {', '.join(CORNERS)}")
    c2pa: bool = Field(True, description="embed a signed C2PA manifest")


class PropagateIn(BaseModel):
    """The platform that publishes the content and its id there."""

    propagator: str = Field(..., min_length=1, max_length=1024, description="ContentPropagator")
    propagate_id: str = Field(..., min_length=1, max_length=1024, description="PropagateID")


class EvidenceIn(BaseModel):
    """Who decided what (defaults: the caller and the review queue's latest decision), and an optional clip."""

    reviewer: str | None = Field(None, max_length=200)
    decision: str | None = Field(None, max_length=200)
    note: str = Field("", max_length=4000)
    start: float | None = Field(None, ge=0)
    end: float | None = Field(None, gt=0)


def _http(exc: Exception) -> HTTPException:
    if isinstance(exc, AssetNotFound) or (isinstance(exc, EvidenceError) and str(exc).startswith("no asset")):
        return HTTPException(404, str(exc))
    if isinstance(exc, KeyError_):
        return HTTPException(503, f"the signing key is unavailable: {exc}")
    return HTTPException(422, str(exc))


async def _call(fn, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except (AssetNotFound, LabelError, EvidenceError, KeyError_) as exc:
        raise _http(exc) from None


def _check_corner(corner: str | None) -> None:
    if corner and corner not in CORNERS:
        raise HTTPException(422, f"corner must be one of {', '.join(CORNERS)}")


# ---- JSON API -----------------------------------------------------------------------------------------

@router.get("/api/assets/{asset_id}/provenance", summary="Inbound labels (AIGC, C2PA validation, notes), how the "
            "asset was labelled, its labelled versions and publication copies")
async def api_provenance(asset_id: int, principal: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return await _call(provenance_of, asset_id)


@router.post("/api/assets/{asset_id}/provenance/refresh", summary="Read the original's inbound labels again")
async def api_provenance_refresh(asset_id: int, principal: Principal = Depends(require("editor"))
                                 ) -> dict[str, Any]:
    await _call(record_inbound, asset_id)
    return await _call(provenance_of, asset_id)


@router.post("/api/assets/{asset_id}/labels", summary="Make the labelled version: explicit + AIGC (GB 45438) + "
             "C2PA, as a derived asset (201 new, 200 when it existed)")
async def api_label(asset_id: int, body: LabelIn | None = None,
                    principal: Principal = Depends(require("editor"))) -> JSONResponse:
    body = body or LabelIn()
    _check_corner(body.corner)
    res = await _call(label_asset, asset_id, producer=body.producer, produce_id=body.produce_id, label=body.label,
                      corner=body.corner, created_by=principal.name, c2pa=body.c2pa)
    return JSONResponse(res, status_code=201 if res.get("created") else 200)


@router.post("/api/assets/{asset_id}/propagation", summary="Add the propagator fields at publication (a new "
             "rendition, re-signed)")
async def api_propagate(asset_id: int, body: PropagateIn,
                        principal: Principal = Depends(require("editor"))) -> JSONResponse:
    res = await _call(add_propagator, asset_id, body.propagator, body.propagate_id, created_by=principal.name)
    return JSONResponse(res, status_code=201 if res.get("created") else 200)


def _export_to_temp(asset_id: int, reviewer: str | None, decision: str | None, note: str,
                    clip: tuple[float, float] | None, by: str) -> Path:
    s = get_settings()
    s.scratch_path.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"evidence-{asset_id}-", suffix=".zip", dir=s.scratch_path)
    os.close(fd)
    try:
        export_evidence(asset_id, name, reviewer=reviewer, decision=decision, note=note, clip=clip, exported_by=by)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _zip_response(path: Path, asset_id: int) -> FileResponse:
    return FileResponse(path, media_type="application/zip", filename=f"evidence-asset-{asset_id}.zip",
                        background=BackgroundTask(path.unlink, missing_ok=True))


def _clip(start: float | None, end: float | None) -> tuple[float, float] | None:
    if (start is None) != (end is None):
        raise HTTPException(422, "give both start and end for a clip, or neither")
    return (start, end) if start is not None and end is not None else None


@router.post("/api/assets/{asset_id}/evidence", summary="Download the evidence packet (zip with a signed "
             "manifest) of a flagged asset", response_class=FileResponse)
async def api_evidence(asset_id: int, body: EvidenceIn | None = None,
                       principal: Principal = Depends(require("reviewer"))) -> FileResponse:
    body = body or EvidenceIn()
    clip = _clip(body.start, body.end)
    path = await _call(_export_to_temp, asset_id, body.reviewer or (principal.name if body.decision else None),
                       body.decision, body.note, clip, principal.name)
    return _zip_response(path, asset_id)


async def _received(request: Request) -> ReceivedFile:
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        files, _fields = await receive_multipart(request)
        if not files:
            raise HTTPException(400, "the request held no file")
        discard(files[1:])
        return files[0]
    return await receive_raw(request, "upload")


@router.post("/api/evidence/verify", summary="Verify an uploaded evidence zip offline-style: signature, every "
             "hash, no missing/extra/hostile members (raw body or multipart)")
async def api_verify(request: Request, public_key: str | None = None,
                     principal: Principal = Depends(require("viewer", body_csrf=True))) -> dict[str, Any]:
    f = await _received(request)
    try:
        rep = await run_in_threadpool(verify_evidence, f.path, public_key)
    finally:
        discard([f])
    return rep.to_dict()


@router.post("/api/labels/read", summary="Read an uploaded file's AIGC labels and C2PA manifest (nothing is "
             "stored)")
async def api_read_labels(request: Request, principal: Principal = Depends(require("viewer", body_csrf=True))
                          ) -> dict[str, Any]:
    f = await _received(request)
    try:
        return await _call(read_inbound_labels, f.path)
    finally:
        discard([f])


# ---- pages --------------------------------------------------------------------------------------------

def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/assets/{asset_id}/provenance", include_in_schema=False)
async def provenance_page(request: Request, asset_id: int,
                          principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    info = await _call(provenance_of, asset_id)
    return render(request, "provenance.html", principal, nav="library", p=info, corners=CORNERS,
                  meanings=LABEL_MEANINGS, error=request.query_params.get("error"))


@router.post("/assets/{asset_id}/labels", include_in_schema=False)
async def label_form(request: Request, asset_id: int, producer: str = Form(""), produce_id: str = Form(""),
                     label: str = Form("1"), corner: str = Form(""),
                     principal: Principal = Depends(require("editor"))) -> Any:
    try:
        _check_corner(corner or None)
        if label not in LABEL_MEANINGS:
            raise HTTPException(422, "Label must be 1, 2 or 3")
        res = await _call(label_asset, asset_id, producer=producer.strip() or None,
                          produce_id=produce_id.strip() or None, label=label, corner=corner or None,
                          created_by=principal.name)
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        info = await _call(provenance_of, asset_id)
        return render(request, "provenance.html", principal, http_status=exc.status_code, nav="library", p=info,
                      corners=CORNERS, meanings=LABEL_MEANINGS, error=str(exc.detail))
    return _redirect(f"/assets/{res['asset_id']}/provenance?notice=labelled")


@router.post("/assets/{asset_id}/provenance/refresh", include_in_schema=False)
async def refresh_form(asset_id: int, principal: Principal = Depends(require("editor"))) -> RedirectResponse:
    await _call(record_inbound, asset_id)
    return _redirect(f"/assets/{asset_id}/provenance?notice=provenance-read")


@router.post("/assets/{asset_id}/evidence", include_in_schema=False)
async def evidence_form(asset_id: int, decision: str = Form("", max_length=200), note: str = Form("", max_length=4000),
                        principal: Principal = Depends(require("reviewer"))) -> FileResponse:
    path = await _call(_export_to_temp, asset_id, principal.name if decision.strip() else None,
                       decision.strip() or None, note, None, principal.name)
    return _zip_response(path, asset_id)


@router.get("/evidence/verify", include_in_schema=False)
async def verify_page(request: Request, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    return render(request, "evidence_verify.html", principal, nav="", report=None, packet_name=None)


@router.post("/evidence/verify", include_in_schema=False)
async def verify_form(request: Request, principal: Principal = Depends(require("viewer", body_csrf=True))
                      ) -> HTMLResponse:
    files, fields = await receive_multipart(request)
    if not files:
        return render(request, "evidence_verify.html", principal, http_status=400, nav="", report=None,
                      packet_name=None, error="请选择文件 Choose a .zip file to verify.")
    try:
        rep = await run_in_threadpool(verify_evidence, files[0].path, (fields.get("public_key") or "").strip() or None)
    finally:
        discard(files)
    return render(request, "evidence_verify.html", principal, nav="", report=rep.to_dict(),
                  packet_name=files[0].display_name)
