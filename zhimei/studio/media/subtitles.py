"""Subtitles from the transcript: cues that obey line-length and reading-speed rules, SRT and WebVTT,
a translated track, and burned-in subtitles.

Rules (constants below) follow the Netflix Timed Text Style Guides:
- English (https://partnerhelp.netflixstudios.com/hc/en-us/articles/217350977): at most 42 characters a
  line, 2 lines, up to 20 characters per second for adult programmes, 5/6 s minimum and 7 s maximum
  duration, at least 2 frames between subtitles.
- Simplified Chinese (https://partnerhelp.netflixstudios.com/hc/en-us/articles/215986007): at most 16
  full-width characters a line (Latin letters and digits count half), 2 lines, up to 9 characters per
  second; commas and full stops inside a line become a space and are dropped at a line's end.

Cues are built from the transcript's word timings when present (else times are spread over the characters
of each segment): words are grouped greedily up to two lines, a cue ends at a sentence end or a pause, and a
cue that would overflow is cut back to its last clause mark. Then each cue is lengthened into the silence
around it until its reading speed and minimum duration hold, never closer than 2 frames to its neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from zhimei.store.db import read_scope
from zhimei.store.models import Asset, Segment
from zhimei.studio.errors import StudioError

__all__ = ["Cue", "Violation", "Token", "RULES", "EN_MAX_LINE", "ZH_MAX_LINE", "MAX_LINES", "EN_MAX_CPS",
           "ZH_MAX_CPS", "MIN_DURATION", "MAX_DURATION", "MIN_GAP_FRAMES", "is_cjk_text", "text_width",
           "transcript_tokens", "tokens_from_segments", "build_cues", "check_subtitles", "to_srt", "to_vtt",
           "parse_subtitles", "asset_cues", "asset_info", "naive_cues", "translate_cues", "cues_from_dicts",
           "cue_chars", "wrap_lines", "Track", "subtitle_track", "save_subtitles", "retime"]

EN_MAX_LINE = 42
"""Characters per line, English (Netflix English Timed Text Style Guide)."""
ZH_MAX_LINE = 16
"""Full-width characters per line, Chinese (Netflix Simplified Chinese Timed Text Style Guide)."""
MAX_LINES = 2
EN_MAX_CPS = 20.0
"""Reading speed, characters per second (spaces count), English adult programmes (Netflix)."""
ZH_MAX_CPS = 9.0
"""Reading speed, characters per second, Chinese adult programmes (Netflix)."""
MIN_DURATION = 5 / 6
"""Minimum cue duration, seconds (Netflix: 5/6 s = 20 frames at 24 fps)."""
MAX_DURATION = 7.0
"""Maximum cue duration, seconds (Netflix)."""
MIN_GAP_FRAMES = 2
"""Minimum gap between consecutive cues, frames (Netflix)."""
PAUSE_BREAK = 1.0
"""A pause this long (seconds) in speech always ends a cue."""
LINGER = 0.3
BORROW = 0.5
"""Seconds a cue boundary may move into a neighbouring cue that has time to spare, for reading speed."""
"""A cue stays up to this long after its last word when there is room (easier to read)."""
MAX_CUES = 50_000
MAX_TRANSLATE_CUES = 3_000
"""About 2–3 hours of speech; a longer track is refused for translation with a message (cut it first)."""

RULES = {"en": {"max_line": EN_MAX_LINE, "max_cps": EN_MAX_CPS},
         "zh": {"max_line": ZH_MAX_LINE, "max_cps": ZH_MAX_CPS},
         "max_lines": MAX_LINES, "min_duration": MIN_DURATION, "max_duration": MAX_DURATION,
         "min_gap_frames": MIN_GAP_FRAMES,
         "source": "Netflix Timed Text Style Guides (English; Simplified Chinese)"}

_SENT_END = tuple(".?!。？！…")
_CLAUSE_END = tuple(",;:，；：、—")
_CLOSERS = "\"'”’」』）)]"
_ABBREV = {"mr.", "mrs.", "ms.", "dr.", "st.", "prof.", "u.s.", "u.k.", "e.g.", "i.e.", "etc.", "vs.", "no."}
_WEAK_END = {"a", "an", "the", "to", "of", "in", "on", "at", "for", "and", "or", "but", "with", "by", "from",
             "as", "that", "is", "are", "was", "my", "your", "his", "her", "its", "our", "their", "this"}


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF
            or 0x20000 <= o <= 0x2FFFF)


def is_cjk_text(text: str) -> bool:
    """Whether a text is mostly Chinese (more CJK characters than Latin letters)."""
    cjk = sum(1 for ch in text if _is_cjk(ch) and ch.isalpha())
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return cjk > 0 and cjk * 2 >= latin


def _lang(language: str | None, text: str = "") -> str:
    if language:
        return "zh" if language.lower().split("-")[0] in ("zh", "cmn", "yue", "wuu") else "en"
    return "zh" if is_cjk_text(text) else "en"


def text_width(text: str, lang: str) -> float:
    """Displayed length: English counts characters; Chinese counts full-width characters 1, others 1/2."""
    if lang != "zh":
        return float(len(text))
    return sum(1.0 if _is_cjk(ch) else 0.5 for ch in text)


def cue_chars(text: str, lang: str) -> float:
    """Characters counted for reading speed (line breaks excluded; Chinese: spaces excluded too)."""
    flat = text.replace("\n", " " if lang != "zh" else "")
    if lang == "zh":
        return text_width(flat.replace(" ", "").replace("\u3000", ""), "zh")
    return float(len(flat.strip()))


@dataclass
class Token:
    """A word (or a Chinese character run) with its timing."""

    text: str
    start: float
    end: float

    @property
    def sentence_end(self) -> bool:
        t = self.text.rstrip(_CLOSERS)
        return t.endswith(_SENT_END) and t.lower() not in _ABBREV

    @property
    def clause_end(self) -> bool:
        return self.text.rstrip(_CLOSERS).endswith(_CLAUSE_END)


@dataclass
class Cue:
    """One subtitle: start/end seconds and its lines (at most MAX_LINES when the rules hold)."""

    start: float
    end: float
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "lines": list(self.lines),
                "text": self.text}


@dataclass
class Violation:
    """A broken rule: the cue (1-based, as in SRT), the rule's name and what is wrong."""

    cue: int
    rule: str
    detail: str
    value: float | None = None
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Group:
    tokens: list[Token] = field(default_factory=list)


