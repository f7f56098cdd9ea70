"""Feed and export formats, built with lxml / json so that every value is escaped:

- RSS 2.0 (with content:encoded and atom:link rel=self), Atom 1.0 (RFC 4287), JSON Feed 1.1;
- IPTC ninjs 2.1 (one item as JSON) and NewsML-G2 (one ``newsItem`` as XML).

An AI-generated item says so in every format: the explicit notice around its summary, an "AI-generated"
category / tag, and its GB 45438 AIGC fields (with the propagator's) where the format has a place for them
(JSON Feed ``_aigc`` extension, ninjs ``altids`` and ``ednote``, NewsML-G2 ``edNote``, ``altId`` and
``description role="aigc"``).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from lxml import etree

from zhimei.distribute.publish.items import NINATURE, PublishedItem, xml_safe

__all__ = ["FeedInfo", "rss", "atom", "json_feed", "ninjs", "newsml", "FORMATS", "MIME", "NAR_NS",
           "NINJS_SCHEMA"]

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
NAR_NS = "http://iptc.org/std/nar/2006-10-01/"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NINJS_SCHEMA = "https://www.iptc.org/std/ninjs/ninjs-schema_2.1.json"
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
FORMATS = ("rss", "atom", "jsonfeed", "ninjs", "newsml")
MIME = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8",
        "jsonfeed": "application/feed+json; charset=utf-8", "ninjs": "application/json; charset=utf-8",
        "newsml": "application/vnd.iptc.g2.newsitem+xml; charset=utf-8", "ott": "application/json; charset=utf-8"}


@dataclass
class FeedInfo:
    """The channel as a feed: title, description, its home page, the feed's own URL, language, last change."""

    name: str
    title: str
    description: str
    home: str
    self_url: str
    language: str | None
    updated: datetime


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: etree._Element, tag: str, text: str | None = None, /, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = xml_safe(text)
    return el


def _html_body(item: PublishedItem) -> str:
    """The item as a small HTML fragment (escaped), notice first and last for AI content."""
    parts = []
    if item.ai_label:
        parts.append(f"<p><strong>{html.escape(item.ai_label)}</strong></p>")
    if item.kind == "image" and item.media_url:
        parts.append(f'<p><img src="{html.escape(item.media_url)}" alt="{html.escape(item.title)}"></p>')
    for para in (item.text or item.summary).split("\n\n"):
        if para.strip():
            parts.append(f"<p>{html.escape(para)}</p>")
    if item.ai_label:
        parts.append(f"<p><strong>{html.escape(item.ai_label)}</strong></p>")
    return "\n".join(parts)


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ---- RSS 2.0 ------------------------------------------------------------------------------------------

def rss(feed: FeedInfo, items: list[PublishedItem]) -> bytes:
    """An RSS 2.0 document."""
    root = etree.Element("rss", {"version": "2.0"}, nsmap={"atom": ATOM_NS, "content": CONTENT_NS})
    ch = _sub(root, "channel")
    _sub(ch, "title", feed.title)
    _sub(ch, "link", feed.home)
    _sub(ch, "description", feed.description or feed.title)
    if feed.language:
        _sub(ch, "language", feed.language)
    _sub(ch, "lastBuildDate", format_datetime(feed.updated.astimezone(UTC), usegmt=True))
    _sub(ch, "generator", "zhimei")
    _sub(ch, f"{{{ATOM_NS}}}link", href=feed.self_url, rel="self", type="application/rss+xml")
    for it in items:
        e = _sub(ch, "item")
        _sub(e, "title", it.title)
        _sub(e, "link", it.url)
        _sub(e, "guid", it.guid, isPermaLink="false")
        _sub(e, "pubDate", format_datetime(it.published.astimezone(UTC), usegmt=True))
        _sub(e, "description", it.display_summary)
        _sub(e, f"{{{CONTENT_NS}}}encoded", _html_body(it))
        for t in it.tags:
            _sub(e, "category", t)
        if it.media_url:
            _sub(e, "enclosure", url=it.media_url, length=str(it.media_size or 0),
                 type=(it.media_mime or "application/octet-stream").split(";")[0])
    return _bytes(root)


# ---- Atom 1.0 -----------------------------------------------------------------------------------------

