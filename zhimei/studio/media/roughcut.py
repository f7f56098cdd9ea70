"""Rough cut (依案成片): a script becomes an edit of library footage with voice-over and burned-in subtitles.

1. Beats: one per line of the script (blank lines dropped); a long line is split on sentence ends.
2. Footage: each beat's text is searched (hybrid search, videos only, studio outputs left out). A moment only
   counts when the words matched (keywords, tags or people; vector-only neighbours are too loose — every
   segment is near something — unless ``loose=True``). The moment's shot is used, starting on its cut, for as
   long as the beat is spoken (the voice's real length from the TTS backend, else a rate estimate); a shot
   already used is skipped while another matching one exists. A beat with no footage is kept, marked
   ``missing`` with the reason, and rendered as a title card (its text on black, Noto Sans CJK).
3. The timeline is plain JSON (``Timeline.to_dict`` / ``Timeline.from_dict``, checked field by field) that an
   editor changes and sends back, or exports as a CMX 3600 EDL (``to_edl``).
4. Render: per beat the voice (the voice-over's TTS backend) and a piece of footage cut to one size at 25 fps,
   the original sound ducked under the voice; the pieces are joined and the beat texts burned in as subtitles
   built by the subtitle rules. Everything happens in a scratch folder; the result is saved as a new AI-marked
   asset with lineage to every source (review pending). A failed step raises ``RenderFailed`` naming it and
   leaves nothing behind. Renders are cached by the timeline's hash, so a retry returns the same asset.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from zhimei.library import FFmpegError, ffprobe_json, run_ffmpeg
from zhimei.store.db import read_scope
from zhimei.store.models import Keyframe
from zhimei.studio.errors import StudioError
from zhimei.studio.media.clips import shot_cuts
from zhimei.studio.media.edl import (
    FPS,
    MAX_BEAT_SECONDS,
    MAX_BEATS,
    MAX_SECONDS,
    Beat,
    Footage,
    Timeline,
    footage_info,
    to_edl,
)
from zhimei.studio.media.edl import frame_time as _frame
from zhimei.studio.media.subtitles import is_cjk_text, text_width

__all__ = ["Timeline", "Beat", "Footage", "plan_roughcut", "render_roughcut", "split_beats", "to_edl",
           "RenderFailed", "MAX_SCRIPT_CHARS", "MAX_BEATS", "MAX_SECONDS", "PER_BEAT", "METHOD"]

MAX_SCRIPT_CHARS = 20_000
PER_BEAT = 2
"""Pieces of footage per beat at most."""
BEAT_CHARS = {"en": 220, "zh": 80}
"""A line longer than this is split on sentence ends."""
RATE = {"en": 16.0, "zh": 3.0}
"""Characters per second when the TTS backend is not ready (Piper en_US-joe ~17–19; espeak-ng Mandarin ~3)."""
LEAD, TAIL, MIN_BEAT = 0.2, 0.4, 2.0
"""The voice starts LEAD s into its beat; a beat lasts the voice + LEAD + TAIL, at least MIN_BEAT s."""
MIN_PIECE = 1.0
"""A beat this close to full runs its last piece on rather than flash another shot."""
MAX_TEMPO = 1.5
"""A voice longer than its (edited) beat is sped up this much at most, then cut at the beat's end."""
DUCK = "threshold=0.02:ratio=12:attack=15:release=350"
"""sidechaincompress settings: the original sound drops under the voice and comes back after it."""
METHOD = ("beats from script lines; footage from hybrid search moments matched by words, snapped to shot cuts, "
          "no shot reused while others match; voice length from the TTS backend; title cards for missing beats")
_STRONG = {"keyword", "tag", "person"}


class RenderFailed(StudioError):
    """A render step failed (ffmpeg, TTS or saving); ``step`` names it. Nothing was saved."""

    def __init__(self, step: str, message: str):
        super().__init__(f"the rough cut failed at step {step!r}: {message}")
        self.step = step


# ------------------------------------------------------------------ planning


def split_beats(script: str, language: str) -> list[str]:
    """One beat per line (blank lines dropped); a line longer than BEAT_CHARS is split on sentence ends."""
    from zhimei.studio.media.voiceover import split_script  # noqa: PLC0415

    out: list[str] = []
    for line in script.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = " ".join(line.split())
        if not line:
            continue
        out.extend([line] if len(line) <= BEAT_CHARS[language] else split_script(line, BEAT_CHARS[language]))
    return out


