"""What every understanding stage shares: backends that fail clearly, a short snapshot of the asset,
downscaled working copies of images, and float32 vectors as bytes."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select

from zhimei.jobs import PermanentError, StageContext
from zhimei.library.media.images import ImageRefused, decode_oriented, inspect_image
from zhimei.models import backend_id  # re-exported: the stages name their producers with it
from zhimei.store.db import session_scope
from zhimei.store.models import Keyframe, Rendition

__all__ = ["backend", "model_failure", "Snapshot", "snapshot", "Frame", "frames_of", "working_image",
           "pack_vector", "unpack_vector", "backend_id"]


def backend(capability: str) -> Any:
    """The configured model backend for a capability; PermanentError naming it and why when it cannot run."""
    from zhimei.models import NotReady, get_backend

    try:
        return get_backend(capability)
    except NotReady as exc:
        raise PermanentError(f"the {capability} model is not available: {exc}") from None


def model_failure(exc: Exception, b: Any, what: str) -> Exception:
    """A backend's ModelError on one input: permanent for a local model (the input is the problem),
    retried for a remote one (the service may come back)."""
    msg = f"{what}: {exc}"
    if getattr(b, "remote", False):
        return RuntimeError(msg)
    return PermanentError(msg)


@dataclass
class Snapshot:
    """What a stage needs to know about its asset, read in one short transaction."""

    kind: str
    title: str
    language: str | None
    width: int | None
    height: int | None
    duration: float | None
    meta: dict[str, Any]
    renditions: dict[str, str] = field(default_factory=dict)
    original: str | None = None


def snapshot(ctx: StageContext) -> Snapshot:
    """The asset's kind, title, language, size, meta and rendition blobs."""
    with session_scope() as session:
        a = ctx.asset(session)
        rends = {r.kind: r.blob_sha for r in session.scalars(select(Rendition).where(Rendition.asset_id == a.id))}
        return Snapshot(kind=a.kind, title=a.title or "", language=a.language, width=a.width, height=a.height,
                        duration=a.duration, meta=dict(a.meta or {}), renditions=rends,
                        original=rends.get("original") or a.sha256)


@dataclass(frozen=True)
class Frame:
    """A still to look at: a video keyframe (shot_seq, time) or the image itself (both None)."""

    sha: str
    shot_seq: int | None
    time: float | None
    start: float | None = None
    end: float | None = None


def frames_of(ctx: StageContext, snap: Snapshot) -> list[Frame]:
    """The keyframes of a video (with their shot spans), or the original of an image."""
    if snap.kind == "image":
        return [Frame(sha=snap.original, shot_seq=None, time=None)] if snap.original else []
    from zhimei.store.models import Shot

    with session_scope() as session:
        spans = {s.seq: (s.start, s.end) for s in session.scalars(select(Shot).where(Shot.asset_id == ctx.asset_id))}
        kfs = list(session.scalars(select(Keyframe).where(Keyframe.asset_id == ctx.asset_id)
                                   .order_by(Keyframe.shot_seq)))
        return [Frame(sha=k.blob_sha, shot_seq=k.shot_seq, time=k.time, start=spans.get(k.shot_seq, (k.time,))[0],
                      end=spans.get(k.shot_seq, (None, k.time))[1]) for k in kfs]


@contextmanager
def working_image(ctx: StageContext, frame: Frame, max_side: int, name: str):
    """Yield (path of an oriented RGB PNG no larger than `max_side`, scale to original pixels, PIL image).

    Huge images are reduced while decoding (JPEG draft) and then resized, so a backend never decodes
    the full original; ImageRefused (corrupt, over the pixel limit) becomes a PermanentError."""
    s = ctx.settings
    with ctx.blobs.local_path(frame.sha) as src:
        try:
            img, _info = inspect_image(Path(src), max_pixels=s.max_image_pixels, max_frames=max(1, s.max_gif_frames))
            try:
                rgb = decode_oriented(img, max_side=max_side)
            finally:
                img.close()
        except ImageRefused as exc:
            raise PermanentError(str(exc)) from None
    full = _oriented_size(_info)
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    scale = full[0] / rgb.size[0] if rgb.size[0] else 1.0
    out = ctx.scratch / f"{name}.png"
    rgb.save(out, "PNG", compress_level=1)
    try:
        yield out, scale, rgb
    finally:
        out.unlink(missing_ok=True)


def _oriented_size(info: Any) -> tuple[int, int]:
    return (info.height, info.width) if info.orientation in (5, 6, 7, 8) else (info.width, info.height)


def pack_vector(v: Any) -> bytes:
    """float32 little-endian bytes of a vector."""
    return np.asarray(v, dtype="<f4").ravel().tobytes()


def unpack_vector(data: bytes | None) -> np.ndarray:
    """The float32 vector stored by `pack_vector` (empty for None)."""
    if not data:
        return np.zeros(0, dtype=np.float32)
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