def _join(parts: Sequence[str]) -> str:
    out = ""
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if out and not (_is_cjk(out[-1]) or _is_cjk(p[0]) or p[0] in ",.;:!?%)]}”’"):
            out += " "
        out += p
    return out


def _zh_style(line: str) -> str:
    """Chinese subtitle punctuation: commas/full stops become a space inside a line, vanish at its end."""
    line = re.sub(r"[，。；,]+(?=.)", " ", line.strip())
    line = re.sub(r"[，。；、,.]+$", "", line)
    return re.sub(r"\s{2,}", " ", line).strip()


def wrap_lines(parts: Sequence[str], lang: str, max_line: float) -> list[str] | None:
    """Split words into at most two lines of at most `max_line` (one line when it fits); None if impossible.

    The break is chosen for balanced lines, after clause punctuation when possible, and never after an
    article, preposition or conjunction (English)."""
    parts = [p for p in (x.strip() for x in parts) if p]
    if not parts:
        return []
    style = _zh_style if lang == "zh" else (lambda s: s)
    whole = style(_join(parts))
    if text_width(whole, lang) <= max_line:
        return [whole]
    best = _best_break(parts, lang, max_line, style)
    if best is None and lang == "zh":  # a long word: break between characters
        best = _best_break([u for p in parts for u in _zh_units(p, words=False)], lang, max_line, style)
    return best


