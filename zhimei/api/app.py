"""The application: REST API + web app on one origin, with embedded workers and the feed scheduler.

``create_app(workers, scheduler)`` builds it; `zhimei serve` runs it with uvicorn.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import zhimei
from zhimei.api import (
    routes_admin,
    routes_assets,
    routes_desk,
    routes_engagement,
    routes_ingest,
    routes_insight,
    routes_jobs,
    routes_media,
    routes_pages,
    routes_proofread,
    routes_provenance,
    routes_publish,
    routes_recommend,
    routes_review,
    routes_studio,
    routes_studio_media,
    routes_workflow,
    routes_workflow_pages,
)
from zhimei.api.auth import AuthError, is_api_path
from zhimei.api.routes_search import router as search_router
from zhimei.api.routes_understand import router as understanding_router
from zhimei.settings import get_settings

__all__ = ["create_app", "Background", "SCHEDULER_SECONDS", "SMALL_BODY_BYTES", "PAGE_CSP"]

log = logging.getLogger("zhimei.api")
HERE = Path(__file__).parent
SCHEDULER_SECONDS = 30.0
SMALL_BODY_BYTES = 1024 * 1024  # JSON and urlencoded bodies; uploads stream under their own limits
STREAMING_UPLOADS = frozenset({("PUT", "/api/assets/upload"), ("POST", "/api/assets"), ("POST", "/upload")})
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; script-src 'self'; style-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", PAGE_CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """Adds nosniff, a self-only CSP with frame-ancestors 'none', and friends to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies over SMALL_BODY_BYTES except on the streaming upload routes (413)."""

    def __init__(self, app: ASGIApp, limit: int = SMALL_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in STREAMING_UPLOADS:
            await self.app(scope, receive, send)
            return
        message = f"the request body is larger than the limit of {self.limit:,} bytes for this endpoint"
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await JSONResponse({"detail": message}, status_code=413)(scope, receive, send)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise StarletteHTTPException(413, message)
            return msg

        await self.app(scope, limited_receive, send)


class Background:
    """Embedded worker threads and the scheduler thread that run beside the web app."""

    def __init__(self, workers: int = 0, scheduler: bool = False, interval: float | None = None):
        self.n_workers = workers
        self.scheduler = scheduler
        self.interval = SCHEDULER_SECONDS if interval is None else interval
        self.workers: list = []
        self.threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> None:
        """Start the worker threads (embedded backend only) and the scheduler."""
        s = get_settings()
        if s.job_backend == "embedded" and self.n_workers > 0:
            from zhimei.jobs import Worker

            for _ in range(self.n_workers):
                w = Worker()
                self.workers.append(w)
                self.threads.append(w.start_thread())
            log.info("started %d embedded worker(s)", self.n_workers)
        if self.scheduler:
            t = threading.Thread(target=self._schedule, name="zhimei-scheduler", daemon=True)
            t.start()
            self.threads.append(t)

    def tick(self) -> None:
        """One scheduler round: poll due feeds, queue due periodic tasks; in Celery mode re-send jobs whose
        worker died."""
        try:
            from zhimei.jobs.tasks import run_periodic

            run_periodic()
        except Exception:
            log.exception("periodic tasks failed")
        try:
            from zhimei.library.feeds import poll_due_feeds

            for url, _n, error in poll_due_feeds() or []:
                if error:
                    log.warning("feed %s: %s", url, error)
        except Exception:
            log.exception("feed polling failed")
        if get_settings().job_backend == "celery":
            try:
                from zhimei.jobs import dispatch_ready

                dispatch_ready()
            except Exception:
                log.exception("job dispatch sweep failed")

    def _schedule(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every thread to stop; wait a little for running jobs (their leases cover the rest)."""
        self._stop.set()
        for w in self.workers:
            w.stop()
        for t in self.threads:
            t.join(timeout=timeout / max(1, len(self.threads)))


def _json_error(status: int, detail: object, headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> Response:
        if is_api_path(request.url.path):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            extra = {"needed_role": exc.needed_role} if exc.needed_role else {}
            return _json_error(exc.status, exc.detail, headers, **extra)
        if exc.status == 401:
            return routes_pages.login_redirect(request)
        return routes_pages.render_error(request, exc.status, exc.detail, exc.needed_role)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api_path(request.url.path) or request.url.path.startswith("/static/"):
            return _json_error(exc.status_code, exc.detail, exc.headers)
        return routes_pages.render_error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = json.loads(json.dumps(exc.errors(), default=str))
        if is_api_path(request.url.path):
            return _json_error(422, errors)
        text = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg')}" for e in errors)
        return routes_pages.render_error(request, 422, f"请求有误 The request is not valid — {text}")


def _warm_search() -> None:
    from zhimei.library.search import warm_up

    try:
        log.info("search warmed up: %s", warm_up())
    except Exception:  # a warm-up failure must not stop the server; the first search pays instead
        log.exception("search warm-up failed")


def create_app(workers: int = 0, scheduler: bool = False, warm_search: bool = False) -> FastAPI:
    """The FastAPI app: migrates the schema on start, runs `workers` embedded workers (embedded backend)
    and, with `scheduler`, polls feeds every 30 s (and sweeps Celery dispatch); with `warm_search`, loads what
    search needs and freezes the heap in a background thread (`zhimei.library.search.warm_up`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from zhimei.store import migrate

        await run_in_threadpool(migrate)
        if warm_search:
            threading.Thread(target=_warm_search, name="search-warm-up", daemon=True).start()
        bg = Background(workers, scheduler)
        app.state.background = bg
        bg.start()
        try:
            yield
        finally:
            await run_in_threadpool(bg.stop)

    app = FastAPI(
        title="智媒 zhimei", version=zhimei.__version__, lifespan=lifespan,
        description="Intelligent-media platform API. Authenticate with `Authorization: Bearer <token>` "
                    "(make one with `zhimei token create NAME --role editor`). Roles: viewer < reviewer < "
                    "editor < admin.",
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (routes_admin, routes_assets, routes_media, routes_jobs, routes_ingest, routes_pages):
        app.include_router(module.router)
    app.include_router(understanding_router)
    app.include_router(search_router)
    for module in (routes_review, routes_proofread, routes_provenance, routes_studio, routes_studio_media):
        app.include_router(module.router)
    for module in (routes_publish, routes_engagement, routes_recommend, routes_insight, routes_desk, routes_workflow,
                   routes_workflow_pages):
        app.include_router(module.router)
    return app
