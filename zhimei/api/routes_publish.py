"""发布 publishing: channels, publications (schedule, embargo, withdraw), webhook deliveries and the dead-letter
list, IPTC exports — the REST API under /api/publish, the public feed URLs under /pub, and the /publish page.

Bad input is a 4xx naming the problem: unknown channel/asset/publication 404; an asset without a passed review
case, unlabelled AI content, a delivered delivery 409; a malformed name, config or time 422.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import NOTICES, render
from zhimei.distribute.publish import (
    CHANNEL_KINDS,
    PublishError,
    create_channel,
    export_item,
    feed_document,
    get_channel,
    get_publication,
    list_channels,
    list_deliveries,
    list_publications,
    publish,
    published_media,
    retry_delivery,
    update_channel,
    withdraw_publication,
)
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models_publish import DELIVERY_STATUSES

__all__ = ["router", "ChannelIn", "ChannelPatch", "PublishIn", "WithdrawIn", "PUBLIC_FEED_PATHS"]

router = APIRouter(tags=["publish"])
PUBLIC_FEED_PATHS = ("/pub/{channel}/{filename}", "/pub/{channel}/media/{asset_id}")
"""Public routes (feed readers and launchers sign in with nothing): they serve only what is live now."""
_EXPORT_FILE = re.compile(r"^([1-9][0-9]{0,11})\.(ninjs\.json|newsml\.xml)$")


def _channel_path() -> Any:
    """A fresh path parameter per route (FastAPI binds the alias onto the object)."""
    return Path(..., pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="channel name")


NOTICES.update({"publish-saved": "已保存 Saved."})


def _run(fn, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except PublishError as exc:
        raise HTTPException(exc.status, str(exc)) from None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# ---- bodies -----------------------------------------------------------------------------------------

class ChannelIn(BaseModel):
    """A new channel. Webhooks need config.url; OTT rows go in config.rows (see zhimei.distribute.publish)."""

    name: str = Field(..., min_length=1, max_length=64, description="lowercase letters, digits, - and _")
    kind: str = Field(..., description=" | ".join(CHANNEL_KINDS))
    title: str = Field("", max_length=200)
    description: str = Field("", max_length=5000)
    config: dict[str, Any] = Field(default_factory=dict)
    secret: str | None = Field(None, min_length=16, max_length=128, description="webhook HMAC secret (default: random)")
    enabled: bool = True


class ChannelPatch(BaseModel):
    """Changes to a channel (config is replaced whole)."""

    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)
    config: dict[str, Any] | None = None
    enabled: bool | None = None
    rotate_secret: bool = False


class PublishIn(BaseModel):
    """Publish an asset's current version in a channel, at a time, not before an embargo (ISO 8601)."""

    asset_id: int = Field(..., ge=1)
    channel: str = Field(..., min_length=1, max_length=64)
    publish_at: str | None = Field(None, max_length=64, description="ISO 8601; default now; no offset = UTC")
    embargo_until: str | None = Field(None, max_length=64, description="ISO 8601; feeds show nothing before")


class WithdrawIn(BaseModel):
    reason: str = Field("", max_length=2000)


# ---- API: channels ----------------------------------------------------------------------------------

def _list_channels() -> list[dict[str, Any]]:
    with read_scope() as s:
        return list_channels(s)


def _get_channel(name: str) -> dict[str, Any]:
    with read_scope() as s:
        return get_channel(s, name)


def _create_channel(body: ChannelIn, actor: str) -> dict[str, Any]:
    with session_scope() as s:
        return create_channel(s, body.name, body.kind, title=body.title, description=body.description,
                              config=body.config, secret=body.secret, enabled=body.enabled, actor=actor)


def _update_channel(name: str, body: ChannelPatch) -> dict[str, Any]:
    with session_scope() as s:
        return update_channel(s, name, title=body.title, description=body.description, config=body.config,
                              enabled=body.enabled, rotate_secret=body.rotate_secret)