def _voice_seconds(texts: list[str], lang: str, notes: list[str]) -> list[float]:
    """How long each beat is spoken: the TTS backend's real length (cached), else a rate estimate."""
    from zhimei.models.registry import get_backend  # noqa: PLC0415
    from zhimei.settings import get_settings  # noqa: PLC0415
    from zhimei.studio.cache import cache_key, cached, store  # noqa: PLC0415
    from zhimei.studio.media.voiceover import pick_backend, speak  # noqa: PLC0415

    def estimate(t: str) -> float:
        return round(max(0.8, text_width(t, lang) / RATE[lang]), 2)

    try:
        backend, more = pick_backend(lang)
        get_backend("tts", backend)
    except Exception as exc:  # no TTS: estimate, and say so
        notes.append(f"no speech synthesis ready ({exc}); beat lengths are estimated at {RATE[lang]:g} chars/s")
        return [estimate(t) for t in texts]
    notes.extend(more)
    root = get_settings().home / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    out: list[float] = []
    for t in texts:
        key = cache_key("roughcut-voice", {"text": t, "language": lang}, backend, "")
        hit = cached(key)
        if hit and isinstance(hit.get("seconds"), int | float):
            out.append(float(hit["seconds"]))
            continue
        wav = root / f"roughcut-voice-{key[:16]}.wav"
        try:
            speak(backend, t, lang, wav)
            secs = _wav_seconds(wav)
        except Exception as exc:
            notes.append(f"{backend} could not speak {t[:30]!r} ({type(exc).__name__}); its length is estimated")
            out.append(estimate(t))
            continue
        finally:
            wav.unlink(missing_ok=True)
        store(key, {"seconds": secs})
        out.append(secs)
    return out


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return round(w.getnframes() / float(w.getframerate() or 1), 3)


@dataclass
class _Cand:
    asset_id: int
    title: str
    t: float
    t_end: float | None
    match: str
    score: float
    text: str


def _candidates(text: str, filters: dict[str, Any], loose: bool, limit: int) -> list[_Cand]:
    """Moments of library videos whose words match the beat, best first (studio outputs left out)."""
    from zhimei.library.search import SearchError, search  # noqa: PLC0415
    from zhimei.studio.outputs import STUDIO_SOURCE  # noqa: PLC0415

    try:
        res = search(text, filters={**filters, "kind": ["video"]}, limit=limit, mode="hybrid")
    except SearchError as exc:
        raise StudioError(f"footage search failed: {exc}") from None
    out: list[_Cand] = []
    for h in res.hits:
        if h.asset_kind != "video" or h.source == STUDIO_SOURCE:
            continue
        for m in sorted([h, *h.moments], key=lambda x: -x.score):
            strong = _STRONG & set(m.matched)
            if strong or loose:
                out.append(_Cand(h.asset_id, h.asset_title, float(m.start or 0.0),
                                 float(m.end) if m.end is not None else None,
                                 sorted(strong)[0] if strong else "vector", float(m.score), m.text))
    return out


class _Library:
    """Per-asset facts the planner needs, read once: duration, shot bounds, keyframe thumbnails."""

    def __init__(self) -> None:
        self._info: dict[int, dict[str, Any]] = {}

    def get(self, aid: int) -> dict[str, Any]:
        if aid not in self._info:
            a = footage_info([aid]).get(aid) or {"duration": 0.0, "width": None, "title": ""}
            dur = a["duration"]
            bounds = sorted({0.0, *[c for c in shot_cuts(aid) if 0 < c < dur], dur}) if dur else []
            with read_scope() as s:
                thumbs = sorted((float(k.time), k.thumb_sha) for k in s.scalars(
                    select(Keyframe).where(Keyframe.asset_id == aid)))
            self._info[aid] = {**a, "bounds": bounds, "thumbs": thumbs}
        return self._info[aid]

    def shots(self, c: _Cand, need: float) -> list[tuple[int, float, float]]:
        """The shots a moment's words fall in, most of its first `need` seconds first."""
        b = self.get(c.asset_id)["bounds"]
        lo = min(c.t, b[-1] - 0.5) if b else c.t
        hi = min(max(c.t_end or 0.0, lo + min(need, 3.0)), lo + need)
        got = [(k, b[k], b[k + 1]) for k in range(len(b) - 1) if b[k] < hi and b[k + 1] > lo]
        return sorted(got, key=lambda x: -(min(x[2], hi) - max(x[1], lo)))

    def thumb(self, aid: int, start: float, end: float) -> str | None:
        inside = [sha for t, sha in self.get(aid)["thumbs"] if start <= t < end]
        return f"/api/blobs/{inside[0]}" if inside else None


