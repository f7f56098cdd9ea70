"""What an extractor hands back: paragraphs plus the document's own title, language, dates and news fields."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Paragraph", "ExtractedDoc", "ExtractError", "parse_date", "language_tag", "first_text"]


class ExtractError(ValueError):
    """The document cannot be read (corrupt, encrypted, hostile, undecodable); the message is for a person."""


@dataclass
class Paragraph:
    """One paragraph of plain text (already cleaned), with optional facts such as page or heading."""

    text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExtractedDoc:
    """A document reduced to paragraphs and metadata; fields left None/empty were not in the document."""

    paragraphs: list[Paragraph] = field(default_factory=list)
    title: str | None = None
    language: str | None = None
    published_at: datetime | None = None
    rights: str | None = None
    licence: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def set_meta(self, key: str, value: Any) -> None:
        """Record a metadata field unless it is empty."""
        if value is None or value == "" or value == [] or value == {}:
            return
        self.meta[key] = value


_CJK_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*(\d{1,2})[:：时](\d{1,2}))?")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?)?\s*(Z|[+-]\d{2}:?\d{2})?$")


def parse_date(value: Any) -> datetime | None:
    """A timezone-aware datetime from ISO 8601, RFC 2822, compact (20240423T093000Z) or 2024年4月23日 forms.

    Naive values are taken as UTC; anything unreadable or outside 1900–2100 gives None.
    """
    if value is None:
        return None
    dt: datetime | None = None
    if isinstance(value, datetime):
        dt = value
    else:
        s = str(value).strip()[:100]
        if not s:
            return None
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
        except ValueError:
            dt = None
        if dt is None:
            m = _COMPACT.match(s)
            if m:
                y, mo, d, h, mi, sec, tz = m.groups()
                iso = f"{y}-{mo}-{d}T{h or '00'}:{mi or '00'}:{sec or '00'}"
                if tz:
                    iso += "+00:00" if tz == "Z" else (tz if ":" in tz else tz[:3] + ":" + tz[3:])
                try:
                    dt = datetime.fromisoformat(iso)
                except ValueError:
                    dt = None
        if dt is None:
            try:
                dt = email.utils.parsedate_to_datetime(s)
            except (TypeError, ValueError, IndexError):
                dt = None
        if dt is None:
            m = _CJK_DATE.search(s)
            if m:
                y, mo, d, h, mi = m.groups()
                try:
                    dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0))
                except ValueError:
                    dt = None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if not 1900 <= dt.year <= 2100:
        return None
    return dt


_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


def language_tag(value: Any) -> str | None:
    """A BCP 47 tag with conventional casing (zh-CN, zh-Hant-TW, en); None when it is not a language tag."""
    if not value or not isinstance(value, str):
        return None
    raw = value.strip().split(",")[0].split(";")[0].strip()
    if not _TAG.match(raw):
        return None
    parts = raw.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for p in parts[1:]:
        if len(p) == 4 and p.isalpha():
            out.append(p.title())
        elif len(p) == 2 and p.isalpha():
            out.append(p.upper())
        else:
            out.append(p.lower())
    tag = "-".join(out)
    return tag[:16]


def first_text(*values: Any) -> str | None:
    """The first value that is a non-blank string, stripped."""
    for v in values:
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None