def _best_break(parts: list[str], lang: str, max_line: float, style: Any) -> list[str] | None:
    best: tuple[float, list[str]] | None = None
    for k in range(1, len(parts)):
        a, b = style(_join(parts[:k])), style(_join(parts[k:]))
        wa, wb = text_width(a, lang), text_width(b, lang)
        if wa > max_line or wb > max_line or not a or not b:
            continue
        cost = abs(wa - wb) + (0.0 if wb >= wa else 1.0)
        last = parts[k - 1].rstrip(_CLOSERS)
        if last.endswith(_SENT_END + _CLAUSE_END):
            cost -= max_line * 0.5
        if lang != "zh" and last.lower() in _WEAK_END:
            cost += max_line
        if best is None or cost < best[0]:
            best = (cost, [a, b])
    return best[1] if best else None


def _zh_units(text: str, words: bool = True) -> list[str]:
    """Chinese text in breakable units: jieba words (or single characters), Latin words and numbers whole,
    punctuation attached to the unit before it."""
    units: list[str] = []
    pieces: list[str] = []
    for m in re.finditer(r"[A-Za-z0-9][A-Za-z0-9.'%-]*|\s+|[\u3400-\u9fff\uf900-\ufaff]+|.", text):
        run = m.group(0)
        if words and len(run) > 1 and _is_cjk(run[0]):
            import jieba  # noqa: PLC0415

            pieces.extend(jieba.lcut(run))
        elif _is_cjk(run[0]) and not words:
            pieces.extend(run)
        else:
            pieces.append(run)
    for u in pieces:
        if u.isspace():
            if units:
                units[-1] += " "
            continue
        if units and (u in "，。；：、？！…,.;:?!”’）)」』%" ):
            units[-1] += u
        else:
            units.append(u)
    return [u for u in units if u.strip()]


def tokens_from_segments(segments: Iterable[tuple[float, float, str, list[dict[str, Any]] | None]],
                         lang: str) -> list[Token]:
    """Timed tokens from (start, end, text, words) transcript segments; words give exact times, else the
    segment's time is spread over its characters."""
    out: list[Token] = []
    for start, end, text, words in segments:
        good = [w for w in (words or []) if str(w.get("text", "")).strip() and w.get("start") is not None]
        if good:
            for w in good:
                s, e = float(w["start"]), float(w.get("end") or w["start"])
                out.append(Token(str(w["text"]).strip(), s, max(e, s)))
            continue
        units = _zh_units(text) if lang == "zh" else text.split()
        if not units:
            continue
        widths = [max(1.0, text_width(u, lang)) for u in units]
        total, t = sum(widths), float(start)
        span = max(0.0, float(end) - float(start))
        for u, w in zip(units, widths, strict=True):
            d = span * w / total
            out.append(Token(u, t, t + d))
            t += d
    out.sort(key=lambda tok: tok.start)
    return out


