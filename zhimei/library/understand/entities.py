"""Named entities (people, places, organisations, times) from every segment's text and the title, with
times for timed segments (from word timings when the transcript has them)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zhimei.store.models import ENTITY_KINDS, Entity

__all__ = ["SourceText", "normalise_entity", "word_time_span", "entity_rows", "summarise_entities"]


@dataclass(frozen=True)
class SourceText:
    """A text the entities come from: a segment (id, kind, times, words) or the title (segment_id None)."""

    segment_id: int | None
    source: str
    text: str
    language: str | None
    start: float | None = None
    end: float | None = None
    words: tuple[dict[str, Any], ...] = ()


def normalise_entity(text: str) -> str:
    """Grouping key of an entity: NFKC, case-folded, inner spaces collapsed, edge punctuation dropped."""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = re.sub(r"\s+", " ", t).strip(" .,;:!?'\"“”‘’()[]{}")
    return t[:500]


def word_time_span(src: SourceText, char_start: int, char_end: int) -> tuple[float | None, float | None]:
    """The time span of characters [char_start, char_end) of a transcript segment, from its words when
    they can be found in the text, else the segment's own span."""
    if not src.words:
        return src.start, src.end
    pos = 0
    first: float | None = None
    last: float | None = None
    low = src.text.casefold()
    for w in src.words:
        wt = str(w.get("text", "")).strip().casefold()
        if not wt:
            continue
        at = low.find(wt, pos)
        if at < 0:
            continue
        wend = at + len(wt)
        pos = wend
        if wend > char_start and at < char_end:
            if first is None:
                first = float(w["start"])
            last = float(w["end"])
        if at >= char_end:
            break
    if first is None:
        return src.start, src.end
    return first, last


def _readable(src: SourceText) -> str:
    """Captions in capitals (OCR) read as title case, so that capitalisation rules see words, not acronyms;
    same length, so offsets still point into the original text."""
    t = src.text
    if src.source in ("ocr", "title") and t.isupper() and t.isascii():
        titled = t.title()
        if len(titled) == len(t):
            return titled
    return t


def entity_rows(asset_id: int, sources: list[SourceText], extract: Callable[[str, str | None], list[Any]],
                tick: Callable[[float], None] | None = None) -> list[Entity]:
    """Entity rows for all `sources` with `extract(text, language)` (the Entities backend)."""
    rows: list[Entity] = []
    for i, src in enumerate(sources):
        if tick and i % 20 == 0:
            tick(i / max(1, len(sources)))
        if not src.text.strip():
            continue
        for e in extract(_readable(src), src.language):
            if e.kind not in ENTITY_KINDS:
                continue
            text = src.text[e.start:e.end].strip() if 0 <= e.start < e.end <= len(src.text) else e.text.strip()
            norm = normalise_entity(text)
            if not norm or len(text) > 500:
                continue
            start, end = (word_time_span(src, e.start, e.end) if src.start is not None else (None, None))
            rows.append(Entity(asset_id=asset_id, segment_id=src.segment_id, source=src.source, kind=e.kind,
                               text=text[:500], norm=norm, char_start=e.start, char_end=e.end, start=start, end=end))
    return rows


def summarise_entities(rows: list[Any]) -> list[dict[str, Any]]:
    """One entry per (kind, entity): its most common spelling, how often it occurs and its first time."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault((r.kind, r.norm), {"kind": r.kind, "text": r.text, "count": 0, "first": None,
                                                 "times": [], "spellings": {}})
        g["count"] += 1
        g["spellings"][r.text] = g["spellings"].get(r.text, 0) + 1
        if r.start is not None:
            g["times"].append(r.start)
            g["first"] = r.start if g["first"] is None else min(g["first"], r.start)
    out = []
    for g in groups.values():
        g["text"] = max(g.pop("spellings").items(), key=lambda kv: (kv[1], len(kv[0])))[0]
        g["times"] = sorted(g["times"])[:50]
        out.append(g)
    order = {k: i for i, k in enumerate(ENTITY_KINDS)}
    return sorted(out, key=lambda g: (order.get(g["kind"], 9), -g["count"], g["text"]))
