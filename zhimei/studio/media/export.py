"""Rendering studio video outputs with ffmpeg: clips (landscape or 9:16 vertical with a face-/centre-aware
crop, optional burned captions) and burned-in subtitles. Renders go to a temporary file that is renamed only
when ffmpeg succeeded, then become a new asset with lineage (`save_output`); a failed render leaves nothing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from zhimei.library import FFmpegError, run_ffmpeg
from zhimei.settings import get_settings
from zhimei.store.blobs import get_blob_store
from zhimei.store.db import read_scope
from zhimei.store.models import Face, Rendition, Shot
from zhimei.studio.errors import StudioError
from zhimei.studio.media.subtitles import Cue, asset_cues, asset_info, to_srt

__all__ = ["export_clip", "burn_subtitles", "render_video", "crop_plan", "CropPlan", "MAX_EXPORT_SECONDS",
           "FONTS_DIR", "FONT_NAME", "FONT_FILE", "VERTICAL_MAX_LINE"]

MAX_EXPORT_SECONDS = 1200.0
"""Longest clip rendered at once (20 minutes)."""
FONTS_DIR = "/usr/share/fonts/opentype/noto"
"""Debian fonts-noto-cjk: Noto Sans CJK covers Chinese and Latin."""
FONT_NAME = "Noto Sans CJK SC"
FONT_FILE = "NotoSansCJK-Regular.ttc"
"""The one collection libass is pointed at (a folder holding only it loads ~1 s faster than the whole folder)."""
VERTICAL_MAX_LINE = {"en": 24, "zh": 11}
"""Shorter caption lines on a narrow 9:16 frame."""


@dataclass
class CropPlan:
    """Output size and the crop: width/height of the window and its x per time span (relative seconds)."""

    width: int
    height: int
    crop_w: int
    crop_h: int
    xs: list[tuple[float, int]]  # (from t, x)
    y: int
    mode: str  # "none" | "centre" | "faces"

    def filter(self) -> str | None:
        if self.mode == "none":
            return None
        # piecewise constant x: if(lt(t,T1),X0,if(lt(t,T2),X1,...))
        expr = str(self.xs[-1][1])
        for k in range(len(self.xs) - 2, -1, -1):
            expr = f"if(lt(t,{self.xs[k + 1][0]:.3f}),{self.xs[k][1]},{expr})"
        return f"crop={self.crop_w}:{self.crop_h}:'{expr}':{self.y}"


def _even(v: float) -> int:
    return max(2, int(v) // 2 * 2)


def crop_plan(asset_id: int, start: float, end: float, width: int, height: int, vertical: bool) -> CropPlan:
    """The crop for a clip: none (landscape), or a 9:16 window per shot centred on the faces detected in
    that shot (area-weighted), else on the frame's centre."""
    if not vertical:
        return CropPlan(_even(width), _even(height), _even(width), _even(height), [(0.0, 0)], 0, "none")
    if width * 16 >= height * 9:
        cw, ch = _even(height * 9 / 16), _even(height)
    else:
        cw, ch = _even(width), _even(width * 16 / 9)
    y = (height - ch) // 2
    centre = (width - cw) // 2
    with read_scope() as session:
        shots = list(session.execute(select(Shot.seq, Shot.start, Shot.end).where(
            Shot.asset_id == int(asset_id), Shot.end > start, Shot.start < end).order_by(Shot.seq)))
        faces = list(session.execute(select(Face.shot_seq, Face.time, Face.x, Face.w, Face.h, Face.frame_width)
                                     .where(Face.asset_id == int(asset_id))))
    xs: list[tuple[float, int]] = []
    used_faces = False
    for seq, s0, _s1 in shots or [(None, start, end)]:
        mine = [f for f in faces if f.shot_seq == seq] if seq is not None else []
        x = centre
        if mine:
            wsum = sum(max(1, f.w * f.h) for f in mine)
            cx = sum((f.x + f.w / 2) * (width / (f.frame_width or width)) * max(1, f.w * f.h) for f in mine) / wsum
            x = int(min(max(0, cx - cw / 2), width - cw))
            used_faces = True
        t = max(0.0, float(s0) - start)
        if xs and abs(xs[-1][1] - x) == 0:
            continue
        xs.append((0.0 if not xs else t, x))
    if not xs:
        xs = [(0.0, centre)]
    return CropPlan(cw, ch, cw, ch, xs, y, "faces" if used_faces else "centre")