def _fill(cands: list[_Cand], need: float, slack: float, used: set[tuple[int, int]], lib: _Library,
          per_beat: int) -> tuple[list[Footage], bool]:
    """Footage for one beat of about `need` s (`slack` s shorter or longer when that lands on a shot cut), and
    whether an already used shot had to be used again."""
    opts = [(c, k, s0, s1) for c in cands if lib.get(c.asset_id)["duration"] and lib.get(c.asset_id)["width"]
            for k, s0, s1 in lib.shots(c, need)]
    fresh = [o for o in opts if (o[0].asset_id, o[1]) not in used]
    order, reused = (fresh, False) if fresh else (opts[:1], True)
    pieces: list[Footage] = []
    left = need
    for c, k, s0, s1 in order:
        if len(pieces) >= per_beat or left <= slack or (pieces and left < MIN_PIECE):
            break
        if any(p.asset_id == c.asset_id and p.shot == k for p in pieces):
            continue
        start = _frame(s0 if c.t - s0 <= max(1.0, need / 2) else c.t)
        end = _frame(s1 if 0 <= s1 - (start + left) <= slack else min(s1, start + left))
        if end - start < 0.5:
            continue
        pieces.append(Footage(c.asset_id, start, end, c.title, k, [start == _frame(s0), end == _frame(s1)],
                              c.match, c.score, c.text, lib.thumb(c.asset_id, s0, s1)))
        left = round(need - sum(p.duration for p in pieces), 3)
    if pieces and left > slack:  # still short: run the last piece on past its cut, or start it earlier
        p = pieces[-1]
        new_end = _frame(min(lib.get(p.asset_id)["duration"], p.end + left))
        p.on_cuts[1] = p.on_cuts[1] and new_end == p.end
        p.end = new_end
        left = round(need - sum(x.duration for x in pieces), 3)
        if left >= 1 / FPS:
            p.start = _frame(max(0.0, p.start - left))
            p.on_cuts[0] = False
    return pieces, reused


