"""A multi-topic demo recording (for benches and tests): the bundled sample followed by three news items on
different topics, spoken by espeak-ng over ffmpeg test patterns, each item two shots joined by hard cuts."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["TOPICS", "make_topic_video"]

TOPICS = [
    ("A powerful storm hit the coast on Monday night. Strong winds knocked down trees and power lines across "
     "the region. Heavy rain flooded several streets in the harbour district. Forecasters expect the weather "
     "to calm down by Thursday. Residents are advised to stay indoors until the storm passes."),
    ("In sports, the city football club won the championship final on Saturday. The striker scored two goals "
     "in the second half. Thousands of fans celebrated in the main square after the match. The coach praised "
     "his players for their hard work this season. The team will parade through the city next weekend."),
    ("Turning to the economy, the central bank raised interest rates by a quarter point. Inflation has stayed "
     "above the target for most of the year. Economists say higher rates will slow borrowing and spending. "
     "Mortgage costs for families are expected to rise. The bank will review its policy again in three months."),
]
_PATTERNS = [("color=c=0x1f4e79", "testsrc2"), ("color=c=0x7a1f1f", "smptebars"), ("color=c=0x1f6b3a", "rgbtestsrc")]
W, H, FPS = 640, 360, 25


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=600)


def _duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True, timeout=60)
    return float(out.stdout.strip())


def make_topic_video(out: str | Path, sample: str | Path | None = None, threads: int = 1) -> Path:
    """Write the demo MP4 (H.264/AAC, 640x360, 25 fps) to `out` and return its path. `sample`: a video to
    put first (e.g. samples/newsroom-sample.mp4), re-encoded to the same format."""
    if not shutil.which("espeak-ng") or not shutil.which("ffmpeg"):
        raise RuntimeError("the demo video needs espeak-ng and ffmpeg (apt-get install espeak-ng ffmpeg)")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="zhimei-demo-") as tmp:
        t = Path(tmp)
        parts: list[Path] = []
        if sample:
            p = t / "part-0.mp4"
            _run(["ffmpeg", "-hide_banner", "-y", "-i", str(sample), "-vf", f"scale={W}:{H},fps={FPS}",
                  "-af", "aresample=44100", "-ac", "1", "-c:v", "libx264", "-preset", "veryfast", "-threads",
                  str(threads), "-c:a", "aac", "-ar", "44100", str(p)])
            parts.append(p)
        for k, (text, (first, second)) in enumerate(zip(TOPICS, _PATTERNS, strict=True), start=1):
            wav = t / f"speech-{k}.wav"
            _run(["espeak-ng", "-v", "en-us", "-s", "155", "-g", "6", "-w", str(wav), text])
            dur = _duration(wav) + 0.8
            half = round(dur / 2, 2)
            p = t / f"part-{k}.mp4"
            _run(["ffmpeg", "-hide_banner", "-y",
                  "-f", "lavfi", "-i", f"{first}:s={W}x{H}:r={FPS}:d={half}",
                  "-f", "lavfi", "-i", f"{second}=s={W}x{H}:r={FPS}:d={dur - half:.2f}",
                  "-i", str(wav),
                  "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv420p[v];"
                                     "[2:a]aresample=44100,apad[a]",
                  "-map", "[v]", "-map", "[a]", "-t", f"{dur:.2f}", "-c:v", "libx264", "-preset", "veryfast",
                  "-threads", str(threads), "-c:a", "aac", "-ar", "44100", "-ac", "1", str(p)])
            parts.append(p)
        inputs: list[str] = []
        for p in parts:
            inputs += ["-i", str(p)]
        chain = "".join(f"[{i}:v][{i}:a]" for i in range(len(parts)))
        tmp_out = t / "demo.mp4"
        _run(["ffmpeg", "-hide_banner", "-y", *inputs, "-filter_complex",
              f"{chain}concat=n={len(parts)}:v=1:a=1[v][a]", "-map", "[v]", "-map", "[a]", "-c:v", "libx264",
              "-preset", "veryfast", "-threads", str(threads), "-c:a", "aac", "-movflags", "+faststart",
              str(tmp_out)])
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tmp_out), out)
    return out