def atom(feed: FeedInfo, items: list[PublishedItem]) -> bytes:
    """An Atom 1.0 feed document."""
    root = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    if feed.language:
        root.set(f"{{{XML_NS}}}lang", xml_safe(feed.language))
    a = f"{{{ATOM_NS}}}"
    _sub(root, a + "id", f"urn:zhimei:channel:{feed.name}")
    _sub(root, a + "title", feed.title)
    if feed.description:
        _sub(root, a + "subtitle", feed.description)
    _sub(root, a + "updated", _iso(feed.updated))
    _sub(root, a + "link", href=feed.self_url, rel="self", type="application/atom+xml")
    _sub(root, a + "link", href=feed.home, rel="alternate")
    author = _sub(root, a + "author")
    _sub(author, a + "name", feed.title)
    _sub(root, a + "generator", "zhimei")
    for it in items:
        e = _sub(root, a + "entry")
        _sub(e, a + "id", it.guid)
        _sub(e, a + "title", it.title)
        _sub(e, a + "updated", _iso(it.updated))
        _sub(e, a + "published", _iso(it.published))
        _sub(e, a + "link", href=it.url, rel="alternate")
        if it.media_url:
            _sub(e, a + "link", href=it.media_url, rel="enclosure",
                 type=(it.media_mime or "application/octet-stream").split(";")[0], length=str(it.media_size or 0))
        for t in it.tags:
            _sub(e, a + "category", term=t, label=t)
        _sub(e, a + "summary", it.display_summary, type="text")
        _sub(e, a + "content", _html_body(it), type="html")
        if it.rights:
            _sub(e, a + "rights", it.rights)
    return _bytes(root)


# ---- JSON Feed 1.1 ------------------------------------------------------------------------------------

def _aigc_ext(it: PublishedItem) -> dict[str, Any]:
    return {"about": "GB 45438-2025 implicit label of AI-generated content", "label": it.ai_label,
            "fields": it.aigc or {}}


def json_feed(feed: FeedInfo, items: list[PublishedItem]) -> bytes:
    """A JSON Feed 1.1 document (``_aigc`` on AI-generated items, as the spec allows for extensions)."""
    out: dict[str, Any] = {"version": JSONFEED_VERSION, "title": feed.title, "home_page_url": feed.home,
                           "feed_url": feed.self_url, "description": feed.description or feed.title,
                           "items": []}
    if feed.language:
        out["language"] = feed.language
    for it in items:
        entry: dict[str, Any] = {"id": it.guid, "url": it.url, "title": it.title,
                                 "content_html": _html_body(it), "content_text": it.text or it.summary,
                                 "summary": it.display_summary, "date_published": _iso(it.published),
                                 "date_modified": _iso(it.updated)}
        if it.language:
            entry["language"] = it.language
        if it.tags:
            entry["tags"] = it.tags
        if it.thumbnail_url:
            entry["image"] = it.thumbnail_url
        if it.media_url:
            att: dict[str, Any] = {"url": it.media_url, "mime_type": (it.media_mime or "").split(";")[0]
                                   or "application/octet-stream"}
            if it.media_size:
                att["size_in_bytes"] = it.media_size
            if it.duration:
                att["duration_in_seconds"] = round(it.duration, 3)
            entry["attachments"] = [att]
        if it.ai_generated:
            entry["_aigc"] = _aigc_ext(it)
        out["items"].append(entry)
    return json.dumps(out, ensure_ascii=False, indent=1).encode("utf-8")


# ---- IPTC ninjs 2.1 -----------------------------------------------------------------------------------

def ninjs_dict(it: PublishedItem) -> dict[str, Any]:
    """One item as an IPTC ninjs 2.1 object (only properties the 2.1 schema defines)."""
    d: dict[str, Any] = {
        "uri": f"urn:zhimei:asset:{it.asset_id}",
        "standard": {"name": "ninjs", "version": "2.1", "schema": NINJS_SCHEMA},
        "type": NINATURE.get(it.kind, "text"), "representationtype": "full", "version": str(it.revision),
        "firstcreated": _iso(it.created), "versioncreated": _iso(it.updated), "pubstatus": "usable",
        "headlines": [{"role": "main", "value": it.title}],
        "altids": [{"role": "zhimei:asset", "value": str(it.asset_id)},
                   {"role": "zhimei:publication", "value": str(it.publication_id)},
                   {"role": "zhimei:version", "value": it.version}],
    }
    if it.embargo_until:
        d["embargoed"] = _iso(it.embargo_until)
    if it.language:
        d["language"] = it.language
    if it.summary or it.ai_generated:
        d["descriptions"] = [{"role": "summary", "contenttype": "text/plain", "value": it.display_summary}]
    if it.text:
        d["bodies"] = [{"role": "main", "contenttype": "text/plain", "charcount": len(it.text), "value": it.text}]
    if it.rights:
        d["copyrightnotice"] = it.rights
    if it.licence:
        d["usageterms"] = it.licence
    if it.source:
        d["infosources"] = [{"name": it.source}]
    if it.media_url:
        r: dict[str, Any] = {"name": "published", "href": it.media_url,
                             "contenttype": (it.media_mime or "application/octet-stream").split(";")[0]}
        for k, v in (("width", it.width), ("height", it.height), ("sizeinbytes", it.media_size),
                     ("duration", it.duration)):
            if v:
                r[k] = v
        d["renditions"] = [r]
    if it.ai_generated:
        d["ednote"] = it.ai_label or ""
        d["descriptions"].append({"role": "aigc", "contenttype": "application/json",
                                  "value": json.dumps(it.aigc or {}, ensure_ascii=True, separators=(",", ":"))})
        d["altids"] += [{"role": f"aigc:{k}", "value": v} for k, v in (it.aigc or {}).items()
                        if k in ("ContentProducer", "ProduceID", "ContentPropagator", "PropagateID") and v]
    return d