def plan_roughcut(script: str, *, language: str | None = None, per_beat: int = PER_BEAT,
                  filters: dict[str, Any] | None = None, loose: bool = False, measure_voice: bool = True,
                  title: str | None = None, progress: Callable[[float, str], None] | None = None) -> Timeline:
    """Plan a rough cut of `script` from library footage (see the module docstring).

    `filters` narrow the footage search like the search page's filters (language, source, tags, dates…; the
    kind is always video); `loose` also accepts vector-only matches. StudioError for an empty or too long
    script, an unknown language or bad filters."""
    if not isinstance(script, str) or not script.strip():
        raise StudioError("the script is empty: give one line per beat")
    script = script.replace("\x00", " ")
    if len(script) > MAX_SCRIPT_CHARS:
        raise StudioError(f"the script is {len(script):,} characters; a rough cut takes at most "
                          f"{MAX_SCRIPT_CHARS:,} (about {MAX_BEATS} beats): cut it into parts")
    lang = (language or ("zh" if is_cjk_text(script) else "en")).lower().split("-")[0]
    if lang not in ("zh", "en"):
        raise StudioError(f"a rough cut is narrated in zh or en, not {language!r}")
    if not 1 <= int(per_beat) <= 5:
        raise StudioError("per_beat must be between 1 and 5 pieces of footage")
    texts = split_beats(script, lang)
    if not texts:
        raise StudioError("the script is empty: give one line per beat")
    if len(texts) > MAX_BEATS:
        raise StudioError(f"the script makes {len(texts)} beats; a rough cut takes at most {MAX_BEATS} "
                          "(about ten minutes): cut it into parts")
    from zhimei.library.search import SearchError, SearchFilters  # noqa: PLC0415

    try:
        f = {k: v for k, v in SearchFilters.parse(filters or {}).to_dict().items() if k != "kind"}
    except SearchError as exc:
        raise StudioError(f"bad footage filter: {exc}") from None
    notes: list[str] = []
    if progress:
        progress(2.0, "measuring the voice-over")
    voices = _voice_seconds(texts, lang, notes) if measure_voice else [
        round(max(0.8, text_width(t, lang) / RATE[lang]), 2) for t in texts]
    lib = _Library()
    used: set[tuple[int, int]] = set()
    beats: list[Beat] = []
    for i, (text, vs) in enumerate(zip(texts, voices, strict=True)):
        if progress:
            progress(30.0 + 68.0 * i / len(texts), f"finding footage {i + 1}/{len(texts)}")
        need = _frame(min(MAX_BEAT_SECONDS, max(MIN_BEAT, vs + LEAD + TAIL)))
        cands = _candidates(text, f, loose, 10)
        pieces, reused = _fill(cands, need, TAIL - 0.1, used, lib, int(per_beat))
        if pieces:
            used.update((p.asset_id, p.shot) for p in pieces if p.shot is not None)
            if reused:
                notes.append(f"beat {i + 1} reuses a shot (no other matching footage)")
            beats.append(Beat(i + 1, text, round(sum(p.duration for p in pieces), 3), pieces, vs))
        else:
            why = ("no video in the library matches these words" if not cands else
                   "the matching videos have no usable picture")
            if not loose and not cands:
                why += " (vector-only neighbours were ignored; loose=True accepts them)"
            beats.append(Beat(i + 1, text, need, [], vs, missing=True, reason=why))
    missing = sum(1 for b in beats if b.missing)
    if missing:
        notes.append(f"{missing} of {len(beats)} beat(s) have no footage and become title cards")
    label = title or (f"粗剪 {texts[0][:30]}" if lang == "zh" else f"Rough cut: {texts[0][:50]}")
    tl = Timeline(beats, lang, label, notes)
    if tl.duration > MAX_SECONDS:
        raise StudioError(f"the rough cut would last {tl.duration:.0f} s; at most {MAX_SECONDS:.0f} s: cut the script")
    if progress:
        progress(100.0, f"{len(beats)} beats")
    return tl


