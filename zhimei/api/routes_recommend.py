"""智能推荐 recommendations: per-reader lists and launcher rows with "why this", editors' picks, the per-channel
anti-filter-bubble knob, model versions and retrains — the REST API under /api/recommend and the /recommend page.

Bad input is a 4xx naming the problem: unknown channel, asset or pick 404; a bad n, size, knob or window 422.
An unknown reader is not an error: they get the non-personal (cold-start) rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import render
from zhimei.distribute.recommend import (
    MAX_N,
    RecommendError,
    add_pick,
    channel_knob,
    launcher_rows,
    list_picks,
    model_rows,
    personalised,
    recommend,
    remove_pick,
    request_retrain,
    set_channel_knob,
)
from zhimei.store.db import read_scope, session_scope

__all__ = ["router", "PickIn", "KnobIn"]

router = APIRouter(tags=["recommend"])
_USER = Path(..., min_length=1, max_length=200, description="the outside user id (stored only as a keyed hash)")


def _run(fn, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except RecommendError as exc:
        raise HTTPException(exc.status, str(exc)) from None


class PickIn(BaseModel):
    """An editor's pick: an asset pushed into a channel's recommendations ('' = every channel)."""

    asset_id: int = Field(..., ge=1)
    channel: str = Field("", max_length=64)
    rank: int = Field(0, ge=-1000, le=1000, description="lower shows first")
    note: str = Field("", max_length=500)
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class KnobIn(BaseModel):
    """A channel's anti-filter-bubble knob."""

    diversity: float | None = Field(None, ge=0, le=1, description="MMR: 0 = pure relevance … 1 = most diverse")
    explore_share: float | None = Field(None, ge=0, le=0.5, description="share of slots for exploration")


# ---- API: admin (declared before /api/recommend/{user}) -------------------------------------------

@router.get("/api/recommend/picks", summary="Editors' picks (of a channel and the all-channel ones)")
def api_picks(channel: str | None = Query(None, max_length=64),
              _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with read_scope() as s:
        return {"items": _run(list_picks, s, channel)}


@router.post("/api/recommend/picks", summary="Pick an asset for a channel (again: update the pick)")
def api_add_pick(body: PickIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    with session_scope() as s:
        return _run(add_pick, s, body.asset_id, channel=body.channel, rank=body.rank, note=body.note,
                    starts_at=body.starts_at, ends_at=body.ends_at, actor=principal.name)


@router.delete("/api/recommend/picks/{pick_id}", summary="Remove an editor's pick")
def api_remove_pick(pick_id: int = Path(..., ge=1), _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    with session_scope() as s:
        return _run(remove_pick, s, pick_id)


@router.get("/api/recommend/knob", summary="A channel's diversity knob (no channel: the default)")
def api_knob(channel: str | None = Query(None, max_length=64),
             _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with read_scope() as s:
        return {"channel": channel or "", **_run(channel_knob, s, channel)}


@router.put("/api/recommend/knob", summary="Set a channel's diversity knob (no channel: the default)")
def api_set_knob(body: KnobIn, channel: str | None = Query(None, max_length=64),
                 principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    with session_scope() as s:
        return _run(set_channel_knob, s, channel, diversity=body.diversity, explore_share=body.explore_share,
                    actor=principal.name)


@router.get("/api/recommend/models", summary="Trained model versions, newest first")
def api_models(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with read_scope() as s:
        return {"items": model_rows(s)}


@router.post("/api/recommend/retrain", status_code=202, summary="Queue a model retrain (job system)")
def api_retrain(_: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return {"job_id": request_retrain(), "task": "recommend.retrain"}


# ---- API: readers -----------------------------------------------------------------------------------

@router.get("/api/recommend/{user}", summary="Recommendations for a reader, each with why")
def api_recommend(user: str = _USER, n: int = Query(20, ge=1, le=MAX_N),
                  channel: str | None = Query(None, max_length=64),
                  _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with read_scope() as s:
        recs = _run(recommend, s, user, n=n, channel=channel)
        return {"channel": channel, "personalised": _run(personalised, s, user),
                "items": [r.as_dict() for r in recs]}


@router.get("/api/recommend/{user}/rows", summary="A reader's launcher rows (智能推荐位)")
def api_rows(user: str = _USER, channel: str | None = Query(None, max_length=64),
             size: int = Query(10, ge=1, le=50), _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with read_scope() as s:
        rows = _run(launcher_rows, s, user, channel=channel, size=size)
        return {"channel": channel, "personalised": _run(personalised, s, user), "rows": rows}


# ---- page -------------------------------------------------------------------------------------------

@router.get("/recommend", include_in_schema=False)
def recommend_page(request: Request, user: str = Query("", max_length=200),
                   channel: str = Query("", max_length=64),
                   principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    from zhimei.distribute.publish import list_channels

    rows, error, status, is_personal = [], None, 200, False
    with read_scope() as s:
        channels = list_channels(s)
        if user.strip():
            try:
                rows = launcher_rows(s, user, channel=channel or None)
                is_personal = personalised(s, user)
            except RecommendError as exc:
                error, status = str(exc), exc.status
        knob = channel_knob(s, channel or None)
        picks = list_picks(s, channel or None)
        models = model_rows(s, 5)
    return render(request, "recommend.html", principal, nav="recommend", user=user, channel=channel,
                  channels=channels, rows=rows, error=error, personal=is_personal, knob=knob, picks=picks,
                  models=models, http_status=status)
