"""IPTC NewsML-G2 news items, parsed only with defusedxml (no DTDs, no entity expansion, no external refs)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml import ElementTree as SafeET

from zhimei.library.text.doc import ExtractedDoc, ExtractError, Paragraph, first_text, language_tag, parse_date
from zhimei.library.text.encoding import clean_text, join_lines, split_paragraphs
from zhimei.library.text.html import blocks_from_tree

__all__ = ["extract_newsml", "parse_newsml"]

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def parse_newsml(data: bytes) -> ET.Element:
    """The XML root, parsed safely; ExtractError for DTD/entity tricks or malformed XML (with line/column)."""
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise ExtractError("NewsML refused: the XML declares a DTD (<!DOCTYPE>), which is where entity-expansion "
                           "(billion laughs) and external-entity attacks hide; NewsML-G2 needs none") from None
    except EntitiesForbidden:
        raise ExtractError("NewsML refused: the XML declares entities (possible entity-expansion attack)") from None
    except ExternalReferenceForbidden:
        raise ExtractError("NewsML refused: the XML refers to an external resource") from None
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        msg = str(exc).split(":")[0]
        raise ExtractError(f"malformed NewsML XML: {msg} (line {line}, column {col + 1})") from None


def _ln(el: Any) -> str:
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _children(el: Any, name: str) -> list[Any]:
    return [c for c in el if _ln(c) == name] if el is not None else []


def _child(el: Any, name: str) -> Any:
    found = _children(el, name)
    return found[0] if found else None


def _text(el: Any) -> str | None:
    if el is None:
        return None
    t = join_lines(clean_text("".join(el.itertext())))
    return t or None


def _named(el: Any) -> str | None:
    """A concept's display text: its <name> child, else its own text, else its literal/qcode attribute."""
    if el is None:
        return None
    return first_text(_text(_child(el, "name")), _text(el), el.get("literal"), el.get("qcode"))


def _pick(els: list[Any], preferred_roles: tuple[str, ...] = ()) -> Any:
    for role in preferred_roles:
        for e in els:
            if (e.get("role") or "") == role:
                return e
    return els[0] if els else None


def _find_item(root: Any) -> tuple[Any, int]:
    if _ln(root) == "newsItem":
        return root, 1
    items = [e for e in root.iter() if _ln(e) == "newsItem"]
    if not items:
        raise ExtractError(f"not a NewsML-G2 news item: the root element is <{_ln(root)}> and holds no <newsItem>")
    return items[0], len(items)


def _body(item: Any) -> list[Paragraph]:
    content_set = _child(item, "contentSet")
    if content_set is None:
        return []
    for inline in _children(content_set, "inlineXML"):
        paras = blocks_from_tree(inline)
        if paras:
            return paras
    for inline in _children(content_set, "inlineData"):
        text = "".join(inline.itertext())
        if text.strip():
            ctype = inline.get("contenttype") or ""
            if "html" in ctype:
                from zhimei.library.text.html import html_fragment_paragraphs

                return html_fragment_paragraphs(text)
            return [Paragraph(p) for p in split_paragraphs(text)]
    return []


def extract_newsml(data: bytes) -> ExtractedDoc:
    """Headline, slugline, by, description, dateline, subjects, dates, language, rights and body of a newsItem."""
    item, count = _find_item(parse_newsml(data))
    item_meta = _child(item, "itemMeta")
    cm = _child(item, "contentMeta")
    doc = ExtractedDoc(paragraphs=_body(item))
    doc.title = _text(_pick(_children(cm, "headline"), ("", "hld:main")))
    lang_el = _child(cm, "language")
    doc.language = language_tag(first_text(lang_el.get("tag") if lang_el is not None else None,
                                           item.get(XML_LANG)))
    created = _text(_child(cm, "contentCreated"))
    first = _text(_child(item_meta, "firstCreated"))
    version_created = _text(_child(item_meta, "versionCreated"))
    doc.published_at = parse_date(created) or parse_date(first) or parse_date(version_created)
    doc.set_meta("uri", item.get("guid"))
    doc.set_meta("version", item.get("version"))
    doc.set_meta("contentcreated", created)
    doc.set_meta("firstcreated", first)
    doc.set_meta("versioncreated", version_created)
    pub = _child(item_meta, "pubStatus")
    doc.set_meta("pubstatus", pub.get("qcode") if pub is not None else None)
    doc.set_meta("provider", _named(_child(item_meta, "provider")))
    doc.set_meta("urgency", _text(_child(cm, "urgency")))
    doc.set_meta("slugline", _text(_child(cm, "slugline")))
    doc.set_meta("dateline", _text(_child(cm, "dateline")))
    doc.set_meta("author", first_text(_text(_child(cm, "by")), _named(_child(cm, "creator"))))
    doc.set_meta("description", _text(_pick(_children(cm, "description"), ("drol:summary", ""))))
    doc.set_meta("located", _named(_child(cm, "located")))
    doc.set_meta("subjects", [s for s in (
        {k: v for k, v in (("name", _named(e)), ("code", e.get("qcode") or e.get("uri"))) if v}
        for e in _children(cm, "subject")[:200]) if s])
    doc.set_meta("genres", [g for e in _children(cm, "genre") if (g := _named(e))])
    doc.set_meta("keywords", [k for e in _children(cm, "keyword") if (k := _text(e))][:100])
    if count > 1:
        doc.meta["items_in_message"] = count
    rights = _child(item, "rightsInfo")
    holder = _named(_child(rights, "copyrightHolder"))
    notice = _text(_child(rights, "copyrightNotice"))
    terms = _text(_child(rights, "usageTerms"))
    doc.set_meta("copyrightholder", holder)
    doc.set_meta("copyrightnotice", notice)
    doc.set_meta("usageterms", terms)
    doc.rights = first_text(holder, notice)
    doc.licence = terms
    return doc
