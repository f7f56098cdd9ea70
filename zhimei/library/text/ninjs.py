"""IPTC ninjs (News in JSON) 1.x, 2.x and 3.x items."""

from __future__ import annotations

import json
from typing import Any

from zhimei.library.text.doc import ExtractedDoc, ExtractError, Paragraph, first_text, language_tag, parse_date
from zhimei.library.text.encoding import clean_text, decode_text, join_lines, split_paragraphs
from zhimei.library.text.html import html_fragment_paragraphs

__all__ = ["extract_ninjs", "load_ninjs"]


def load_ninjs(data: bytes) -> dict[str, Any]:
    """The ninjs object; ExtractError naming the problem (with line and column) when it is not valid JSON."""
    text = decode_text(data)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExtractError(f"malformed NINJS JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ExtractError("malformed NINJS JSON: nested too deeply") from None
    if not isinstance(obj, dict):
        raise ExtractError(f"NINJS must be a JSON object, not a JSON {type(obj).__name__}")
    return obj


def _role_value(items: Any, prefer: tuple[str, ...] = ("main", "", "text", "html")) -> tuple[str | None, str]:
    """From a 2.x list like [{"role": "main", "value": "...", "contenttype": ...}] pick one (value, contenttype)."""
    if isinstance(items, str):
        return items, ""
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return None, ""
    candidates = [i for i in items if isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"].strip()]
    if not candidates:
        return None, ""
    for role in prefer:
        for c in candidates:
            if str(c.get("role") or c.get("name") or "").lower() == role:
                return c["value"], str(c.get("contenttype") or "")
    return candidates[0]["value"], str(candidates[0].get("contenttype") or "")


def _names(items: Any) -> list[dict[str, str]]:
    """[{"name", "code"/"uri"}] lists (subjects, genres, places…) reduced to name + code."""
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    out = []
    for it in items[:200]:
        if isinstance(it, str) and it.strip():
            out.append({"name": it.strip()})
        elif isinstance(it, dict):
            entry = {k: str(it[k]).strip() for k in ("name", "code", "uri", "rel") if it.get(k)}
            if entry.get("name") or entry.get("code") or entry.get("uri"):
                out.append(entry)
    return out


def _str(v: Any) -> str | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    return join_lines(clean_text(v)) if isinstance(v, str) and v.strip() else None


def _body(obj: dict[str, Any]) -> list[Paragraph]:
    for key in ("body_html", "body_xhtml"):
        if isinstance(obj.get(key), str) and obj[key].strip():
            return html_fragment_paragraphs(obj[key])
    if isinstance(obj.get("body_text"), str) and obj["body_text"].strip():
        return [Paragraph(p) for p in split_paragraphs(obj["body_text"])]
    bodies = obj.get("bodies", obj.get("body"))
    if isinstance(bodies, (list, dict)):
        html_first = [b for b in (bodies if isinstance(bodies, list) else [bodies])
                      if isinstance(b, dict) and "html" in str(b.get("contenttype") or b.get("name") or "")]
        value, ctype = _role_value(html_first or bodies, ("main", "", "html", "xhtml", "text"))
        if value:
            if "html" in ctype or value.lstrip().startswith("<"):
                return html_fragment_paragraphs(value)
            return [Paragraph(p) for p in split_paragraphs(value)]
    return []


def extract_ninjs(data: bytes) -> ExtractedDoc:
    """Headline, body (HTML or text), language, dates, byline, subjects, places, rights of a ninjs item."""
    obj = load_ninjs(data)
    doc = ExtractedDoc(paragraphs=_body(obj))
    headline = obj.get("headline") if isinstance(obj.get("headline"), str) else None
    if headline is None:
        headline, _ = _role_value(obj.get("headlines") or obj.get("headline"))
    doc.title = _str(headline)
    doc.language = language_tag(obj.get("language"))
    doc.published_at = (parse_date(obj.get("contentcreated")) or parse_date(obj.get("firstcreated"))
                        or parse_date(obj.get("versioncreated")))
    description = obj.get("description_text") if isinstance(obj.get("description_text"), str) else None
    if description is None:
        description, ctype = _role_value(obj.get("descriptions") or obj.get("description"))
        if description and "html" in ctype:
            description = " ".join(p.text for p in html_fragment_paragraphs(description))
    doc.set_meta("description", _str(description))
    doc.set_meta("author", _str(obj.get("byline")) or _str(obj.get("by")))
    for key in ("uri", "version", "urgency", "pubstatus", "type", "located", "slugline", "ednote", "profile",
                "versioncreated", "firstcreated", "contentcreated", "copyrightholder", "copyrightnotice",
                "usageterms"):
        doc.set_meta(key, _str(obj.get(key)))
    doc.set_meta("subjects", _names(obj.get("subjects", obj.get("subject"))))
    doc.set_meta("genres", _names(obj.get("genres", obj.get("genre"))))
    doc.set_meta("places", _names(obj.get("places", obj.get("place"))))
    doc.set_meta("people", _names(obj.get("people", obj.get("person"))))
    doc.set_meta("organisations", _names(obj.get("organisations", obj.get("organisation"))))
    kw = obj.get("keywords")
    doc.set_meta("keywords", [k.strip() for k in kw if isinstance(k, str) and k.strip()][:100]
                 if isinstance(kw, list) else None)
    standard = obj.get("standard")
    if isinstance(standard, dict):
        doc.set_meta("ninjs_version", _str(standard.get("version")))
    rightsinfo = obj.get("rightsinfo")
    linked = None
    if isinstance(rightsinfo, dict):
        linked = first_text(rightsinfo.get("linkedrights"), rightsinfo.get("encodedrights"))
        doc.set_meta("rightsinfo", {k: v for k, v in rightsinfo.items() if isinstance(v, str)})
    doc.rights = first_text(_str(obj.get("copyrightholder")), _str(obj.get("copyrightnotice")))
    doc.licence = first_text(_str(obj.get("usageterms")), linked)
    return doc
