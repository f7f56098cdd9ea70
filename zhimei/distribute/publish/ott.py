"""OTT launcher layout (智能推荐位排版): rows of slots as JSON for a TV / app home screen.

The editorial rows come from the channel's ``config.rows`` (latest items, editors' picks); only items live in
the channel fill slots, so the review gate and embargoes hold on the launcher too. Personalised rows come from
the recommendation area's ``launcher_rows(session, user, channel=...)`` when a ``user`` is given and that
function exists (``PERSONAL_ROWS_HOOK`` names it); their slots are filtered to items live in the channel.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from zhimei.distribute.publish.items import PublishedItem, build_item
from zhimei.distribute.publish.schedule import live_publications
from zhimei.store.models import utcnow
from zhimei.store.models_publish import PublishChannel

__all__ = ["launcher_layout", "reader_signature", "slot", "personal_rows_hook", "PERSONAL_ROWS_HOOK", "LAYOUT_VERSION"]

log = logging.getLogger("zhimei.publish")
PERSONAL_ROWS_HOOK = "zhimei.distribute.recommend:launcher_rows"
"""module:function that gives a reader's personalised rows: f(session, user, *, channel=None) -> list of rows
(each a dict with ``title`` and ``slots`` or ``items`` of asset ids / dicts with ``asset_id``)."""
LAYOUT_VERSION = 1
POOL = 300


def reader_signature(secret: str, user: str) -> str:
    """What a launcher app appends as ``sig`` to ask the public ott.json for `user`'s personal rows: hex
    HMAC-SHA256 of the user id keyed by the OTT channel's secret (the app's back end holds the secret)."""
    return hmac.new(secret.encode("utf-8"), user.encode("utf-8"), hashlib.sha256).hexdigest()


def personal_rows_hook() -> Callable[..., Any] | None:
    """The recommendation area's ``launcher_rows`` if it is there, else None (the layout is editorial only)."""
    module, _, name = PERSONAL_ROWS_HOOK.partition(":")
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def slot(it: PublishedItem, position: int) -> dict[str, Any]:
    """One launcher slot."""
    return {"position": position, "asset_id": it.asset_id, "publication_id": it.publication_id,
            "kind": it.kind, "title": it.title, "summary": it.display_summary, "image": it.thumbnail_url,
            "media": it.media_url, "link": it.url, "duration": it.duration, "published": it.published.isoformat(),
            "ai_generated": it.ai_generated, "ai_label": it.ai_label}


def _personal(session: Session, channel: PublishChannel, user: str,
              items: dict[int, PublishedItem]) -> tuple[list[dict[str, Any]], str | None]:
    fn = personal_rows_hook()
    if fn is None:
        return [], "personal rows are not available (no recommendation module)"
    try:
        rows = fn(session, user, channel=channel.name) or []
    except Exception as exc:  # the launcher still shows its editorial rows
        log.warning("launcher_rows failed for channel %s: %s", channel.name, exc)
        return [], f"personal rows failed: {type(exc).__name__}"
    out = []
    for r in rows:
        r = r if isinstance(r, dict) else getattr(r, "__dict__", {})
        entries = r.get("slots") or r.get("items") or []
        slots = []
        for e in entries:
            aid = e if isinstance(e, int) else (e.get("asset_id") if isinstance(e, dict) else
                                                getattr(e, "asset_id", None))
            if aid in items:
                s = slot(items[aid], len(slots))
                why = e.get("why") if isinstance(e, dict) else getattr(e, "why", None)
                if why:
                    s["why"] = why
                slots.append(s)
        if slots:
            out.append({"title": str(r.get("title") or "为你推荐 For you"), "kind": "personal",
                        "source": r.get("source") or "recommend", "slots": slots})
    return out, None


def launcher_layout(session: Session, channel: PublishChannel, base_url: str, *, user: str | None = None
                    ) -> dict[str, Any]:
    """The channel's launcher: its editorial rows filled with live items, plus personal rows for `user`."""
    cfg = dict(channel.config or {})
    rows_cfg = cfg.get("rows") or [{"title": "最新 Latest", "kind": "latest", "size": 12}]
    pubs = live_publications(session, channel, POOL)
    items = {p.asset_id: build_item(session, p, channel, base_url) for p in pubs}
    ordered = [items[p.asset_id] for p in pubs]
    rows: list[dict[str, Any]] = []
    note = None
    for r in rows_cfg:
        kind, size = r.get("kind", "latest"), int(r.get("size", 12))
        if kind == "personal":
            if user:
                personal, note = _personal(session, channel, user, items)
                rows.extend(personal)
            continue
        if kind == "assets":
            chosen = [items[a] for a in r.get("asset_ids", []) if a in items][:size]
        else:
            chosen = [it for it in ordered if not r.get("asset_kind") or it.kind == r["asset_kind"]][:size]
        rows.append({"title": r["title"], "kind": kind, "slots": [slot(it, i) for i, it in enumerate(chosen)]})
    if user and not any(r.get("kind") == "personal" for r in rows_cfg):
        personal, note = _personal(session, channel, user, items)
        rows = personal + rows
    out: dict[str, Any] = {"version": LAYOUT_VERSION, "channel": channel.name, "title": channel.title,
                           "generated_at": utcnow().isoformat(), "user": user, "rows": rows}
    if note:
        out["note"] = note
    return out
