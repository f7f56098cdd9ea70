"""Running ffmpeg/ffprobe: progress from ``-progress pipe:1``, readable errors, no stray processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["FFmpegError", "MediaUnreadable", "ffprobe_json", "run_ffmpeg", "require_tool", "error_summary"]

# Phrases in ffmpeg's output that mean the machine, not the input, failed (worth a retry).
_TRANSIENT = ("No space left on device", "Cannot allocate memory", "Resource temporarily unavailable",
              "Too many open files")


class FFmpegError(RuntimeError):
    """ffmpeg failed; `transient` says whether a retry may help (the machine failed, not the input)."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class MediaUnreadable(ValueError):
    """ffprobe could not read the file at all (corrupt, truncated or not media)."""


def require_tool(name: str) -> str:
    """The path of an external tool, or a clear error when it is not installed."""
    path = shutil.which(name)
    if not path:
        raise FFmpegError(f"{name} is not installed (apt-get install ffmpeg)", transient=True)
    return path


def error_summary(stderr: str, limit: int = 300) -> str:
    """The informative tail of ffmpeg's stderr, on one line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Press [q]", "frame=", "size=", "video:", "Stream mapping"))]
    text = "; ".join(dict.fromkeys(lines[-4:]))
    return text[-limit:] if len(text) > limit else text


def ffprobe_json(path: str | os.PathLike[str], timeout: float = 120.0) -> dict:
    """ffprobe's format + streams JSON for a file; MediaUnreadable when ffprobe cannot read it."""
    cmd = [require_tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
           str(path)]
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise MediaUnreadable(f"ffprobe gave no answer within {timeout:.0f} s") from None
    err = res.stderr.decode("utf-8", "replace")
    if res.returncode != 0:
        raise MediaUnreadable(error_summary(_strip_path(err, path)) or f"ffprobe exited with {res.returncode}")
    try:
        data = json.loads(res.stdout.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError:
        raise MediaUnreadable("ffprobe returned unreadable output") from None
    if not data.get("format"):
        raise MediaUnreadable(error_summary(_strip_path(err, path)) or "no container format recognised")
    return data


def _strip_path(text: str, path: str | os.PathLike[str]) -> str:
    """Remove the (temporary, meaningless to a person) file path from tool messages."""
    return text.replace(f"{path}: ", "").replace(str(path), "the file")


def run_ffmpeg(args: list[str], *, duration: float | None = None,
               on_progress: Callable[[float], None] | None = None, timeout: float | None = None) -> float:
    """Run ffmpeg with ``-progress pipe:1``; report percent done against `duration`.

    Returns the seconds of media written (ffmpeg's last ``out_time``). Raises FFmpegError with the end
    of ffmpeg's stderr on failure. The process is killed if the progress callback raises (a cancelled
    job) so nothing keeps writing behind our back.
    """
    cmd = [require_tool("ffmpeg"), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
           "-progress", "pipe:1", "-nostats", *args]
    with tempfile.TemporaryFile() as errf:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, stdin=subprocess.DEVNULL)
        written = 0.0
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                key, _, value = raw.decode("ascii", "replace").strip().partition("=")
                if key == "out_time_us":
                    try:
                        written = max(written, int(value) / 1e6)
                    except ValueError:
                        continue
                    if on_progress and duration:
                        on_progress(max(0.0, min(99.0, written / duration * 100.0)))
            rc = proc.wait(timeout=timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        errf.seek(0)
        err = errf.read().decode("utf-8", "replace")
    if rc != 0:
        transient = rc < 0 or any(t in err for t in _TRANSIENT)
        why = error_summary(err) or (f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}")
        raise FFmpegError(f"ffmpeg failed: {why}", transient=transient)
    return written


def media_path_ok(path: Path) -> bool:
    """Whether a produced output file exists and is non-empty."""
    return path.is_file() and path.stat().st_size > 0
