"""Ingest by URL (editor) and RSS/Atom feeds (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.api.uploads import ingest_error_status

__all__ = ["router", "UrlIngest", "FeedIn", "ingest_url_now", "add_feed_now", "poll_feed_now", "feeds_now"]

router = APIRouter(prefix="/api", tags=["ingest"])


class UrlIngest(BaseModel):
    """A web page or media file to fetch into the library."""

    url: str = Field(..., min_length=8, max_length=2000, description="http(s) URL")
    source: str = Field("", max_length=500)


class IngestOut(BaseModel):
    """What URL ingest did."""

    name: str
    asset_id: int | None
    created: bool
    kind: str | None
    error: str | None = None


class FeedIn(BaseModel):
    """A feed to poll on a schedule."""

    url: str = Field(..., min_length=8, max_length=2000, description="RSS/Atom URL")
    interval_seconds: float | None = Field(None, gt=0, le=7 * 86400)


def ingest_url_now(url: str, source: str = "") -> dict[str, Any]:
    """Fetch and ingest one URL; HTTPException with the reason when refused."""
    from zhimei.library.ingest import ingest_url

    outcome = ingest_url(url, source=source)
    out = {"name": outcome.name, "asset_id": outcome.asset_id, "created": outcome.created,
           "kind": outcome.kind, "error": outcome.error}
    if outcome.error:
        raise HTTPException(ingest_error_status(outcome.error), outcome.error)
    return out


def feeds_now() -> list[dict[str, Any]]:
    """Every feed (feeds.list_feeds)."""
    from zhimei.library.feeds import list_feeds

    return list_feeds()


def add_feed_now(url: str, interval_seconds: float | None) -> dict[str, Any]:
    """Add a feed; 422 with the reason when refused."""
    from zhimei.library.feeds import add_feed

    try:
        feed_id = add_feed(url, interval_seconds=interval_seconds)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return next((f for f in feeds_now() if f["id"] == feed_id), {"id": feed_id, "url": url})


def poll_feed_now(feed_id: int) -> dict[str, Any]:
    """Poll one feed now, due or not."""
    from zhimei.library import feeds

    if not any(f["id"] == feed_id for f in feeds.list_feeds()):
        raise HTTPException(404, f"no feed {feed_id}")
    try:
        new_items, error = feeds.poll_feed(feed_id), None
    except feeds.FeedError as exc:
        new_items, error = 0, str(exc)
    feed = next((f for f in feeds.list_feeds() if f["id"] == feed_id), {})
    return {"id": feed_id, "url": feed.get("url"), "new_items": new_items, "error": error}


@router.post("/ingest/url", status_code=201, response_model=IngestOut, summary="Fetch a URL into the library")
async def api_ingest_url(body: UrlIngest, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return await run_in_threadpool(ingest_url_now, body.url, body.source)


@router.get("/feeds", tags=["feeds"], summary="RSS/Atom feeds with their last poll and error")
def api_feeds(_: Principal = Depends(require("admin"))) -> dict[str, Any]:
    items = feeds_now()
    return {"total": len(items), "items": items}


@router.post("/feeds", status_code=201, tags=["feeds"], summary="Add a feed")
async def api_add_feed(body: FeedIn, _: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return await run_in_threadpool(add_feed_now, body.url, body.interval_seconds)


@router.post("/feeds/{feed_id}/poll", tags=["feeds"], summary="Poll one feed now")
async def api_poll_feed(feed_id: int, _: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return await run_in_threadpool(poll_feed_now, feed_id)
