"""智能创作 studio text tasks: endpoints and pages.

- ``GET /studio`` and ``GET /studio/{task}``: the Studio pages (pick sources, run, watch it stream, compare
  variants, edit, save).
- ``GET /api/studio/tasks``: tasks, methods, styles and the LLM backends with their readiness.
- ``GET /api/studio/sources?q=``: assets with text to pick from.
- ``POST /api/studio/{task}``: run a task, JSON result. ``POST /api/studio/{task}/stream``: the same as
  server-sent events (``progress``, ``token``, ``variant``, ``paragraph``, then ``result`` or ``error``).
- ``POST /api/studio/save``: save a result (by its key; optionally edited text or one variant) as a new
  AI-marked asset that enters review.

Bad input is a 4xx JSON ``{"detail": ...}`` naming the problem; a backend that is not ready is 503.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import render
from zhimei.store.db import read_scope
from zhimei.store.models import Asset, Segment

__all__ = ["router", "RunIn", "SaveIn"]

router = APIRouter(tags=["studio"])
TASK_LABELS = {"headlines": "标题 Headlines", "summary": "摘要 Summary", "draft": "稿件 Draft",
               "rewrite": "改写 Rewrite", "translate": "翻译 Translate", "outline": "提纲 Outline"}
TaskName = Literal["headlines", "summary", "draft", "rewrite", "translate", "outline"]


class RunIn(BaseModel):
    """One studio run: sources (asset ids) or a text, and the task's options."""

    sources: list[int] = Field(default_factory=list, max_length=50, description="source asset ids")
    text: str | None = Field(None, max_length=200_000, description="a text instead of sources")
    language: Literal["zh", "en"] | None = None
    backend: str | None = Field(None, max_length=40, description="gemma3|smollm2|openai (default: settings)")
    method: str = Field("auto", max_length=20)
    n: int = Field(3, ge=1, le=10, description="headline variants")
    length: Literal["one-line", "short", "long"] = "short"
    style: Literal["news", "broadcast", "social"] = "news"
    target: Literal["zh", "en"] | None = None
    use_cache: bool = True


