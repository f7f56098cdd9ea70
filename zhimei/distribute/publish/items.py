"""The published item: what every format (feeds, webhooks, NINJS, NewsML-G2, OTT slots) says about one
publication — headline, summary, text, links, media, schedule, and the AIGC label of AI-generated content."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhimei.review.labels import LABEL_MEANINGS, label_text
from zhimei.store.models import Asset, Rendition, Segment
from zhimei.store.models_publish import Publication, PublishChannel

__all__ = ["PublishedItem", "build_item", "snapshot", "AI_NOTICE", "xml_safe", "MAX_TEXT"]

AI_NOTICE = "本内容由人工智能生成 AI-generated content"
"""The explicit label put on an AI-generated item wherever the format has room for text."""
MAX_TEXT = 200_000
SUMMARY_CHARS = 300
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
NINATURE = {"article": "text", "image": "picture", "audio": "audio", "video": "video"}


def xml_safe(text: str | None) -> str:
    """Text with the characters XML 1.0 cannot hold removed (control characters, lone surrogates)."""
    return _XML_BAD.sub("", text or "")


@dataclass
class PublishedItem:
    """One live publication as the formats see it (times are aware UTC)."""

    publication_id: int
    asset_id: int
    channel: str
    kind: str
    title: str
    summary: str
    text: str
    language: str | None
    url: str
    media_url: str | None
    media_mime: str | None
    media_size: int | None
    duration: float | None
    width: int | None
    height: int | None
    thumbnail_url: str | None
    published: datetime
    updated: datetime
    created: datetime
    embargo_until: datetime | None
    version: str
    revision: int
    rights: str = ""
    licence: str = ""
    source: str = ""
    ai_generated: bool = False
    ai_label: str | None = None
    aigc: dict[str, str] | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def guid(self) -> str:
        """A stable id of the story in this channel (a new version replaces the old entry in readers)."""
        return f"urn:zhimei:{self.channel}:asset:{self.asset_id}"

    @property
    def display_summary(self) -> str:
        """The summary, with the AI notice before and after it when the item is AI-generated."""
        if not self.ai_generated:
            return self.summary
        return label_text(self.summary or self.title, where="both")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times in ISO 8601)."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, datetime):
                d[k] = v.isoformat()
        d["guid"] = self.guid
        return d


def _text_of(session: Session, asset_id: int, kind: str) -> list[str]:
    seg_kinds = ("paragraph",) if kind == "article" else ("transcript", "caption", "paragraph")
    rows = session.execute(select(Segment.kind, Segment.text).where(Segment.asset_id == asset_id,
                                                                    Segment.kind.in_(seg_kinds))
                           .order_by(Segment.kind, Segment.seq)).all()
    for k in seg_kinds:  # the first kind the asset has
        texts = [xml_safe(t).strip() for kk, t in rows if kk == k and (t or "").strip()]
        if texts:
            return texts
    return []


def _summary(meta: dict[str, Any], paragraphs: list[str]) -> str:
    s = meta.get("summary") or meta.get("description")
    if isinstance(s, str) and s.strip():
        return xml_safe(s.strip())[:2000]
    first = " ".join(paragraphs[:2])
    return first if len(first) <= SUMMARY_CHARS else first[:SUMMARY_CHARS - 1].rstrip() + "…"


def snapshot(session: Session, a: Asset) -> dict[str, Any]:
    """The asset's reviewed version as published: headline, text, summary, file references. Feeds and exports
    serve this, so an edit after publication shows nowhere until the new version passes review and is published."""
    meta = dict(a.meta or {})
    paragraphs = _text_of(session, a.id, a.kind)
    if paragraphs and paragraphs[0].strip() == (a.title or "").strip():
        paragraphs = paragraphs[1:]  # the headline, repeated as the first paragraph
    rends = {r.kind: r for r in session.scalars(select(Rendition).where(Rendition.asset_id == a.id,
                                                                       Rendition.kind.in_(("original",
                                                                                           "thumbnail"))))}
    tags = [t for t in meta.get("tags") or [] if isinstance(t, str)][:20] if isinstance(meta.get("tags"), list) \
        else []
    orig, thumb = rends.get("original"), rends.get("thumbnail")
    return {"title": xml_safe(a.title or a.filename), "summary": _summary(meta, paragraphs),
            "text": "\n\n".join(paragraphs)[:MAX_TEXT], "language": a.language, "kind": a.kind,
            "mime": a.mime or "application/octet-stream", "size_bytes": a.size_bytes, "duration": a.duration,
            "width": a.width, "height": a.height, "rights": xml_safe(a.rights), "licence": xml_safe(a.licence),
            "source": xml_safe(a.source), "tags": tags, "created_at": a.created_at.isoformat(),
            "original_sha": orig.blob_sha if orig else None, "original_mime": orig.mime if orig else None,
            "thumbnail_sha": thumb.blob_sha if thumb else None, "thumbnail_mime": thumb.mime if thumb else None}


def build_item(session: Session, pub: Publication, channel: PublishChannel, base_url: str) -> PublishedItem:
    """The item of a publication, from the content snapshot taken when it was published (the labelled copy with
    propagator fields is its file for AI content). A headline promoted by a title experiment replaces the
    snapshot's: readers were already shown it as a variant."""
    asset = session.get(Asset, pub.asset_id)
    c = pub.content or snapshot(session, asset)
    promoted = (asset.meta or {}).get("promoted_title") if asset is not None else None
    title = xml_safe(promoted.strip()) if isinstance(promoted, str) and promoted.strip() else c["title"]
    base = base_url.rstrip("/")
    aigc = dict((pub.aigc or {}).get("aigc") or {}) or None
    ai_label = None
    if pub.ai_generated:
        meaning = LABEL_MEANINGS.get((aigc or {}).get("Label", "1"), LABEL_MEANINGS["1"])
        ai_label = f"{AI_NOTICE} · {meaning}"
    kind = c["kind"]
    media_url = media_mime = thumb = None
    media_size = None
    if kind != "article":
        media_url = f"{base}/pub/{channel.name}/media/{pub.asset_id}"
        if pub.aigc and pub.aigc.get("mime"):
            media_mime, media_size = pub.aigc["mime"], pub.aigc.get("size_bytes")
        else:
            media_mime, media_size = c.get("original_mime") or c["mime"], c.get("size_bytes")
    if c.get("thumbnail_sha") and not pub.ai_generated:  # an AI item shows its labelled file, not a bare thumbnail
        thumb = f"{base}/pub/{channel.name}/media/{pub.asset_id}?rendition=thumbnail"
    elif kind == "image":
        thumb = media_url
    tags = list(c.get("tags") or [])
    if pub.ai_generated:
        tags = ["AI生成 AI-generated", *tags]
    link = (channel.config or {}).get("link")
    url = f"{link.rstrip('/')}/{pub.asset_id}" if link else f"{base}/pub/{channel.name}/{pub.asset_id}.ninjs.json"
    return PublishedItem(
        publication_id=pub.id, asset_id=pub.asset_id, channel=channel.name, kind=kind, title=title,
        summary=c["summary"], text=c["text"], language=c.get("language"), url=url, media_url=media_url,
        media_mime=media_mime, media_size=media_size, duration=c.get("duration"), width=c.get("width"),
        height=c.get("height"), thumbnail_url=thumb, published=pub.live_from,
        updated=max(pub.live_from, pub.updated_at), created=datetime.fromisoformat(c["created_at"]),
        embargo_until=pub.embargo_until, version=pub.version, revision=pub.revision, rights=c.get("rights", ""),
        licence=c.get("licence", ""), source=c.get("source", ""), ai_generated=pub.ai_generated, ai_label=ai_label,
        aigc=aigc, tags=tags)
