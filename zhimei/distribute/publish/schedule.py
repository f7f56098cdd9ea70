"""Publishing, schedules and embargoes (定时发布与禁发).

A publication is one asset version in one channel. It is live from ``live_from`` = the later of ``publish_at``
and ``embargo_until``: every reader of publications (feeds, exports, OTT, ``published_asset_ids``) filters on
it, so nothing shows before its time even if the periodic ``publish.go_live`` task runs late; that task flips
due publications to ``live``, retires the older version of the same asset in the channel and queues the
webhook deliveries.

Gate: only the current version of an asset with a passed review case publishes (``require_passed``); an
AI-generated asset must carry its AIGC label, and gets the propagator fields (ContentPropagator, PropagateID)
written into its published file (``add_propagator``) before the publication exists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhimei.distribute.publish.channels import channel_by_name, check_name
from zhimei.distribute.publish.errors import PublishError
from zhimei.distribute.publish.items import snapshot
from zhimei.settings import get_settings
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset, utcnow
from zhimei.store.models_publish import Publication, PublishChannel

__all__ = ["publish", "withdraw", "withdraw_publication", "make_due_live", "published_asset_ids",
           "publication_times", "live_publications", "list_publications", "get_publication", "publication_dict",
           "parse_time", "aigc_state", "propagator_name", "ACTIVE"]

ACTIVE = ("scheduled", "live")
MAX_FUTURE_DAYS = 3660


# ---- the contract: what is live -----------------------------------------------------------------------

def _live_query(now: datetime, channel: str | None):
    q = (select(Publication.asset_id, func.max(Publication.live_from).label("at"))
         .join(PublishChannel, PublishChannel.id == Publication.channel_id)
         .where(Publication.status.in_(ACTIVE), Publication.live_from <= now, PublishChannel.enabled.is_(True)))
    if channel is not None:
        q = q.where(PublishChannel.name == channel)
    return q.group_by(Publication.asset_id)


def published_asset_ids(session: Session, channel: str | None = None) -> list[int]:
    """Assets live now (published, not withdrawn, past publish time and embargo) in `channel` or any enabled
    channel, most recently published first."""
    rows = session.execute(_live_query(utcnow(), channel)).all()
    rows.sort(key=lambda r: (r.at, r.asset_id), reverse=True)
    return [r.asset_id for r in rows]


def publication_times(session: Session, asset_ids: list[int] | tuple[int, ...] | set[int]) -> dict[int, datetime]:
    """First publication time of each asset that has gone live (assets never live are left out)."""
    ids = sorted({int(i) for i in asset_ids})
    if not ids:
        return {}
    now = utcnow()
    out: dict[int, datetime] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        rows = session.execute(
            select(Publication.asset_id, func.min(Publication.live_from))
            .where(Publication.asset_id.in_(part), Publication.live_from <= now,
                   (Publication.went_live_at.is_not(None)) | (Publication.status.in_(ACTIVE)))
            .group_by(Publication.asset_id)).all()
        out.update({aid: at for aid, at in rows if at is not None})
    return out


def live_publications(session: Session, channel: PublishChannel, limit: int,
                      now: datetime | None = None) -> list[Publication]:
    """The channel's live publications, newest first, one per asset (its newest live version)."""
    now = now or utcnow()
    rows = session.scalars(select(Publication).where(Publication.channel_id == channel.id,
                                                     Publication.status.in_(ACTIVE), Publication.live_from <= now)
                           .order_by(Publication.live_from.desc(), Publication.id.desc()).limit(limit * 4 + 10))
    seen: set[int] = set()
    out = []
    for p in rows:
        if p.asset_id in seen:
            continue
        seen.add(p.asset_id)
        out.append(p)
        if len(out) >= limit:
            break
    return out


# ---- input --------------------------------------------------------------------------------------------