def build_cues(tokens: Sequence[Token], lang: str, *, fps: float = 25.0, duration: float | None = None,
               max_line: float | None = None, max_cps: float | None = None) -> list[Cue]:
    """Group timed tokens into cues that obey the rules (see the module docstring)."""
    max_line = float(max_line or RULES[lang]["max_line"])
    max_cps = float(max_cps or RULES[lang]["max_cps"])
    groups: list[list[Token]] = []
    cur: list[Token] = []

    def fits(toks: list[Token]) -> bool:
        return wrap_lines([t.text for t in toks], lang, max_line) is not None

    def width(toks: list[Token]) -> float:
        return text_width(_join([t.text for t in toks]), lang)

    capacity = max_line * MAX_LINES
    for i, tok in enumerate(tokens):
        if cur and tok.start - cur[-1].end > PAUSE_BREAK:
            groups.append(cur)
            cur = []
        while cur and (not fits(cur + [tok]) or tok.end - cur[0].start > MAX_DURATION):
            cut = len(cur)
            for j in range(len(cur) - 1, 0, -1):  # cut back to a sentence end, else a clause mark
                if cur[j - 1].sentence_end and width(cur[:j]) >= 0.2 * capacity:
                    cut = j
                    break
            else:
                for j in range(len(cur) - 1, 0, -1):
                    if cur[j - 1].clause_end and width(cur[:j]) >= 0.4 * capacity:
                        cut = j
                        break
            groups.append(cur[:cut])
            cur = cur[cut:]
        cur.append(tok)
        if tok.sentence_end:
            nxt_sentence: list[Token] = []
            for t in tokens[i + 1:]:
                nxt_sentence.append(t)
                if t.sentence_end:
                    break
            one_line_each = width(cur) <= max_line and width(nxt_sentence) <= max_line
            if (not nxt_sentence or nxt_sentence[0].start - tok.end >= 0.5 or not one_line_each
                    or not fits(cur + nxt_sentence) or nxt_sentence[-1].end - cur[0].start > MAX_DURATION):
                groups.append(cur)  # the next sentence does not fit whole: start it on a new cue
                cur = []
    if cur:
        groups.append(cur)
    if len(groups) > MAX_CUES:
        raise StudioError(f"the transcript makes {len(groups):,} subtitles; the limit is {MAX_CUES:,}")
    cues: list[Cue] = []
    for g in groups:
        lines = wrap_lines([t.text for t in g], lang, max_line) or _force_lines(g, lang, max_line)
        if not any(ln.strip() for ln in lines):
            continue
        cues.append(Cue(g[0].start, max(g[-1].end, g[0].start), lines))
    return retime(cues, lang, fps=fps, duration=duration, max_cps=max_cps)


def _force_lines(group: list[Token], lang: str, max_line: float) -> list[str]:
    """Lines for a group that cannot fit (one over-long word): hard-wrap by width."""
    text = _join([t.text for t in group])
    lines, line = [], ""
    for unit in (_zh_units(text) if lang == "zh" else text.split()):
        cand = _join([line, unit]) if line else unit
        if line and text_width(cand, lang) > max_line:
            lines.append(line)
            line = unit
        else:
            line = cand
    return [*lines, line] if line else lines


def retime(cues: list[Cue], lang: str, *, fps: float = 25.0, duration: float | None = None,
           max_cps: float | None = None) -> list[Cue]:
    """Lengthen cues into the surrounding silence until reading speed and minimum duration hold; keep
    2 frames between cues, 7 s at most, nothing past the media's end."""
    max_cps = float(max_cps or RULES[lang]["max_cps"])
    gap = MIN_GAP_FRAMES / (fps or 25.0) + 1e-3
    cues = sorted(cues, key=lambda c: c.start)
    n = len(cues)
    for i, c in enumerate(cues):  # overlaps from the recogniser: the earlier cue yields
        if i + 1 < n and c.end > cues[i + 1].start - gap:
            c.end = max(c.start + 0.01, cues[i + 1].start - gap)
    def need(c: Cue) -> float:
        return max(MIN_DURATION, cue_chars(c.text, lang) / max_cps) + 0.01

    def end_limit(i: int) -> float:
        return cues[i + 1].start - gap if i + 1 < n else (duration if duration else cues[i].end + 60.0)

    for i, c in enumerate(cues):  # 1: lengthen into the silence after
        c.end = max(c.end, min(c.start + need(c), end_limit(i), c.start + MAX_DURATION))
    for i, c in enumerate(cues):  # 2: still short: start earlier, into the silence before
        if c.end - c.start < need(c):
            floor = cues[i - 1].end + gap if i > 0 else 0.0
            c.start = max(floor, min(c.start, c.end - need(c)))
    for i, c in enumerate(cues):  # 2b: still too fast in packed speech: borrow from a neighbour with time to spare
        for j in (i + 1, i - 1):
            short = need(c) - (c.end - c.start)
            if short <= 0 or not 0 <= j < n:
                break
            nb = cues[j]
            move = min(short, max(0.0, (nb.end - nb.start) - need(nb)), BORROW)
            if move <= 0:
                continue
            if j > i:
                nb.start += move
                c.end = min(c.end + move, nb.start - gap)
            else:
                nb.end -= move
                c.start = max(nb.end + gap, c.start - move)
    for i, c in enumerate(cues):  # 3: linger a little after the last word where there is room
        c.end = max(c.end, min(c.end + LINGER, end_limit(i), c.start + MAX_DURATION))
    for c in cues:
        c.start, c.end = round(c.start, 3), round(c.end, 3)
    return cues


