"""Signed webhooks (推送): a POST of the published item to the channel's URL, retried with exponential backoff
through the job system, and put on the dead-letter list after the last attempt.

Each message is a ``publish_delivery`` row made in the same transaction as the publication change, keyed by
(publication, event, revision): however often a worker or an editor retries, the receiver gets one message id.

Headers of every attempt::

    X-Zhimei-Event: publish | withdraw
    X-Zhimei-Delivery: <the delivery key; the same on every retry, for the receiver to drop duplicates>
    X-Zhimei-Timestamp: <unix seconds of this attempt>
    X-Zhimei-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

The receiver recomputes the HMAC over the timestamp, a dot and the raw body with the channel's secret, compares
in constant time and refuses old timestamps (``verify_signature`` does exactly that). An attempt has one
whole-request time limit, so a hanging endpoint costs one worker that long and nothing else; redirects are not
followed; any answer but 2xx is a failure; receivers on internal addresses are refused unless the
``fetch_private_urls`` setting allows them (as for ingest).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.distribute.publish.channels import check_name
from zhimei.distribute.publish.errors import PublishError
from zhimei.settings import get_settings
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import utcnow
from zhimei.store.models_publish import DELIVERY_STATUSES, Publication, PublishChannel, PublishDelivery

__all__ = ["sign", "verify_signature", "queue_delivery", "deliver_once", "retry_delivery", "list_deliveries",
           "delivery_dict", "base_url", "DELIVER_TASK", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "DELIVERY_HEADER",
           "EVENT_HEADER", "MAX_RESPONSE_BYTES"]

DELIVER_TASK = "publish.deliver"
SIGNATURE_HEADER = "X-Zhimei-Signature"
TIMESTAMP_HEADER = "X-Zhimei-Timestamp"
DELIVERY_HEADER = "X-Zhimei-Delivery"
EVENT_HEADER = "X-Zhimei-Event"
MAX_RESPONSE_BYTES = 64 * 1024
TOLERANCE_SECONDS = 300


def base_url() -> str:
    """The public address for links in background messages (setting publish_base_url; empty: relative links)."""
    return get_settings().publish_base_url.rstrip("/")


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes, *,
                     tolerance: float = TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """What a receiver checks: the signature matches and the timestamp is within `tolerance` seconds."""
    if not timestamp or not signature:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature.strip())


def delivery_dict(d: PublishDelivery, channel: str | None = None, asset_id: int | None = None) -> dict[str, Any]:
    """A delivery as JSON (without its body)."""
    return {"id": d.id, "publication_id": d.publication_id, "asset_id": asset_id, "channel": channel,
            "event": d.event, "revision": d.revision, "key": d.key, "status": d.status, "attempts": d.attempts,
            "max_attempts": d.max_attempts,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
            "last_status_code": d.last_status_code, "last_error": d.last_error, "history": d.history or [],
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            "created_at": d.created_at.isoformat(), "updated_at": d.updated_at.isoformat()}


def _max_attempts(chan: PublishChannel) -> int:
    return int((chan.config or {}).get("max_attempts") or get_settings().publish_webhook_max_attempts)


def _enqueue(session: Session, delivery_id: int, attempt: int, not_before: datetime | None = None) -> int:
    from zhimei.jobs.tasks import enqueue_task

    return enqueue_task(DELIVER_TASK, {"delivery_id": delivery_id}, key=f"dlv:{delivery_id}:{attempt}",
                        not_before=not_before, session=session)


def queue_delivery(session: Session, pub: Publication, chan: PublishChannel, event: str) -> int:
    """Make (once) the delivery of `event` for the publication's current revision and queue its first attempt,
    in the caller's transaction. Returns the delivery id."""
    if event not in ("publish", "withdraw"):
        raise ValueError(f"unknown webhook event {event!r}")
    key = hashlib.sha256(f"zhimei-delivery|{pub.id}|{event}|{pub.revision}".encode()).hexdigest()
    found = session.scalars(select(PublishDelivery).where(PublishDelivery.key == key)).first()
    if found is not None:
        return found.id
    from zhimei.distribute.publish.items import build_item
    from zhimei.distribute.publish.schedule import publication_dict

    item = build_item(session, pub, chan, base_url())
    body = json.dumps({"event": event, "delivery": key, "channel": chan.name,
                       "publication": publication_dict(pub, chan.name), "item": item.to_dict()},
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    now = utcnow()
    d = PublishDelivery(publication_id=pub.id, channel_id=chan.id, event=event, revision=pub.revision, key=key,
                        body=body, status="pending", attempts=0, max_attempts=_max_attempts(chan), history=[],
                        created_at=now, updated_at=now)
    session.add(d)
    session.flush()
    _enqueue(session, d.id, 1)
    return d.id


class _PrivateAddress(Exception):
    """The webhook host resolves to a loopback, private or link-local address."""


def _guard(request: httpx.Request) -> None:
    """Refuse internal hosts unless the fetch_private_urls setting allows them (as ingest does)."""
    from zhimei.library import UnsafeURL, check_public_host

    try:
        check_public_host(request.url.host, request.url.port, doing="deliver to")
    except UnsafeURL as exc:
        raise _PrivateAddress(str(exc)) from None


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """One POST with a whole-request deadline: (status code, error)."""
    deadline = time.monotonic() + timeout
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False,
                          event_hooks={"request": [_guard]}) as client:
            with client.stream("POST", url, content=body, headers=headers) as resp:
                got = 0
                for chunk in resp.iter_raw():
                    got += len(chunk)
                    if got > MAX_RESPONSE_BYTES:
                        break
                    if time.monotonic() > deadline:
                        return resp.status_code, f"the answer took longer than {timeout:g} s"
                return resp.status_code, None
    except _PrivateAddress as exc:
        return None, str(exc)
    except httpx.TimeoutException as exc:
        return None, f"timed out after {timeout:g} s ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]


