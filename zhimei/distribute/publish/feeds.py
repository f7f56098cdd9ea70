"""What the public URLs serve: a channel's feed (RSS, Atom, JSON Feed), its OTT launcher, one item's IPTC export
(ninjs, NewsML-G2) and the published media file — always only what is live now."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass

from sqlalchemy import select

from zhimei.distribute.publish import formats
from zhimei.distribute.publish.channels import channel_by_name, check_name
from zhimei.distribute.publish.errors import PublishError
from zhimei.distribute.publish.items import build_item
from zhimei.distribute.publish.ott import launcher_layout, reader_signature
from zhimei.distribute.publish.schedule import ACTIVE, live_publications
from zhimei.settings import get_settings
from zhimei.store.db import read_scope
from zhimei.store.models import Asset, Rendition, utcnow
from zhimei.store.models_publish import Publication, PublishChannel

__all__ = ["feed_document", "export_item", "published_media", "MediaRef", "FEED_FILES"]

FEED_FILES = {"rss.xml": "rss", "atom.xml": "atom", "feed.json": "jsonfeed", "ott.json": "ott"}


@dataclass(frozen=True)
class MediaRef:
    """The blob a public media URL serves."""

    sha: str
    mime: str


def _base(base_url: str | None) -> str:
    return (get_settings().publish_base_url or base_url or "").rstrip("/")


def _open_channel(session, name: str) -> PublishChannel:
    chan = channel_by_name(session, check_name(name))
    if not chan.enabled:
        raise PublishError(f"channel {name!r} is not published (disabled)", 404)
    if chan.kind == "webhook":
        raise PublishError(f"channel {name!r} is a webhook channel: it pushes to its receiver and has no feed", 404)
    return chan


def feed_document(channel: str, fmt: str, *, base_url: str | None = None, user: str | None = None,
                  reader_sig: str | None = None, require_sig: bool = False) -> tuple[bytes, str]:
    """The channel's live items as `fmt` (rss | atom | jsonfeed | ott): (document bytes, content type).

    With `require_sig` (the public URL) a `user`'s personal rows need `reader_sig`, the channel's
    `reader_signature` of that user, so nobody reads another reader's rows by guessing their id."""
    if fmt not in ("rss", "atom", "jsonfeed", "ott"):
        raise PublishError(f"unknown feed format {fmt!r}; use rss, atom, jsonfeed or ott")
    if user is not None and (not user.strip() or len(user) > 200):
        raise PublishError("user must be 1-200 characters")
    base = _base(base_url)
    with read_scope() as s:
        chan = _open_channel(s, channel)
        if fmt == "ott" and user is not None and require_sig:
            if not chan.secret or not reader_sig or not hmac.compare_digest(reader_signature(chan.secret, user),
                                                                              reader_sig.strip()):
                raise PublishError("personal rows need sig=<hex HMAC-SHA256 of the user id keyed by the channel's "
                                   "secret>", 403)
        if fmt == "ott":
            doc = launcher_layout(s, chan, base, user=user)
            return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"), formats.MIME["ott"]
        limit = int((chan.config or {}).get("limit") or get_settings().publish_feed_size)
        pubs = live_publications(s, chan, limit)
        items = [build_item(s, p, chan, base) for p in pubs]
        cfg = chan.config or {}
        self_file = {v: k for k, v in FEED_FILES.items()}[fmt]
        info = formats.FeedInfo(name=chan.name, title=chan.title or chan.name, description=chan.description,
                                home=cfg.get("link") or f"{base}/pub/{chan.name}/",
                                self_url=f"{base}/pub/{chan.name}/{self_file}", language=cfg.get("language"),
                                updated=max([it.updated for it in items], default=chan.updated_at))
    render = {"rss": formats.rss, "atom": formats.atom, "jsonfeed": formats.json_feed}[fmt]
    return render(info, items), formats.MIME[fmt]


def _live_pub(session, asset_id: int, channel: str | None) -> tuple[Publication, PublishChannel]:
    now = utcnow()
    q = (select(Publication, PublishChannel).join(PublishChannel, PublishChannel.id == Publication.channel_id)
         .where(Publication.asset_id == asset_id, Publication.status.in_(ACTIVE), Publication.live_from <= now,
                PublishChannel.enabled.is_(True)))
    if channel is not None:
        q = q.where(PublishChannel.name == check_name(channel))
    row = session.execute(q.order_by(Publication.live_from.desc(), Publication.id.desc())).first()
    if row is None:
        if session.get(Asset, asset_id) is None:
            raise PublishError(f"asset {asset_id} not found", 404)
        where = f" in channel {channel!r}" if channel else ""
        raise PublishError(f"asset {asset_id} is not live{where}: only published items are exported "
                           f"(zhimei publish {asset_id} --channel NAME)", 409)
    return row[0], row[1]


def export_item(asset_id: int, fmt: str, *, channel: str | None = None, base_url: str | None = None) -> bytes:
    """One live item as IPTC ninjs 2.1 JSON or a NewsML-G2 newsItem (its newest live publication, in `channel`
    if given). PublishError 409 when the asset is not live (only reviewed, published items go out)."""
    if fmt not in ("ninjs", "newsml"):
        raise PublishError(f"unknown export format {fmt!r}; use ninjs or newsml")
    if isinstance(asset_id, bool) or not isinstance(asset_id, int) or asset_id < 1:
        raise PublishError(f"asset id must be a positive integer, got {asset_id!r}")
    with read_scope() as s:
        pub, chan = _live_pub(s, asset_id, channel)
        item = build_item(s, pub, chan, _base(base_url))
    if fmt == "ninjs":
        return formats.ninjs(item)
    from zhimei.distribute.publish.schedule import propagator_name

    return formats.newsml(item, provider=propagator_name())


def published_media(channel: str, asset_id: int, rendition: str | None = None) -> MediaRef:
    """The file a live item is published with: for AI-generated content the copy carrying the propagator fields,
    else the original as reviewed (or its ``thumbnail`` when asked and the item is not AI-generated)."""
    with read_scope() as s:
        chan = _open_channel(s, channel)
        pub, _ = _live_pub(s, asset_id, chan.name)
        content = pub.content or {}
        if pub.aigc and pub.aigc.get("rendition"):
            q = select(Rendition).where(Rendition.kind == pub.aigc["rendition"])
        else:
            kind = "thumbnail" if rendition == "thumbnail" else "original"
            sha = content.get(f"{kind}_sha")
            q = select(Rendition).where(Rendition.kind == kind)
            if sha:  # the file as reviewed, while the asset still holds it
                q = q.where(Rendition.blob_sha == sha)
        r = s.scalars(q.where(Rendition.asset_id == asset_id)).first()
        if r is None:
            raise PublishError(f"asset {asset_id} has no published file of that kind", 404)
        return MediaRef(r.blob_sha, r.mime or "application/octet-stream")
