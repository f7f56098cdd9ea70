"""Highlighted snippets: a window of the hit's text around the first matched word, HTML-escaped, with
every matched word in <mark>."""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["snippet"]

WIDTH = 160


def _pattern(terms: list[str]) -> re.Pattern[str] | None:
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    if not terms:
        return None
    parts = []
    for t in terms:
        esc = re.escape(t)
        # Latin words match at word starts (the index stems, so "report" marks "reports" too).
        parts.append(esc if not t.isascii() else rf"\b{esc}\w*")
    return re.compile("|".join(parts), re.IGNORECASE)


def snippet(text: str, terms: list[str], width: int = WIDTH) -> str:
    """A safe HTML snippet of `text` of about `width` characters, terms in <mark>."""
    text = " ".join((text or "").split())
    folded = unicodedata.normalize("NFKC", text)
    if len(folded) != len(text):  # keep offsets aligned with what is shown
        text = folded
    pat = _pattern(terms)
    matches = list(pat.finditer(text)) if pat else []
    if matches:
        first = matches[0].start()
        lo = max(0, first - width // 3)
        hi = min(len(text), lo + width)
        lo = max(0, min(lo, hi - width))
    else:
        lo, hi = 0, min(len(text), width)
    out, pos = [], lo
    for m in matches:
        if m.start() < lo or m.end() > hi:
            continue
        out.append(html.escape(text[pos:m.start()]))
        out.append("<mark>" + html.escape(m.group(0)) + "</mark>")
        pos = m.end()
    out.append(html.escape(text[pos:hi]))
    return ("…" if lo > 0 else "") + "".join(out) + ("…" if hi < len(text) else "")