def parse_time(value: str | datetime | None, what: str) -> datetime | None:
    """An ISO 8601 time as aware UTC (a time without offset is taken as UTC); PublishError (422) otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise PublishError(f"{what} {value!r} is not an ISO 8601 time such as 2026-12-24T08:00:00+08:00") \
                from None
    else:
        raise PublishError(f"{what} must be an ISO 8601 time")
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if (dt - utcnow()).days > MAX_FUTURE_DAYS:
        raise PublishError(f"{what} {dt.isoformat()} is more than ten years ahead")
    return dt


def _check_id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PublishError(f"{what} must be a positive integer, got {value!r}")
    return value


def _actor(actor: Any) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise PublishError("actor must be a non-empty name")
    return actor.strip()[:100]


# ---- AIGC ---------------------------------------------------------------------------------------------

def aigc_state(meta: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
    """("labelled", fields) for an asset carrying an AIGC label, ("unlabelled", None) for AI-generated content
    without one (or whose label was removed), ("none", None) otherwise."""
    prov = meta.get("provenance") or {}
    fields = meta.get("aigc_label") or (prov.get("labelled") or {}).get("aigc")
    inbound = prov.get("inbound") or {}
    if not fields and inbound.get("aigc_fields") and inbound.get("status") == "labelled":
        fields = inbound["aigc_fields"]
    if fields:
        return "labelled", dict(fields)
    if meta.get("ai_generated") or inbound.get("status") in ("label-removed", "tampered", "inconsistent"):
        return "unlabelled", None
    return "none", None


def propagator_name() -> str:
    """The ContentPropagator this installation writes: setting publish_propagator, else the AIGC producer."""
    from zhimei.review.labels import default_producer

    return get_settings().publish_propagator or default_producer()


def _labelled_child(asset_id: int) -> int | None:
    from zhimei.review.labels import provenance_of

    versions = provenance_of(asset_id).get("labelled_versions") or []
    return versions[-1]["asset_id"] if versions else None


def _propagate(asset_id: int, channel: str, version: str, actor: str) -> dict[str, Any]:
    from zhimei.review.labels import AssetNotFound, LabelError, add_propagator

    try:
        return add_propagator(asset_id, propagator_name(), f"zm-{channel}-{asset_id}-{version[:12]}",
                              created_by=actor)
    except AssetNotFound as exc:
        raise PublishError(str(exc), 404) from None
    except LabelError as exc:
        raise PublishError(f"asset {asset_id} is AI-generated but its propagator fields could not be written, so "
                           f"it is not published: {exc}", 409) from None


# ---- publish ------------------------------------------------------------------------------------------

def publication_dict(p: Publication, channel: str | None = None, asset_title: str | None = None,
                     now: datetime | None = None) -> dict[str, Any]:
    """A publication as JSON; ``visible`` says whether feeds show it now."""
    now = now or utcnow()
    return {"id": p.id, "asset_id": p.asset_id, "asset_title": asset_title if asset_title is not None else p.title,
            "channel": channel, "channel_id": p.channel_id, "version": p.version, "review_case": p.review_case_id,
            "status": p.status, "revision": p.revision, "publish_at": p.publish_at.isoformat(),
            "embargo_until": p.embargo_until.isoformat() if p.embargo_until else None,
            "live_from": p.live_from.isoformat(), "visible": p.status in ACTIVE and p.live_from <= now,
            "went_live_at": p.went_live_at.isoformat() if p.went_live_at else None,
            "withdrawn_at": p.withdrawn_at.isoformat() if p.withdrawn_at else None,
            "withdraw_reason": p.withdraw_reason, "ai_generated": p.ai_generated,
            "aigc": (p.aigc or {}).get("aigc"), "aigc_rendition": (p.aigc or {}).get("rendition"),
            "created_by": p.created_by, "created_at": p.created_at.isoformat(),
            "updated_at": p.updated_at.isoformat()}


def _go_live(session: Session, pub: Publication, channel: PublishChannel, now: datetime) -> list[int]:
    """Make one due publication live in the caller's transaction; returns the delivery ids queued."""
    res = session.execute(update(Publication).where(Publication.id == pub.id, Publication.status == "scheduled")
                          .values(status="live", went_live_at=now, updated_at=now))
    if res.rowcount != 1:
        return []
    session.refresh(pub)
    older = session.scalars(select(Publication).where(Publication.asset_id == pub.asset_id,
                                                      Publication.channel_id == pub.channel_id,
                                                      Publication.id != pub.id,
                                                      Publication.status.in_(ACTIVE),
                                                      Publication.live_from <= pub.live_from))
    for o in older:
        o.status, o.updated_at = "superseded", now
    if channel.kind != "webhook":
        return []
    from zhimei.distribute.publish.webhooks import queue_delivery

    return [queue_delivery(session, pub, channel, "publish")]