def check_subtitles(cues: Sequence[Cue], language: str | None = None, *, fps: float = 25.0,
                    max_line: float | None = None, max_cps: float | None = None) -> list[Violation]:
    """Every rule a track breaks: line length and count, reading speed, duration, overlap, gap, order."""
    out: list[Violation] = []
    gap = MIN_GAP_FRAMES / (fps or 25.0)
    for i, c in enumerate(cues, start=1):
        lang = _lang(language, c.text)
        ml = float(max_line or RULES[lang]["max_line"])
        mc = float(max_cps or RULES[lang]["max_cps"])
        dur = c.end - c.start
        if not c.text.strip():
            out.append(Violation(i, "empty", "the cue has no text"))
        if len(c.lines) > MAX_LINES:
            out.append(Violation(i, "lines", f"{len(c.lines)} lines; at most {MAX_LINES}", len(c.lines), MAX_LINES))
        for ln in c.lines:
            w = text_width(ln, lang)
            if w > ml:
                out.append(Violation(i, "line_length", f"line of {w:g} characters; at most {ml:g}: {ln[:60]!r}",
                                     w, ml))
        if dur < MIN_DURATION - 1e-6:
            out.append(Violation(i, "min_duration", f"on screen {dur:.2f} s; at least {MIN_DURATION:.2f} s",
                                 dur, MIN_DURATION))
        if dur > MAX_DURATION + 1e-6:
            out.append(Violation(i, "max_duration", f"on screen {dur:.2f} s; at most {MAX_DURATION:.0f} s",
                                 dur, MAX_DURATION))
        if dur > 0:
            cps = cue_chars(c.text, lang) / dur
            if cps > mc + 1e-6:
                out.append(Violation(i, "reading_speed", f"{cps:.1f} characters/s; at most {mc:g}", cps, mc))
        if i < len(cues):
            nxt = cues[i]
            if nxt.start < c.start:
                out.append(Violation(i + 1, "order", "starts before the cue before it"))
            elif nxt.start < c.end - 1e-6:
                out.append(Violation(i, "overlap", f"overlaps the next cue by {c.end - nxt.start:.2f} s"))
            elif nxt.start - c.end < gap - 1e-3:
                out.append(Violation(i, "gap", f"{nxt.start - c.end:.3f} s before the next cue; at least "
                                               f"{MIN_GAP_FRAMES} frames ({gap:.3f} s)", nxt.start - c.end, gap))
    return out


def _ts(t: float, sep: str) -> str:
    ms = int(round(max(0.0, t) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _clean_line(line: str) -> str:
    return line.replace("-->", "→").replace("\r", "").strip()


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip text (1-based numbering, comma milliseconds)."""
    blocks = [f"{i}\n{_ts(c.start, ',')} --> {_ts(c.end, ',')}\n" + "\n".join(_clean_line(x) for x in c.lines)
              for i, c in enumerate(cues, start=1)]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text (served to the browser player as a <track>)."""
    blocks = ["WEBVTT"]
    for i, c in enumerate(cues, start=1):
        text = "\n".join(_clean_line(x).replace("&", "&amp;").replace("<", "&lt;") for x in c.lines)
        blocks.append(f"{i}\n{_ts(c.start, '.')} --> {_ts(c.end, '.')}\n{text}")
    return "\n\n".join(blocks) + "\n"


_TIME_RE = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})")


def _parse_ts(s: str) -> float:
    m = _TIME_RE.fullmatch(s.strip())
    if not m:
        raise StudioError(f"not a subtitle timestamp: {s.strip()[:40]!r}")
    h, mi, se, ms = m.groups()
    return round(int(h or 0) * 3600 + int(mi) * 60 + int(se) + int(ms.ljust(3, "0")) / 1000, 3)


