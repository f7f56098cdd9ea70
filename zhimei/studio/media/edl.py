"""Rough-cut timelines and their CMX 3600 edit decision lists (25 fps, non-drop frame).

The timeline (beats of a script, each with the pieces of library footage under it, or none: a title card) is
plain JSON that an editor changes and sends back: ``Timeline.from_dict`` checks it field by field and names the
first bad one (types, unknown assets, in/out points reversed or outside the source, lengths). All times are
whole frames at 25 fps.

The EDL has one event per piece of footage (reel ``ZM`` + the asset id, audio and video ``AA/V``) and one per
title card (reel ``BL``, black, video only), cut (``C``) one after the other from a record start of
01:00:00:00. Each event's length is its source out minus source in, in frames, and the record times add those
lengths up, so the EDL never drifts from the render (which cuts the same frames).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from zhimei.store.db import read_scope
from zhimei.store.models import Asset
from zhimei.studio.errors import StudioError

__all__ = ["Timeline", "Beat", "Footage", "to_edl", "timecode", "frames", "reel_name", "valid_timecode",
           "frame_time", "footage_info", "EDL_FPS", "FPS", "RECORD_START", "MAX_BEATS", "MAX_SECONDS",
           "MAX_BEAT_SECONDS"]

EDL_FPS = FPS = 25
RECORD_START = 3600 * EDL_FPS
"""01:00:00:00, the usual record start of a programme."""
MAX_BEATS = 120
"""About ten minutes of speech; a longer script is refused with a message (cut it into parts)."""
MAX_SECONDS = 1200.0
MAX_BEAT_SECONDS = 90.0
_TC = re.compile(r"^\d{2}:\d{2}:\d{2}:\d{2}$")


def frame_time(t: float) -> float:
    return round(round(float(t) * FPS) / FPS, 3)


@dataclass
class Footage:
    """A piece of a library video: asset, in/out seconds, the shot it starts in, how it was found."""

    asset_id: int
    start: float
    end: float
    asset_title: str = ""
    shot: int | None = None
    on_cuts: list[bool] = field(default_factory=lambda: [False, False])
    match: str = "edited"
    score: float = 0.0
    text: str = ""
    thumb_url: str | None = None

    @property
    def duration(self) -> float:
        return round(self.end - self.start, 3)

    def to_dict(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "asset_title": self.asset_title, "start": round(self.start, 3),
                "end": round(self.end, 3), "duration": self.duration, "shot": self.shot,
                "on_cuts": list(self.on_cuts), "match": self.match, "score": round(self.score, 4),
                "text": self.text[:300], "thumb_url": self.thumb_url,
                "url": f"/assets/{self.asset_id}?t={self.start:.2f}"}


@dataclass
class Beat:
    """One line of the script: its text, its length and the footage under it (none: a title card)."""

    index: int
    text: str
    duration: float
    clips: list[Footage] = field(default_factory=list)
    voice_seconds: float | None = None
    missing: bool = False
    reason: str | None = None

    @property
    def fallback(self) -> str | None:
        return "title_card" if not self.clips else None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "text": self.text, "duration": round(self.duration, 3),
                "voice_seconds": self.voice_seconds, "missing": self.missing, "reason": self.reason,
                "fallback": self.fallback, "clips": [c.to_dict() for c in self.clips]}


@dataclass
class Timeline:
    """The rough cut: beats in order, the script's language, notes from planning."""

    beats: list[Beat]
    language: str
    title: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return round(sum(b.duration for b in self.beats), 3)

    def starts(self) -> list[float]:
        out, t = [], 0.0
        for b in self.beats:
            out.append(round(t, 3))
            t += b.duration
        return out

    def sources(self) -> list[int]:
        """Asset ids used, in order of first use."""
        return list(dict.fromkeys(c.asset_id for b in self.beats for c in b.clips))

    def to_dict(self) -> dict[str, Any]:
        starts = self.starts()
        beats = [{**b.to_dict(), "start": s} for b, s in zip(self.beats, starts, strict=True)]
        return {"version": 1, "title": self.title, "language": self.language, "fps": FPS,
                "duration": self.duration, "missing": sum(1 for b in self.beats if b.missing),
                "sources": self.sources(), "beats": beats, "notes": list(self.notes)}

    def key(self) -> str:
        """sha256 of what a render depends on (texts, sources and in/out points, language)."""
        parts = [self.language, self.title] + [f"{b.text}\x1f{b.duration:.3f}\x1f" + ";".join(
            f"{c.asset_id}:{c.start:.3f}-{c.end:.3f}" for c in b.clips) for b in self.beats]
        return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, data: Any) -> Timeline:
        """A timeline from (edited) JSON; StudioError naming the first bad field (types, unknown assets, in/out
        points outside the source or reversed, lengths)."""
        return _parse(data)


