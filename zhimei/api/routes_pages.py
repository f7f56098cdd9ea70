"""The web app: server-rendered pages (Jinja2) and the form actions behind them.

Forms post to the small action routes here (CSRF field in the form); the JavaScript calls the JSON API
with the X-CSRF-Token header. Both go through the same ``require(role)`` dependency.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import COOKIE_NAME, Principal, check_same_origin, iter_routes, require, route_role, safe_next
from zhimei.api.routes_assets import get_detail, reprocess_asset
from zhimei.api.routes_ingest import add_feed_now, feeds_now, ingest_url_now, poll_feed_now
from zhimei.api.routes_jobs import ACTIVE_STATUSES, cancel_job, list_jobs, retry_job
from zhimei.api.uploads import ingest_received, receive_multipart
from zhimei.library.catalog import list_assets
from zhimei.store.db import session_scope
from zhimei.store.models import ASSET_KINDS, ASSET_STATUSES, JOB_STATUSES, Asset
from zhimei.store.tokens import verify_token

__all__ = ["router", "templates", "render", "render_error", "login_redirect"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
COOKIE_MAX_AGE = 14 * 86400
PAGE_SIZE = 48

KIND_LABELS = {"video": "视频 Video", "audio": "音频 Audio", "image": "图片 Image", "article": "文章 Article"}
STATUS_LABELS = {"pending": "待处理 Pending", "processing": "处理中 Processing", "ready": "就绪 Ready",
                 "failed": "失败 Failed", "blocked": "等待 Blocked", "queued": "排队 Queued",
                 "running": "运行 Running", "done": "完成 Done", "cancelled": "已取消 Cancelled"}
NOTICES = {
    "uploaded": "已上传 Uploaded: processing has started.",
    "ingested": "已提交 Fetched: the URL is in the library.",
    "reprocess": "重新处理 The asset's stages were queued again.",
    "retried": "已重试 The job was queued again.",
    "cancelled": "已取消 The job was cancelled.",
    "feed-added": "已添加 The feed was added.",
    "polled": "已拉取 The feed was polled.",
}
BROWSER_AUDIO = {"audio/mpeg", "audio/mp4", "audio/ogg", "audio/wav", "audio/flac", "audio/aac", "audio/webm"}
BROWSER_IMAGES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp"}


# ---- template helpers -------------------------------------------------------------------------------

def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _timecode(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    m, sec = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{sec:04.1f}"


def _filesize(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)  # pragma: no cover


def _when(value: str | datetime | None) -> str:
    if not value:
        return ""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.strftime("%Y-%m-%d %H:%M")


templates.env.filters.update(duration=_duration, timecode=_timecode, filesize=_filesize, when=_when)
templates.env.globals.update(KIND_LABELS=KIND_LABELS, STATUS_LABELS=STATUS_LABELS)


def render(request: Request, name: str, principal: Principal | None, http_status: int = 200,
           **context: Any) -> HTMLResponse:
    """A page in the layout, with the caller, their CSRF token and a notice."""
    notice = NOTICES.get(request.query_params.get("notice", ""))
    ctx = {"principal": principal, "csrf": principal.csrf if principal else "",
           "can_edit": bool(principal and principal.allows("editor")),
           "is_reviewer": bool(principal and principal.allows("reviewer")),
           "is_admin": bool(principal and principal.allows("admin")), "notice": notice, **context}
    resp = templates.TemplateResponse(request, name, ctx, status_code=http_status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def render_error(request: Request, status: int, message: str, needed_role: str | None = None) -> HTMLResponse:
    """The error page (HTML for people; the API answers JSON)."""
    principal = getattr(request.state, "principal", None)
    return render(request, "error.html", principal, http_status=status, status_code=status, message=message,
                  needed_role=needed_role, nav="")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _with_notice(url: str, notice: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}notice={notice}"


# ---- sign in / out ----------------------------------------------------------------------------------

def _signed_in(request: Request, token: str, target: str) -> RedirectResponse:
    resp = _redirect(target)
    resp.set_cookie(COOKIE_NAME, token, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax",
                    secure=request.url.scheme == "https")
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/login")
async def login_page(request: Request, token: str | None = Query(None, max_length=200),
                     next: str | None = Query(None, max_length=2000)) -> Response:  # noqa: A002
    """The sign-in form; `?token=` (the link `zhimei init` prints) signs in and redirects."""
    if token:
        if await run_in_threadpool(verify_token, token):
            return _signed_in(request, token, "/")
        resp = render(request, "login.html", None, http_status=401, error="这个令牌无效 That token is not valid.",
                      next=safe_next(next), nav="")
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp
    return render(request, "login.html", None, next=safe_next(next), error=None, nav="")


@router.post("/login")
async def login_submit(request: Request, token: str = Form("", max_length=200),
                       next: str = Form("/", max_length=2000)) -> Response:  # noqa: A002
    """Sign in with a token pasted into the form."""
    check_same_origin(request)
    token = token.strip()
    if not token or not await run_in_threadpool(verify_token, token):
        return render(request, "login.html", None, http_status=401, error="这个令牌无效 That token is not valid.",
                      next=safe_next(next), nav="")
    return _signed_in(request, token, safe_next(next))


@router.api_route("/logout", methods=["GET", "POST"])
async def logout(request: Request) -> Response:
    """Forget the cookie and go back to the sign-in page."""
    resp = _redirect("/login")
    resp.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return resp


# ---- pages ------------------------------------------------------------------------------------------

def _sources() -> list[str]:
    with session_scope() as session:
        rows = session.scalars(select(Asset.source).where(Asset.source != "").distinct().order_by(Asset.source)
                               .limit(200))
        return list(rows)


@router.get("/")
def library_page(request: Request, kind: str = Query("", max_length=16), status: str = Query("", max_length=16),
                 source: str = Query("", max_length=500), q: str = Query("", max_length=200),
                 page: int = Query(1, ge=1, le=100_000),
                 principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    with session_scope() as session:
        items, total = list_assets(session, kind=kind or None, status=status or None, source=source or None,
                                   q=q or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    filters = {"kind": kind, "status": status, "source": source, "q": q}
    base = {k: v for k, v in filters.items() if v}
    pages = max(1, math.ceil(total / PAGE_SIZE))
    prev_url = "/?" + urlencode({**base, "page": page - 1}) if page > 1 else None
    next_url = "/?" + urlencode({**base, "page": page + 1}) if page < pages else None
    return render(request, "library.html", principal, nav="library", items=items, total=total, filters=filters,
                  kinds=ASSET_KINDS, statuses=ASSET_STATUSES, sources=_sources(), page=page, pages=pages,
                  prev_url=prev_url, next_url=next_url, any_processing=any(a["status"] in ("pending", "processing")
                                                                          for a in items))


def _player(d: dict[str, Any]) -> dict[str, Any]:
    rend = {r["kind"]: r for r in d["renditions"]}
    base = f"/api/assets/{d['id']}/media/"
    if d["kind"] == "video":
        return {"tag": "video", "src": base + "proxy" if "proxy" in rend else None,
                "poster": f"/api/blobs/{d['thumbnail']}" if d["thumbnail"] else None}
    if d["kind"] == "audio":
        if (d["mime"] or "") in BROWSER_AUDIO:
            return {"tag": "audio", "src": base + "original"}
        return {"tag": "audio", "src": base + "audio16k" if "audio16k" in rend else None}
    if d["kind"] == "image":
        if (d["mime"] or "") in BROWSER_IMAGES:
            return {"tag": "img", "src": base + "original"}
        return {"tag": "img", "src": f"/api/blobs/{d['thumbnail']}" if d["thumbnail"] else None}
    return {"tag": "article", "src": None}


def _pretty(value: Any) -> str | None:
    """Long or nested metadata values are shown folded: their pretty text, else None (shown inline)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, indent=1, default=str)
    if isinstance(value, str) and len(value) > 160:
        return value
    return None