def parse_subtitles(text: str) -> list[Cue]:
    """Cues from SRT or WebVTT text; StudioError names the first malformed block."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    cues: list[Cue] = []
    for n, block in enumerate(re.split(r"\n\s*\n", text.strip()), start=1):
        lines = [ln for ln in block.split("\n")]
        idx = next((k for k, ln in enumerate(lines) if "-->" in ln), None)
        if idx is None:
            if n == 1 and lines[0].startswith("WEBVTT") or lines[0].startswith(("NOTE", "STYLE", "REGION")):
                continue
            raise StudioError(f"subtitle block {n} has no 'start --> end' line")
        a, _, b = lines[idx].partition("-->")
        start, end = _parse_ts(a), _parse_ts(b.strip().split(" ")[0])
        if end < start:
            raise StudioError(f"subtitle block {n} ends before it starts")
        body = [ln.strip() for ln in lines[idx + 1:] if ln.strip()]
        cues.append(Cue(start, end, body))
    return cues


def cues_from_dicts(items: Sequence[dict[str, Any]]) -> list[Cue]:
    """Cues from JSON objects ({start, end, lines | text}), checked: numbers, order, non-empty text."""
    cues: list[Cue] = []
    for n, it in enumerate(items, start=1):
        try:
            start, end = float(it["start"]), float(it["end"])
        except (KeyError, TypeError, ValueError):
            raise StudioError(f"cue {n} needs numeric start and end seconds") from None
        if not (0 <= start < end):
            raise StudioError(f"cue {n}: start {start} must be ≥ 0 and before end {end}")
        lines = it.get("lines")
        if lines is None:
            lines = str(it.get("text", "")).split("\n")
        lines = [str(x).strip() for x in lines if str(x).strip()]
        if not lines:
            raise StudioError(f"cue {n} has no text")
        cues.append(Cue(start, end, lines))
    if len(cues) > MAX_CUES:
        raise StudioError(f"{len(cues):,} cues; the limit is {MAX_CUES:,}")
    return sorted(cues, key=lambda c: c.start)


def asset_info(asset_id: int) -> dict[str, Any]:
    """What subtitles/clips need of an asset: kind, duration, fps, size, language; StudioError if unusable."""
    with read_scope() as session:
        a = session.get(Asset, int(asset_id))
        if a is None:
            raise StudioError(f"no asset {asset_id}")
        if a.kind not in ("video", "audio"):
            raise StudioError(f"asset {asset_id} is a {a.kind}; subtitles and clips need a video or audio asset")
        probe = (a.meta or {}).get("probe") or {}
        fps = float(probe.get("fps") or probe.get("frame_rate") or 25.0) or 25.0
        return {"id": a.id, "kind": a.kind, "title": a.title, "duration": a.duration, "width": a.width,
                "height": a.height, "language": a.language, "status": a.status, "fps": fps}


def transcript_tokens(asset_id: int, start: float | None = None,
                      end: float | None = None) -> tuple[list[Token], str, list[Segment]]:
    """Timed tokens of an asset's transcript (optionally only those inside [start, end]), its language,
    and the segments; StudioError when there is no transcript."""
    info = asset_info(asset_id)
    with read_scope() as session:
        rows = list(session.scalars(select(Segment).where(Segment.asset_id == int(asset_id),
                                                          Segment.kind == "transcript")
                                    .order_by(Segment.seq, Segment.id)))
        for r in rows:
            session.expunge(r)
    if not rows:
        state = info["status"]
        raise StudioError(f"asset {asset_id} has no transcript (no speech found, or still processing: "
                          f"status {state})")
    lang = _lang(info["language"] or rows[0].language, " ".join(r.text for r in rows[:20]))
    toks = tokens_from_segments(((r.start or 0.0, r.end or r.start or 0.0, r.text, (r.meta or {}).get("words"))
                                 for r in rows), lang)
    if start is not None or end is not None:
        lo, hi = start or 0.0, end if end is not None else float("inf")
        toks = [t for t in toks if t.start >= lo - 0.05 and t.end <= hi + 0.05]
    return toks, lang, rows


def asset_cues(asset_id: int, *, start: float | None = None, end: float | None = None,
               max_line: float | None = None) -> tuple[list[Cue], str]:
    """Rule-abiding cues for an asset's transcript (or the part in [start, end], times relative to `start`)
    and the track's language."""
    info = asset_info(asset_id)
    toks, lang, _ = transcript_tokens(asset_id, start, end)
    if start:
        toks = [Token(t.text, max(0.0, t.start - start), max(0.0, t.end - start)) for t in toks]
    dur = (end - (start or 0.0)) if end is not None else info["duration"]
    return build_cues(toks, lang, fps=info["fps"], duration=dur, max_line=max_line), lang