def ninjs(it: PublishedItem) -> bytes:
    """One item as ninjs 2.1 JSON."""
    return json.dumps(ninjs_dict(it), ensure_ascii=False, indent=1).encode("utf-8")


# ---- NewsML-G2 ----------------------------------------------------------------------------------------

def newsml(it: PublishedItem, provider: str = "zhimei") -> bytes:
    """One item as a NewsML-G2 ``newsItem`` (power conformance; text inline, media as remoteContent)."""
    n = f"{{{NAR_NS}}}"
    root = etree.Element(n + "newsItem", {"guid": f"urn:zhimei:asset:{it.asset_id}", "version": str(it.revision),
                                          "standard": "NewsML-G2", "standardversion": "2.33",
                                          "conformance": "power"}, nsmap={None: NAR_NS})
    if it.language:
        root.set(f"{{{XML_NS}}}lang", xml_safe(it.language))
    _sub(root, n + "catalogRef", href="http://www.iptc.org/std/catalog/catalog.IPTC-G2-Standards_38.xml")
    if it.rights or it.licence:
        ri = _sub(root, n + "rightsInfo")
        if it.rights:
            holder = _sub(ri, n + "copyrightHolder")
            _sub(holder, n + "name", it.rights)
        if it.licence:
            _sub(ri, n + "usageTerms", it.licence)
    im = _sub(root, n + "itemMeta")
    _sub(im, n + "itemClass", qcode=f"ninat:{NINATURE.get(it.kind, 'text')}")
    _sub(im, n + "provider", literal=provider)
    _sub(im, n + "versionCreated", _iso(it.updated))
    _sub(im, n + "firstCreated", _iso(it.created))
    if it.embargo_until:
        _sub(im, n + "embargoed", _iso(it.embargo_until))
    _sub(im, n + "pubStatus", qcode="stat:usable")
    if it.ai_generated:
        _sub(im, n + "edNote", it.ai_label or "")
    cm = _sub(root, n + "contentMeta")
    _sub(cm, n + "contentCreated", _iso(it.created))
    if it.source:
        src = _sub(cm, n + "infoSource", role="cRole:source")
        _sub(src, n + "name", it.source)
    _sub(cm, n + "altId", str(it.publication_id), type="zhimei:publication")
    if it.ai_generated:
        for k, v in (it.aigc or {}).items():
            if k in ("ContentProducer", "ProduceID", "ContentPropagator", "PropagateID") and v:
                _sub(cm, n + "altId", v, type=f"aigc:{k}")
    if it.language:
        _sub(cm, n + "language", tag=it.language)
    for t in it.tags:
        _sub(cm, n + "keyword", t)
    _sub(cm, n + "headline", it.title)
    if it.summary or it.ai_generated:
        _sub(cm, n + "description", it.display_summary, role="drol:summary")
    if it.ai_generated:
        _sub(cm, n + "description", json.dumps(it.aigc or {}, ensure_ascii=True, separators=(",", ":")),
             role="aigc")
    cs = _sub(root, n + "contentSet")
    if it.text:
        _sub(cs, n + "inlineData", it.text, contenttype="text/plain", wordcount=str(len(it.text.split())))
    if it.media_url:
        rc = _sub(cs, n + "remoteContent", href=it.media_url,
                  contenttype=(it.media_mime or "application/octet-stream").split(";")[0])
        for k, v in (("size", it.media_size), ("width", it.width), ("height", it.height)):
            if v:
                rc.set(k, str(int(v)))
        if it.duration:
            rc.set("duration", f"{it.duration:.3f}")
            rc.set("durationunit", "timeunit:seconds")
    return _bytes(root)