@router.get("/api/publish/channels", summary="Publishing channels with their live item counts")
def api_channels(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return {"items": _list_channels(), "kinds": list(CHANNEL_KINDS)}


@router.post("/api/publish/channels", status_code=201,
             summary="Add a channel (a webhook's secret is in the answer, this once)")
def api_create_channel(body: ChannelIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(_create_channel, body, principal.name)


@router.get("/api/publish/channels/{name}", summary="One channel")
def api_channel(name: str = _channel_path(), _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(_get_channel, name)


@router.patch("/api/publish/channels/{name}", summary="Change a channel's title, config, switch; rotate a secret")
def api_update_channel(body: ChannelPatch, name: str = _channel_path(),
                       _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(_update_channel, name, body)


@router.get("/api/publish/channels/{name}/ott", summary="The channel's OTT launcher layout (personal rows for user)")
def api_ott(request: Request, name: str = _channel_path(), user: str | None = Query(None, max_length=200),
            _: Principal = Depends(require("viewer"))) -> Response:
    body, mime = _run(feed_document, name, "ott", base_url=_base(request), user=user)
    return Response(body, media_type=mime)


# ---- API: publications ------------------------------------------------------------------------------

@router.post("/api/publish/publications", summary="Publish (schedule, embargo) an asset in a channel; idempotent",
             responses={409: {"description": "not passed review, unlabelled AI content, channel disabled"}})
def api_publish(body: PublishIn, request: Request, response: Response,
                principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    out = _run(publish, body.asset_id, body.channel, publish_at=body.publish_at, embargo_until=body.embargo_until,
               actor=principal.name, base_url=_base(request))
    response.status_code = 201 if out["created"] else 200
    return out


@router.get("/api/publish/publications", summary="Publications, newest first, filtered")
def api_publications(channel: str | None = Query(None, max_length=64), asset_id: int | None = Query(None, ge=1),
                     status: str | None = Query(None, max_length=20,
                                                description="scheduled | live | withdrawn | superseded | upcoming "
                                                            "| visible"),
                     limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                     _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(list_publications, channel=channel, asset_id=asset_id, status=status, limit=limit, offset=offset)


@router.get("/api/publish/publications/{publication_id}", summary="One publication")
def api_publication(publication_id: int = Path(..., ge=1),
                    _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _run(get_publication, publication_id)


@router.post("/api/publish/publications/{publication_id}/withdraw",
             summary="Withdraw a publication (a webhook channel is told)")
def api_withdraw(body: WithdrawIn, publication_id: int = Path(..., ge=1),
                 principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(withdraw_publication, publication_id, reason=body.reason, actor=principal.name)


# ---- API: deliveries --------------------------------------------------------------------------------

@router.get("/api/publish/deliveries", summary="Webhook deliveries; status=dead is the dead-letter list")
def api_deliveries(channel: str | None = Query(None, max_length=64),
                   status: str | None = Query(None, max_length=20, description=" | ".join(DELIVERY_STATUSES)),
                   publication_id: int | None = Query(None, ge=1), limit: int = Query(100, ge=1, le=1000),
                   offset: int = Query(0, ge=0), _: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(list_deliveries, channel=channel, status=status, publication_id=publication_id, limit=limit,
                offset=offset)


@router.post("/api/publish/deliveries/{delivery_id}/retry", summary="Send a dead-letter delivery again")
def api_retry(delivery_id: int = Path(..., ge=1), principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _run(retry_delivery, delivery_id, actor=principal.name)


# ---- API: exports -----------------------------------------------------------------------------------

@router.get("/api/publish/export/{asset_id}", summary="A live item as IPTC ninjs 2.1 JSON or NewsML-G2 XML")
def api_export(request: Request, asset_id: int = Path(..., ge=1),
               format: str = Query(..., pattern="^(ninjs|newsml)$", description="ninjs | newsml"),
               channel: str | None = Query(None, max_length=64),
               _: Principal = Depends(require("viewer"))) -> Response:
    from zhimei.distribute.publish.formats import MIME

    body = _run(export_item, asset_id, format, channel=channel, base_url=_base(request))
    return Response(body, media_type=MIME[format])


# ---- public: feeds, exports and media of live items -------------------------------------------------

def _public(fn, *args: Any, **kwargs: Any) -> Any:
    """Public URLs answer 404 for anything not live (they never say whether an asset or channel exists)."""
    try:
        return fn(*args, **kwargs)
    except PublishError as exc:
        raise HTTPException(404 if exc.status in (404, 409) else exc.status, str(exc)) from None


@router.get("/pub/{channel}/{filename}", include_in_schema=False)
async def public_feed(request: Request, channel: str = _channel_path(),
                      filename: str = Path(..., max_length=40), user: str | None = Query(None, max_length=200),
                      sig: str | None = Query(None, max_length=128)) -> Response:
    from zhimei.distribute.publish.feeds import FEED_FILES
    from zhimei.distribute.publish.formats import MIME

    if filename in FEED_FILES:
        body, mime = await run_in_threadpool(_public, feed_document, channel, FEED_FILES[filename],
                                             base_url=_base(request), user=user if filename == "ott.json" else None,
                                             reader_sig=sig, require_sig=True)
    else:
        m = _EXPORT_FILE.match(filename)
        if m is None:
            raise HTTPException(404, f"no such feed {filename!r}: use rss.xml, atom.xml, feed.json, ott.json, "
                                     "<asset id>.ninjs.json or <asset id>.newsml.xml")
        fmt = "ninjs" if m.group(2) == "ninjs.json" else "newsml"
        body = await run_in_threadpool(_public, export_item, int(m.group(1)), fmt, channel=channel,
                                       base_url=_base(request))
        mime = MIME[fmt]
    return Response(body, media_type=mime, headers={"Cache-Control": "public, max-age=60",
                                                    "X-Content-Type-Options": "nosniff"})


@router.get("/pub/{channel}/media/{asset_id}", include_in_schema=False)
async def public_media(request: Request, channel: str = _channel_path(), asset_id: int = Path(..., ge=1),
                       rendition: str | None = Query(None, pattern="^thumbnail$")) -> Response:
    from zhimei.api.routes_media import serve_blob

    ref = await run_in_threadpool(_public, published_media, channel, asset_id, rendition)
    resp = await serve_blob(request, ref.sha, ref.mime)
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


# ---- page -------------------------------------------------------------------------------------------

def _page_data(channel: str | None) -> dict[str, Any]:
    return {"channels": _list_channels(),
            "publications": list_publications(channel=channel, limit=200)["items"],
            "deliveries": list_deliveries(channel=channel, limit=100)["items"],
            "dead": list_deliveries(channel=channel, status="dead", limit=100)["items"]}


@router.get("/publish", include_in_schema=False)
def publish_page(request: Request, channel: str | None = Query(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$"),
                 principal: Principal = Depends(require("editor"))) -> HTMLResponse:
    data = _run(_page_data, channel)
    return render(request, "publish.html", principal, nav="publish", selected=channel, kinds=CHANNEL_KINDS,
                  delivery_statuses=DELIVERY_STATUSES, **data)