def naive_cues(asset_id: int, seconds: float = 4.0) -> list[Cue]:
    """Baseline: fixed-length cues of the transcript's words (every `seconds`), one line each."""
    toks, _, _ = transcript_tokens(asset_id)
    cues: list[Cue] = []
    cur: list[Token] = []
    for t in toks:
        if cur and t.end - cur[0].start > seconds:
            cues.append(Cue(cur[0].start, cur[-1].end, [_join([x.text for x in cur])]))
            cur = []
        cur.append(t)
    if cur:
        cues.append(Cue(cur[0].start, cur[-1].end, [_join([x.text for x in cur])]))
    return cues


_LANG_NAME = {"zh": "Chinese", "en": "English"}


def translate_cues(cues: Sequence[Cue], target: str, source: str | None = None,
                   fps: float = 25.0) -> tuple[list[Cue], dict[str, Any]]:
    """The cues translated into `target` (zh|en) with the same timings, re-wrapped for the target's rules.

    Uses the translator backend when it is ready (an OpenAI-compatible server), else the studio's LLM
    translation (`zhimei.studio.translator`: few-shot on the embedded model — offline that model is tiny and
    its translations are weak drafts: review them). A cue whose translation failed keeps its source text and
    is listed in ``untranslated`` (partial results are kept). Returns the cues and {backend, model, calls,
    untranslated, errors}."""
    from zhimei.models import NotReady  # noqa: PLC0415
    from zhimei.models.registry import get_backend, selected_name  # noqa: PLC0415

    tgt = _lang(target)
    if not cues:
        raise StudioError("no subtitles to translate")
    if len(cues) > MAX_TRANSLATE_CUES:
        raise StudioError(f"{len(cues):,} subtitles are too many to translate at once (at most "
                          f"{MAX_TRANSLATE_CUES:,}, about 2–3 hours): export a shorter clip first")
    texts = [" ".join(c.lines) for c in cues]
    src = _lang(source, " ".join(texts[:20]))
    if src == tgt:
        raise StudioError(f"the subtitles are already in {_LANG_NAME[tgt]}")
    errors: list[str] = []
    calls: list[dict[str, Any]] = []
    try:
        tr = get_backend("translator")
        label: dict[str, Any] = {"backend": "translator", "model": selected_name("translator")}
        out_texts: list[str | None] = []
        for t in texts:
            try:
                out_texts.append(tr.translate(t, tgt, src) or None)
            except Exception as exc:  # a remote that times out or answers garbage: keep what we have
                errors.append(f"{type(exc).__name__}: {exc}")
                out_texts.append(None)
    except NotReady:
        from zhimei.studio.translator import translate_paragraphs  # noqa: PLC0415

        try:
            llm = get_backend("llm")
        except NotReady as exc:
            raise StudioError(f"no translator or language model is ready: {exc}") from None
        label = {"backend": "llm", "model": selected_name("llm")}
        out_texts, calls, errors = translate_paragraphs(llm, texts, src, tgt)
    if not any(out_texts):
        raise StudioError("translation failed for every subtitle" + (f": {errors[0]}" if errors else ""))
    label.update(calls=calls, errors=errors[:20],
                 untranslated=[i + 1 for i, t in enumerate(out_texts) if not t])
    out: list[Cue] = []
    ml = RULES[tgt]["max_line"]
    for c, got in zip(cues, out_texts, strict=True):
        if not got:
            out.append(Cue(c.start, c.end, list(c.lines)))
            continue
        t = got
        if tgt == "zh":
            from zhimei.models.textnorm import to_simplified  # noqa: PLC0415

            t = to_simplified(t)
        units = _zh_units(t) if tgt == "zh" else t.split()
        lines = wrap_lines(units, tgt, ml) or _force_lines([Token(u, 0, 0) for u in units], tgt, ml)
        out.append(Cue(c.start, c.end, lines or [t]))
    return out, label


