"""Shot boundaries: hard cuts between content plus one boundary in the middle of each black gap.

Two PySceneDetect-style detectors share one decode of the (proxy) video, downscaled by ffmpeg:

- ``BlackGapDetector``: a fade or cut through black is ONE boundary at the middle of the black run
  (like ``ThresholdDetector`` with ``fade_bias=0``); black at the very start or end is no boundary.
- ``AdaptiveDetector`` (PySceneDetect's own) finds hard cuts.

``NewsShotDetector`` runs both and merges: hard cuts inside or at the edges of a black run are
absorbed by that run's single boundary, and boundaries closer than the minimum shot length are dropped.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from scenedetect import FrameTimecode, SceneDetector
from scenedetect.detectors import AdaptiveDetector

from zhimei.library.media.ffmpeg import FFmpegError, error_summary, ffprobe_json, require_tool
from zhimei.library.media.probe import parse_rate

__all__ = ["BlackGapDetector", "NewsShotDetector", "ShotDetection", "detect_shots", "iter_frames",
           "ANALYSIS_WIDTH"]

ANALYSIS_WIDTH = 256  # PySceneDetect's default effective width after auto-downscaling


class BlackGapDetector(SceneDetector):
    """Fades/cuts through black: one cut at the middle of each black run that lies between content.

    A frame is black when its mean pixel value (all channels) is below `dark_level` and at most
    `max_bright_fraction` of its pixels are brighter than four times that level (a burnt-in logo may
    stay; a night scene or sparse lights on black is content, not black). Runs that start within
    `min_scene_len` frames of the first frame are leaders, not boundaries; a run still open at the end
    is a trailer and yields nothing.
    """

    METRIC_KEY = "mean_level"

    def __init__(self, dark_level: float = 12.0, min_scene_len: int = 15, max_bright_fraction: float = 0.03):
        super().__init__()
        self.dark_level = float(dark_level)
        self.max_bright_fraction = float(max_bright_fraction)
        self.min_scene_len = int(min_scene_len)
        self.runs: list[tuple[int, int]] = []  # closed black runs [start, end) in frames
        self._run_start: int | None = None
        self._first: int | None = None
        self._last_cut: int | None = None
        self.last_frame: int | None = None

    def get_metrics(self) -> list[str]:
        return [self.METRIC_KEY]

    def is_black(self, frame_img: np.ndarray, level: float | None = None) -> bool:
        """Whether a frame counts as black."""
        level = float(frame_img.mean()) if level is None else level
        if level >= self.dark_level:
            return False
        bright = float((frame_img.max(axis=2) > 4 * self.dark_level).mean())
        return bright <= self.max_bright_fraction

    def process_frame(self, timecode: FrameTimecode, frame_img: np.ndarray) -> list[FrameTimecode]:
        n = timecode.frame_num
        if self._first is None:
            self._first = self._last_cut = n
        self.last_frame = n
        level = float(frame_img.mean())
        if self.stats_manager is not None:
            self.stats_manager.set_metrics(timecode, {self.METRIC_KEY: level})
        if self.is_black(frame_img, level):
            if self._run_start is None:
                self._run_start = n
            return []
        if self._run_start is None:
            return []
        start, self._run_start = self._run_start, None
        self.runs.append((start, n))
        if start - self._first < self.min_scene_len:  # leader black
            return []
        split = start + round((n - start) / 2)
        if split - self._last_cut < self.min_scene_len:
            return []
        self._last_cut = split
        return [FrameTimecode(split, fps=timecode)]

    def post_process(self, timecode: FrameTimecode) -> list[FrameTimecode]:
        if self._run_start is not None:
            self.runs.append((self._run_start, timecode.frame_num + 1))
            self._run_start = None
        return []


class NewsShotDetector(SceneDetector):
    """Hard cuts (AdaptiveDetector) between content, merged with black-gap midpoints (BlackGapDetector).

    Cuts are only known once the video ends (a cut into black is absorbed by the black run that
    follows it), so every cut is returned from `post_process`.
    """

    def __init__(self, adaptive_threshold: float = 3.0, min_scene_len: int = 15, dark_level: float = 12.0,
                 edge_margin: int | None = None, min_content_val: float = 15.0):
        super().__init__()
        self.min_scene_len = int(min_scene_len)
        self.edge_margin = self.min_scene_len if edge_margin is None else int(edge_margin)
        self.hard = AdaptiveDetector(adaptive_threshold=adaptive_threshold, min_scene_len=self.min_scene_len,
                                     min_content_val=min_content_val)
        self.black = BlackGapDetector(dark_level=dark_level, min_scene_len=self.min_scene_len)
        self.hard_cuts: list[int] = []
        self.cuts: list[int] = []
        self.frames = 0

    def get_metrics(self) -> list[str]:
        return [*self.hard.get_metrics(), *self.black.get_metrics()]

    @SceneDetector.stats_manager.setter
    def stats_manager(self, value):
        self._stats_manager = value
        self.hard.stats_manager = value
        self.black.stats_manager = value

    def process_frame(self, timecode: FrameTimecode, frame_img: np.ndarray) -> list[FrameTimecode]:
        self.frames += 1
        self.hard_cuts += [tc.frame_num for tc in self.hard.process_frame(timecode, frame_img)]
        self.black.process_frame(timecode, frame_img)
        return []

    def post_process(self, timecode: FrameTimecode) -> list[FrameTimecode]:
        self.hard_cuts += [tc.frame_num for tc in self.hard.post_process(timecode)]
        self.black.post_process(timecode)
        first = self.black._first if self.black._first is not None else 0
        self.cuts = merge_cuts(self.hard_cuts, self.black.runs, first=first, end=timecode.frame_num + 1,
                               min_len=self.min_scene_len, margin=self.edge_margin)
        return [FrameTimecode(c, fps=timecode) for c in self.cuts]


def merge_cuts(hard_cuts: list[int], black_runs: list[tuple[int, int]], *, first: int, end: int, min_len: int,
               margin: int) -> list[int]:
    """Final boundaries from hard cuts and black runs [start, end) (frames; `end` = one past the last frame)."""
    bounds: list[tuple[int, int]] = []  # (frame, priority) — black midpoints win ties
    for s, e in black_runs:
        if s - first < min_len or e > end - min_len:  # leader or trailer black: no boundary
            continue
        bounds.append((s + round((e - s) / 2), 0))
    for c in hard_cuts:
        if any(s - margin <= c <= e + margin for s, e in black_runs):
            continue
        bounds.append((c, 1))
    bounds.sort()
    out: list[int] = []
    last = first
    for frame, _ in bounds:
        if frame - last >= min_len and frame < end:
            out.append(frame)
            last = frame
    return out


@dataclass
class ShotDetection:
    """Where a video's shots start (frames) and what the detectors saw."""

    fps: float
    frame_count: int
    cuts: list[int]
    hard_cuts: list[int] = field(default_factory=list)
    black_runs: list[tuple[int, int]] = field(default_factory=list)

    def shots(self) -> list[tuple[int, int]]:
        """[start_frame, end_frame) of every shot."""
        starts = [0, *self.cuts]
        ends = [*self.cuts, self.frame_count]
        return [(s, e) for s, e in zip(starts, ends, strict=True) if e > s]

    def seconds(self, frame: int) -> float:
        """A frame's start time."""
        return frame / self.fps