def source_file(asset_id: int) -> tuple[str, str]:
    """(blob sha, rendition kind) of the best video to cut from: the original, else the proxy."""
    with read_scope() as session:
        rends = {r.kind: r.blob_sha for r in session.scalars(select(Rendition).where(
            Rendition.asset_id == int(asset_id)))}
    for kind in ("original", "proxy"):
        if kind in rends:
            return rends[kind], kind
    raise StudioError(f"asset {asset_id} has no stored media to cut from")


def _style(plan: CropPlan, vertical: bool) -> str:
    size = 12 if vertical else 20
    margin = 40 if vertical else 18
    return (f"FontName={FONT_NAME},FontSize={size},PrimaryColour=&H00FFFFFF,OutlineColour=&H00000000,"
            f"BorderStyle=1,Outline=2,Shadow=0,MarginV={margin},WrapStyle=0")


def filter_path(path: Path) -> str:
    """A path quoted for an ffmpeg filter argument (subtitles=, drawtext textfile=)."""
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'").replace(",", "\\,")


def render_video(src: Path, out: Path, start: float, end: float, *, plan: CropPlan, srt: Path | None = None,
                 vertical: bool = False, threads: int | None = None,
                 progress: Callable[[float], None] | None = None) -> float:
    """Cut [start, end] of `src` into an H.264/AAC MP4 at `out` (atomically: a temp file renamed on success),
    cropped by `plan`, with `srt` burned in. Returns the seconds written."""
    filters: list[str] = []
    crop = plan.filter()
    if crop:
        filters.append(crop)
    if srt is not None:
        fonts = Path(FONTS_DIR)
        if (fonts / FONT_FILE).is_file():
            fonts = srt.parent / "fonts"
            fonts.mkdir(exist_ok=True)
            if not (fonts / FONT_FILE).exists():
                (fonts / FONT_FILE).symlink_to(Path(FONTS_DIR) / FONT_FILE)
        filters.append(f"subtitles=filename='{filter_path(srt)}':fontsdir='{filter_path(fonts)}':"
                       f"force_style='{_style(plan, vertical)}'")
    filters.append("format=yuv420p")
    th = str(threads if threads is not None else get_settings().model_threads)
    tmp = out.with_name(f".{out.name}.part.mp4")
    args = ["-ss", f"{start:.3f}", "-i", str(src), "-t", f"{end - start:.3f}", "-map", "0:v:0", "-map", "0:a:0?",
            "-vf", ",".join(filters), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-threads", th,
            "-filter_threads", th, "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-f", "mp4", str(tmp)]
    try:
        written = run_ffmpeg(args, duration=end - start, on_progress=progress)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise FFmpegError("ffmpeg wrote no output")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return written


def scratch_dir() -> tempfile.TemporaryDirectory:
    """A scratch folder under $HOME/tmp for one render (removed with everything in it on exit)."""
    root = get_settings().home / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="studio-render-", dir=root)


def _check_range(info: dict[str, Any], start: float, end: float) -> tuple[float, float]:
    dur = float(info["duration"] or 0.0)
    try:
        start, end = float(start), float(end)
    except (TypeError, ValueError):
        raise StudioError("start and end must be numbers of seconds") from None
    if start < 0 or end <= start:
        raise StudioError(f"the clip must start at 0 s or later and end after it starts (got {start}–{end})")
    if dur and start >= dur:
        raise StudioError(f"the clip starts at {start:.1f} s but the recording is {dur:.1f} s long")
    if dur:
        end = min(end, dur)
    if end - start > MAX_EXPORT_SECONDS:
        raise StudioError(f"a clip is at most {MAX_EXPORT_SECONDS:.0f} s; asked for {end - start:.0f} s "
                          "(pick a shorter range)")
    if end - start < 0.5:
        raise StudioError("a clip must be at least 0.5 s long")
    return start, end


