"""Shared helpers for the media benchmarks: the plain-tool commands, the proxy as the stage makes it,
and a generated long clip with known cuts."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhimei.library.media.normalize import ProxySpec, audio16k_args, proxy_rate, video_proxy_args  # noqa: E402
from zhimei.library.media.probe import Probe, probe_media  # noqa: E402

DEV_VIDEO_DIR = (ROOT.parent / "shared" / "eval-dev" / "video").resolve()
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zhimei-bench"


def spec_from_settings() -> ProxySpec:
    """The proxy spec the product uses (zhimei settings in effect)."""
    from zhimei.settings import get_settings

    return ProxySpec.from_settings(get_settings())


def _audio_channels(probe: Probe) -> int | None:
    for s in probe.meta.get("streams", []):
        if s.get("codec_type") == "audio":
            return int(s.get("channels") or 2)
    return None


def floor_proxy_cmd(src: Path, out: Path, probe: Probe, spec: ProxySpec) -> list[str]:
    """The proxy transcode as a person would run it by hand: same x264/AAC settings, its own process."""
    ch = _audio_channels(probe)
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-map", "0:v:0",
            *(["-map", "0:a:0"] if ch else []), *video_proxy_args(spec, proxy_rate(probe), ch), str(out)]


def floor_wav_cmd(src: Path, out: Path) -> list[str]:
    """The 16 kHz mono WAV as a plain ffmpeg command."""
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-map", "0:a:0",
            *audio16k_args(), str(out)]


def make_proxy(src: Path, out_dir: Path, spec: ProxySpec | None = None) -> Path:
    """The video proxy exactly as the normalize stage encodes it (what the shots stage reads)."""
    spec = spec or spec_from_settings()
    probe = probe_media(src)
    out = out_dir / f"{src.stem}.proxy.mp4"
    subprocess.run(floor_proxy_cmd(src, out, probe, spec), check=True)
    return out


def timed(cmd: list[str]) -> float:
    """Run a command (its output discarded), return wall seconds; raise if it fails."""
    t = time.perf_counter()
    res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if res.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {res.stderr.decode('utf-8', 'replace')[-500:]}")
    return time.perf_counter() - t


def read_through(path: Path) -> None:
    """Read a file once so neither contender pays for the cold page cache."""
    with open(path, "rb") as fh:
        while fh.read(8 << 20):
            pass


# ---------------------------------------------------------------- a long generated clip

_SOURCES = [  # lavfi sources with motion, rendered small where they are slow, scaled to 1280x720
    "testsrc2=s=1280x720:r=25",
    "mandelbrot=s=320x180:r=25:start_scale=3:end_scale=0.01,scale=1280x720",
    "life=s=320x180:r=25:mold=10:ratio=0.3:life_color=0x44ee88:death_color=0x331111,scale=1280x720:flags=neighbor",
    "smptehdbars=s=1280x720:r=25,drawbox=x='mod(t*200,1280)':y=200:w=120:h=320:c=white@0.8:t=fill",
    "gradients=s=640x360:r=25:speed=0.04:n=5:seed=3,scale=1280x720",
    "cellauto=s=320x180:r=25:rule=110:random_fill_ratio=0.5,scale=1280x720,colorchannelmixer=rr=0.9:gg=0.5:bb=0.2",
    "testsrc=s=1280x720:r=25,hue=h=t*40",
    "rgbtestsrc=s=320x180:r=25,scale=1280x720,rotate=a=t/3:c=navy",
]
_BASE_SECONDS = 24


def generated_clip(minutes: float, seed: int = 11) -> tuple[Path, list[float]]:
    """A 1280x720 25 fps H.264/AAC clip of `minutes`, hard cuts every 2-8 s between varied sources, with a
    tone + noise soundtrack. Cached; returns (path, true cut times in seconds)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tag = f"gen-{minutes:g}min-s{seed}-v3"
    out, cuts_file = CACHE / f"{tag}.mp4", CACHE / f"{tag}.cuts.json"
    if out.exists() and cuts_file.exists():
        return out, json.loads(cuts_file.read_text())
    bases = []
    for i, src in enumerate(_SOURCES):
        b = CACHE / f"base-{i}-v2.mp4"
        if not b.exists():
            tmp = b.with_suffix(".part.mp4")
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            f"{src},format=yuv420p", "-t", str(_BASE_SECONDS), "-c:v", "libx264", "-preset",
                            "ultrafast", "-crf", "18", "-g", "25", str(tmp)], check=True)
            tmp.rename(b)
        bases.append(b)
    rng = random.Random(seed)
    total = minutes * 60.0
    lines, cuts, pos, last = [], [], 0.0, -1
    while pos < total - 0.5:
        k = rng.choice([i for i in range(len(bases)) if i != last])
        last = k
        length = min(rng.randint(50, 200) / 25.0, total - pos)  # 2-8 s, whole frames
        inpoint = rng.randint(0, int(_BASE_SECONDS - 8))  # whole seconds: on a key frame
        lines += [f"file '{bases[k]}'", f"inpoint {inpoint}", f"outpoint {inpoint + length:.2f}"]
        if pos > 0:
            cuts.append(round(pos, 3))
        pos += length
    listing = CACHE / f"{tag}.txt"
    listing.write_text("\n".join(lines) + "\n")
    tmp = out.with_suffix(".part.mp4")
    subprocess.run([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
        "-f", "lavfi", "-i", f"sine=f=330:d={total}", "-f", "lavfi", "-i", f"anoisesrc=c=pink:a=0.08:d={total}",
        "-filter_complex", "[0:v]format=yuv420p[v];[1:a][2:a]amix=inputs=2[a]",
        "-map", "[v]", "-map", "[a]", "-r", "25", "-c:v", "libx264", "-preset", "veryfast", "-crf", "21",
        "-c:a", "aac", "-b:a", "128k", "-t", str(total), "-movflags", "+faststart", str(tmp)], check=True)
    tmp.rename(out)
    cuts_file.write_text(json.dumps(cuts))
    return out, cuts