# ------------------------------------------------------------------ parsing and checking


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise StudioError(f"{where} must be a number of seconds, got {type(value).__name__}")
    try:
        v = float(value)
    except ValueError:
        raise StudioError(f"{where} must be a number of seconds, got {str(value)[:40]!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise StudioError(f"{where} must be a finite number")
    return v


def footage_info(ids: list[int]) -> dict[int, dict[str, Any]]:
    with read_scope() as s:
        rows = s.scalars(select(Asset).where(Asset.id.in_(ids))).all()
        return {a.id: {"title": a.title or f"asset {a.id}", "kind": a.kind, "duration": float(a.duration or 0),
                       "width": a.width, "height": a.height} for a in rows}


def _parse(data: Any) -> Timeline:
    if not isinstance(data, dict):
        raise StudioError(f"the timeline must be a JSON object, got {type(data).__name__}")
    beats_in = data.get("beats")
    if not isinstance(beats_in, list) or not beats_in:
        raise StudioError("timeline.beats must be a non-empty list of beats")
    if len(beats_in) > MAX_BEATS:
        raise StudioError(f"timeline.beats has {len(beats_in)} beats; a rough cut takes at most {MAX_BEATS}")
    lang = data.get("language") or "en"
    if lang not in ("zh", "en"):
        raise StudioError(f"timeline.language must be zh or en, not {str(lang)[:20]!r}")
    title = data.get("title") or ""
    if not isinstance(title, str):
        raise StudioError("timeline.title must be text")
    ids: set[int] = set()
    for i, b in enumerate(beats_in):
        if not isinstance(b, dict):
            raise StudioError(f"beats[{i}] must be an object, got {type(b).__name__}")
        clips = b.get("clips") or []
        if not isinstance(clips, list):
            raise StudioError(f"beats[{i}].clips must be a list")
        if len(clips) > 10:
            raise StudioError(f"beats[{i}].clips has {len(clips)} pieces; at most 10")
        for j, c in enumerate(clips):
            where = f"beats[{i}].clips[{j}]"
            if not isinstance(c, dict):
                raise StudioError(f"{where} must be an object, got {type(c).__name__}")
            aid = c.get("asset_id")
            if isinstance(aid, bool) or not isinstance(aid, int):
                raise StudioError(f"{where}.asset_id must be a whole number, got {aid!r}"[:160])
            ids.add(aid)
    info = footage_info(sorted(ids)) if ids else {}
    beats: list[Beat] = []
    for i, b in enumerate(beats_in):
        text = b.get("text")
        if not isinstance(text, str) or not text.strip():
            raise StudioError(f"beats[{i}].text must be non-empty text")
        if len(text) > 2000:
            raise StudioError(f"beats[{i}].text is {len(text)} characters; at most 2000")
        pieces: list[Footage] = []
        for j, c in enumerate(b.get("clips") or []):
            where = f"beats[{i}].clips[{j}]"
            a = info.get(c["asset_id"])
            if a is None:
                raise StudioError(f"{where}.asset_id: unknown asset {c['asset_id']}")
            if a["kind"] != "video" or not a["width"]:
                raise StudioError(f"{where}.asset_id: asset {c['asset_id']} is a {a['kind']} with no picture")
            start = frame_time(_num(c.get("start"), f"{where}.start"))
            end = frame_time(_num(c.get("end"), f"{where}.end"))
            if start < 0:
                raise StudioError(f"{where}.start must be 0 or more (got {start})")
            if end <= start:
                raise StudioError(f"{where}.end ({end}) must be after start ({start})")
            if a["duration"] and end > a["duration"] + 0.05:
                raise StudioError(f"{where}.end ({end} s) is past the end of asset {c['asset_id']} "
                                  f"({a['duration']:.2f} s long)")
            if end - start < 0.2:
                raise StudioError(f"{where} is {end - start:.2f} s; a piece lasts at least 0.2 s")
            pieces.append(Footage(c["asset_id"], start, min(end, a["duration"] or end), a["title"],
                                  c.get("shot") if isinstance(c.get("shot"), int) else None,
                                  on_cuts=[bool(x) for x in c["on_cuts"][:2]] if isinstance(c.get("on_cuts"), list)
                                  and len(c["on_cuts"]) == 2 else [False, False],
                                  match=str(c.get("match") or "edited")[:20],
                                  score=float(c["score"]) if isinstance(c.get("score"), int | float) else 0.0,
                                  text=c["text"][:300] if isinstance(c.get("text"), str) else "",
                                  thumb_url=c.get("thumb_url") if isinstance(c.get("thumb_url"), str) else None))
        if pieces:
            dur = round(sum(p.duration for p in pieces), 3)
        else:
            dur = frame_time(_num(b.get("duration"), f"beats[{i}].duration"))
            if dur < 0.5:
                raise StudioError(f"beats[{i}].duration must be at least 0.5 s (got {dur})")
        if dur > MAX_BEAT_SECONDS:
            raise StudioError(f"beats[{i}] lasts {dur:.1f} s; a beat lasts at most {MAX_BEAT_SECONDS:.0f} s")
        vs = b.get("voice_seconds")
        beats.append(Beat(i + 1, text.strip(), dur, pieces,
                          voice_seconds=float(vs) if isinstance(vs, int | float) and not isinstance(vs, bool) else None,
                          missing=bool(b.get("missing")) and not pieces,
                          reason=str(b["reason"])[:300] if b.get("reason") and not pieces else None))
    tl = Timeline(beats, lang, title.strip()[:300], [str(n)[:300] for n in (data.get("notes") or [])
                                                     if isinstance(n, str)][:50])
    if tl.duration > MAX_SECONDS:
        raise StudioError(f"the timeline lasts {tl.duration:.0f} s; a rough cut lasts at most {MAX_SECONDS:.0f} s")
    return tl



# ------------------------------------------------------------------ EDL


def frames(seconds: float, fps: int = EDL_FPS) -> int:
    """Seconds as a whole number of frames (rounded)."""
    return int(round(float(seconds) * fps))


def timecode(n: int, fps: int = EDL_FPS) -> str:
    """HH:MM:SS:FF of a frame count (non-drop frame)."""
    n = max(0, int(n))
    ff = n % fps
    s = n // fps
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{ff:02d}"


def reel_name(asset_id: int | None) -> str:
    """Eight characters at most: ``ZM`` + the asset id (``BL`` for black)."""
    if asset_id is None:
        return "BL"
    return f"ZM{int(asset_id):06d}"[:8]


def _comment(text: str) -> str:
    return " ".join(str(text).replace("\r", " ").replace("\n", " ").split())[:120]


def to_edl(timeline: Timeline, title: str | None = None) -> str:
    """The timeline as CMX 3600 text: TITLE, FCM: NON-DROP FRAME, then the events with source in/out, record
    in/out and ``* FROM CLIP NAME:`` comments."""
    fps = EDL_FPS
    head = _comment(title or timeline.title or "ROUGH CUT").upper()[:70] or "ROUGH CUT"
    lines = [f"TITLE: {head}", "FCM: NON-DROP FRAME", ""]
    rec = RECORD_START
    n = 0
    for beat in timeline.beats:
        pieces: list[tuple[int | None, int, int, str]] = []
        if beat.clips:
            for c in beat.clips:
                a, b = frames(c.start, fps), frames(c.end, fps)
                pieces.append((c.asset_id, a, max(a + 1, b), c.asset_title or f"asset {c.asset_id}"))
        else:
            pieces.append((None, 0, max(1, frames(beat.duration, fps)), f"TITLE CARD {beat.index}"))
        for asset_id, a, b, name in pieces:
            n += 1
            length = b - a
            channel = "AA/V" if asset_id is not None else "V"
            lines.append(f"{n:03d}  {reel_name(asset_id):<8} {channel:<5} C        "
                         f"{timecode(a, fps)} {timecode(b, fps)} {timecode(rec, fps)} {timecode(rec + length, fps)}")
            lines.append(f"* FROM CLIP NAME: {_comment(name)}")
            lines.append(f"* COMMENT: BEAT {beat.index}: {_comment(beat.text)[:80]}")
            lines.append("")
            rec += length
    return "\n".join(lines).rstrip("\n") + "\n"


def valid_timecode(tc: str) -> bool:
    """Whether a string is a well-formed 25 fps timecode."""
    if not _TC.match(tc):
        return False
    _h, m, s, f = (int(x) for x in tc.split(":"))
    return m < 60 and s < 60 and f < EDL_FPS
