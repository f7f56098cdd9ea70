"""Shot-boundary accuracy: the product's detector (on the proxy, as the shots stage runs it) against plain
PySceneDetect AdaptiveDetector and ContentDetector on the original file, in the same run.

    .venv/bin/python bench/shots.py [--data DIR] [--tolerance SECONDS]

DIR holds `*.mp4` files each with `<name>_scenes.csv` (PySceneDetect scene list). A boundary matches a true
one within the tolerance, one-to-one. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _common import DEV_VIDEO_DIR, make_proxy
from scenedetect import detect
from scenedetect.detectors import AdaptiveDetector, ContentDetector

from zhimei.library.media.shoteval import match_boundaries, prf, read_scene_list
from zhimei.library.media.shots import detect_shots
from zhimei.settings import get_settings


def product_cuts(src: Path, work: Path) -> tuple[list[float], float]:
    """Boundaries from the product's detector on the proxy made exactly like the normalize stage makes it."""
    s = get_settings()
    proxy = make_proxy(src, work)
    t = time.perf_counter()
    det = detect_shots(proxy, threshold=s.shot_threshold, min_seconds=s.shot_min_seconds, dark_level=s.shot_dark_level)
    return [det.seconds(c) for c in det.cuts], time.perf_counter() - t


def baseline_cuts(src: Path, detector) -> tuple[list[float], float]:
    """Boundaries from a plain PySceneDetect detector on the original (what `scenedetect detect-...` does)."""
    t = time.perf_counter()
    scenes = detect(str(src), detector)
    return [start.seconds for start, _ in scenes[1:]], time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="shot-boundary precision/recall/F1 against scene lists")
    ap.add_argument("--data", type=Path, default=DEV_VIDEO_DIR, help="folder of .mp4 + <name>_scenes.csv")
    ap.add_argument("--tolerance", type=float, default=0.5, help="seconds within which a boundary matches")
    args = ap.parse_args(argv)
    clips = sorted(p for p in args.data.glob("*.mp4") if p.with_name(f"{p.stem}_scenes.csv").exists())
    if not clips:
        print(f"no .mp4 with a _scenes.csv in {args.data}", file=sys.stderr)
        return 2
    methods = {
        "product": None,
        "adaptive": lambda: AdaptiveDetector(),
        "content": lambda: ContentDetector(),
    }
    totals = {m: {"tp": 0, "pred": 0, "true": 0, "seconds": 0.0} for m in methods}
    per_clip = []
    with tempfile.TemporaryDirectory(prefix="zhimei-bench-shots-") as tmp:
        for clip in clips:
            truth = read_scene_list(clip.with_name(f"{clip.stem}_scenes.csv"))
            row: dict = {"clip": clip.name, "true": len(truth)}
            for name, make in methods.items():
                pred, secs = product_cuts(clip, Path(tmp)) if make is None else baseline_cuts(clip, make())
                tp = match_boundaries(pred, truth, args.tolerance)
                row[name] = {**prf(tp, len(pred), len(truth)), "found": len(pred), "seconds": round(secs, 2),
                             "cuts": [round(c, 2) for c in pred]}
                for k, v in (("tp", tp), ("pred", len(pred)), ("true", len(truth)), ("seconds", secs)):
                    totals[name][k] += v
            per_clip.append(row)
            print(f"{clip.name}: truth {[round(t, 2) for t in truth]}")
            for name in methods:
                r = row[name]
                print(f"  {name:9s} P={r['precision']:.3f} R={r['recall']:.3f} F1={r['f1']:.3f} "
                      f"found={r['found']} ({r['seconds']:.1f}s) {r['cuts']}")
    overall = {name: {**prf(t["tp"], t["pred"], t["true"]), "seconds": round(t["seconds"], 2)}
               for name, t in totals.items()}
    print(f"overall ({len(clips)} clips, tolerance {args.tolerance}s):")
    for name, r in overall.items():
        print(f"  {name:9s} P={r['precision']:.3f} R={r['recall']:.3f} F1={r['f1']:.3f}")
    print(json.dumps({"bench": "shots", "data": str(args.data), "tolerance": args.tolerance, "clips": len(clips),
                      "overall": overall,
                      "per_clip": [{k: ({kk: vv for kk, vv in v.items() if kk != "cuts"} if isinstance(v, dict)
                                        else v) for k, v in r.items()} for r in per_clip]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