def publish(asset_id: int, channel: str, *, publish_at: str | datetime | None = None,
            embargo_until: str | datetime | None = None, actor: str = "system",
            base_url: str | None = None) -> dict[str, Any]:
    """Publish the asset's current version in `channel` at `publish_at` (default now), not before
    `embargo_until`. Idempotent: the same version in the same channel is one publication (a scheduled one is
    rescheduled to the new times; a withdrawn or superseded one is reinstated as a new revision). Returns the
    publication with ``created``. PublishError: 404 unknown asset/channel, 409 not passed review / unlabelled AI
    content / channel disabled, 422 bad input."""
    from zhimei.review.queue import NotPassed, ReviewError, asset_version, require_passed

    _check_id(asset_id, "asset id")
    channel = check_name(channel)
    actor = _actor(actor)
    at = parse_time(publish_at, "publish_at")
    embargo = parse_time(embargo_until, "embargo_until")
    with read_scope() as s:
        chan = channel_by_name(s, channel)
        if not chan.enabled:
            raise PublishError(f"channel {channel!r} is disabled; enable it before publishing to it", 409)
        review_channel = (chan.config or {}).get("review_channel")
        asset = s.get(Asset, asset_id)
        if asset is None:
            raise PublishError(f"asset {asset_id} not found", 404)
        if asset.status == "failed":
            raise PublishError(f"asset {asset_id} failed processing ({asset.failure_reason or 'see its jobs'}); "
                               "it cannot be published", 409)
        version = asset_version(s, asset_id)
        meta = dict(asset.meta or {})
        title = asset.title or asset.filename
    try:
        case_id = require_passed(asset_id, review_channel)
    except NotPassed as exc:
        raise PublishError(f"not published: {exc}", 409) from None
    except ReviewError as exc:
        raise PublishError(str(exc), exc.status) from None
    state, _fields = aigc_state(meta)
    if state == "unlabelled":
        child = _labelled_child(asset_id)
        hint = (f"publish its labelled version, asset {child}" if child is not None
                else f"label it first (zhimei labels apply {asset_id}) and publish the labelled asset")
        raise PublishError(f"asset {asset_id} is AI-generated but carries no AIGC label; {hint}", 409)
    prop = _propagate(asset_id, channel, version, actor) if state == "labelled" else None
    aigc = None
    if prop is not None:
        aigc = {k: prop.get(k) for k in ("rendition", "sha256", "mime", "size_bytes", "aigc", "url", "at")}
    now = utcnow()
    at = at or now
    live_from = max(at, embargo) if embargo else at
    deliveries: list[int] = []
    try:
        with session_scope() as s:
            chan = channel_by_name(s, channel)
            asset = s.get(Asset, asset_id, with_for_update=True)
            if asset is None or asset_version(s, asset_id) != version:
                raise PublishError(f"asset {asset_id} changed while it was being published; the new version needs "
                                   "its own review", 409)
            pub = s.scalars(select(Publication).where(Publication.asset_id == asset_id,
                                                      Publication.channel_id == chan.id,
                                                      Publication.version == version)
                            .with_for_update()).first()
            created = pub is None
            if pub is None:
                pub = Publication(asset_id=asset_id, channel_id=chan.id, version=version, review_case_id=case_id,
                                  status="scheduled", revision=1, publish_at=at, embargo_until=embargo,
                                  live_from=live_from, title=title[:1000], ai_generated=state == "labelled",
                                  aigc=aigc, content=snapshot(s, asset), created_by=actor, created_at=now,
                                  updated_at=now)
                s.add(pub)
                s.flush()
            elif pub.status == "scheduled" and (publish_at is not None or embargo_until is not None):
                pub.publish_at, pub.embargo_until, pub.live_from = at, embargo, live_from
                pub.review_case_id, pub.updated_at = case_id, now
            elif pub.status in ("withdrawn", "superseded"):  # published again: a new revision
                pub.status, pub.revision = "scheduled", pub.revision + 1
                pub.publish_at, pub.embargo_until, pub.live_from = at, embargo, live_from
                pub.went_live_at, pub.withdrawn_at, pub.withdraw_reason = None, None, ""
                pub.review_case_id, pub.aigc, pub.updated_at = case_id, aigc or pub.aigc, now
                pub.content = snapshot(s, asset)
            if pub.status == "scheduled" and pub.live_from <= now:
                deliveries = _go_live(s, pub, chan, now)
            out = publication_dict(pub, channel, title, now)
    except IntegrityError:  # a concurrent call published the same version: that one stands
        with read_scope() as s:
            chan = channel_by_name(s, channel)
            pub = s.scalars(select(Publication).where(Publication.asset_id == asset_id,
                                                      Publication.channel_id == chan.id,
                                                      Publication.version == version)).one()
            out, created = publication_dict(pub, channel, title), False
    _dispatch(deliveries)
    return {**out, "created": created}


def _dispatch(delivery_ids: list[int]) -> None:
    if delivery_ids:
        from zhimei.jobs import dispatch_ready

        dispatch_ready()


def make_due_live(now: datetime | None = None) -> list[int]:
    """Flip every scheduled publication whose time has come to live (what the periodic task runs); returns
    their ids."""
    now = now or utcnow()
    done: list[int] = []
    deliveries: list[int] = []
    with read_scope() as s:
        due = list(s.scalars(select(Publication.id).where(Publication.status == "scheduled",
                                                          Publication.live_from <= now)
                             .order_by(Publication.live_from, Publication.id).limit(5000)))
    for pid in due:
        with session_scope() as s:
            pub = s.get(Publication, pid)
            if pub is None or pub.status != "scheduled":
                continue
            chan = s.get(PublishChannel, pub.channel_id)
            deliveries += _go_live(s, pub, chan, now)
            done.append(pid)
    _dispatch(deliveries)
    return done


