"""Media out of the blob store: renditions and keyframes, with HTTP Range, ETag and long caching.

Only blobs that a Rendition or Keyframe row refers to are served; anything else is 404.
Bytes stream through ``BlobStore.read_range`` so the same code serves local disk and S3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import or_, select
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.store.blobs import BlobNotFound, get_blob_store
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Keyframe, Rendition

__all__ = ["router", "parse_range", "RangeNotSatisfiable", "serve_blob"]

router = APIRouter(prefix="/api", tags=["media"])

_SHA = re.compile(r"^[0-9a-f]{64}$")
_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
CACHE_CONTROL = "private, max-age=31536000, immutable"
# Mimes a browser may render inline from our origin; anything else (HTML, SVG, XML…) is an attachment.
_INLINE_PREFIXES = ("video/", "audio/")
_INLINE_IMAGES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp"}


class RangeNotSatisfiable(Exception):
    """The Range asks for bytes the blob does not have."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) for a single 'bytes=' range; None to send the whole blob.

    Multiple ranges, other units and malformed values are ignored (RFC 9110 allows that);
    a well-formed range outside the blob raises RangeNotSatisfiable.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    m = _RANGE.match(spec)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(end, size - 1)


@dataclass
class _Blob:
    sha: str
    mime: str


def _sniff_image(sha: str) -> str:
    head = b"".join(get_blob_store().read_range(sha, 0, 15))
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _lookup_blob(sha: str) -> _Blob:
    if not _SHA.match(sha):
        raise HTTPException(404, "no such blob")
    with session_scope() as session:
        rend = session.scalars(select(Rendition).where(Rendition.blob_sha == sha).limit(1)).first()
        if rend is not None:
            return _Blob(sha, rend.mime or "application/octet-stream")
        kf = session.scalars(select(Keyframe.id).where(or_(Keyframe.blob_sha == sha, Keyframe.thumb_sha == sha))
                             .limit(1)).first()
    if kf is None:
        raise HTTPException(404, "no such blob")
    try:
        return _Blob(sha, _sniff_image(sha))
    except BlobNotFound:
        raise HTTPException(404, "the blob is referenced but missing from the store") from None


def _lookup_rendition(asset_id: int, kind: str) -> _Blob:
    with session_scope() as session:
        if session.get(Asset, asset_id) is None:
            raise HTTPException(404, f"no asset {asset_id}")
        rend = session.scalars(select(Rendition).where(Rendition.asset_id == asset_id, Rendition.kind == kind)).first()
        if rend is None:
            raise HTTPException(404, f"asset {asset_id} has no {kind} rendition (yet)")
        return _Blob(rend.blob_sha, rend.mime or "application/octet-stream")


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


async def serve_blob(request: Request, sha: str, mime: str) -> Response:
    """Stream blob `sha` as `mime` with HTTP Range support (what every media URL answers with)."""
    return await _serve(request, _Blob(sha, mime))


async def _serve(request: Request, blob: _Blob) -> Response:
    store = get_blob_store()
    try:
        size = await run_in_threadpool(store.size, blob.sha)
    except BlobNotFound:
        raise HTTPException(404, "the blob is referenced but missing from the store") from None
    etag = f'"{blob.sha}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": CACHE_CONTROL,
               "Content-Security-Policy": "default-src 'none'; sandbox", "X-Content-Type-Options": "nosniff"}
    mime = blob.mime.split(";")[0].strip().lower()
    if not (mime.startswith(_INLINE_PREFIXES) or mime in _INLINE_IMAGES):
        headers["Content-Disposition"] = "attachment"
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        range_header = None
    try:
        rng = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = rng if rng else (0, size - 1)
    status = 206 if rng else 200
    if rng:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1 if size else 0)
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers, media_type=blob.mime)
    return StreamingResponse(store.read_range(blob.sha, start, end), status_code=status, headers=headers,
                             media_type=blob.mime)


@router.head("/assets/{asset_id}/media/{rendition_kind}", include_in_schema=False)
@router.get("/assets/{asset_id}/media/{rendition_kind}",
                  summary="Stream one rendition of an asset (HTTP Range supported)",
                  responses={206: {"description": "partial content"}, 416: {"description": "range not satisfiable"}})
async def api_asset_media(request: Request, asset_id: int,
                          rendition_kind: str = Path(..., pattern=r"^[a-z0-9_]{1,32}$"),
                          _: Principal = Depends(require("viewer"))) -> Response:
    blob = await run_in_threadpool(_lookup_rendition, asset_id, rendition_kind)
    return await _serve(request, blob)


@router.head("/blobs/{sha}", include_in_schema=False)
@router.get("/blobs/{sha}",
                  summary="Stream a blob that a rendition or keyframe refers to (HTTP Range supported)",
                  responses={206: {"description": "partial content"}, 416: {"description": "range not satisfiable"}})
async def api_blob(request: Request, sha: str,
                   _: Principal = Depends(require("viewer"))) -> Response:
    blob = await run_in_threadpool(_lookup_blob, sha)
    return await _serve(request, blob)
