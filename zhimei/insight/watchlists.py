"""Watchlists: terms, people and organisations the newsroom watches, and alerts when their volume or their
share of negative coverage jumps against the baseline.

Windows are aligned to multiples of the watchlist's window length (UTC epoch), so each window has one identity:
an alert is stored at most once per (watchlist, reason, window start) and the partial current window can fire as
soon as it crosses the line. The baseline is the mean of the previous `baseline_windows` windows.

volume:   count >= min_volume and count >= volume_factor * max(1, baseline mean count)
negative: at least min_volume scored items and negative share >= baseline negative share + negative_jump and > 0.5
          (the baseline share is the watchlist's own when its baseline has min_volume scored items, else the whole
          stream's in the same period); negative_jump 1 switches this alert off

Alerts are delivered by the `insight.deliver_alert` background task: an HMAC-signed JSON POST with a timeout,
retried through the job system, never in the request that created it. Signature header:
``X-Zhimei-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``; ``X-Zhimei-Delivery`` is the
alert id, the same on every retry, for the receiver to drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhimei.insight.stories import NEGATIVE_BELOW
from zhimei.insight.trends import InsightError
from zhimei.settings import get_settings
from zhimei.store.models import utcnow
from zhimei.store.models_insight import ALERT_STATUSES, WATCHLIST_KINDS, InsightAlert, InsightItem, InsightWatchlist

__all__ = ["create_watchlist", "list_watchlists", "get_watchlist", "update_watchlist", "delete_watchlist",
           "list_alerts", "check_watchlists", "evaluate_watchlist", "sign_payload", "verify_signature",
           "deliver_alert", "alert_body", "SIGNATURE_HEADER", "DELIVERY_HEADER", "ALERT_ATTEMPTS", "window_bounds"]

SIGNATURE_HEADER = "X-Zhimei-Signature"
DELIVERY_HEADER = "X-Zhimei-Delivery"
ALERT_ATTEMPTS = 5
MAX_TERMS = 50
MAX_MATCHED = 20_000
LIMITS = {"window_hours": (1.0, 720.0), "baseline_windows": (1, 60), "volume_factor": (1.0, 100.0),
          "min_volume": (1, 100_000), "negative_jump": (0.01, 1.0)}


# ---- validation -------------------------------------------------------------------------------------

def _clean_terms(terms: Any) -> list[str]:
    if not isinstance(terms, list | tuple) or not terms:
        raise InsightError("terms: give at least one term, name or spelling to watch")
    out: list[str] = []
    seen: set[str] = set()
    for t in terms:
        if not isinstance(t, str):
            raise InsightError("terms: every term must be text")
        t = " ".join(unicodedata.normalize("NFKC", t).split())
        if not t:
            raise InsightError("terms: a term is empty")
        if len(t) > 100:
            raise InsightError(f"terms: {t[:20]!r}… is longer than 100 characters")
        if t.casefold() not in seen:
            seen.add(t.casefold())
            out.append(t)
    if len(out) > MAX_TERMS:
        raise InsightError(f"terms: at most {MAX_TERMS} spellings per watchlist")
    return out


def _clean_url(url: str | None) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    if len(url) > 2000:
        raise InsightError("webhook_url is longer than 2,000 characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InsightError("webhook_url must be an http(s) URL with a host")
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in url):
        raise InsightError("webhook_url contains spaces or control characters")
    return url


def _check_number(name: str, value: Any) -> Any:
    lo, hi = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InsightError(f"{name} must be between {lo} and {hi}")
    return int(value) if isinstance(lo, int) else float(value)


def _dict(row: InsightWatchlist, *, secret: bool = False) -> dict[str, Any]:
    d = {"id": row.id, "name": row.name, "kind": row.kind, "terms": list(row.terms or []),
         "webhook_url": row.webhook_url, "has_secret": bool(row.secret), "window_hours": row.window_hours,
         "baseline_windows": row.baseline_windows, "volume_factor": row.volume_factor, "min_volume": row.min_volume,
         "negative_jump": row.negative_jump, "enabled": row.enabled, "created_by": row.created_by,
         "created_at": row.created_at.isoformat() if row.created_at else None}
    if secret:
        d["secret"] = row.secret
    return d


# ---- CRUD -------------------------------------------------------------------------------------------

def create_watchlist(session: Session, name: str, terms: list[str], *, kind: str = "term", webhook_url: str = "",
                     secret: str | None = None, window_hours: float = 24.0, baseline_windows: int = 7,
                     volume_factor: float = 2.0, min_volume: int = 3, negative_jump: float = 0.25,
                     enabled: bool = True, actor: str = "") -> dict[str, Any]:
    """Add a watchlist; the answer carries the webhook signing secret (generated unless given) this once."""
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise InsightError("name must be 1 to 200 characters")
    if kind not in WATCHLIST_KINDS:
        raise InsightError(f"kind must be one of {', '.join(WATCHLIST_KINDS)}, not {kind!r}")
    if secret is not None and not 16 <= len(secret) <= 200:
        raise InsightError("secret must be 16 to 200 characters (leave it out to have one made)")
    if session.scalar(select(InsightWatchlist.id).where(InsightWatchlist.name == name)) is not None:
        raise InsightError(f"a watchlist named {name!r} exists already", status=409)
    row = InsightWatchlist(
        name=name, kind=kind, terms=_clean_terms(terms), webhook_url=_clean_url(webhook_url),
        secret=secret or secrets.token_urlsafe(32), window_hours=_check_number("window_hours", window_hours),
        baseline_windows=_check_number("baseline_windows", baseline_windows),
        volume_factor=_check_number("volume_factor", volume_factor),
        min_volume=_check_number("min_volume", min_volume), negative_jump=_check_number("negative_jump", negative_jump),
        enabled=bool(enabled), created_by=actor[:100])
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise InsightError(f"a watchlist named {name!r} exists already", status=409) from None
    return _dict(row, secret=True)


def list_watchlists(session: Session) -> list[dict[str, Any]]:
    """All watchlists (without their secrets), by name, with their alert counts."""
    counts = dict(session.execute(select(InsightAlert.watchlist_id, func.count()).group_by(InsightAlert.watchlist_id))
                  .all())
    out = []
    for row in session.scalars(select(InsightWatchlist).order_by(InsightWatchlist.name)):
        d = _dict(row)
        d["alerts"] = int(counts.get(row.id, 0))
        out.append(d)
    return out


def _get(session: Session, watchlist_id: int) -> InsightWatchlist:
    row = session.get(InsightWatchlist, watchlist_id)
    if row is None:
        raise InsightError(f"no watchlist {watchlist_id}", status=404)
    return row


def get_watchlist(session: Session, watchlist_id: int) -> dict[str, Any]:
    """One watchlist (without its secret)."""
    return _dict(_get(session, watchlist_id))


def update_watchlist(session: Session, watchlist_id: int, **changes: Any) -> dict[str, Any]:
    """Change a watchlist's terms, kind, webhook, thresholds or switch it on/off (fields left out stay)."""
    row = _get(session, watchlist_id)
    for key, value in changes.items():
        if value is None:
            continue
        if key == "terms":
            row.terms = _clean_terms(value)
        elif key == "webhook_url":
            row.webhook_url = _clean_url(value)
        elif key == "kind":
            if value not in WATCHLIST_KINDS:
                raise InsightError(f"kind must be one of {', '.join(WATCHLIST_KINDS)}, not {value!r}")
            row.kind = value
        elif key == "enabled":
            row.enabled = bool(value)
        elif key == "name":
            name = " ".join(str(value).split())
            if not name or len(name) > 200:
                raise InsightError("name must be 1 to 200 characters")
            clash = session.scalar(select(InsightWatchlist.id).where(InsightWatchlist.name == name,
                                                                     InsightWatchlist.id != watchlist_id))
            if clash is not None:
                raise InsightError(f"a watchlist named {name!r} exists already", status=409)
            row.name = name
        elif key in LIMITS:
            setattr(row, key, _check_number(key, value))
        else:
            raise InsightError(f"unknown field {key!r}")
    session.flush()
    return _dict(row)