def export_clip(asset_id: int, start: float, end: float, *, vertical: bool = False, captions: bool = True,
                title: str | None = None, created_by: str = "studio", threads: int | None = None,
                progress: Callable[[float], None] | None = None) -> int:
    """Render [start, end] of a video asset as an MP4 (landscape, or 9:16 vertical cropped on faces or the
    centre; captions from the transcript burned in when there are words) and save it as a new asset with
    lineage. Returns the new (or, for identical bytes, existing) asset id."""
    from zhimei.studio.outputs import save_output  # noqa: PLC0415

    info = asset_info(asset_id)
    if info["kind"] != "video" or not info["width"] or not info["height"]:
        raise StudioError(f"asset {asset_id} has no video picture to cut (kind {info['kind']})")
    start, end = _check_range(info, start, end)
    plan = crop_plan(asset_id, start, end, int(info["width"]), int(info["height"]), vertical)
    cues: list[Cue] = []
    lang = info["language"]
    if captions:
        try:
            cues, lang = asset_cues(asset_id, start=start, end=end,
                                    max_line=None if not vertical else VERTICAL_MAX_LINE["zh" if (
                                        (info["language"] or "").startswith("zh")) else "en"])
        except StudioError:
            cues = []  # no transcript: the clip has no captions
    sha, rend = source_file(asset_id)
    store = get_blob_store()
    name = f"clip-{asset_id}-{start:.1f}-{end:.1f}{'-vertical' if vertical else ''}.mp4"
    with scratch_dir() as tmp, store.local_path(sha) as src:
        t = Path(tmp)
        srt = None
        if cues:
            srt = t / "captions.srt"
            srt.write_text(to_srt(cues), encoding="utf-8")
        out = t / name
        render_video(Path(src), out, start, end, plan=plan, srt=srt, vertical=vertical, threads=threads,
                     progress=progress)
        params = {"start": round(start, 3), "end": round(end, 3), "vertical": vertical, "captions": bool(cues),
                  "crop": plan.mode, "size": [plan.width, plan.height], "source_rendition": rend}
        return save_output(kind="clip", title=title or f"{info['title']} {start:.0f}–{end:.0f}s",
                           sources=[int(asset_id)], task="clips", backend="ffmpeg", model="libx264+libass",
                           prompt=None, params=params, language=lang, path=out, filename=name,
                           created_by=created_by)


def burn_subtitles(asset_id: int, cues: Sequence[Cue] | None = None, *, language: str | None = None,
                   title: str | None = None, created_by: str = "studio", threads: int | None = None,
                   progress: Callable[[float], None] | None = None) -> int:
    """The whole video with subtitles burned in (Noto Sans CJK), saved as a new asset; `cues` default to the
    rule-abiding cues of the transcript."""
    from zhimei.studio.outputs import save_output  # noqa: PLC0415

    info = asset_info(asset_id)
    if info["kind"] != "video" or not info["width"]:
        raise StudioError(f"asset {asset_id} has no video picture to burn subtitles into")
    if cues is None:
        cues, language = asset_cues(asset_id)
    if not cues:
        raise StudioError("no subtitles to burn in")
    dur = float(info["duration"] or max(c.end for c in cues))
    if dur > MAX_EXPORT_SECONDS * 3:
        raise StudioError(f"burning subtitles into {dur / 3600:.1f} h at once is refused; export shorter clips")
    plan = crop_plan(asset_id, 0.0, dur, int(info["width"]), int(info["height"]), False)
    sha, rend = source_file(asset_id)
    name = f"subtitled-{asset_id}{'-' + language if language else ''}.mp4"
    with scratch_dir() as tmp, get_blob_store().local_path(sha) as src:
        t = Path(tmp)
        srt = t / "subtitles.srt"
        srt.write_text(to_srt(cues), encoding="utf-8")
        out = t / name
        render_video(Path(src), out, 0.0, dur, plan=plan, srt=srt, threads=threads, progress=progress)
        return save_output(kind="subtitled-video", title=title or f"{info['title']} (subtitled)",
                           sources=[int(asset_id)], task="subtitles", backend="ffmpeg", model="libass",
                           prompt=None, params={"cues": len(cues), "font": FONT_NAME, "source_rendition": rend},
                           language=language, path=out, filename=name, created_by=created_by)