@router.get("/assets/{asset_id}")
def asset_page(request: Request, asset_id: int,
               principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    d = get_detail(asset_id)
    keyframes = {k["shot"]: k for k in d["keyframes"]}
    shots = [{**s, "keyframe": keyframes.get(s["seq"])} for s in d["shots"]]
    groups: dict[str, list[dict[str, Any]]] = {}
    for seg in d["segments"]:
        groups.setdefault(seg["kind"], []).append(seg)
    active = any(j["status"] in ACTIVE_STATUSES for j in d["jobs"])
    meta_rows = [(k, v, _pretty(v)) for k, v in sorted((d.get("meta") or {}).items()) if v not in (None, "", [], {})]
    return render(request, "asset.html", principal, nav="library", a=d, shots=shots, segment_groups=groups,
                  player=_player(d), active=active, meta_rows=meta_rows)


@router.get("/jobs")
def jobs_page(request: Request, status: str = Query("", max_length=16),
              principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    data = list_jobs(status or None, None, 200, 0)
    failed_assets = {j["asset_id"] for j in data["items"] if j["status"] == "failed"}
    return render(request, "jobs.html", principal, nav="jobs", jobs=data["items"], total=data["total"],
                  failed_assets=failed_assets,
                  active=data["active"], status=status, statuses=JOB_STATUSES,
                  live_src="/api/jobs?" + urlencode({"limit": 200, **({"status": status} if status else {})}))


@router.get("/feeds")
def feeds_page(request: Request, principal: Principal = Depends(require("admin"))) -> HTMLResponse:
    return render(request, "feeds.html", principal, nav="feeds", feeds=feeds_now())


@router.get("/docs")
def docs_page(request: Request, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    """The API reference, rendered from the OpenAPI document (no CDN needed)."""
    spec = request.app.openapi()
    roles = {(m, r.path): route_role(r) for r in iter_routes(request.app.routes) if isinstance(r, APIRoute)
             for m in r.methods}
    ops = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                       "description": p.get("description") or p.get("schema", {}).get("description", "")}
                      for p in op.get("parameters", [])]
            body = list(op.get("requestBody", {}).get("content", {}))
            ops.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                        "tag": (op.get("tags") or ["other"])[0], "params": params, "body": body,
                        "responses": sorted(op.get("responses", {})),
                        "role": roles.get((method.upper(), path), None) or "public"})
    return render(request, "docs.html", principal, nav="docs", ops=ops, title=spec["info"]["title"],
                  version=spec["info"]["version"])