def _size(tl: Timeline, vertical: bool) -> tuple[int, int]:
    """One output size: 16:9 at the tallest source's height (720 without footage, 1080 at most), or 9:16."""
    heights = [int(a["height"] or 0) for a in footage_info(tl.sources()).values()]
    h = max(2, min(1080, max(heights, default=720))) // 2 * 2
    w = max(2, int(h * 16 / 9) // 2 * 2)
    return (max(2, int(h * 9 / 16) // 2 * 2), h) if vertical else (w, h)


def _step(step: str, what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except RenderFailed:
        raise
    except (FFmpegError, OSError, StudioError) as exc:
        raise RenderFailed(step, f"{what}: {exc}") from None
    except Exception as exc:  # a TTS backend that fails in its own way
        raise RenderFailed(step, f"{what}: {type(exc).__name__}: {exc}") from None


def _piece_args(src: Path, has_audio: bool, c: Footage, w: int, h: int, crop: str | None, th: str,
                out: Path) -> list[str]:
    d = f"{c.duration:.3f}"
    vf = ",".join([*([crop] if crop else []), f"scale={w}:{h}:force_original_aspect_ratio=decrease",
                   f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2", "setsar=1", f"fps={FPS}",
                   "tpad=stop_mode=clone:stop_duration=2", "format=yuv420p"])
    audio = "0:a:0" if has_audio else "1:a"
    return ["-ss", f"{c.start:.3f}", "-t", d, "-i", str(src),
            *([] if has_audio else ["-f", "lavfi", "-t", d, "-i", "anullsrc=r=48000:cl=stereo"]),
            "-filter_complex", f"[0:v:0]{vf}[v];[{audio}]aresample=48000,"
                               "aformat=sample_fmts=s16:channel_layouts=stereo,apad[a]",
            "-map", "[v]", "-map", "[a]", "-t", d, *_CODEC(th), str(out)]


def _CODEC(th: str) -> list[str]:  # noqa: N802 - one codec set for every piece, so they join without re-encoding
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-threads", th, "-c:a", "pcm_s16le",
            "-f", "matroska"]


def _card_args(beat: Beat, lang: str, w: int, h: int, txt: Path, th: str, out: Path) -> list[str]:
    from zhimei.studio.media.export import FONT_NAME, filter_path  # noqa: PLC0415

    lines = _wrap_card(beat.text, lang, (8 if lang == "zh" else 16) if w < h else (14 if lang == "zh" else 30))
    txt.write_text("\n".join(lines), encoding="utf-8")
    em = max(text_width(ln, lang) * (1.0 if lang == "zh" else 0.55) for ln in lines)
    fs = max(10, int(min(h / 10, 0.86 * w / max(em, 1.0))))
    d = f"{beat.duration:.3f}"
    draw = (f"drawtext=font='{FONT_NAME}':textfile='{filter_path(txt)}':expansion=none:fontcolor=white:fontsize={fs}:"
            f"line_spacing={fs // 3}:x=(w-text_w)/2:y=(h-text_h)/2")
    return ["-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r={FPS}:d={d}", "-f", "lavfi", "-t", d, "-i",
            "anullsrc=r=48000:cl=stereo", "-filter_complex", f"[0:v]{draw},format=yuv420p[v]", "-map", "[v]",
            "-map", "1:a", "-t", d, *_CODEC(th), str(out)]


def _voice_track(parts: list[tuple[float, Path]], total: float, out: Path) -> None:
    """One mono 16-bit WAV of `total` s with each (offset, wav) placed at its offset."""
    import numpy as np  # noqa: PLC0415

    rate = None
    audio = None
    for off, p in parts:
        with wave.open(str(p), "rb") as wv:
            r, ch, sw = wv.getframerate(), wv.getnchannels(), wv.getsampwidth()
            data = np.frombuffer(wv.readframes(wv.getnframes()), dtype=np.int16)
        if sw != 2:
            raise StudioError(f"the TTS backend wrote {8 * sw}-bit audio; 16-bit expected")
        if ch > 1:
            data = data.reshape(-1, ch).mean(axis=1).astype(np.int16)
        if rate is None:
            rate = r
            audio = np.zeros(int(round(total * rate)), dtype=np.int16)
        elif r != rate and len(data):
            data = data[np.linspace(0, len(data) - 1, int(len(data) * rate / r)).astype(np.int64)]
        k = int(round(off * rate))
        n = max(0, min(len(data), len(audio) - k))
        audio[k:k + n] = data[:n]
    if rate is None or audio is None:
        raise StudioError("no voice to mix")
    with wave.open(str(out), "wb") as wv:
        wv.setnchannels(1)
        wv.setsampwidth(2)
        wv.setframerate(rate)
        wv.writeframes(audio.tobytes())


def _captions(tl: Timeline, spoken: list[float], vertical: bool) -> list[Any]:
    """Rule-abiding cues of the beat texts over the time each beat is spoken (title cards show their text)."""
    from zhimei.studio.media.export import VERTICAL_MAX_LINE  # noqa: PLC0415
    from zhimei.studio.media.subtitles import Cue, build_cues, retime, tokens_from_segments  # noqa: PLC0415

    lang = tl.language
    out: list[Cue] = []
    for beat, t0, sp in zip(tl.beats, tl.starts(), spoken, strict=True):
        if not beat.clips:
            continue
        end = min(beat.duration, LEAD + max(0.5, sp))
        toks = tokens_from_segments([(LEAD, end, beat.text, None)], lang)
        cues = build_cues(toks, lang, fps=FPS, duration=beat.duration,
                          max_line=VERTICAL_MAX_LINE[lang] if vertical else None)
        out.extend(Cue(round(c.start + t0, 3), round(c.end + t0, 3), c.lines) for c in cues)
    return retime(out, lang, fps=FPS, duration=tl.duration) if out else []


def render_roughcut(timeline: Timeline | dict[str, Any], *, vertical: bool = False, captions: bool = True,
                    voice: bool = True, created_by: str = "studio", threads: int | None = None,
                    progress: Callable[..., None] | None = None) -> int:
    """Render a timeline to an MP4 and save it as a new AI-marked asset (lineage: every source used; review
    pending); returns its id. The same timeline and options give the same asset (cached by the timeline's
    hash). RenderFailed names the step that failed (nothing is saved); StudioError for a bad timeline."""
    from zhimei.settings import get_settings  # noqa: PLC0415
    from zhimei.store.blobs import get_blob_store  # noqa: PLC0415
    from zhimei.store.models import Asset  # noqa: PLC0415
    from zhimei.studio.cache import cache_key, cached, store  # noqa: PLC0415
    from zhimei.studio.media.export import CropPlan, crop_plan, render_video, scratch_dir, source_file  # noqa: PLC0415
    from zhimei.studio.media.subtitles import check_subtitles, to_srt  # noqa: PLC0415
    from zhimei.studio.media.voiceover import pick_backend, speak  # noqa: PLC0415
    from zhimei.studio.outputs import save_output  # noqa: PLC0415

    tl = Timeline.from_dict(timeline.to_dict() if isinstance(timeline, Timeline) else timeline)
    tick = progress or (lambda *_: None)
    backend, notes = pick_backend(tl.language) if voice else (None, [])
    sources = tl.sources()
    shas = {aid: source_file(aid) for aid in sources}
    key = cache_key("roughcut", {"timeline": tl.key(), "vertical": vertical, "captions": captions, "voice": voice,
                                 "sources": {str(k): v[0] for k, v in shas.items()}}, backend or "none", METHOD)
    hit = cached(key)
    if hit and isinstance(hit.get("asset_id"), int):
        with read_scope() as s:
            if s.get(Asset, hit["asset_id"]) is not None:
                tick(100.0, "done (cached)")
                return int(hit["asset_id"])
    w, h = _size(tl, vertical)
    th = str(threads if threads is not None else get_settings().model_threads)
    total, starts, n = tl.duration, tl.starts(), len(tl.beats)
    info = footage_info(sources)
    name = f"roughcut-{key[:12]}{'-vertical' if vertical else ''}.mp4"
    with scratch_dir() as tmp, ExitStack() as stack:
        t = Path(tmp)
        spoken = [max(0.5, b.duration - LEAD - TAIL) for b in tl.beats]
        voiced: list[tuple[float, Path]] = []
        for i, beat in enumerate(tl.beats):  # 1. the voice, beat by beat, fitted into its beat
            if not voice:
                break
            tick(20.0 * i / n, f"voice-over {i + 1}/{n}")
            raw = t / f"voice-{i:03d}.wav"
            _step("voice-over", f"beat {i + 1} ({beat.text[:30]!r})", lambda b=beat, r=raw: speak(
                backend, b.text, tl.language, r))
            secs, room = _wav_seconds(raw), max(0.3, beat.duration - LEAD - 0.1)
            if secs > room:
                tempo = min(MAX_TEMPO, secs / room)
                if secs / tempo > room + 0.05:
                    notes.append(f"beat {i + 1}: the voice ({secs:.1f} s) is longer than the beat; it is cut at "
                                 "the beat's end (lengthen the beat's footage)")
                fit = t / f"voice-{i:03d}-fit.wav"
                _step("voice-over", f"fitting beat {i + 1}", lambda r=raw, f=fit, k=tempo, m=room: run_ffmpeg(
                    ["-i", str(r), "-af", f"atempo={k:.4f},atrim=duration={m:.3f}", "-c:a", "pcm_s16le", str(f)]))
                raw, secs = fit, min(room, secs / tempo)
            spoken[i] = secs
            voiced.append((starts[i] + LEAD, raw))
        srcs: dict[int, tuple[Path, bool]] = {}
        for aid in sources:  # 2. the sources, each opened once
            p = Path(_step("cut", f"opening asset {aid}", lambda a=aid: stack.enter_context(
                get_blob_store().local_path(shas[a][0]))))
            probe = _step("cut", f"reading asset {aid}", lambda q=p: ffprobe_json(q))
            srcs[aid] = (p, any(st.get("codec_type") == "audio" for st in probe.get("streams", [])))
        pieces: list[Path] = []
        for i, beat in enumerate(tl.beats):  # 3. one piece per clip (or title card), one size, 25 fps
            tick(20.0 + 50.0 * i / n, f"cutting beat {i + 1}/{n}")
            if not beat.clips:
                out = t / f"piece-{len(pieces):04d}.mkv"
                _step("title card", f"beat {i + 1}", lambda b=beat, o=out: run_ffmpeg(
                    _card_args(b, tl.language, w, h, t / f"card-{b.index}.txt", th, o), duration=b.duration))
                pieces.append(out)
            for c in beat.clips:
                a = info[c.asset_id]
                crop = crop_plan(c.asset_id, c.start, c.end, int(a["width"]), int(a["height"]), True).filter() \
                    if vertical else None
                out = t / f"piece-{len(pieces):04d}.mkv"
                _step("cut", f"beat {i + 1}, asset {c.asset_id} {c.start:.2f}–{c.end:.2f} s",
                      lambda c=c, o=out, cr=crop: run_ffmpeg(_piece_args(srcs[c.asset_id][0], srcs[c.asset_id][1],
                                                                          c, w, h, cr, th, o), duration=c.duration))
                pieces.append(out)
        tick(72.0, "joining")  # 4. joined, the original sound ducked under the voice
        (t / "pieces.txt").write_text("".join(f"file '{p.name}'\n" for p in pieces), encoding="utf-8")
        joined = t / "joined.mkv"
        args = ["-f", "concat", "-safe", "0", "-i", str(t / "pieces.txt")]
        if voiced:
            _step("mix", "building the voice track", lambda: _voice_track(voiced, total, t / "voice.wav"))
            args += ["-i", str(t / "voice.wav"), "-filter_complex",
                     "[1:a]aresample=48000,aformat=sample_fmts=s16:channel_layouts=stereo,apad,asplit=2[vo][sc];"
                     f"[0:a][sc]sidechaincompress={DUCK}[duck];"
                     "[duck][vo]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[a]",
                     "-map", "0:v", "-map", "[a]", "-c:v", "copy", "-c:a", "pcm_s16le"]
        else:
            args += ["-map", "0:v", "-map", "0:a", "-c", "copy"]
        _step("mix", "joining the pieces", lambda: run_ffmpeg([*args, "-t", f"{total:.3f}", "-f", "matroska",
                                                                 str(joined)], duration=total))
        cues = _captions(tl, spoken, vertical) if captions else []  # 5. subtitles burned in, H.264/AAC MP4
        srt = None
        if cues:
            srt = t / "captions.srt"
            srt.write_text(to_srt(cues), encoding="utf-8")
        final = t / name
        plan = CropPlan(w, h, w, h, [(0.0, 0)], 0, "none")
        _step("encode", "burning subtitles and encoding the MP4", lambda: render_video(
            joined, final, 0.0, total, plan=plan, srt=srt, vertical=vertical, threads=int(th),
            progress=lambda pct: tick(75.0 + 0.23 * pct, "encoding")))
        violations = check_subtitles(cues, tl.language, fps=FPS) if cues else []
        params = {"timeline": tl.to_dict(), "vertical": vertical, "captions": bool(cues), "voice": voice,
                  "size": [w, h], "duration": total, "beats": n, "missing": sum(1 for b in tl.beats if not b.clips),
                  "caption_violations": len(violations), "notes": notes[:50], "timeline_sha256": tl.key()}
        tick(98.0, "saving")
        new = _step("save", "saving the asset", lambda: save_output(
            kind="roughcut", title=tl.title or "Rough cut", sources=sources, task="roughcut",
            backend="ffmpeg+tts" if voice else "ffmpeg", model=f"libx264+libass{'+' + backend if backend else ''}",
            prompt=None, params=params, language=tl.language, path=final, filename=name, created_by=created_by))
    store(key, {"asset_id": int(new)})
    tick(100.0, "done")
    return int(new)


def _wrap_card(text: str, lang: str, width: float) -> list[str]:
    """Lines of a title card: greedy by displayed width, at most four (the last cut with an ellipsis)."""
    units = re.findall(r"[A-Za-z0-9][A-Za-z0-9.,'%:;!?\"-]*|\S", text) if lang == "zh" else text.split()
    lines: list[str] = []
    cur = ""
    for u in units:
        sep = "" if lang == "zh" and (not cur or not (cur[-1].isascii() and u[0].isascii())) else " "
        cand = f"{cur}{sep}{u}" if cur else u
        if cur and text_width(cand, lang) > width:
            lines.append(cur)
            cur = u
        else:
            cur = cand
    if cur:
        lines.append(cur)
    if len(lines) > 4:
        lines = lines[:4]
        lines[-1] = lines[-1][: max(1, len(lines[-1]) - 1)] + "…"
    return lines