def delete_watchlist(session: Session, watchlist_id: int) -> dict[str, Any]:
    """Remove a watchlist and its alert history."""
    row = _get(session, watchlist_id)
    d = _dict(row)
    session.delete(row)
    session.flush()
    return d


def _alert_dict(a: InsightAlert, name: str | None = None) -> dict[str, Any]:
    return {"id": a.id, "watchlist_id": a.watchlist_id, "watchlist": name, "reason": a.reason,
            "window_start": a.window_start.isoformat(), "window_end": a.window_end.isoformat(), "volume": a.volume,
            "baseline": a.baseline, "negative_share": a.negative_share, "baseline_negative": a.baseline_negative,
            "asset_ids": list(a.asset_ids or []), "status": a.status, "attempts": a.attempts,
            "response_status": a.response_status, "last_error": a.last_error,
            "delivered_at": a.delivered_at.isoformat() if a.delivered_at else None,
            "created_at": a.created_at.isoformat() if a.created_at else None}


def list_alerts(session: Session, *, watchlist_id: int | None = None, status: str | None = None,
                limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """Alert history, newest first."""
    if status is not None and status not in ALERT_STATUSES:
        raise InsightError(f"status must be one of {', '.join(ALERT_STATUSES)}, not {status!r}")
    if not 1 <= limit <= 1000 or offset < 0:
        raise InsightError("limit must be between 1 and 1000 and offset not negative")
    q = select(InsightAlert, InsightWatchlist.name).join(InsightWatchlist)
    total = select(func.count()).select_from(InsightAlert)
    if watchlist_id is not None:
        q = q.where(InsightAlert.watchlist_id == watchlist_id)
        total = total.where(InsightAlert.watchlist_id == watchlist_id)
    if status is not None:
        q = q.where(InsightAlert.status == status)
        total = total.where(InsightAlert.status == status)
    rows = session.execute(q.order_by(InsightAlert.id.desc()).limit(limit).offset(offset)).all()
    return {"total": int(session.scalar(total) or 0), "items": [_alert_dict(a, n) for a, n in rows]}


# ---- evaluation -------------------------------------------------------------------------------------

def window_bounds(now: datetime, window_hours: float) -> tuple[datetime, datetime]:
    """The aligned window containing `now`: [start, start + window_hours)."""
    size = window_hours * 3600.0
    start = (now.timestamp() // size) * size
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + size, UTC)


def _matched(session: Session, terms: list[str], start: datetime, end: datetime) -> list[tuple]:
    conds = [func.lower(InsightItem.text).contains(t.lower(), autoescape=True) for t in terms]
    q = (select(InsightItem.at, InsightItem.sentiment, InsightItem.asset_id)
         .where(InsightItem.at >= start, InsightItem.at < end, or_(*conds))
         .order_by(InsightItem.at.desc()).limit(MAX_MATCHED))
    rows = session.execute(q).all()
    folded = [t.casefold() for t in terms]
    if all(t.isascii() for t in folded):
        return rows
    # SQLite's lower() folds ASCII only: confirm non-ASCII spellings in Python
    keep = {r[2] for r in rows}
    texts = dict(session.execute(select(InsightItem.asset_id, InsightItem.text)
                                 .where(InsightItem.asset_id.in_(list(keep)))).all()) if keep else {}
    return [r for r in rows if any(t in (texts.get(r[2]) or "").casefold() for t in folded)]


def _neg_share(values: list[float | None]) -> tuple[float | None, int]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None, 0
    return sum(1 for v in vals if v < NEGATIVE_BELOW) / len(vals), len(vals)


def evaluate_watchlist(session: Session, watchlist_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The watchlist's current window against its baseline: counts, shares and which reasons fire."""
    wl = _get(session, watchlist_id)
    now = now or utcnow()
    start, end = window_bounds(now, wl.window_hours)
    size = timedelta(hours=wl.window_hours)
    base_start = start - size * wl.baseline_windows
    rows = _matched(session, list(wl.terms or []), base_start, end)
    current = [r for r in rows if r[0] >= start]
    base = [r for r in rows if r[0] < start]
    baseline = len(base) / wl.baseline_windows
    volume = len(current)
    share, scored = _neg_share([r[1] for r in current])
    base_share, base_scored = _neg_share([r[1] for r in base])
    if base_scored < wl.min_volume:  # too little of its own history: the stream's share in that period
        stream = session.execute(select(InsightItem.sentiment).where(
            InsightItem.at >= base_start, InsightItem.at < start, InsightItem.sentiment.is_not(None))
            .limit(MAX_MATCHED)).scalars().all()
        base_share, _ = _neg_share(list(stream))
    fires = []
    if volume >= wl.min_volume and volume >= wl.volume_factor * max(1.0, baseline):
        fires.append("volume")
    if (wl.negative_jump < 1.0 and share is not None and scored >= wl.min_volume and share > 0.5
            and share >= (base_share or 0.0) + wl.negative_jump):
        fires.append("negative")
    return {"watchlist_id": wl.id, "window_start": start, "window_end": end, "volume": volume,
            "baseline": round(baseline, 4), "negative_share": None if share is None else round(share, 4),
            "baseline_negative": None if base_share is None else round(base_share, 4), "fires": fires,
            "asset_ids": [r[2] for r in current[:50]]}


def check_watchlists(*, now: datetime | None = None) -> list[int]:
    """Evaluate every enabled watchlist; store each new alert (once per reason and window) and queue its webhook
    delivery in the same transaction. Returns the new alert ids."""
    from zhimei.jobs.tasks import enqueue_task
    from zhimei.store.db import session_scope

    with session_scope() as session:
        ids = list(session.scalars(select(InsightWatchlist.id).where(InsightWatchlist.enabled.is_(True))))
    created: list[int] = []
    for wid in ids:
        with session_scope() as session:
            ev = evaluate_watchlist(session, wid, now=now)
            wl = session.get(InsightWatchlist, wid)
            for reason in ev["fires"]:
                exists = session.scalar(select(InsightAlert.id).where(
                    InsightAlert.watchlist_id == wid, InsightAlert.reason == reason,
                    InsightAlert.window_start == ev["window_start"]))
                if exists is not None:
                    continue
                alert = InsightAlert(watchlist_id=wid, reason=reason, window_start=ev["window_start"],
                                     window_end=ev["window_end"], volume=ev["volume"], baseline=ev["baseline"],
                                     negative_share=ev["negative_share"], baseline_negative=ev["baseline_negative"],
                                     asset_ids=ev["asset_ids"], status="pending" if wl.webhook_url else "no_webhook")
                try:
                    with session.begin_nested():
                        session.add(alert)
                        session.flush()
                except IntegrityError:  # another run stored it first
                    continue
                if wl.webhook_url:
                    enqueue_task("insight.deliver_alert", {"alert_id": alert.id}, key=f"alert:{alert.id}",
                                 session=session)
                created.append(alert.id)
    return created


# ---- delivery ---------------------------------------------------------------------------------------

def sign_payload(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for `body`: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, tolerance_seconds: float = 300.0) -> bool:
    """Whether a signature header is valid for `body` and recent (what a receiver checks)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > tolerance_seconds:
        return False
    expected = sign_payload(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def alert_body(session: Session, alert_id: int) -> tuple[bytes, InsightAlert, InsightWatchlist]:
    """The JSON body of an alert's webhook (the same bytes on every retry, apart from nothing)."""
    alert = session.get(InsightAlert, alert_id)
    if alert is None:
        raise InsightError(f"no alert {alert_id}", status=404)
    wl = session.get(InsightWatchlist, alert.watchlist_id)
    payload = {"event": "insight.alert", "alert": {k: v for k, v in _alert_dict(alert, wl.name).items()
                                                   if k not in ("status", "attempts", "response_status",
                                                                "last_error", "delivered_at")},
               "watchlist": {"id": wl.id, "name": wl.name, "kind": wl.kind, "terms": list(wl.terms or [])}}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode(), alert, wl


def _guard(request) -> None:
    """Refuse hosts that resolve to loopback/private/link-local addresses unless fetch_private_urls allows."""
    from zhimei.library import UnsafeURL, check_public_host

    try:
        check_public_host(request.url.host, request.url.port, doing="post to")
    except UnsafeURL as exc:
        raise InsightError(str(exc)) from None


class DeliveryFailed(RuntimeError):
    """A webhook attempt failed; `permanent` when retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def deliver_alert(alert_id: int, *, attempt: int = 1, max_attempts: int = ALERT_ATTEMPTS) -> dict[str, Any]:
    """POST one alert to its watchlist's webhook (signed, with the settings' timeout). Records the attempt on
    the alert; raises DeliveryFailed on failure (the job system retries). Already sent: nothing is posted again."""
    import httpx

    from zhimei.store.db import session_scope

    with session_scope() as session:
        body, alert, wl = alert_body(session, alert_id)
        if alert.status == "sent":
            return {"alert_id": alert_id, "status": "sent", "already": True}
        url, secret = wl.webhook_url, wl.secret
    if not url:
        raise DeliveryFailed("the watchlist has no webhook_url", permanent=True)
    headers = {"content-type": "application/json", "user-agent": "zhimei-insight/1",
               SIGNATURE_HEADER: sign_payload(secret, body), DELIVERY_HEADER: f"alert-{alert_id}",
               "X-Zhimei-Event": "insight.alert"}
    error: str | None = None
    status: int | None = None
    permanent = False
    try:
        with httpx.Client(timeout=get_settings().insight_webhook_timeout_seconds, follow_redirects=False,
                          event_hooks={"request": [_guard]}) as client:
            resp = client.post(url, content=body, headers=headers)
        status = resp.status_code
        if not 200 <= status < 300:
            error = f"the webhook answered HTTP {status}"
            permanent = 400 <= status < 500 and status not in (408, 409, 425, 429)
    except InsightError as exc:
        error, permanent = str(exc), True
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    last = permanent or attempt >= max_attempts
    with session_scope() as session:
        alert = session.get(InsightAlert, alert_id)
        if alert is None:
            return {"alert_id": alert_id, "status": "deleted"}
        alert.attempts = max(alert.attempts, attempt)
        alert.response_status = status
        if error is None:
            alert.status, alert.delivered_at, alert.last_error = "sent", utcnow(), None
        else:
            alert.last_error = error[:2000]
            alert.status = "failed" if last else "pending"
    if error is not None:
        raise DeliveryFailed(error, permanent=permanent)
    return {"alert_id": alert_id, "status": "sent", "http_status": status}
