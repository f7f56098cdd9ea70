"""Covers (智能封面/海报): rank a video's keyframes and compose titled covers in 16:9, 9:16 and 3:4.

Ranking (each part in [0, 1], weights in `WEIGHTS`):
- sharpness: variance of a Laplacian of the grey image (log-scaled), blurred frames lose;
- exposure: mean brightness near the middle and few clipped (pure black/white) pixels;
- faces: detected faces on the frame's shot (Face rows), bigger is better — people sell a story;
- text: little on-screen text (OCR segments on the shot) — burned-in captions clash with a title.

Each cover crops the frame to the aspect (centred on the faces of its shot, else the centre), scales it to a
standard size and draws the title in Noto Sans CJK Bold on a dark band; variants use different frames and
band positions for A/B tests. Files are written atomically and saved as image assets with lineage.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from zhimei.settings import get_settings
from zhimei.store.blobs import get_blob_store
from zhimei.store.db import read_scope
from zhimei.store.models import Face, Keyframe, Segment
from zhimei.studio.errors import StudioError
from zhimei.studio.media.subtitles import _join, _zh_units, asset_info, is_cjk_text

__all__ = ["FrameScore", "rank_keyframes", "compose_cover", "make_covers", "ASPECTS", "WEIGHTS", "FONT_FILE",
           "MAX_VARIANTS"]

ASPECTS = {"16:9": (1280, 720), "9:16": (720, 1280), "3:4": (900, 1200)}
WEIGHTS = {"sharpness": 0.35, "exposure": 0.25, "faces": 0.25, "text": 0.15}
FONT_FILE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FONT_INDEX_SC = 2
"""Face index of Noto Sans CJK SC inside the collection (fc-list: JP 0, KR 1, SC 2, TC 3, HK 4)."""
MAX_VARIANTS = 6
LAYOUTS = ("bottom", "top", "middle")


@dataclass
class FrameScore:
    """A keyframe with its score and the parts of it."""

    keyframe_id: int
    shot_seq: int
    time: float
    blob_sha: str
    thumb_sha: str
    score: float
    sharpness: float
    exposure: float
    faces: float
    text: float
    face_boxes: list[tuple[float, float, float, float]]  # (x, y, w, h) as fractions of the frame

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("score", "sharpness", "exposure", "faces", "text", "time"):
            d[k] = round(float(d[k]), 3)
        d["thumb_url"] = f"/api/blobs/{self.thumb_sha}"
        return d


def _grey(path: Path, side: int = 320) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    with Image.open(path) as im:
        im = im.convert("L")
        im.thumbnail((side, side))
        return np.asarray(im, dtype=np.float32)


def _sharpness(g: np.ndarray) -> float:
    lap = (-4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:])
    v = float(lap.var()) if lap.size else 0.0
    return float(np.clip(math.log10(1.0 + v) / 3.5, 0.0, 1.0))  # var 10 → .3, 100 → .57, 3000 → 1


def _exposure(g: np.ndarray) -> float:
    mean = float(g.mean()) / 255.0
    clipped = float(((g <= 5) | (g >= 250)).mean())
    return float(np.clip(1.0 - abs(mean - 0.5) * 1.6 - clipped, 0.0, 1.0))


def rank_keyframes(asset_id: int) -> list[FrameScore]:
    """The asset's keyframes, best cover candidates first. StudioError when it has none."""
    info = asset_info(asset_id)
    with read_scope() as session:
        kfs = list(session.execute(select(Keyframe.id, Keyframe.shot_seq, Keyframe.time, Keyframe.blob_sha,
                                          Keyframe.thumb_sha, Keyframe.width, Keyframe.height)
                                   .where(Keyframe.asset_id == int(asset_id)).order_by(Keyframe.time)))
        faces = list(session.execute(select(Face.shot_seq, Face.x, Face.y, Face.w, Face.h, Face.frame_width,
                                            Face.frame_height).where(Face.asset_id == int(asset_id))))
        ocr = list(session.execute(select(Segment.meta, Segment.text).where(Segment.asset_id == int(asset_id),
                                                                            Segment.kind == "ocr")))
    if not kfs:
        raise StudioError(f"asset {asset_id} has no keyframes (status {info['status']}): covers need a processed "
                          "video")
    store = get_blob_store()
    out: list[FrameScore] = []
    for k in kfs:
        fw, fh = float(info["width"] or k.width), float(info["height"] or k.height)
        boxes = [((f.x / (f.frame_width or fw)), (f.y / (f.frame_height or fh)), f.w / (f.frame_width or fw),
                  f.h / (f.frame_height or fh)) for f in faces if f.shot_seq == k.shot_seq]
        face_part = float(np.clip(sum(b[2] * b[3] for b in boxes) * 12.0, 0.0, 1.0)) if boxes else 0.0
        text_area = 0.0
        for meta, _text in ocr:
            meta = meta or {}
            if k.shot_seq in (meta.get("shots") or []) and meta.get("box"):
                x0, y0, x1, y1 = (list(meta["box"]) + [0, 0, 0, 0])[:4]
                text_area += max(0.0, (x1 - x0) * (y1 - y0)) / max(1.0, fw * fh)
        text_part = float(np.clip(1.0 - text_area * 6.0, 0.0, 1.0))
        try:
            with store.local_path(k.blob_sha) as p:
                g = _grey(Path(p))
        except Exception:  # a missing/corrupt keyframe blob: rank it last instead of failing the page
            g = np.zeros((2, 2), dtype=np.float32)
        sharp, expo = _sharpness(g), _exposure(g)
        score = (WEIGHTS["sharpness"] * sharp + WEIGHTS["exposure"] * expo + WEIGHTS["faces"] * face_part
                 + WEIGHTS["text"] * text_part)
        out.append(FrameScore(k.id, k.shot_seq, float(k.time), k.blob_sha, k.thumb_sha, score, sharp, expo,
                              face_part, text_part, boxes))
    out.sort(key=lambda f: -f.score)
    return out


