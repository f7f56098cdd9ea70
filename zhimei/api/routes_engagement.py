"""互动 engagement events, 实验 title/cover experiments and 隐私 reader privacy: endpoints and the experiments page.

Bad input is a 4xx naming the problem: a malformed batch 422 (bad single events are rejected one by one in the
answer), an unknown experiment 404, promoting a finished experiment 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import render
from zhimei.distribute.engagement import (
    MAX_BATCH,
    EngagementError,
    counters,
    create_experiment,
    delete_reader,
    export_reader,
    get_consent,
    get_experiment,
    ingest_events,
    list_experiments,
    popular_asset_ids,
    promote,
    rollup,
    serve_variant,
    set_consent,
    stop_experiment,
)
from zhimei.distribute.engagement.experiments import MAX_TEXT, MAX_VARIANTS
from zhimei.distribute.engagement.readers import MAX_USER_LEN
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models_engagement import EXPERIMENT_KINDS, EXPERIMENT_STATUSES

__all__ = ["router", "ExperimentIn", "PromoteIn", "ConsentIn"]

router = APIRouter(tags=["engagement"])
User = Annotated[str, Path(min_length=1, max_length=MAX_USER_LEN, description="the outside user id")]


def _run(fn, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except EngagementError as exc:
        raise HTTPException(exc.status, str(exc)) from None


class ExperimentIn(BaseModel):
    """A title or cover experiment on an asset; without texts/covers the studio's variants are used."""

    asset_id: int = Field(..., ge=1)
    kind: str = Field("title", description=" | ".join(EXPERIMENT_KINDS))
    name: str = Field("", max_length=200)
    texts: list[Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]] | None = Field(
        None, min_length=2, max_length=MAX_VARIANTS, description="title variants (default: studio headlines)")
    cover_asset_ids: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, min_length=2, max_length=MAX_VARIANTS, description="cover image assets (default: studio covers)")
    auto_promote: bool = True
    min_impressions: int | None = Field(None, ge=0, le=10**9)


class PromoteIn(BaseModel):
    """The variant to promote; omitted: the one most likely best."""

    variant_id: int | None = Field(None, ge=1)


class ConsentIn(BaseModel):
    """Whether the user allows personalised recommendations."""

    personalisation: bool


# ---- events ------------------------------------------------------------------------------------------

@router.post("/api/events", summary="A batch of engagement events (idempotent by event_id; bad events rejected "
             "one by one with a reason)")
def api_events(events: Annotated[list[Any], Body(min_length=1, max_length=MAX_BATCH, description=(
        "[{event_id, type: impression|click|play|share|dwell, user, asset_id, channel?, variant_id?, value? "
        "(seconds watched or dwelt), at (ISO 8601 or epoch seconds)}]"))],
        _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(ingest_events, events).to_dict()


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "bucket_start": r["bucket_start"].isoformat()}


@router.get("/api/events/counters", summary="Engagement totals per asset × channel × hour or day")
def api_counters(asset_id: list[int] | None = Query(None, description="repeatable"),
                 channel: str | None = Query(None, max_length=64), since: datetime | None = None,
                 until: datetime | None = None, bucket: str = Query("day", pattern="^(hour|day)$"),
                 _: Principal = Depends(require("viewer"))) -> list[dict[str, Any]]:
    with read_scope() as session:
        rows = _run(counters, session, asset_ids=asset_id, channel=channel, since=since, until=until, bucket=bucket)
    return [_row(r) for r in rows]


@router.get("/api/events/popular", summary="The most engaged-with assets: [{asset_id, score}]")
def api_popular(since: datetime | None = None, limit: int = Query(20, ge=1, le=1000),
                _: Principal = Depends(require("viewer"))) -> list[dict[str, Any]]:
    with read_scope() as session:
        return [{"asset_id": a, "score": s} for a, s in popular_asset_ids(session, since=since, limit=limit)]


@router.post("/api/events/rollup", summary="Roll hourly counters into days and prune the dedupe window now")
def api_rollup(_: Principal = Depends(require("admin"))) -> dict[str, int]:
    return rollup()


