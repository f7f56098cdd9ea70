"""Studio media bench: subtitle rule violations, clip boundaries on sentence ends, render speed.

    nice -n 10 .venv/bin/python bench/studio.py [--data FILE_OR_DIR] [--no-demo] [--threads N]

Videos (default: samples/newsroom-sample.mp4 plus a generated multi-topic recording — the sample followed by
three espeak-ng news items; `--data` adds a video file or a folder of `*.mp4`, e.g.
../shared/eval-dev/video) are ingested into a throwaway zhimei home and processed for real (ASR, shots).
Then, per video:

- subtitles: rule violations of the product's track (Netflix line length, lines, reading speed, duration,
  gaps) against a baseline of fixed 4-second one-line cues of the same words;
- clips: the share of inner clip boundaries that fall in a silence after a finished sentence, against
  fixed-length windows making the same number of clips;
- export: render speed (output seconds per wall second) of the first clip, landscape and 9:16 vertical with
  burned captions, against a plain ffmpeg cut of the same range with the same encoder settings.

A video without speech has no subtitles or clips (reported as such); its export is still timed.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _videos(data: str | None, demo: bool, work: Path) -> list[Path]:
    from zhimei.studio.media.demo import make_topic_video

    out = [ROOT / "samples" / "newsroom-sample.mp4"]
    if demo:
        t = time.perf_counter()
        out.append(make_topic_video(work / "multi-topic-demo.mp4", sample=out[0], threads=1))
        print(f"generated the multi-topic demo in {time.perf_counter() - t:.1f} s", flush=True)
    if data:
        p = Path(data)
        out += sorted(p.glob("*.mp4")) if p.is_dir() else [p]
    return out


def _plain_cut_seconds(src: Path, start: float, end: float, threads: int, out: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{start:.3f}", "-i", str(src),
                    "-t", f"{end - start:.3f}", "-map", "0:v:0", "-map", "0:a:0?", "-c:v", "libx264", "-preset",
                    "veryfast", "-crf", "23", "-threads", str(threads), "-c:a", "aac", "-b:a", "128k",
                    "-movflags", "+faststart", str(out)], check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a video file or a folder of *.mp4 to add")
    ap.add_argument("--no-demo", action="store_true", help="skip the generated multi-topic recording")
    ap.add_argument("--threads", type=int, default=1, help="ffmpeg threads for renders (default 1)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="zhimei-bench-studio-") as tmp:
        work = Path(tmp)
        os.environ["ZHIMEI_HOME"] = str(work / "home")
        from zhimei.settings import reset_settings
        from zhimei.store import migrate

        reset_settings()
        migrate()
        import zhimei.jobs as jobs
        from zhimei.library.assets import ingest_file
        from zhimei.store.blobs import get_blob_store
        from zhimei.store.db import read_scope
        from zhimei.store.models import Asset
        from zhimei.studio.errors import StudioError
        from zhimei.studio.media.clips import fixed_window_clips, sentence_end_share, sentences_of, suggest_clips
        from zhimei.studio.media.export import export_clip, source_file
        from zhimei.studio.media.subtitles import (
            asset_info,
            check_subtitles,
            naive_cues,
            subtitle_track,
            transcript_tokens,
        )

        videos = _videos(args.data, not args.no_demo, work)
        ids = []
        t = time.perf_counter()
        for v in videos:
            ids.append(ingest_file(v, source="bench").asset_id)
        jobs.drain()
        print(f"ingested and processed {len(ids)} videos in {time.perf_counter() - t:.1f} s", flush=True)

        rows = []
        for path, aid in zip(videos, ids, strict=True):
            info = asset_info(aid)
            dur = float(info["duration"] or 0)
            row: dict = {"video": path.name, "duration": round(dur, 1)}
            try:
                track = subtitle_track(aid)
                base = naive_cues(aid)
                row.update(cues=len(track.cues), violations=len(track.violations),
                           violations_baseline=len(check_subtitles(base, track.language, fps=info["fps"])),
                           violation_rules=sorted({v.rule for v in track.violations}))
                toks, _, segs = transcript_tokens(aid)
                sents = sentences_of(toks, [float(s.end or 0) for s in segs])
                min_s = 3.0 if dur < 30 else 10.0
                t = time.perf_counter()
                clips = suggest_clips(aid, min_seconds=min_s, max_seconds=120.0)
                row["clip_seconds"] = round(time.perf_counter() - t, 2)
                on, n = sentence_end_share([(c.start, c.end) for c in clips], sents, dur)
                fixed = fixed_window_clips(aid, dur / max(1, len(clips)))
                fon, fn = sentence_end_share(fixed, sents, dur)
                row.update(clips=len(clips), min_seconds=min_s, boundaries=n, on_sentence_end=on,
                           fixed_boundaries=fn, fixed_on_sentence_end=fon)
                rng = (clips[0].start, clips[0].end)
            except StudioError as exc:
                row.update(note=str(exc))
                rng = (0.0, min(dur, 10.0))
            speeds = {}
            for vertical in (False, True):
                t = time.perf_counter()
                export_clip(aid, rng[0], rng[1], vertical=vertical, captions=True, threads=args.threads)
                speeds["vertical" if vertical else "landscape"] = (rng[1] - rng[0]) / (time.perf_counter() - t)
            sha, _ = source_file(aid)
            with get_blob_store().local_path(sha) as src:
                plain = _plain_cut_seconds(Path(src), rng[0], rng[1], args.threads, work / "plain.mp4")
            speeds["plain_cut"] = (rng[1] - rng[0]) / plain
            row.update(render_range=[round(rng[0], 2), round(rng[1], 2)],
                       render_speed={k: round(v, 2) for k, v in speeds.items()})
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
        with read_scope() as s:
            outputs = sum(1 for a in s.query(Asset).all() if (a.meta or {}).get("ai_generated"))

    spoken = [r for r in rows if "cues" in r]
    on = sum(r["on_sentence_end"] for r in spoken)
    n = sum(r["boundaries"] for r in spoken)
    fon = sum(r["fixed_on_sentence_end"] for r in spoken)
    fn = sum(r["fixed_boundaries"] for r in spoken)

    def mean(key: str) -> float:
        vals = [r["render_speed"][key] for r in rows]
        return round(sum(vals) / len(vals), 2) if vals else 0.0

    print()
    print(f"{'video':28} {'cues':>5} {'viol':>5} {'naive':>6} {'clips':>5} {'on-end':>8} {'fixed':>8} "
          f"{'land x':>7} {'vert x':>7} {'plain x':>7}")
    for r in rows:
        def share(a: str, b: str, r: dict = r) -> str:
            return f"{r[a]}/{r[b]}" if b in r else "-"

        print(f"{r['video'][:28]:28} {r.get('cues', '-'):>5} {r.get('violations', '-'):>5} "
              f"{r.get('violations_baseline', '-'):>6} {r.get('clips', '-'):>5} "
              f"{share('on_sentence_end', 'boundaries'):>8} {share('fixed_on_sentence_end', 'fixed_boundaries'):>8} "
              f"{r['render_speed']['landscape']:>7} {r['render_speed']['vertical']:>7} "
              f"{r['render_speed']['plain_cut']:>7}")
    for r in rows:
        if "note" in r:
            print(f"note: {r['video']}: {r['note']}")
    print(f"render speed = output seconds per wall second (ffmpeg -threads {args.threads}); 'plain' = the same "
          "cut and encoder without crop or captions")
    summary = {
        "videos": len(rows), "with_speech": len(spoken),
        "subtitle_violations": sum(r["violations"] for r in spoken),
        "subtitle_violations_sample": rows[0].get("violations"),
        "subtitle_violations_baseline_fixed_4s": sum(r["violations_baseline"] for r in spoken),
        "cues": sum(r["cues"] for r in spoken),
        "clip_boundaries": n, "clip_boundaries_on_sentence_end_pct": round(100 * on / n, 1) if n else None,
        "fixed_window_boundaries_on_sentence_end_pct": round(100 * fon / fn, 1) if fn else None,
        "render_speed_landscape": mean("landscape"), "render_speed_vertical": mean("vertical"),
        "render_speed_plain_cut": mean("plain_cut"), "outputs_saved": outputs, "threads": args.threads,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
