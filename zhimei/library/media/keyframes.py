"""One keyframe per shot, cheaply: decode only the proxy's key (I) frames, pick a sharp, non-black one
near each shot's middle; seek to the middle only for shots with no usable key frame."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from zhimei.library.media.ffmpeg import FFmpegError, error_summary, ffprobe_json, require_tool
from zhimei.library.media.probe import parse_rate

__all__ = ["KeyframeFile", "extract_keyframes", "iter_key_frames", "frame_quality"]

_PTS = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.]+)")
BLUR_LAPLACIAN = 12.0  # Laplacian variance (on a 160-px-wide grey copy) below which a frame looks blurry/flat


@dataclass(frozen=True)
class KeyframeFile:
    """A written keyframe and its thumbnail."""

    shot_seq: int
    time: float
    path: Path
    thumb_path: Path
    width: int
    height: int
    thumb_width: int
    thumb_height: int


def frame_quality(frame: np.ndarray) -> tuple[float, float]:
    """(mean level, sharpness) of a BGR frame; sharpness is the variance of the Laplacian of a small grey copy."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (160, max(2, round(h * 160 / w))), interpolation=cv2.INTER_AREA) if w > 160 else frame
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return float(frame.mean()), float(cv2.Laplacian(grey, cv2.CV_64F).var())


def iter_key_frames(path: str | os.PathLike[str]) -> Iterator[tuple[float, np.ndarray]]:
    """(time, BGR frame) of every key frame of a video; only key frames are decoded (``-skip_frame nokey``)."""
    data = ffprobe_json(path)
    vs = next((s for s in data.get("streams", []) if s.get("codec_type") == "video"), None)
    if vs is None:
        raise FFmpegError("no video stream")
    w, h = int(vs["width"]), int(vs["height"])
    cmd = [require_tool("ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "info", "-skip_frame", "nokey",
           "-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", "showinfo", "-fps_mode", "passthrough",
           "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1"]
    size = w * h * 3
    times: queue.Queue[float | None] = queue.Queue()
    tail: list[str] = []

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None

    def read_err() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace")
            m = _PTS.search(line)
            if m:
                times.put(float(m.group(3)))
            elif "Parsed_showinfo" not in line:
                tail.append(line)
                del tail[:-20]
        times.put(None)

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    try:
        while True:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            t = times.get(timeout=60)
            if t is None:
                break
            yield t, np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
    if rc != 0:
        raise FFmpegError(f"ffmpeg could not decode the proxy's key frames: {error_summary(''.join(tail))}")


@dataclass
class _Pick:
    time: float
    frame: np.ndarray
    key: tuple


def _rank(t: float, frame: np.ndarray, mid: float, span: float, dark_level: float) -> tuple:
    level, sharp = frame_quality(frame)
    black = level < dark_level * 1.5
    blurry = sharp < BLUR_LAPLACIAN
    return (black, blurry, round(abs(t - mid) / max(span, 1e-6), 3))


def _seek_frame(cap: cv2.VideoCapture, frame_no: int) -> np.ndarray | None:
    cap.set(cv2.CAP_PROP_POS_FRAMES, frame_no)
    ok, frame = cap.read()
    return frame if ok else None


def extract_keyframes(proxy: str | os.PathLike[str], shots: list[tuple[float, float]], out_dir: Path, *,
                      fps: float | None = None, thumb_width: int = 320, dark_level: float = 12.0,
                      progress: Callable[[float], None] | None = None) -> list[KeyframeFile]:
    """Write one keyframe JPEG + thumbnail per shot ([start, end) seconds) into `out_dir`."""
    if not shots:
        return []
    if fps is None:
        vs = next(s for s in ffprobe_json(proxy)["streams"] if s.get("codec_type") == "video")
        fps = parse_rate(vs.get("avg_frame_rate")) or parse_rate(vs.get("r_frame_rate")) or 25.0
    starts = [s for s, _ in shots]
    picks: list[_Pick | None] = [None] * len(shots)
    keys = iter_key_frames(proxy)
    try:
        for t, frame in keys:
            i = bisect_right(starts, t + 0.5 / fps) - 1
            if i < 0 or t >= shots[i][1]:
                continue
            s, e = shots[i]
            key = _rank(t, frame, (s + e) / 2, e - s, dark_level)
            if picks[i] is None or key < picks[i].key:
                picks[i] = _Pick(t, frame, key)
    finally:
        keys.close()
    if progress:
        progress(50.0)
    # Shots without a good key frame near their middle: decode the middle frame itself.
    cap = None
    try:
        for i, (s, e) in enumerate(shots):
            p = picks[i]
            if p is not None and not p.key[0] and not p.key[1] and p.key[2] <= 0.3:
                continue
            if cap is None:
                cap = cv2.VideoCapture(str(proxy))
            mid_frame = int(((s + e) / 2) * fps)
            frame = _seek_frame(cap, mid_frame)
            if frame is None:
                continue
            t = mid_frame / fps
            key = _rank(t, frame, (s + e) / 2, e - s, dark_level)
            if p is None or key < p.key:
                picks[i] = _Pick(t, frame, key)
    finally:
        if cap is not None:
            cap.release()
    out: list[KeyframeFile] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(picks):
        if p is None:
            continue
        h, w = p.frame.shape[:2]
        tw = min(thumb_width, w)
        th = max(2, round(h * tw / w))
        thumb = cv2.resize(p.frame, (tw, th), interpolation=cv2.INTER_AREA) if tw != w else p.frame
        kf_path, th_path = out_dir / f"kf-{i:05d}.jpg", out_dir / f"kf-{i:05d}-thumb.jpg"
        if not cv2.imwrite(str(kf_path), p.frame, [cv2.IMWRITE_JPEG_QUALITY, 88]) or not cv2.imwrite(
                str(th_path), thumb, [cv2.IMWRITE_JPEG_QUALITY, 85]):
            raise OSError(f"could not write keyframe JPEGs into {out_dir}")
        out.append(KeyframeFile(i, round(p.time, 3), kf_path, th_path, w, h, tw, th))
    if progress:
        progress(95.0)
    return out