class SaveIn(BaseModel):
    """Save a result as a new asset: by its key, optionally with edited text or one chosen variant."""

    key: str = Field(..., min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")
    text: str | None = Field(None, max_length=200_000, description="edited text (default: the result's)")
    variant: int | None = Field(None, ge=0, le=9)
    title: str | None = Field(None, max_length=500)


def _call(task: str, body: RunIn, emit: Any = None) -> Any:
    from zhimei.studio import text as t

    common: dict[str, Any] = {"language": body.language, "backend": body.backend, "emit": emit,
                              "use_cache": body.use_cache}
    if task == "draft":
        if body.text is not None:
            raise t.StudioError("a draft is written from source assets; pick sources instead of a text")
        return t.draft(body.sources, method=body.method, **common)
    src: dict[str, Any] = {"sources": body.sources or None, "text": body.text}
    if task == "headlines":
        return t.headlines(**src, n=body.n, method=body.method, **common)
    if task == "summary":
        return t.summary(**src, length=body.length, method=body.method, **common)
    if task == "rewrite":
        return t.rewrite(**src, style=body.style, method=body.method, **common)
    if task == "outline":
        return t.outline(**src, method=body.method, **common)
    return t.translate(**src, target=body.target, **common)


def _errors() -> tuple[type[Exception], ...]:
    from zhimei.models import ModelError, NotReady
    from zhimei.studio.errors import StudioError

    return StudioError, NotReady, ModelError


def _http(exc: Exception) -> HTTPException:
    from zhimei.models import ModelError, NotReady

    if isinstance(exc, NotReady):
        return HTTPException(503, str(exc))
    if isinstance(exc, ModelError):
        return HTTPException(502, f"the model failed: {exc}")
    message = str(exc)
    return HTTPException(503 if "cannot run" in message else 422, message)


@router.get("/api/studio/tasks")
def tasks(principal: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """The tasks and their options, and which LLM backends can run here."""
    from zhimei.models.registry import list_backends
    from zhimei.studio import text as t

    backends = [{"name": b.name, "ready": b.ready, "reason": b.reason, "remote": b.remote, "selected": b.selected,
                 "description": b.description} for b in list_backends() if b.capability == "llm"]
    return {"tasks": list(t.TASKS), "labels": TASK_LABELS, "headline_methods": list(t.HEADLINE_METHODS),
            "styles": list(t.STYLES), "lengths": list(t.SUMMARY_LENGTHS), "backends": backends,
            "default_backend": t.default_backend(), "remote_configured": t.remote_configured()}


@router.get("/api/studio/sources")
def sources(q: str = Query("", max_length=200), limit: int = Query(50, ge=1, le=200),
            principal: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    """Assets that have text (paragraphs, transcript or OCR lines), newest first, optionally by title."""
    from zhimei.studio.sources import TEXT_KINDS

    with read_scope() as session:
        has_text = select(Segment.asset_id).where(Segment.kind.in_(TEXT_KINDS)).distinct()
        stmt = select(Asset).where(Asset.id.in_(has_text)).order_by(Asset.id.desc()).limit(limit)
        if q.strip():
            stmt = stmt.where(Asset.title.contains(q.strip()))
        rows = session.scalars(stmt).all()
        items = [{"id": a.id, "title": a.title, "kind": a.kind, "language": a.language,
                  "ai_generated": bool((a.meta or {}).get("ai_generated"))} for a in rows]
    return {"items": items}


@router.post("/api/studio/save")
async def save(body: SaveIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    """Save a result as a new asset (AI-generated, review pending) with lineage to its sources."""
    from zhimei.studio.text import load_result

    def work() -> dict[str, Any]:
        res = load_result(body.key)
        asset_id = res.save(title=body.title, text=body.text, variant=body.variant, created_by=principal.name)
        return {"asset_id": asset_id, "url": f"/assets/{asset_id}", "review_status": "pending"}

    try:
        return await run_in_threadpool(work)
    except _errors() as exc:
        raise _http(exc) from None


@router.post("/api/studio/{task}")
async def run(body: RunIn, task: TaskName = Path(...),
              principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    """Run one task; the whole result as JSON (its ``key`` saves it later)."""
    try:
        res = await run_in_threadpool(_call, task, body)
    except _errors() as exc:
        raise _http(exc) from None
    return res.to_dict()


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@router.post("/api/studio/{task}/stream")
def run_stream(body: RunIn, task: TaskName = Path(...),
               principal: Principal = Depends(require("editor"))) -> StreamingResponse:
    """Run one task as server-sent events: progress, token, variant, paragraph, then result or error."""
    events: queue.Queue[tuple[str, Any] | None] = queue.Queue()
    cancelled = threading.Event()

    def emit(ev: dict[str, Any]) -> None:
        if cancelled.is_set():
            raise _Cancelled()
        events.put((str(ev.get("type", "progress")), ev))

    def work() -> None:
        try:
            res = _call(task, body, emit)
            events.put(("result", res.to_dict()))
        except _Cancelled:
            pass
        except _errors() as exc:
            http = _http(exc)
            events.put(("error", {"status": http.status_code, "detail": http.detail}))
        except Exception as exc:  # never a silent 500 in the middle of a stream
            events.put(("error", {"status": 500, "detail": f"{type(exc).__name__}: {exc}"}))
        finally:
            events.put(None)

    def stream() -> Iterator[bytes]:
        thread = threading.Thread(target=work, name=f"studio-{task}", daemon=True)
        thread.start()
        try:
            yield b": studio stream\n\n"
            while True:
                item = events.get()
                if item is None:
                    break
                yield _sse(*item)
        finally:
            cancelled.set()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class _Cancelled(Exception):
    """The client went away; stop generating."""


@router.get("/studio", include_in_schema=False)
def studio_page(request: Request, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    return _page(request, principal, "headlines")


def _task_page(task: str) -> Any:
    def page(request: Request, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
        return _page(request, principal, task)

    page.__name__ = f"studio_{task}_page"
    return page


for _task in TASK_LABELS:  # one page per task (explicit paths: /studio/<media task> belongs to the media router)
    router.add_api_route(f"/studio/{_task}", _task_page(_task), methods=["GET"], include_in_schema=False)


def _page(request: Request, principal: Principal, task: str) -> HTMLResponse:
    from zhimei.studio.text import default_backend, remote_configured

    return render(request, "studio.html", principal, nav="studio", task=task, task_labels=TASK_LABELS,
                  remote=remote_configured(), default_backend=default_backend())
