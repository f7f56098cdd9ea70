"""Asset endpoints: list, detail, uploads (raw PUT stream and multipart), reprocess."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.api.uploads import UploadOutcome, ingest_received, receive_multipart, receive_raw
from zhimei.jobs import dispatch_ready, enqueue_pipeline
from zhimei.library.catalog import asset_detail, list_assets
from zhimei.store.db import session_scope
from zhimei.store.models import ASSET_KINDS, ASSET_STATUSES, Asset

__all__ = ["router", "AssetSummary", "AssetDetail", "AssetList", "UploadResult", "upload_response",
           "reprocess_asset", "get_detail"]

router = APIRouter(prefix="/api", tags=["assets"])


class AssetSummary(BaseModel):
    """An asset as shown in lists."""

    model_config = ConfigDict(extra="allow")
    id: int
    kind: str
    title: str
    status: str
    language: str | None = None
    source: str = ""
    filename: str = ""
    mime: str = ""
    size_bytes: int = 0
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None
    failure_reason: str | None = None
    duplicate_of: int | None = None
    parent_id: int | None = None
    created_at: str | None = None
    published_at: str | None = None
    thumbnail: str | None = Field(None, description="sha256 of the thumbnail blob: GET /api/blobs/{sha}")


class AssetList(BaseModel):
    """One page of assets and the total matching the filters."""

    total: int
    items: list[AssetSummary]


class AssetDetail(AssetSummary):
    """Everything known about an asset."""

    rights: str = ""
    licence: str = ""
    external_id: str | None = None
    meta: dict[str, Any] = {}
    renditions: list[dict[str, Any]] = []
    shots: list[dict[str, Any]] = []
    keyframes: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    children: list[int] = []
    jobs: list[dict[str, Any]] = []


class UploadItem(BaseModel):
    """One uploaded file's outcome."""

    name: str
    asset_id: int | None
    created: bool
    kind: str | None
    duplicate_of: int | None = None
    error: str | None = None


class UploadResult(BaseModel):
    """Outcomes of an upload request, one per file."""

    items: list[UploadItem]


def get_detail(asset_id: int) -> dict[str, Any]:
    """catalog.asset_detail or 404."""
    with session_scope() as session:
        d = asset_detail(session, asset_id)
    if d is None:
        raise HTTPException(404, f"no asset {asset_id}")
    return d


def reprocess_asset(asset_id: int) -> dict[str, Any]:
    """Run the asset's whole stage graph again."""
    with session_scope() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise HTTPException(404, f"no asset {asset_id}")
        jobs = enqueue_pipeline(session, asset, restart=True)
        asset.failure_reason = None
        out = {"asset_id": asset_id, "jobs": [j.id for j in jobs], "status": asset.status}
    dispatch_ready(asset_id=asset_id)
    return out


def upload_response(outcomes: list[UploadOutcome]) -> JSONResponse:
    """201 when something new came in; 200 when all were duplicates; the error status when nothing was taken."""
    body = {"items": [o.as_dict() for o in outcomes]}
    ok = [o for o in outcomes if o.error is None]
    if not outcomes:
        raise HTTPException(400, "the request held no files")
    if not ok:
        first = outcomes[0]
        detail = first.error if len(outcomes) == 1 else f"no file was taken; first error: {first.name}: {first.error}"
        return JSONResponse({"detail": detail, **body}, status_code=first.status_code)
    return JSONResponse(body, status_code=201 if any(o.created for o in ok) else 200)


@router.get("/assets", response_model=AssetList, summary="List assets (newest first)")
def api_list_assets(
    kind: str | None = Query(None, description=f"one of {', '.join(ASSET_KINDS)}"),
    status: str | None = Query(None, description=f"one of {', '.join(ASSET_STATUSES)}"),
    source: str | None = Query(None, max_length=500),
    q: str | None = Query(None, max_length=200, description="words in the title"),
    limit: int = Query(60, ge=1, le=500),
    offset: int = Query(0, ge=0),
    _: Principal = Depends(require("viewer")),
) -> dict[str, Any]:
    with session_scope() as session:
        items, total = list_assets(session, kind=kind or None, status=status or None, source=source or None,
                                   q=q or None, limit=limit, offset=offset)
    return {"total": total, "items": items}


@router.get("/assets/{asset_id}", response_model=AssetDetail, summary="One asset with renditions, shots, "
            "keyframes, segments, tags and jobs")
def api_asset_detail(asset_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return get_detail(asset_id)


@router.put("/assets/upload", status_code=201, response_model=UploadResult,
            summary="Upload one file as the raw request body (streamed)",
            responses={413: {"description": "over max_upload_bytes"}, 415: {"description": "unsupported type"},
                       422: {"description": "refused input (empty, corrupt, too big for its kind)"}})
async def api_upload_raw(
    request: Request,
    filename: str = Query(..., max_length=8192, description="the file's name (display only; never a path)"),
    source: str = Query("", max_length=500),
    title: str | None = Query(None, max_length=1000),
    language: str | None = Query(None, max_length=16),
    principal: Principal = Depends(require("editor")),
) -> JSONResponse:
    received = await receive_raw(request, filename)
    outcomes = await ingest_received([received], created_by=principal.name, source=source, title=title,
                                     language=language)
    return upload_response(outcomes)


@router.post("/assets", status_code=201, response_model=UploadResult,
             summary="Upload one or more files as multipart/form-data (field 'file'; optional source, title)",
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                 "type": "object", "properties": {
                     "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                     "source": {"type": "string"}, "title": {"type": "string"}}}}}}})
async def api_upload_multipart(request: Request,
                               principal: Principal = Depends(require("editor", body_csrf=True))) -> JSONResponse:
    files, fields = await receive_multipart(request)
    outcomes = await ingest_received(files, created_by=principal.name, source=fields.get("source", ""),
                                     title=fields.get("title"), language=fields.get("language"))
    return upload_response(outcomes)


@router.post("/assets/{asset_id}/reprocess", summary="Run the asset's stage graph again")
async def api_reprocess(asset_id: int, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return await run_in_threadpool(reprocess_asset, asset_id)
