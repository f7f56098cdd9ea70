"""Speech to time-coded transcript segments, with the archive's names as recognition hints."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.store.models import Face, Person, Segment

__all__ = ["archive_hotwords", "transcript_rows", "MAX_HOTWORD_CHARS"]

MAX_HOTWORD_CHARS = 300
"""At most this many characters of names are passed to the recogniser."""


def archive_hotwords(session: Session, limit_chars: int = MAX_HOTWORD_CHARS) -> list[str]:
    """Names the archive knows: named people, most seen first. They are the preferred spellings for Chinese
    homophone correction. Topic names are not included: they are category labels (时政, politics), not
    words people say, and hints that are not in the audio only mislead the recogniser."""
    people = session.execute(
        select(Person.name, func.count(Face.id).label("n")).outerjoin(Face, Face.person_id == Person.id)
        .where(Person.name != "").group_by(Person.id, Person.name).order_by(func.count(Face.id).desc(), Person.id)
        .limit(50)
    ).all()
    out: list[str] = []
    used = 0
    for w in dict.fromkeys(name.strip() for name, _ in people if name and name.strip()):
        if used + len(w) + 2 > limit_chars:
            break
        out.append(w)
        used += len(w) + 2
    return out


def transcript_rows(asset_id: int, transcript: Any) -> list[Segment]:
    """Segment rows (kind "transcript") for a model Transcript, words and confidences in meta."""
    rows: list[Segment] = []
    for seg in transcript.segments:
        text = (seg.text or "").strip()
        if not text:
            continue
        meta: dict[str, Any] = {
            "words": [{"start": w.start, "end": w.end, "text": w.text, "prob": w.prob} for w in seg.words],
        }
        if seg.avg_logprob is not None:
            meta["avg_logprob"] = seg.avg_logprob
        if seg.no_speech_prob is not None:
            meta["no_speech_prob"] = seg.no_speech_prob
        rows.append(Segment(asset_id=asset_id, kind="transcript", seq=len(rows), start=float(seg.start),
                            end=float(max(seg.end, seg.start)), text=text, language=transcript.language, meta=meta))
    return rows
