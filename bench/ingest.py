"""Media ingest throughput: the product chain (probe + normalize + shots + keyframes through the real job
system) against the bare tools doing the same work by hand, in the same run.

    .venv/bin/python bench/ingest.py [--data FILE_OR_DIR] [--minutes 10] [--repeat 1]

Files: the dev clip (or every .mp4 in --data) and a generated 1280x720 25 fps clip of --minutes with many
hard cuts and a tone/noise soundtrack (cached under ~/.cache/zhimei-bench; --minutes 0 skips it).
Floor: `ffmpeg` proxy (same settings) + `ffmpeg` 16 kHz WAV as separate commands + the PySceneDetect CLI
(`scenedetect -i FILE detect-adaptive save-images --num-images 1`). Reports media-seconds per wall-second
for both and the ratio product_wall / floor_wall (target <= 1.1). With --repeat N each side runs N times,
interleaved, and the fastest run of each counts. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import DEV_VIDEO_DIR, ROOT, floor_proxy_cmd, floor_wav_cmd, generated_clip, read_through, timed

from zhimei.library.media.probe import probe_media
from zhimei.library.media.shoteval import match_boundaries, prf

SCENEDETECT = str(Path(sys.executable).with_name("scenedetect"))


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children: less sensitive to other load."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_floor(src: Path, work: Path) -> dict:
    """The bare tools, one after another, the way someone would run them by hand."""
    from zhimei.library.media.normalize import ProxySpec
    from zhimei.settings import get_settings

    probe = probe_media(src)
    spec = ProxySpec.from_settings(get_settings())
    out = work / "floor"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cpu = cpu_seconds()
    parts = {"ffmpeg_proxy": timed(floor_proxy_cmd(src, out / "proxy.mp4", probe, spec))}
    if probe.has_audio:
        parts["ffmpeg_wav"] = timed(floor_wav_cmd(src, out / "audio16k.wav"))
    parts["scenedetect"] = timed([SCENEDETECT, "-q", "-i", str(src), "-o", str(out / "scenes"), "detect-adaptive",
                                  "save-images", "--num-images", "1"])
    return {"wall": sum(parts.values()), "cpu": cpu_seconds() - cpu,
            "parts": {k: round(v, 2) for k, v in parts.items()}}


def run_product(src: Path, work: Path) -> dict:
    """Ingest into a fresh ZHIMEI_HOME and drain the job queue in this thread."""
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["ZHIMEI_HOME"] = str(home)
    from sqlalchemy import select

    import zhimei.jobs as jobs
    from zhimei.library.assets import ingest_file
    from zhimei.settings import get_settings, reset_settings
    from zhimei.store import migrate
    from zhimei.store.db import session_scope
    from zhimei.store.models import Asset, Job, Shot

    reset_settings()
    migrate()
    jobs.load_stage_modules(get_settings().stage_modules)  # imports are not part of the work
    cpu = cpu_seconds()
    t = time.perf_counter()
    res = ingest_file(src)
    jobs.drain()
    wall = time.perf_counter() - t
    cpu = cpu_seconds() - cpu
    with session_scope() as s:
        asset = s.get(Asset, res.asset_id)
        if asset.status != "ready":
            raise RuntimeError(f"ingest of {src.name} ended {asset.status}: {asset.failure_reason}")
        parts = {j.stage: round((j.finished_at - j.started_at).total_seconds(), 2)
                 for j in s.scalars(select(Job).where(Job.asset_id == res.asset_id))}
        cuts = [sh.start for sh in s.scalars(select(Shot).where(Shot.asset_id == res.asset_id).order_by(Shot.seq))][1:]
    shutil.rmtree(home, ignore_errors=True)
    return {"wall": wall, "cpu": cpu, "parts": parts, "cuts": cuts}


def bench_file(src: Path, repeat: int, truth: list[float] | None) -> dict:
    """Both contenders on one file, interleaved; the fastest of each counts."""
    duration = probe_media(src).duration or 0.0
    read_through(src)
    floors, products = [], []
    with tempfile.TemporaryDirectory(prefix="zhimei-bench-ingest-") as tmp:
        for _ in range(repeat):
            floors.append(run_floor(src, Path(tmp)))
            products.append(run_product(src, Path(tmp)))
    floor = min(floors, key=lambda r: r["wall"])
    product = min(products, key=lambda r: r["wall"])
    row = {
        "file": src.name, "media_seconds": round(duration, 2),
        "product_wall": round(product["wall"], 2), "floor_wall": round(floor["wall"], 2),
        "product_media_s_per_s": round(duration / product["wall"], 2),
        "floor_media_s_per_s": round(duration / floor["wall"], 2),
        "ratio": round(product["wall"] / floor["wall"], 3),
        "product_cpu": round(product["cpu"], 2), "floor_cpu": round(floor["cpu"], 2),
        "cpu_ratio": round(product["cpu"] / floor["cpu"], 3),
        "product_stages": product["parts"], "floor_parts": floor["parts"], "shots": len(product["cuts"]) + 1,
    }
    if truth is not None:
        tp = match_boundaries(product["cuts"], truth, 0.5)
        row["boundaries_vs_truth"] = prf(tp, len(product["cuts"]), len(truth))
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="media ingest throughput vs the bare tools")
    ap.add_argument("--data", type=Path, default=DEV_VIDEO_DIR / "testvideo.mp4", help="a video file or a folder")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the generated clip (0: none)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per side (fastest counts)")
    args = ap.parse_args(argv)
    files: list[tuple[Path, list[float] | None]] = []
    if args.data.is_dir():
        files += [(p, None) for p in sorted(args.data.glob("*.mp4"))]
    elif args.data.exists():
        files.append((args.data, None))
    else:
        print(f"no such file or folder: {args.data}", file=sys.stderr)
        return 2
    if args.minutes > 0:
        t = time.perf_counter()
        clip, cuts = generated_clip(args.minutes)
        print(f"generated clip {clip} ({len(cuts)} cuts) ready in {time.perf_counter() - t:.0f}s")
        files.append((clip, cuts))
    rows = []
    for src, truth in files:
        row = bench_file(src, max(1, args.repeat), truth)
        rows.append(row)
        print(f"{row['file']}: {row['media_seconds']}s of media | product {row['product_wall']}s "
              f"({row['product_media_s_per_s']}x realtime) {row['product_stages']} | floor {row['floor_wall']}s "
              f"({row['floor_media_s_per_s']}x) {row['floor_parts']} | ratio {row['ratio']} "
              f"(CPU time: product {row['product_cpu']}s, floor {row['floor_cpu']}s, ratio {row['cpu_ratio']})")
        if "boundaries_vs_truth" in row:
            print(f"  shots found: {row['shots']}, boundaries vs truth: {row['boundaries_vs_truth']}")
    print(json.dumps({"bench": "ingest", "cpus": os.cpu_count(), "root": str(ROOT), "target_ratio": 1.1,
                      "max_ratio": max(r["ratio"] for r in rows),
                      "max_cpu_ratio": max(r["cpu_ratio"] for r in rows),
                      "load_average": [round(x, 2) for x in os.getloadavg()], "files": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
