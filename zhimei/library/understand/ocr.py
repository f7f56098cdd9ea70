"""On-screen text: OCR lines per still, and captions seen on consecutive keyframes merged into one span."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from zhimei.store.models import Segment

__all__ = ["normalise_caption", "similarity", "Caption", "CaptionTracker", "ocr_rows", "MIN_SCORE", "SAME_CAPTION",
           "has_cjk_text"]

MIN_SCORE = 0.5
"""OCR lines recognised with less confidence than this are dropped (mostly texture read as letters)."""
SAME_CAPTION = 0.8
"""Two normalised lines at least this similar are the same caption."""

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def has_cjk_text(text: str) -> bool:
    """True when the text holds Chinese characters."""
    return bool(_CJK.search(text))


def normalise_caption(text: str) -> str:
    """Comparable form of an OCR line: NFKC, lower case, letters and digits only (spaces and punctuation,
    which OCR often drops or invents, removed)."""
    t = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in t if unicodedata.category(ch)[0] in ("L", "N"))


def similarity(a: str, b: str) -> float:
    """Similarity in [0, 1] of two normalised captions."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


@dataclass
class Caption:
    """One caption: its best reading, where it was first seen and the span over which it stayed."""

    text: str
    norm: str
    score: float
    box: tuple[int, int, int, int]
    start: float | None
    end: float | None
    shots: list[int] = field(default_factory=list)
    last_frame: int = -1


class CaptionTracker:
    """Feed the OCR lines of each still in time order; captions on consecutive stills merge."""

    def __init__(self, min_score: float = MIN_SCORE, same: float = SAME_CAPTION) -> None:
        self.min_score = min_score
        self.same = same
        self.captions: list[Caption] = []
        self._frame = -1

    def add_frame(self, lines: list[Any], *, shot_seq: int | None, start: float | None, end: float | None,
                  scale: float = 1.0) -> None:
        """Lines (OcrLine: text, box, score) read from one still spanning [start, end)."""
        self._frame += 1
        open_caps = [c for c in self.captions if c.last_frame == self._frame - 1]
        taken: set[int] = set()
        for line in lines:
            text = (line.text or "").strip()
            norm = normalise_caption(text)
            if line.score < self.min_score or len(norm) < 2:
                continue
            best, best_sim = None, 0.0
            for i, cap in enumerate(open_caps):
                if i in taken:
                    continue
                sim = similarity(norm, cap.norm)
                if sim >= self.same and sim > best_sim:
                    best, best_sim = i, sim
            box = tuple(int(round(v * scale)) for v in line.box)
            if best is None:
                self.captions.append(Caption(text=text, norm=norm, score=float(line.score), box=box, start=start,
                                             end=end, shots=[shot_seq] if shot_seq is not None else [],
                                             last_frame=self._frame))
                continue
            taken.add(best)
            cap = open_caps[best]
            cap.end = end if end is not None else cap.end
            cap.last_frame = self._frame
            if shot_seq is not None:
                cap.shots.append(shot_seq)
            if line.score > cap.score:  # keep the clearest reading
                cap.text, cap.norm, cap.score = text, norm, float(line.score)


def ocr_rows(asset_id: int, captions: list[Caption]) -> list[Segment]:
    """Segment rows (kind "ocr") in time order, top to bottom within a time."""
    ordered = sorted(captions, key=lambda c: (c.start if c.start is not None else -1.0, c.box[1], c.box[0]))
    rows = []
    for seq, c in enumerate(ordered):
        lang = "zh" if has_cjk_text(c.text) else None
        rows.append(Segment(asset_id=asset_id, kind="ocr", seq=seq, start=c.start, end=c.end, text=c.text,
                            language=lang, meta={"box": list(c.box), "score": round(c.score, 4), "shots": c.shots}))
    return rows