@dataclass
class Track:
    """A subtitle track for an asset: language, cues, the rules they break, and how it was made."""

    asset_id: int
    language: str
    cues: list[Cue]
    violations: list[Violation]
    source_language: str
    backend: str = "rules"
    model: str = ""
    notes: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "language": self.language, "source_language": self.source_language,
                "translated": self.language != self.source_language, "backend": self.backend, "model": self.model,
                "cues": [c.to_dict() for c in self.cues], "violations": [v.to_dict() for v in self.violations],
                "notes": self.notes, "rules": RULES}


def subtitle_track(asset_id: int, target: str | None = None, *, use_cache: bool = True) -> Track:
    """The asset's subtitle track from its transcript; with `target` (zh|en) a translated track with the same
    timings (cached by transcript, target and backend). StudioError for an asset without a transcript."""
    info = asset_info(asset_id)
    cues, lang = asset_cues(asset_id)
    if not target or _lang(target) == lang:
        return Track(int(asset_id), lang, cues, check_subtitles(cues, lang, fps=info["fps"]), lang)
    from zhimei.models.registry import selected_name  # noqa: PLC0415
    from zhimei.studio.cache import cache_key, cached, store  # noqa: PLC0415

    tgt = _lang(target)
    key = cache_key("subtitles-translate", {"cues": [c.to_dict() for c in cues], "target": tgt},
                    f"{selected_name('translator')}|{selected_name('llm')}", "translate_cues v1")
    hit = cached(key) if use_cache else None
    if hit is not None:
        out = cues_from_dicts(hit["cues"])
        label = hit["label"]
    else:
        out, label = translate_cues(cues, tgt, lang, fps=info["fps"])
        if not label.get("untranslated"):
            store(key, {"cues": [c.to_dict() for c in out], "label": label})
    notes = ["machine translation: offline models are small, review every line"]
    if label.get("untranslated"):
        notes.append(f"{len(label['untranslated'])} cue(s) could not be translated and keep the source text")
    return Track(int(asset_id), tgt, out, check_subtitles(out, tgt, fps=info["fps"]), lang,
                 backend=str(label.get("backend", "")), model=str(label.get("model", "")), notes=notes,
                 calls=list(label.get("calls") or []))


def save_subtitles(asset_id: int, cues: Sequence[Cue], *, language: str, fmt: str = "srt",
                   backend: str = "rules", model: str = "", created_by: str = "studio") -> int:
    """Save a track (SRT or WebVTT text) as a new asset with lineage to the video; returns its id."""
    from zhimei.studio.outputs import save_output  # noqa: PLC0415

    if fmt not in ("srt", "vtt"):
        raise StudioError(f"unknown subtitle format {fmt!r}: srt or vtt")
    if not cues:
        raise StudioError("no subtitles to save")
    info = asset_info(asset_id)
    body = to_srt(cues) if fmt == "srt" else to_vtt(cues)
    violations = check_subtitles(cues, language, fps=info["fps"])
    return save_output(kind="subtitles", title=f"{info['title']} — subtitles ({language}, {fmt.upper()})",
                       sources=[int(asset_id)], task="subtitles", backend=backend, model=model or "zhimei-rules",
                       prompt=None, params={"format": fmt, "cues": len(cues), "violations": len(violations),
                                            "rules": RULES["source"]},
                       language=language, text=body, filename=f"subtitles-{asset_id}-{language}.{fmt}.txt",
                       created_by=created_by)