def deliver_once(delivery_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Make one attempt at a delivery (what the ``publish.deliver`` task runs): a 2xx answer delivers it; any other
    outcome queues the next attempt after base × 2^(n-1) seconds, or puts it on the dead-letter list after the
    last. A delivered or dead delivery is left alone."""
    with read_scope() as s:
        d = s.get(PublishDelivery, delivery_id)
        if d is None:
            raise PublishError(f"delivery {delivery_id} not found", 404)
        if d.status in ("delivered", "dead"):
            return delivery_dict(d)
        chan = s.get(PublishChannel, d.channel_id)
        cfg = dict(chan.config or {})
        url, secret, body, key, event, before = cfg.get("url"), chan.secret or "", d.body.encode("utf-8"), d.key, \
            d.event, d.attempts
        chan_name = chan.name
    s_ = get_settings()
    timeout = float(cfg.get("timeout_seconds") or s_.publish_webhook_timeout_seconds)
    ts = int(time.time())
    headers = {"Content-Type": "application/json; charset=utf-8", EVENT_HEADER: event, DELIVERY_HEADER: key,
               TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body),
               "User-Agent": "zhimei-webhook/1"}
    started = time.monotonic()
    if url:
        code, error = _post(url, body, headers, timeout)
    else:
        code, error = None, "the channel has no webhook url"
    ms = round((time.monotonic() - started) * 1000, 1)
    ok = code is not None and 200 <= code < 300 and error is None
    if not ok and error is None:
        error = f"HTTP {code}"
    now = now or utcnow()
    with session_scope() as s:
        d = s.get(PublishDelivery, delivery_id, with_for_update=True, populate_existing=True)
        if d is None or d.status in ("delivered", "dead") or d.attempts != before:
            return delivery_dict(d) if d is not None else {"id": delivery_id, "status": "gone"}
        n = d.attempts + 1
        d.attempts, d.last_status_code, d.last_error, d.updated_at = n, code, error, now
        d.history = [*(d.history or []), {"attempt": n, "at": now.isoformat(), "status_code": code,
                                          "error": error, "ms": ms}][-50:]
        if ok:
            d.status, d.delivered_at, d.next_attempt_at = "delivered", now, None
        elif n >= d.max_attempts:
            d.status, d.next_attempt_at = "dead", None
        else:
            base = float(cfg.get("backoff_seconds", s_.publish_webhook_backoff_seconds))
            d.status, d.next_attempt_at = "retrying", now + timedelta(seconds=base * (2 ** (n - 1)))
            _enqueue(s, d.id, n + 1, d.next_attempt_at)
        out = delivery_dict(d, chan_name)
    if out["status"] == "retrying":
        from zhimei.jobs import dispatch_ready

        dispatch_ready()  # Celery: send the next attempt with its countdown (embedded workers poll by themselves)
    return out


def retry_delivery(delivery_id: int, *, actor: str = "system") -> dict[str, Any]:
    """Send a dead-letter delivery again now, with a fresh set of attempts (same key, so the receiver still sees
    one message). A delivered one is refused (409): the receiver has it; a waiting one is queued already (409)."""
    if isinstance(delivery_id, bool) or not isinstance(delivery_id, int) or delivery_id < 1:
        raise PublishError(f"delivery id must be a positive integer, got {delivery_id!r}")
    with session_scope() as s:
        d = s.get(PublishDelivery, delivery_id, with_for_update=True)
        if d is None:
            raise PublishError(f"delivery {delivery_id} not found", 404)
        if d.status == "delivered":
            raise PublishError(f"delivery {delivery_id} was delivered already; it is not sent twice", 409)
        if d.status != "dead":
            when = d.next_attempt_at.isoformat() if d.next_attempt_at else "as soon as a worker is free"
            raise PublishError(f"delivery {delivery_id} is {d.status}: its next attempt is queued ({when}); only "
                               "dead-letter deliveries are retried by hand", 409)
        chan = s.get(PublishChannel, d.channel_id)
        now = utcnow()
        d.max_attempts = d.attempts + _max_attempts(chan)
        d.status, d.next_attempt_at, d.updated_at = "pending", now, now
        d.history = [*(d.history or []), {"retry_by": actor[:100], "at": now.isoformat()}][-50:]
        job = _enqueue(s, d.id, d.attempts + 1)
        out = {**delivery_dict(d, chan.name), "job_id": job}
    from zhimei.jobs import dispatch_ready

    dispatch_ready()
    return out


def list_deliveries(*, channel: str | None = None, status: str | None = None, publication_id: int | None = None,
                    limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """Deliveries, newest first; ``status="dead"`` is the dead-letter list."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise PublishError(f"unknown delivery status {status!r}; use one of {', '.join(DELIVERY_STATUSES)}")
    if not 1 <= limit <= 1000 or offset < 0:
        raise PublishError("limit must be 1-1000 and offset >= 0")
    with read_scope() as s:
        q = (select(PublishDelivery, PublishChannel.name, Publication.asset_id)
             .join(PublishChannel, PublishChannel.id == PublishDelivery.channel_id)
             .join(Publication, Publication.id == PublishDelivery.publication_id))
        if channel is not None:
            q = q.where(PublishChannel.name == check_name(channel))
        if status is not None:
            q = q.where(PublishDelivery.status == status)
        if publication_id is not None:
            q = q.where(PublishDelivery.publication_id == publication_id)
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.execute(q.order_by(PublishDelivery.id.desc()).limit(limit).offset(offset)).all()
        return {"total": total, "items": [delivery_dict(d, name, aid) for d, name, aid in rows]}
