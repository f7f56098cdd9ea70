"""舆情 insight: hot terms and stories, sentiment trend, reach, watchlists and alerts — endpoints and the
dashboard page. Readers need the viewer role; watchlists are managed by editors. Bad input is a 4xx naming the
problem (422), unknown ids 404, a duplicate watchlist name 409."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import render
from zhimei.insight.reach import BUCKETS, reach, variant_ctr
from zhimei.insight.sentiment_trend import TREND_BUCKETS, sentiment_trend
from zhimei.insight.stories import hot_topics, story_detail
from zhimei.insight.trends import term_bursts
from zhimei.insight.watchlists import (
    create_watchlist,
    delete_watchlist,
    evaluate_watchlist,
    get_watchlist,
    list_alerts,
    list_watchlists,
    update_watchlist,
)
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models_insight import ALERT_STATUSES, WATCHLIST_KINDS

__all__ = ["router", "WatchlistIn", "WatchlistPatch", "refresh_now"]

router = APIRouter(tags=["insight"])
KIND_LABELS = {"term": "词语 Term", "person": "人物 Person", "org": "机构 Organisation"}
REASON_LABELS = {"volume": "声量 Volume", "negative": "负面 Negative"}


def _run(fn, *args: Any, write: bool = False, **kwargs: Any) -> Any:
    try:
        with (session_scope() if write else read_scope()) as session:
            return fn(session, *args, **kwargs)
    except ValueError as exc:  # InsightError, or the engagement area's error (both carry a status)
        raise HTTPException(getattr(exc, "status", 422), str(exc)) from None


class WatchlistIn(BaseModel):
    """A watchlist: spellings to watch, where alerts go, and when they fire."""

    name: str = Field(..., min_length=1, max_length=200)
    kind: str = Field("term", description="term | person | org")
    terms: list[str] = Field(..., min_length=1, max_length=50, description="spellings matched in titles and text")
    webhook_url: str = Field("", max_length=2000, description="http(s) URL that receives signed alert POSTs")
    secret: str | None = Field(None, min_length=16, max_length=200, description="HMAC key; default: a new one")
    window_hours: float = Field(24.0, ge=1, le=720)
    baseline_windows: int = Field(7, ge=1, le=60)
    volume_factor: float = Field(2.0, ge=1, le=100)
    min_volume: int = Field(3, ge=1, le=100_000)
    negative_jump: float = Field(0.25, ge=0.01, le=1)
    enabled: bool = True


class WatchlistPatch(BaseModel):
    """Fields to change (left out: unchanged)."""

    name: str | None = Field(None, min_length=1, max_length=200)
    kind: str | None = None
    terms: list[str] | None = Field(None, min_length=1, max_length=50)
    webhook_url: str | None = Field(None, max_length=2000)
    window_hours: float | None = Field(None, ge=1, le=720)
    baseline_windows: int | None = Field(None, ge=1, le=60)
    volume_factor: float | None = Field(None, ge=1, le=100)
    min_volume: int | None = Field(None, ge=1, le=100_000)
    negative_jump: float | None = Field(None, ge=0.01, le=1)
    enabled: bool | None = None


# ---- API --------------------------------------------------------------------------------------------

@router.get("/api/insight/trends", summary="Rising stories (by heat) and bursting terms and entities")
def api_trends(since: datetime | None = Query(None, description="current window starts here (default: the "
                                                                 "window setting before now)"),
               limit: int = Query(20, ge=1, le=500), min_count: int = Query(2, ge=1, le=10_000),
               _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    def go(session):
        stories = hot_topics(session, since=since, limit=limit)
        bursts = term_bursts(session, since=since, min_count=min_count, limit=min(limit * 2, 1000))
        return {"stories": [s.to_dict() for s in stories], "bursts": [b.to_dict() for b in bursts]}

    return _run(go)


@router.get("/api/insight/stories/{story_id}", summary="A story: heat and its parts, items, daily sentiment")
def api_story(story_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(story_detail, story_id)


@router.get("/api/insight/reach", summary="Reach per asset, channel or story over time (impressions, CTR, plays…)")
def api_reach(asset_id: int | None = Query(None, ge=1), story_id: int | None = Query(None, ge=1),
              channel: str | None = Query(None, min_length=1, max_length=64),
              since: datetime | None = None, until: datetime | None = None,
              bucket: str = Query("day", description=" | ".join(BUCKETS)),
              _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(reach, asset_id=asset_id, story_id=story_id, channel=channel, since=since, until=until,
                bucket=bucket)


@router.get("/api/insight/variants", summary="CTR per title/cover variant (from the experiments area)")
def api_variants(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    try:
        data = variant_ctr()
    except ValueError as exc:  # the engagement area's own error
        raise HTTPException(422, str(exc)) from None
    if data is None:
        return {"available": False, "experiments": [],
                "note": "实验数据不可用 No experiment data: the experiments area is not installed."}
    return {"available": True, **data}


@router.get("/api/insight/sentiment", summary="Sentiment trend: mean positive probability and negative share")
def api_sentiment(since: datetime | None = None, until: datetime | None = None,
                  bucket: str = Query("day", description=" | ".join(TREND_BUCKETS)),
                  story_id: int | None = Query(None, ge=1), term: str | None = Query(None, max_length=100),
                  _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(sentiment_trend, since=since, until=until, bucket=bucket, story_id=story_id, term=term)


@router.get("/api/insight/watchlists", summary="Watchlists (secrets are never shown again)")
def api_watchlists(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return {"items": _run(list_watchlists), "kinds": list(WATCHLIST_KINDS)}


@router.post("/api/insight/watchlists", status_code=201, summary="Add a watchlist (answer carries its secret once)")
def api_watchlist_add(body: WatchlistIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    data = body.model_dump()
    name, terms = data.pop("name"), data.pop("terms")
    return _run(create_watchlist, name, terms, actor=principal.name, write=True, **data)


@router.get("/api/insight/watchlists/{watchlist_id}", summary="One watchlist")
def api_watchlist(watchlist_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(get_watchlist, watchlist_id)


@router.get("/api/insight/watchlists/{watchlist_id}/status",
            summary="The watchlist's current window against its baseline, and which alerts would fire")
def api_watchlist_status(watchlist_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    ev = _run(evaluate_watchlist, watchlist_id)
    return {**ev, "window_start": ev["window_start"].isoformat(), "window_end": ev["window_end"].isoformat()}


@router.patch("/api/insight/watchlists/{watchlist_id}", summary="Change a watchlist")
def api_watchlist_patch(watchlist_id: int, body: WatchlistPatch,
                        _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(update_watchlist, watchlist_id, write=True, **body.model_dump(exclude_unset=True))


@router.delete("/api/insight/watchlists/{watchlist_id}", summary="Remove a watchlist and its alerts")
def api_watchlist_delete(watchlist_id: int, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(delete_watchlist, watchlist_id, write=True)


@router.get("/api/insight/alerts", summary="Alert history, newest first")
def api_alerts(watchlist_id: int | None = Query(None, ge=1),
               status: str | None = Query(None, description=" | ".join(ALERT_STATUSES)),
               limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
               _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(list_alerts, watchlist_id=watchlist_id, status=status, limit=limit, offset=offset)


def refresh_now() -> int:
    """Queue a story run now, or return the one already queued or running (periodic or asked for)."""
    from sqlalchemy import select

    from zhimei.insight.tasks import STORY_TASK
    from zhimei.jobs.tasks import ACTIVE_STATUSES, enqueue_task
    from zhimei.store.models import Job

    with read_scope() as session:
        active = session.scalar(select(Job.id).where(Job.asset_id.is_(None), Job.stage == STORY_TASK,
                                                     Job.status.in_(ACTIVE_STATUSES)).order_by(Job.id))
    if active is not None:
        return int(active)
    return enqueue_task(STORY_TASK, {"requested": True}, key="insight.stories")


@router.post("/api/insight/refresh", status_code=202, summary="Recompute items, stories and alerts now (a job)")
def api_refresh(response: Response, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return {"job_id": refresh_now()}


# ---- page -------------------------------------------------------------------------------------------

@router.get("/insight", include_in_schema=False)
def insight_page(request: Request, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    def go(session):
        return {"stories": [s.to_dict() for s in hot_topics(session, limit=20)],
                "bursts": [b.to_dict() for b in term_bursts(session, limit=20)],
                "watchlists": list_watchlists(session), "alerts": list_alerts(session, limit=20)["items"]}

    data = _run(go)
    return render(request, "insight.html", principal, nav="insight", kinds=WATCHLIST_KINDS, kind_labels=KIND_LABELS,
                  reason_labels=REASON_LABELS, **data)


@router.get("/insight/stories/{story_id}", include_in_schema=False)
def story_page(request: Request, story_id: int, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    data = _run(story_detail, story_id)
    return render(request, "insight_story.html", principal, nav="insight", **data)
