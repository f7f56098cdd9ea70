"""Measured speeds per backend, kept in a small JSON beside the model cache (machine-specific).

bench scripts call `record_speed`; `zhimei models --measure` calls `measure` for the local backends.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zhimei.models.base import model_cache_dir

__all__ = ["speeds_path", "load_speeds", "record_speed", "measure"]

_SAMPLE_EN = ("The city council voted on Tuesday to approve a new budget for public transport, officials said, "
              "after a long debate about fares and the cost of new buses.")
_SAMPLE_ZH = "新华社北京3月5日电，国务院总理李强在人民大会堂作政府工作报告，提出今年经济增长目标为百分之五左右。"


def speeds_path(settings: Any = None) -> Path:
    """Where measured speeds are stored."""
    if settings is None:
        from zhimei.settings import get_settings

        settings = get_settings()
    return model_cache_dir(settings) / "speeds.json"


def load_speeds(settings: Any = None) -> dict[str, dict[str, Any]]:
    """``{"capability/name": {"speed": str, "measured_at": iso, ...}}``; empty when none recorded."""
    path = speeds_path(settings)
    try:
        data = json.loads(path.read_text("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record_speed(capability: str, name: str, speed: str, settings: Any = None, **extra: Any) -> None:
    """Store one measured figure (atomic rewrite of the JSON)."""
    path = speeds_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = load_speeds(settings)
    data[f"{capability}/{name}"] = {"speed": speed, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                    **extra}
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True, default=str)  # fails before any write
    fd, tmp = tempfile.mkstemp(prefix=".speeds.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _render_text_image(path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font_path = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    font = ImageFont.truetype(font_path, 48) if Path(font_path).exists() else ImageFont.load_default()
    im = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(im)
    draw.text((30, 40), "智媒 Newsroom 2026", font=font, fill="black")
    draw.text((30, 160), "国务院 State Council", font=font, fill="black")
    im.save(path)


def _timed(fn, repeat: int = 3) -> float:
    fn()  # warm-up (loads the model)
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat


def _measure_llm(backend: Any) -> str:
    """Prompt and generation tokens/s from the backend's per-call usage; each prompt starts differently so
    no cached prefix is reused."""
    backend.complete("Hello", max_tokens=1)  # load
    p_tok = p_sec = g_tok = g_sec = 0.0
    for i in range(3):
        prompt = f"Report {i + 1}.\n{_SAMPLE_ZH}\n{_SAMPLE_EN}\n{_SAMPLE_EN}\nIn one sentence, the report says"
        backend.complete(prompt, max_tokens=64, temperature=0.8)
        u = backend.last_usage
        p_tok += u.prompt_tokens
        p_sec += u.prompt_seconds or 0.0
        g_tok += max(u.completion_tokens - 1, 0)
        g_sec += u.seconds - (u.prompt_seconds or 0.0)
    threads = backend.settings.model_threads
    return (f"prompt {p_tok / max(p_sec, 1e-9):.0f} tok/s, generation {g_tok / max(g_sec, 1e-9):.0f} tok/s "
            f"({threads} threads)")


def measure(backend: Any) -> str | None:
    """Measure one local backend on a small built-in sample; returns the figure (None for remote ones)."""
    if backend.remote:
        return None
    cap = backend.capability
    with tempfile.TemporaryDirectory(prefix="zhimei-measure-") as tmp:
        d = Path(tmp)
        if cap == "asr":
            from zhimei.models.audio import wav_duration
            from zhimei.models.speech import PiperTTS

            wav = PiperTTS(backend.settings).synthesize(_SAMPLE_EN * 2, d / "s.wav")
            secs = _timed(lambda: backend.transcribe(wav, language="en"), repeat=1)
            figure = f"RTF {secs / wav_duration(wav):.3f} (en, {backend.settings.model_threads} threads)"
        elif cap == "embedder":
            texts = [_SAMPLE_ZH[i:i + 80] + str(i) for i in range(32)]
            secs = _timed(lambda: backend.embed_passages(texts), repeat=1)
            figure = f"{len(texts) / secs:.0f} passages/s (80-char zh)"
        elif cap in ("ocr", "faces", "image_safety"):
            img = d / "t.png"
            _render_text_image(img)
            call = {"ocr": lambda: backend.read(img), "faces": lambda: backend.detect(img),
                    "image_safety": lambda: backend.score(img)}[cap]
            figure = f"{_timed(call) * 1000:.0f} ms per 900x300 image"
        elif cap == "entities":
            figure = f"{_timed(lambda: backend.extract(_SAMPLE_ZH, 'zh')) * 1000:.1f} ms per zh sentence"
        elif cap == "keywords":
            text = _SAMPLE_ZH * 20
            figure = f"{len(text) / _timed(lambda: backend.extract(text, 'zh')):.0f} zh chars/s"
        elif cap == "tts":
            from zhimei.models.audio import wav_duration

            out = d / "t.wav"
            secs = _timed(lambda: backend.synthesize(_SAMPLE_EN, out, "en"), repeat=1)
            figure = f"RTF {secs / wav_duration(out):.3f} (en)"
        elif cap == "llm":
            figure = _measure_llm(backend)
        else:
            return None
    record_speed(cap, backend.name, figure, backend.settings)
    return figure