def _video_geometry(path: Path) -> tuple[int, int, float, float | None]:
    data = ffprobe_json(path)
    for s in data.get("streams", []):
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic"):
            fps = parse_rate(s.get("avg_frame_rate")) or parse_rate(s.get("r_frame_rate")) or 25.0
            dur = s.get("duration") or (data.get("format") or {}).get("duration")
            return int(s["width"]), int(s["height"]), fps, float(dur) if dur else None
    raise FFmpegError("no video stream to analyse")


def iter_frames(path: str | os.PathLike[str], width: int, height: int) -> Iterator[np.ndarray]:
    """Decode a video with ffmpeg into BGR frames of `width`x`height` (every frame, in order)."""
    cmd = [require_tool("ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
           "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", f"scale={width}:{height}:flags=bilinear",
           "-pix_fmt", "bgr24", "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"]
    size = width * height * 3
    with tempfile.TemporaryFile() as errf:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, stdin=subprocess.DEVNULL,
                                bufsize=size * 4)
        assert proc.stdout is not None
        try:
            while True:
                buf = bytearray(size)
                view = memoryview(buf)
                got = 0
                while got < size:
                    n = proc.stdout.readinto(view[got:])
                    if not n:
                        break
                    got += n
                if got < size:
                    break
                yield np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3)
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if rc != 0:
            errf.seek(0)
            why = error_summary(errf.read().decode("utf-8", "replace"))
            raise FFmpegError(f"ffmpeg could not decode the video: {why}")


def detect_shots(path: str | os.PathLike[str], *, threshold: float = 3.0, min_seconds: float = 0.5,
                 dark_level: float = 12.0, analysis_width: int = ANALYSIS_WIDTH,
                 progress: Callable[[float], None] | None = None) -> ShotDetection:
    """Shot boundaries of a video file (the proxy in the pipeline): one downscaled decode, two detectors."""
    p = Path(path)
    w, h, fps, duration = _video_geometry(p)
    aw = min(analysis_width, w)
    ah = max(2, round(h * aw / w / 2) * 2)
    min_len = max(1, round(min_seconds * fps))
    det = NewsShotDetector(adaptive_threshold=threshold, min_scene_len=min_len, dark_level=dark_level)
    rate = Fraction(fps).limit_denominator(1001)
    expected = max(1, round((duration or 0) * fps))
    frames = iter_frames(p, aw, ah)
    try:  # closing the generator stops ffmpeg at once if the job is cancelled mid-way
        for n, frame in enumerate(frames):
            det.process_frame(FrameTimecode(n, fps=rate), frame)
            if progress and n % 250 == 0:
                progress(min(99.0, 100.0 * n / expected))
    finally:
        frames.close()
    count = det.frames
    if count == 0:
        raise FFmpegError("the video has no decodable frames")
    det.post_process(FrameTimecode(count - 1, fps=rate))
    return ShotDetection(fps=fps, frame_count=count, cuts=det.cuts, hard_cuts=det.hard_cuts,
                         black_runs=list(det.black.runs))
