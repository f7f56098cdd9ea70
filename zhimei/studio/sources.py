"""Source texts for studio tasks, read from the store: an article's paragraphs, a recording's transcript,
an image's OCR lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import select

from zhimei.store.db import read_scope
from zhimei.store.models import Asset, Segment
from zhimei.studio.errors import StudioError

__all__ = ["SourceSegment", "SourceText", "source_texts", "TEXT_KINDS"]

TEXT_KINDS = ("paragraph", "transcript", "ocr")
"""Segment kinds that carry text, in order of preference (the first kind an asset has is used)."""


class SourceSegment(NamedTuple):
    """One piece of source text: segment id, kind (paragraph/transcript/ocr), text, start/end seconds
    (None for article paragraphs)."""

    id: int
    kind: str
    text: str
    start: float | None
    end: float | None


@dataclass
class SourceText:
    """The text of one source asset, in reading/time order."""

    asset_id: int
    title: str
    language: str | None
    kind: str = "article"
    segments: list[SourceSegment] = field(default_factory=list)

    @property
    def text(self) -> str:
        """All segments joined by blank lines."""
        return "\n\n".join(s.text for s in self.segments)


def source_texts(asset_ids: list[int]) -> list[SourceText]:
    """The texts of the given assets, in the order given. StudioError names unknown ids and sources
    that have no text (e.g. a photo without OCR lines, or an asset still being processed)."""
    try:
        ids = [int(i) for i in asset_ids]
    except (TypeError, ValueError):
        raise StudioError(f"source ids must be integers, got {asset_ids!r}") from None
    if not ids:
        raise StudioError("pick at least one source asset")
    with read_scope() as session:
        assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(ids)))}
        missing = [i for i in ids if i not in assets]
        if missing:
            raise StudioError(f"unknown source asset id(s): {', '.join(map(str, missing))}")
        rows = session.scalars(
            select(Segment).where(Segment.asset_id.in_(ids), Segment.kind.in_(TEXT_KINDS))
            .order_by(Segment.asset_id, Segment.seq, Segment.id)
        ).all()
        by_asset: dict[int, list[Segment]] = {}
        for row in rows:
            by_asset.setdefault(row.asset_id, []).append(row)
        out: list[SourceText] = []
        empty: list[str] = []
        for i in ids:
            asset = assets[i]
            segs = by_asset.get(i, [])
            chosen = next((k for k in TEXT_KINDS if any(s.kind == k for s in segs)), None)
            picked = [SourceSegment(s.id, s.kind, s.text, s.start, s.end)
                      for s in segs if s.kind == chosen and s.text and s.text.strip()]
            if not picked:
                state = "" if asset.status == "done" else f", status {asset.status}"
                empty.append(f"#{i} ({asset.kind}{state})")
                continue
            out.append(SourceText(i, asset.title or "", asset.language, asset.kind, picked))
    if empty:
        raise StudioError("source(s) with no text (no paragraphs, transcript or OCR lines): " + ", ".join(empty))
    return out