def _font(size: int) -> Any:
    from PIL import ImageFont  # noqa: PLC0415

    try:
        return ImageFont.truetype(FONT_FILE, size, index=FONT_INDEX_SC)
    except OSError:
        raise StudioError(f"the cover font is missing: {FONT_FILE} (apt-get install fonts-noto-cjk)") from None


def _wrap(title: str, font: Any, width: float) -> list[str]:
    """Greedy lines no wider than `width`: Chinese breaks between characters, Latin words stay whole."""
    units = _zh_units(title, words=False) if is_cjk_text(title) else title.split()
    lines: list[str] = []
    cur = ""
    for u in units:
        cand = _join([cur, u]) if cur else u
        if cur and font.getlength(cand) > width:
            lines.append(cur)
            cur = u
        else:
            cur = cand
    if cur:
        lines.append(cur)
    return lines


def compose_cover(frame_path: Path, title: str, aspect: str, out: Path, *, layout: str = "bottom",
                  faces: list[tuple[float, float, float, float]] | None = None) -> Path:
    """Crop the frame to `aspect` (on the faces, else the centre), scale it and draw the title; atomic JPEG."""
    from PIL import Image, ImageDraw  # noqa: PLC0415

    if aspect not in ASPECTS:
        raise StudioError(f"unknown aspect {aspect!r}: {', '.join(ASPECTS)}")
    if layout not in LAYOUTS:
        raise StudioError(f"unknown layout {layout!r}: {', '.join(LAYOUTS)}")
    title = " ".join((title or "").split())
    if not title:
        raise StudioError("a cover needs a title")
    W, H = ASPECTS[aspect]
    with Image.open(frame_path) as im:
        im = im.convert("RGB")
        fw, fh = im.size
        want = W / H
        if fw / fh > want:  # too wide: choose x
            cw, ch = int(fh * want), fh
        else:
            cw, ch = fw, int(fw / want)
        cx, cy = fw / 2, fh / 2
        if faces:
            area = sum(b[2] * b[3] for b in faces) or 1.0
            cx = sum((b[0] + b[2] / 2) * fw * b[2] * b[3] for b in faces) / area
            cy = sum((b[1] + b[3] / 2) * fh * b[2] * b[3] for b in faces) / area
        x0 = int(min(max(0, cx - cw / 2), fw - cw))
        y0 = int(min(max(0, cy - ch / 2), fh - ch))
        img = im.crop((x0, y0, x0 + cw, y0 + ch)).resize((W, H), Image.LANCZOS)
    size = max(24, int(min(W, H) * 0.075))
    font = _font(size)
    lines = _wrap(title, font, W * 0.86)
    while len(lines) > 3 and size > 20:
        size = int(size * 0.85)
        font = _font(size)
        lines = _wrap(title, font, W * 0.86)
    if len(lines) > 3:
        lines = lines[:3]
        lines[-1] = lines[-1][:-1] + "…"
    line_h = int(size * 1.3)
    band_h = line_h * len(lines) + int(size * 0.9)
    band_y = {"bottom": H - band_h - int(H * 0.06), "top": int(H * 0.06), "middle": (H - band_h) // 2}[layout]
    overlay = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    ImageDraw.Draw(overlay).rectangle((0, band_y, W, band_y + band_h), fill=(10, 14, 24, 170))
    img = Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")
    draw = ImageDraw.Draw(img)
    y = band_y + int(size * 0.45)
    for ln in lines:
        w = font.getlength(ln)
        draw.text(((W - w) / 2, y), ln, font=font, fill=(255, 255, 255), stroke_width=max(1, size // 24),
                  stroke_fill=(0, 0, 0))
        y += line_h
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".jpg", dir=out.parent)
    os.close(fd)
    try:
        img.save(tmp, "JPEG", quality=90, optimize=True)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def make_covers(asset_id: int, title: str, *, aspects: tuple[str, ...] | list[str] = tuple(ASPECTS),
                variants: int = 3, created_by: str = "studio",
                progress: Callable[[float, str], None] | None = None) -> list[dict[str, Any]]:
    """`variants` covers per aspect from the best-ranked keyframes (different frames, band positions), each
    saved as a new image asset with lineage. Returns [{asset_id, aspect, variant, keyframe, layout, score}]."""
    from zhimei.studio.outputs import save_output  # noqa: PLC0415

    if not 1 <= variants <= MAX_VARIANTS:
        raise StudioError(f"variants must be between 1 and {MAX_VARIANTS}")
    bad = [a for a in aspects if a not in ASPECTS]
    if bad or not aspects:
        raise StudioError(f"unknown aspect(s) {', '.join(bad) or '(none)'}: pick from {', '.join(ASPECTS)}")
    title = " ".join((title or "").split())
    if not title:
        raise StudioError("a cover needs a title")
    if len(title) > 120:
        raise StudioError(f"the title is {len(title)} characters; covers take at most 120")
    ranked = rank_keyframes(asset_id)
    info = asset_info(asset_id)
    picks = [ranked[i % len(ranked)] for i in range(variants)]
    out: list[dict[str, Any]] = []
    total = len(aspects) * variants
    root = get_settings().home / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="studio-covers-", dir=root) as tmp:
        for n, (aspect, v) in enumerate([(a, v) for a in aspects for v in range(variants)]):
            fr = picks[v]
            layout = LAYOUTS[v % len(LAYOUTS)]
            if progress:
                progress(100.0 * n / total, f"cover {n + 1}/{total}")
            name = f"cover-{asset_id}-{aspect.replace(':', 'x')}-v{v + 1}.jpg"
            with get_blob_store().local_path(fr.blob_sha) as src:
                path = compose_cover(Path(src), title, aspect, Path(tmp) / name, layout=layout, faces=fr.face_boxes)
            new = save_output(kind="cover", title=f"{title} — cover {aspect} v{v + 1}", sources=[int(asset_id)],
                              task="covers", backend="pillow", model="keyframe-rank v1", prompt=None,
                              params={"aspect": aspect, "variant": v + 1, "layout": layout,
                                      "keyframe_id": fr.keyframe_id,
                                      "time": round(fr.time, 3), "frame_score": round(fr.score, 3),
                                      "cover_title": title},
                              language=info["language"], path=path, filename=name, created_by=created_by)
            out.append({"asset_id": new, "aspect": aspect, "variant": v + 1, "layout": layout,
                        "keyframe_id": fr.keyframe_id, "time": round(fr.time, 3), "score": round(fr.score, 3),
                        "media_url": f"/api/assets/{new}/media/original", "url": f"/assets/{new}"})
    if progress:
        progress(100.0, "done")
    return out
