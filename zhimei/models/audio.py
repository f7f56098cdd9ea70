"""Audio input for the speech models: any file → 16 kHz mono WAV (ffmpeg), read in bounded windows."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from zhimei.models.base import ModelError

__all__ = ["SAMPLE_RATE", "as_wav16k", "wav_duration", "read_windows", "is_wav16k"]

SAMPLE_RATE = 16_000


def is_wav16k(path: Path) -> bool:
    """True for a 16 kHz mono 16-bit PCM WAV (read directly, no conversion)."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
    except (wave.Error, EOFError, OSError):
        return False


@contextlib.contextmanager
def as_wav16k(path: str | Path, scratch: Path | None = None, timeout: float | None = None) -> Iterator[Path]:
    """A 16 kHz mono WAV of ``path``: the file itself when it already is one, else a temporary
    conversion by ffmpeg (streamed; removed afterwards). Raises ModelError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"audio file not found: {path.name}")
    if is_wav16k(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="zhimei-audio-", dir=scratch) as tmp:
        out = Path(tmp) / "audio16k.wav"
        cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(path), "-vn", "-sn",
               "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(out)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
        except FileNotFoundError as exc:
            raise ModelError("ffmpeg is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise ModelError(f"decoding {path.name} took longer than {timeout} s") from exc
        if proc.returncode != 0 or not out.is_file():
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ModelError(f"cannot decode audio in {path.name}: {msg[-1] if msg else 'ffmpeg failed'}")
        if not is_wav16k(out):
            raise ModelError(f"no audio stream in {path.name}")
        yield out


def wav_duration(path: Path) -> float:
    """Duration in seconds of a WAV file."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def _quietest_cut(x: np.ndarray, search: int, frame: int = 1600) -> int:
    """Index in ``x`` of the quietest 100 ms frame within its last ``search`` samples."""
    start = max(0, len(x) - search)
    tail = x[start:]
    n = len(tail) // frame
    if n < 2:
        return len(x)
    energy = (tail[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    return start + int(np.argmin(energy)) * frame + frame // 2


def read_windows(path: Path, window_seconds: float = 600.0, search_seconds: float = 15.0
                 ) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(offset_seconds, float32 samples)`` windows of a 16 kHz mono WAV, each at most
    ``window_seconds`` long and cut at the quietest moment near its end, so words are rarely split.
    Memory stays bounded by one window whatever the file length."""
    win = int(window_seconds * SAMPLE_RATE)
    search = int(search_seconds * SAMPLE_RATE)
    try:
        w = wave.open(str(path), "rb")
    except (wave.Error, EOFError) as exc:
        raise ModelError(f"not a readable WAV file: {path.name} ({exc})") from exc
    with w:
        carry = np.zeros(0, dtype=np.float32)
        offset = 0  # samples already yielded
        while True:
            raw = w.readframes(win - len(carry))
            fresh = np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768.0
            buf = np.concatenate([carry, fresh]) if len(carry) else fresh
            if not len(buf):
                return
            last = len(fresh) < win - len(carry) or w.tell() >= w.getnframes()
            cut = len(buf) if last else _quietest_cut(buf, search)
            yield offset / SAMPLE_RATE, buf[:cut]
            offset += cut
            carry = buf[cut:].copy()
            if last:
                if len(carry):
                    yield offset / SAMPLE_RATE, carry
                return