# ---- experiments -------------------------------------------------------------------------------------

@router.get("/api/experiments", summary="Title/cover experiments with per-variant CTR, interval and P(best)")
def api_experiments(status: str | None = Query(None, max_length=16, description=" | ".join(EXPERIMENT_STATUSES)),
                    asset_id: int | None = Query(None, ge=1), limit: int = Query(50, ge=1, le=500),
                    offset: int = Query(0, ge=0), _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(list_experiments, status=status, asset_id=asset_id, limit=limit, offset=offset)


@router.post("/api/experiments", status_code=201, summary="Start a title or cover experiment on an asset")
def api_create(body: ExperimentIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(create_experiment, body.asset_id, kind=body.kind, texts=body.texts,
                cover_asset_ids=body.cover_asset_ids, name=body.name, auto_promote=body.auto_promote,
                min_impressions=body.min_impressions, created_by=principal.name)


@router.get("/api/experiments/{experiment_id}", summary="One experiment with its variants' statistics")
def api_experiment(experiment_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(get_experiment, experiment_id)


@router.get("/api/experiments/{experiment_id}/serve", summary="The variant to show (Thompson sampling); records "
            "nothing — send impression/click events with its variant_id")
def api_serve(experiment_id: int, user: str | None = Query(None, min_length=1, max_length=MAX_USER_LEN),
              _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(serve_variant, experiment_id, user)


@router.post("/api/experiments/{experiment_id}/promote", summary="Promote a variant (default: the likely best)")
def api_promote(experiment_id: int, body: PromoteIn | None = None,
                principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(promote, experiment_id, body.variant_id if body else None, actor=principal.name)


@router.post("/api/experiments/{experiment_id}/stop", summary="Stop an experiment without a winner")
def api_stop(experiment_id: int, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(stop_experiment, experiment_id, actor=principal.name)


# ---- readers (privacy) -------------------------------------------------------------------------------

@router.get("/api/readers/{user}/export", summary="Everything held about a user (JSON)")
def api_export(user: User, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    with read_scope() as session:
        return _run(export_reader, session, user)


@router.delete("/api/readers/{user}", summary="Erase a user's data now (models drop them at the next retrain)")
def api_delete(user: User, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    with session_scope() as session:
        return _run(delete_reader, session, user)


@router.get("/api/readers/{user}/consent", summary="A user's personalisation consent")
def api_get_consent(user: User, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    with read_scope() as session:
        return _run(get_consent, session, user)


@router.put("/api/readers/{user}/consent", summary="Set a user's personalisation consent (off: non-personalised "
            "rows)")
def api_set_consent(user: User, body: ConsentIn, _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    with session_scope() as session:
        return _run(set_consent, session, user, body.personalisation)


# ---- page --------------------------------------------------------------------------------------------

BAR_WIDTH = 240


def _bars(exp: dict[str, Any]) -> dict[str, Any]:
    """SVG geometry of the CTR interval bars (no inline styles: the page's CSP forbids them)."""
    scale = max([0.01, *(v["ci_high"] for v in exp["variants"] if v["impressions"])])
    for v in exp["variants"]:
        if v["impressions"]:
            v["bar"] = {"x": round(v["ci_low"] / scale * BAR_WIDTH, 1),
                        "w": max(1.0, round((v["ci_high"] - v["ci_low"]) / scale * BAR_WIDTH, 1)),
                        "dot": round(v["ctr"] / scale * BAR_WIDTH, 1)}
        else:
            v["bar"] = None
    exp["scale"] = scale
    return exp


@router.get("/experiments", include_in_schema=False)
def experiments_page(request: Request, status: str = Query("", max_length=16),
                     principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    data = _run(list_experiments, status=status or None, limit=100)
    return render(request, "experiments.html", principal, nav="experiments",
                  experiments=[_bars(e) for e in data["items"]], total=data["total"], status=status,
                  statuses=EXPERIMENT_STATUSES, kinds=EXPERIMENT_KINDS, bar_width=BAR_WIDTH)