# ---- withdraw -----------------------------------------------------------------------------------------

def withdraw_publication(publication_id: int, *, reason: str = "", actor: str = "system") -> dict[str, Any]:
    """Take one publication down (a scheduled one never goes live); a webhook channel is told when the
    publication had gone live. Withdrawing twice changes nothing."""
    _check_id(publication_id, "publication id")
    actor = _actor(actor)
    if not isinstance(reason, str) or len(reason) > 2000:
        raise PublishError("reason must be text of at most 2000 characters")
    deliveries: list[int] = []
    with session_scope() as s:
        pub = s.get(Publication, publication_id, with_for_update=True)
        if pub is None:
            raise PublishError(f"publication {publication_id} not found", 404)
        chan = s.get(PublishChannel, pub.channel_id)
        if pub.status in ACTIVE:
            was_out = pub.went_live_at is not None
            now = utcnow()
            pub.status, pub.withdrawn_at, pub.updated_at = "withdrawn", now, now
            pub.withdraw_reason = f"{reason.strip()} ({actor})".strip() if reason.strip() else f"by {actor}"
            if was_out and chan.kind == "webhook":
                from zhimei.distribute.publish.webhooks import queue_delivery

                deliveries.append(queue_delivery(s, pub, chan, "withdraw"))
        title = s.get(Asset, pub.asset_id).title
        out = publication_dict(pub, chan.name, title)
    _dispatch(deliveries)
    return out


def withdraw(asset_id: int, channel: str | None = None, *, reason: str = "", actor: str = "system"
             ) -> list[dict[str, Any]]:
    """Withdraw the asset's active publications in `channel` (or in every channel); returns them."""
    _check_id(asset_id, "asset id")
    with read_scope() as s:
        if s.get(Asset, asset_id) is None:
            raise PublishError(f"asset {asset_id} not found", 404)
        q = select(Publication.id).where(Publication.asset_id == asset_id, Publication.status.in_(ACTIVE))
        if channel is not None:
            q = q.where(Publication.channel_id == channel_by_name(s, check_name(channel)).id)
        ids = list(s.scalars(q.order_by(Publication.id)))
    if not ids:
        where = f" in channel {channel!r}" if channel else ""
        raise PublishError(f"asset {asset_id} has no scheduled or live publication{where}", 404)
    return [withdraw_publication(i, reason=reason, actor=actor) for i in ids]


# ---- read ---------------------------------------------------------------------------------------------

def get_publication(publication_id: int) -> dict[str, Any]:
    """One publication."""
    _check_id(publication_id, "publication id")
    with read_scope() as s:
        row = s.execute(select(Publication, PublishChannel.name, Asset.title)
                        .join(PublishChannel, PublishChannel.id == Publication.channel_id)
                        .join(Asset, Asset.id == Publication.asset_id)
                        .where(Publication.id == publication_id)).first()
        if row is None:
            raise PublishError(f"publication {publication_id} not found", 404)
        return publication_dict(row[0], row[1], row[2])


def list_publications(*, channel: str | None = None, asset_id: int | None = None, status: str | None = None,
                      limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """Publications, newest live time first, filtered by channel, asset and status (a status or
    ``upcoming`` = scheduled and not yet visible)."""
    if not 1 <= limit <= 1000 or offset < 0:
        raise PublishError("limit must be 1-1000 and offset >= 0")
    allowed = ("scheduled", "live", "withdrawn", "superseded", "upcoming", "visible")
    if status is not None and status not in allowed:
        raise PublishError(f"unknown publication status {status!r}; use one of {', '.join(allowed)}")
    now = utcnow()
    with read_scope() as s:
        q = (select(Publication, PublishChannel.name, Asset.title)
             .join(PublishChannel, PublishChannel.id == Publication.channel_id)
             .join(Asset, Asset.id == Publication.asset_id))
        if channel is not None:
            q = q.where(PublishChannel.name == check_name(channel))
        if asset_id is not None:
            q = q.where(Publication.asset_id == _check_id(asset_id, "asset id"))
        if status == "upcoming":
            q = q.where(Publication.status == "scheduled", Publication.live_from > now)
        elif status == "visible":
            q = q.where(Publication.status.in_(ACTIVE), Publication.live_from <= now)
        elif status is not None:
            q = q.where(Publication.status == status)
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.execute(q.order_by(Publication.live_from.desc(), Publication.id.desc())
                         .limit(limit).offset(offset)).all()
        items = [publication_dict(p, name, title, now) for p, name, title in rows]
    return {"total": total, "items": items}