# ---- form actions (editor/admin) --------------------------------------------------------------------

@router.post("/upload")
async def upload_action(request: Request,
                        principal: Principal = Depends(require("editor", body_csrf=True))) -> Response:
    files, fields = await receive_multipart(request)
    if not files:
        raise HTTPException(400, "choose at least one file to upload")
    outcomes = await ingest_received(files, created_by=principal.name, source=fields.get("source", ""),
                                     title=fields.get("title"))
    errors = [o for o in outcomes if o.error]
    if errors:
        lines = "; ".join(f"{o.name}: {o.error}" for o in errors)
        taken = [o for o in outcomes if not o.error]
        msg = f"未能导入 Not taken — {lines}" + (f" (taken: {len(taken)} file(s))" if taken else "")
        return render_error(request, errors[0].status_code if not taken else 422, msg)
    if len(outcomes) == 1:
        return _redirect(_with_notice(f"/assets/{outcomes[0].asset_id}", "uploaded"))
    return _redirect(_with_notice("/", "uploaded"))


@router.post("/ingest-url")
async def ingest_url_action(url: str = Form(..., max_length=2000), source: str = Form("", max_length=500),
                            _: Principal = Depends(require("editor"))) -> Response:
    out = await run_in_threadpool(ingest_url_now, url, source)
    return _redirect(_with_notice(f"/assets/{out['asset_id']}", "ingested"))


@router.post("/assets/{asset_id}/reprocess")
async def reprocess_action(asset_id: int, _: Principal = Depends(require("editor"))) -> Response:
    await run_in_threadpool(reprocess_asset, asset_id)
    return _redirect(_with_notice(f"/assets/{asset_id}", "reprocess"))


@router.post("/jobs/{job_id}/retry")
async def retry_action(job_id: int, next: str = Form("/jobs", max_length=2000),  # noqa: A002
                       _: Principal = Depends(require("editor"))) -> Response:
    await run_in_threadpool(retry_job, job_id)
    return _redirect(_with_notice(safe_next(next, "/jobs"), "retried"))


@router.post("/jobs/{job_id}/cancel")
async def cancel_action(job_id: int, next: str = Form("/jobs", max_length=2000),  # noqa: A002
                        _: Principal = Depends(require("editor"))) -> Response:
    await run_in_threadpool(cancel_job, job_id)
    return _redirect(_with_notice(safe_next(next, "/jobs"), "cancelled"))


@router.post("/feeds")
async def add_feed_action(url: str = Form(..., max_length=2000), interval_minutes: str = Form("", max_length=20),
                          _: Principal = Depends(require("admin"))) -> Response:
    try:
        interval = float(interval_minutes) * 60 if interval_minutes.strip() else None
    except ValueError:
        raise HTTPException(422, "the interval must be a number of minutes") from None
    if interval is not None and not (0 < interval <= 7 * 86400):
        raise HTTPException(422, "the interval must be between 1 minute and 7 days")
    await run_in_threadpool(add_feed_now, url, interval)
    return _redirect(_with_notice("/feeds", "feed-added"))


@router.post("/feeds/{feed_id}/poll")
async def poll_feed_action(feed_id: int, _: Principal = Depends(require("admin"))) -> Response:
    await run_in_threadpool(poll_feed_now, feed_id)
    return _redirect(_with_notice("/feeds", "polled"))


def login_redirect(request: Request) -> RedirectResponse:
    """Where an unauthenticated page request goes: /login, remembering the page for GETs."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or target == "/":
        return _redirect("/login")
    return _redirect("/login?next=" + quote(target, safe=""))

