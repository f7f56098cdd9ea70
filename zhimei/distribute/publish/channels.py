"""Channels (发布渠道): where published content goes out.

Kinds: ``rss``, ``atom``, ``jsonfeed`` (feeds at /pub/NAME/...), ``webhook`` (signed POSTs to ``config.url``),
``ninjs`` and ``newsml`` (IPTC exports per item), ``ott`` (a launcher layout of rows of slots). Every channel
serves its live items in the public feed formats except webhooks, which only push.

Config keys (all optional unless noted):

- every kind: ``review_channel`` (the review channel whose passed case counts; default any), ``limit`` (feed
  size), ``link`` (the site's home page), ``language``;
- webhook: ``url`` (required, http or https), ``max_attempts``, ``timeout_seconds``, ``backoff_seconds``;
- ott: ``rows`` — a list of ``{"title", "kind": "latest" | "assets" | "personal", "size", "asset_ids",
  "asset_kind"}``; ``latest`` shows the newest live items (of one asset kind if given), ``assets`` the editors'
  picks in their order, ``personal`` the reader's recommended rows (when a ``user`` is given).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.distribute.publish.errors import PublishError
from zhimei.store.models import ASSET_KINDS, utcnow
from zhimei.store.models_publish import CHANNEL_KINDS, Publication, PublishChannel

__all__ = ["CHANNEL_KINDS", "ROW_KINDS", "NAME_RE", "check_name", "check_config", "create_channel",
           "update_channel", "get_channel", "list_channels", "channel_dict", "channel_by_name"]

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ROW_KINDS = ("latest", "assets", "personal")
MAX_ROWS = 20
MAX_ROW_SIZE = 50
_COMMON = {"review_channel", "limit", "link", "language"}
_ALLOWED = {"webhook": _COMMON | {"url", "max_attempts", "timeout_seconds", "backoff_seconds"},
            "ott": _COMMON | {"rows"}}


def check_name(name: Any) -> str:
    """A channel name: lowercase letters, digits, - and _, up to 64 (it appears in URLs and AIGC PropagateIDs)."""
    if not isinstance(name, str) or not NAME_RE.match(name.strip()):
        raise PublishError(f"channel name {name!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_', "
                           "starting with a letter or digit")
    return name.strip()


def _check_url(url: Any, what: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise PublishError(f"{what} is required (an http:// or https:// address)")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise PublishError(f"{what} {url!r} is not an http:// or https:// address")
    if len(url) > 2000:
        raise PublishError(f"{what} is longer than 2000 characters")
    return url


def _num(cfg: dict[str, Any], key: str, lo: float, hi: float, integer: bool = False) -> None:
    if key not in cfg or cfg[key] is None:
        cfg.pop(key, None)
        return
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or (integer and not float(v).is_integer()):
        raise PublishError(f"config.{key} must be a {'whole ' if integer else ''}number, got {v!r}")
    if not lo <= v <= hi:
        raise PublishError(f"config.{key} must be between {lo:g} and {hi:g}, got {v!r}")
    cfg[key] = int(v) if integer else float(v)


def _check_rows(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise PublishError("config.rows must be a list of rows")
    if len(rows) > MAX_ROWS:
        raise PublishError(f"at most {MAX_ROWS} rows, got {len(rows)}")
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise PublishError(f"config.rows[{i}] must be an object with title and kind")
        unknown = set(r) - {"title", "kind", "size", "asset_ids", "asset_kind"}
        if unknown:
            raise PublishError(f"config.rows[{i}] has unknown keys: {', '.join(sorted(unknown))}")
        title = r.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            raise PublishError(f"config.rows[{i}].title must be a name of 1-200 characters")
        kind = r.get("kind", "latest")
        if kind not in ROW_KINDS:
            raise PublishError(f"config.rows[{i}].kind {kind!r} is unknown; use one of {', '.join(ROW_KINDS)}")
        size = r.get("size", 12)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_ROW_SIZE:
            raise PublishError(f"config.rows[{i}].size must be a whole number 1-{MAX_ROW_SIZE}")
        row: dict[str, Any] = {"title": title.strip(), "kind": kind, "size": size}
        if kind == "assets":
            ids = r.get("asset_ids")
            if not isinstance(ids, list) or not ids or not all(
                    isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in ids):
                raise PublishError(f"config.rows[{i}].asset_ids must be a non-empty list of asset ids")
            row["asset_ids"] = list(dict.fromkeys(ids))[:MAX_ROW_SIZE]
        ak = r.get("asset_kind")
        if ak is not None:
            if ak not in ASSET_KINDS:
                raise PublishError(f"config.rows[{i}].asset_kind {ak!r} is unknown; use one of "
                                   f"{', '.join(ASSET_KINDS)}")
            row["asset_kind"] = ak
        out.append(row)
    return out


def check_config(kind: str, config: Any) -> dict[str, Any]:
    """The channel config, validated for its kind (PublishError names the first problem)."""
    if kind not in CHANNEL_KINDS:
        raise PublishError(f"unknown channel kind {kind!r}; use one of {', '.join(CHANNEL_KINDS)}")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise PublishError("config must be a JSON object")
    cfg = dict(config)
    unknown = set(cfg) - _ALLOWED.get(kind, _COMMON)
    if unknown:
        raise PublishError(f"config keys not used by a {kind} channel: {', '.join(sorted(unknown))}")
    rc = cfg.get("review_channel")
    if rc is not None and (not isinstance(rc, str) or not rc.strip() or len(rc) > 64):
        raise PublishError("config.review_channel must be a review channel name (1-64 characters)")
    _num(cfg, "limit", 1, 500, integer=True)
    if cfg.get("link"):
        cfg["link"] = _check_url(cfg["link"], "config.link")
    else:
        cfg.pop("link", None)
    lang = cfg.get("language")
    if lang is not None and (not isinstance(lang, str) or not re.match(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", lang)):
        raise PublishError(f"config.language {lang!r} is not a language tag such as zh or zh-CN")
    if kind == "webhook":
        cfg["url"] = _check_url(cfg.get("url"), "config.url (the webhook address)")
        _num(cfg, "max_attempts", 1, 30, integer=True)
        _num(cfg, "timeout_seconds", 0.1, 120)
        _num(cfg, "backoff_seconds", 0, 86400)
    if kind == "ott":
        cfg["rows"] = _check_rows(cfg.get("rows", [{"title": "最新 Latest", "kind": "latest", "size": 12}]))
    return cfg


def channel_dict(c: PublishChannel, *, include_secret: bool = False, live: int | None = None) -> dict[str, Any]:
    """A channel as JSON (the webhook secret only when asked for)."""
    out = {"id": c.id, "name": c.name, "kind": c.kind, "title": c.title, "description": c.description,
           "config": dict(c.config or {}), "enabled": c.enabled, "created_by": c.created_by,
           "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
           "has_secret": bool(c.secret), "live_items": live,
           "feeds": {} if c.kind == "webhook" else {
               "rss": f"/pub/{c.name}/rss.xml", "atom": f"/pub/{c.name}/atom.xml",
               "jsonfeed": f"/pub/{c.name}/feed.json", "ott": f"/pub/{c.name}/ott.json"}}
    if include_secret:
        out["secret"] = c.secret
    return out


def channel_by_name(session: Session, name: str) -> PublishChannel:
    """The channel of that name, or PublishError 404."""
    c = session.scalars(select(PublishChannel).where(PublishChannel.name == name)).first()
    if c is None:
        raise PublishError(f"no publishing channel named {name!r} (zhimei publish channels list)", 404)
    return c


def _check_text(value: Any, what: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PublishError(f"{what} must be text")
    if len(value) > limit:
        raise PublishError(f"{what} is longer than {limit} characters")
    return value.strip()


SIGNED_KINDS = ("webhook", "ott")


def create_channel(session: Session, name: str, kind: str, *, title: str = "", description: str = "",
                   config: dict[str, Any] | None = None, secret: str | None = None, enabled: bool = True,
                   actor: str = "") -> dict[str, Any]:
    """Add a channel; a webhook or OTT channel gets a random 256-bit HMAC secret unless one is given (webhooks
    sign deliveries with it; OTT apps sign reader ids for personal rows). Returns the channel
    with its secret (shown this once). A second channel of the same name is refused (409)."""
    name = check_name(name)
    cfg = check_config(kind, config)
    if session.scalars(select(PublishChannel.id).where(PublishChannel.name == name)).first() is not None:
        raise PublishError(f"a channel named {name!r} exists already", 409)
    if secret is not None and (not isinstance(secret, str) or not 16 <= len(secret) <= 128):
        raise PublishError("a webhook secret must be 16-128 characters")
    if kind in SIGNED_KINDS and secret is None:
        secret = secrets.token_hex(32)
    c = PublishChannel(name=name, kind=kind, title=_check_text(title, "title", 200) or name,
                       description=_check_text(description, "description", 5000), config=cfg,
                       secret=secret if kind in SIGNED_KINDS else None, enabled=bool(enabled),
                       created_by=(actor or "")[:100])
    session.add(c)
    session.flush()
    return channel_dict(c, include_secret=True, live=0)


def update_channel(session: Session, name: str, *, title: str | None = None, description: str | None = None,
                   config: dict[str, Any] | None = None, enabled: bool | None = None,
                   rotate_secret: bool = False) -> dict[str, Any]:
    """Change a channel's title, description, config (replaced whole, validated) or enabled switch; a webhook's
    secret can be rotated (returned then). The kind and name stay."""
    c = channel_by_name(session, check_name(name))
    if title is not None:
        c.title = _check_text(title, "title", 200) or c.name
    if description is not None:
        c.description = _check_text(description, "description", 5000)
    if config is not None:
        c.config = check_config(c.kind, config)
    if enabled is not None:
        c.enabled = bool(enabled)
    if rotate_secret:
        if c.kind not in SIGNED_KINDS:
            raise PublishError(f"channel {c.name!r} is a {c.kind} channel; only webhook and ott channels have a "
                               "secret")
        c.secret = secrets.token_hex(32)
    c.updated_at = utcnow()
    session.flush()
    return channel_dict(c, include_secret=rotate_secret)


def get_channel(session: Session, name: str, *, include_secret: bool = False) -> dict[str, Any]:
    """One channel with its count of live items."""
    c = channel_by_name(session, check_name(name))
    return channel_dict(c, include_secret=include_secret, live=_live_counts(session, [c.id]).get(c.id, 0))


def _live_counts(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    now = utcnow()
    rows = session.execute(select(Publication.channel_id, func.count(func.distinct(Publication.asset_id)))
                           .where(Publication.channel_id.in_(ids), Publication.status.in_(("scheduled", "live")),
                                  Publication.live_from <= now)
                           .group_by(Publication.channel_id)).all()
    return {cid: n for cid, n in rows}


def list_channels(session: Session) -> list[dict[str, Any]]:
    """Every channel, by name, with its count of live items."""
    chans = list(session.scalars(select(PublishChannel).order_by(PublishChannel.name)))
    counts = _live_counts(session, [c.id for c in chans])
    return [channel_dict(c, live=counts.get(c.id, 0)) for c in chans]
