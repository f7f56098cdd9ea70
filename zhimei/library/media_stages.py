"""Audio, video and image stages of the library pipeline (registered on import).

video/audio: probe → normalize → shots → keyframes (shots and keyframes for video only)
image:       image_meta (EXIF/XMP, limits, pHash near-duplicates, thumbnail)

Every stage replaces the rows it owns for its asset inside `ctx.outputs()`, so a rerun never
duplicates; blobs are content-addressed, and a blob a rerun stops referring to is deleted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from zhimei.jobs import PermanentError, StageContext, stage
from zhimei.library.media.ffmpeg import FFmpegError, MediaUnreadable, ffprobe_json, run_ffmpeg
from zhimei.library.media.images import ImageRefused, decode_oriented, hamming, inspect_image, make_thumbnail
from zhimei.library.media.keyframes import extract_keyframes
from zhimei.library.media.normalize import ProxySpec, normalize_args
from zhimei.library.media.probe import Probe, parse_rate, probe_media
from zhimei.library.media.shots import detect_shots
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Keyframe, Rendition, Shot
from zhimei.store.refs import referenced_blobs

__all__ = ["probe_stage", "normalize_stage", "shots_stage", "keyframes_stage", "image_meta_stage"]


# ---------------------------------------------------------------- helpers

_AUDIO_MIME = {"video/mp4": "audio/mp4", "video/webm": "audio/webm", "video/ogg": "audio/ogg",
               "video/x-matroska": "audio/x-matroska", "video/quicktime": "audio/mp4"}

def _rendition_sha(session: Session, asset_id: int, kind: str) -> str | None:
    return session.scalars(
        select(Rendition.blob_sha).where(Rendition.asset_id == asset_id, Rendition.kind == kind)
    ).first()


def _snapshot(ctx: StageContext) -> dict[str, Any]:
    """What a stage needs to know about its asset, read in a short transaction."""
    with session_scope() as session:
        asset = ctx.asset(session)
        renditions = {r.kind: r.blob_sha for r in session.scalars(
            select(Rendition).where(Rendition.asset_id == asset.id))}
        return {"kind": asset.kind, "duration": asset.duration, "width": asset.width, "height": asset.height,
                "meta": dict(asset.meta or {}), "renditions": renditions,
                "original": renditions.get("original") or asset.sha256}


def _replace_renditions(session: Session, asset_id: int, kinds: list[str], new: list[Rendition]) -> set[str]:
    """Delete the asset's renditions of `kinds`, add `new`; returns the blob shas that were replaced."""
    old = set(session.scalars(select(Rendition.blob_sha).where(Rendition.asset_id == asset_id,
                                                               Rendition.kind.in_(kinds))))
    session.execute(delete(Rendition).where(Rendition.asset_id == asset_id, Rendition.kind.in_(kinds)))
    session.flush()
    session.add_all(new)
    return old - {r.blob_sha for r in new}


def _drop_unreferenced(ctx: StageContext, shas: set[str]) -> None:
    """After a rerun replaced outputs: delete old blobs that nothing refers to any more."""
    if not shas:
        return
    with session_scope() as session:
        refs = referenced_blobs(session)
    for sha in shas - refs:
        ctx.blobs.delete(sha)


def _probe_of(snap: dict[str, Any]) -> Probe:
    meta = snap["meta"].get("probe")
    if not meta:
        raise PermanentError("the media has not been probed (the probe stage did not record its findings)")
    return Probe.from_meta(meta, duration=snap["duration"], width=snap["width"], height=snap["height"])


def _ffmpeg_failure(exc: FFmpegError) -> Exception:
    """Input problems fail at once; machine problems (disk full, killed) are retried."""
    return exc if exc.transient else PermanentError(str(exc))


# ---------------------------------------------------------------- video / audio

@stage("probe", kinds=("video", "audio"), priority=10)
def probe_stage(ctx: StageContext) -> None:
    """Read container, streams, duration and size of the original with ffprobe."""
    snap = _snapshot(ctx)
    with ctx.blobs.local_path(snap["original"]) as path:
        try:
            pr = probe_media(path)
        except MediaUnreadable as exc:
            raise PermanentError(str(exc)) from None
    ctx.progress(80.0, "probed")
    result = {"has_video": pr.has_video, "has_audio": pr.has_audio, "duration": pr.duration}
    with ctx.outputs(result) as session:
        asset = ctx.asset(session)
        meta = dict(asset.meta or {})
        probe_meta = dict(pr.meta)
        if asset.kind == "video" and not pr.has_video:
            probe_meta["note"] = "no video stream: treated as audio"
            asset.kind = "audio"
            asset.mime = _AUDIO_MIME.get(asset.mime, asset.mime)
        elif not pr.has_audio:
            probe_meta["note"] = "no audio stream"
        meta["probe"] = probe_meta
        asset.meta = meta
        asset.duration = pr.duration
        asset.width, asset.height = pr.width, pr.height


@stage("normalize", kinds=("video", "audio"), after=("probe",), priority=20)
def normalize_stage(ctx: StageContext) -> None:
    """One ffmpeg pass: browser proxy (H.264/AAC MP4, or AAC for audio) and 16 kHz mono WAV."""
    snap = _snapshot(ctx)
    pr = _probe_of(snap)
    out_dir = ctx.scratch
    spec = ProxySpec.from_settings(ctx.settings)
    with ctx.blobs.local_path(snap["original"]) as src:
        plan = normalize_args(Path(src), out_dir, pr, spec)
        try:
            written = run_ffmpeg(plan.args, duration=pr.duration,
                                 on_progress=lambda p: ctx.progress(p * 0.95, "transcoding"))
        except FFmpegError as exc:
            raise _ffmpeg_failure(exc) from None
    outputs = [p for p in (plan.proxy, plan.audio16k) if p is not None]
    for p in outputs:
        if not p.is_file() or p.stat().st_size == 0:
            raise PermanentError(f"ffmpeg produced no {p.name}: the media could not be decoded")
    if pr.duration and pr.duration > 2 and written < 0.5 * pr.duration:
        raise PermanentError(f"only {written:.1f} s of {pr.duration:.1f} s could be decoded — the file is damaged "
                             "or truncated")
    proxy_info: dict[str, Any] = {}
    if plan.proxy is not None:
        try:
            data = ffprobe_json(plan.proxy)
        except MediaUnreadable as exc:
            raise RuntimeError(f"the proxy just written is unreadable: {exc}") from None
        vs = next((s for s in data["streams"] if s.get("codec_type") == "video"), None)
        proxy_info = {"duration": float(data["format"].get("duration") or 0) or None,
                      "width": int(vs["width"]) if vs else None, "height": int(vs["height"]) if vs else None,
                      "fps": (parse_rate(vs.get("avg_frame_rate")) if vs else None)}
    ctx.progress(96.0, "storing renditions")
    shas = ctx.stage_blobs(outputs)
    sha_of = dict(zip(outputs, shas, strict=True))
    new: list[Rendition] = []
    if plan.proxy is not None:
        new.append(Rendition(asset_id=ctx.asset_id, kind="proxy", blob_sha=sha_of[plan.proxy], mime=plan.proxy_mime,
                             size_bytes=plan.proxy.stat().st_size, width=proxy_info.get("width"),
                             height=proxy_info.get("height"), duration=proxy_info.get("duration")))
    if plan.audio16k is not None:
        new.append(Rendition(asset_id=ctx.asset_id, kind="audio16k", blob_sha=sha_of[plan.audio16k],
                             mime="audio/wav", size_bytes=plan.audio16k.stat().st_size, duration=written or None))
    result = {"renditions": [r.kind for r in new], "proxy": proxy_info}
    with ctx.outputs(result) as session:
        replaced = _replace_renditions(session, ctx.asset_id, ["proxy", "audio16k"], new)
    _drop_unreferenced(ctx, replaced)


@stage("shots", kinds=("video",), after=("normalize",), priority=30)
def shots_stage(ctx: StageContext) -> None:
    """Shot boundaries on the proxy: hard cuts plus one boundary per black gap (fade or cut through black)."""
    snap = _snapshot(ctx)
    pr = _probe_of(snap)
    proxy = snap["renditions"].get("proxy")
    if not pr.has_video or proxy is None:
        with ctx.outputs({"skipped": "no video stream"}) as session:
            session.execute(delete(Shot).where(Shot.asset_id == ctx.asset_id))
        return
    s = ctx.settings
    with ctx.blobs.local_path(proxy) as path:
        try:
            det = detect_shots(path, threshold=s.shot_threshold, min_seconds=s.shot_min_seconds,
                               dark_level=s.shot_dark_level, progress=lambda p: ctx.progress(p, "finding shots"))
        except FFmpegError as exc:
            raise _ffmpeg_failure(exc) from None
    rows = [Shot(asset_id=ctx.asset_id, seq=i, start=round(det.seconds(a), 4), end=round(det.seconds(b), 4),
                 start_frame=a, end_frame=b) for i, (a, b) in enumerate(det.shots())]
    result = {"shots": len(rows), "fps": det.fps, "frames": det.frame_count, "hard_cuts": det.hard_cuts,
              "black_runs": [list(r) for r in det.black_runs]}
    with ctx.outputs(result) as session:
        session.execute(delete(Shot).where(Shot.asset_id == ctx.asset_id))
        session.flush()
        session.add_all(rows)


@stage("keyframes", kinds=("video",), after=("shots",), priority=40)
def keyframes_stage(ctx: StageContext) -> None:
    """One sharp, non-black keyframe per shot (JPEG + thumbnail), and the asset's thumbnail."""
    snap = _snapshot(ctx)
    pr = _probe_of(snap)
    proxy = snap["renditions"].get("proxy")
    with session_scope() as session:
        shots = [(sh.seq, sh.start, sh.end) for sh in session.scalars(
            select(Shot).where(Shot.asset_id == ctx.asset_id).order_by(Shot.seq))]
    if not pr.has_video or proxy is None or not shots:
        with ctx.outputs({"skipped": "no video stream" if not pr.has_video else "no shots"}) as session:
            session.execute(delete(Keyframe).where(Keyframe.asset_id == ctx.asset_id))
            replaced = _replace_renditions(session, ctx.asset_id, ["thumbnail"], [])
        _drop_unreferenced(ctx, replaced)
        return
    with ctx.blobs.local_path(proxy) as path:
        try:
            files = extract_keyframes(path, [(a, b) for _, a, b in shots], ctx.scratch / "keyframes",
                                      thumb_width=ctx.settings.thumbnail_width, dark_level=ctx.settings.shot_dark_level,
                                      progress=lambda p: ctx.progress(p, "extracting keyframes"))
        except FFmpegError as exc:
            raise _ffmpeg_failure(exc) from None
    if not files:
        raise PermanentError("no keyframe could be decoded from the proxy")
    shas = ctx.stage_blobs([p for f in files for p in (f.path, f.thumb_path)])
    seqs = [sq for sq, _, _ in shots]
    lengths = {sq: b - a for sq, a, b in shots}
    rows = []
    for i, f in enumerate(files):
        rows.append(Keyframe(asset_id=ctx.asset_id, shot_seq=seqs[f.shot_seq], time=f.time, blob_sha=shas[2 * i],
                             thumb_sha=shas[2 * i + 1], width=f.width, height=f.height))
    # The asset's thumbnail: the keyframe of the longest shot.
    best = max(range(len(files)), key=lambda i: (lengths[seqs[files[i].shot_seq]], -i))
    bf = files[best]
    thumb = Rendition(asset_id=ctx.asset_id, kind="thumbnail", blob_sha=shas[2 * best + 1], mime="image/jpeg",
                      size_bytes=bf.thumb_path.stat().st_size, width=bf.thumb_width, height=bf.thumb_height)
    with ctx.outputs({"keyframes": len(rows), "thumbnail_shot": seqs[bf.shot_seq]}) as session:
        old = set()
        for kf in session.scalars(select(Keyframe).where(Keyframe.asset_id == ctx.asset_id)):
            old.update((kf.blob_sha, kf.thumb_sha))
        session.execute(delete(Keyframe).where(Keyframe.asset_id == ctx.asset_id))
        replaced = _replace_renditions(session, ctx.asset_id, ["thumbnail"], [thumb])
        session.flush()
        session.add_all(rows)
    _drop_unreferenced(ctx, (old | replaced) - set(shas))


# ---------------------------------------------------------------- images

@stage("image_meta", kinds=("image",), priority=10)
def image_meta_stage(ctx: StageContext) -> None:
    """Size and frame limits, EXIF and XMP, perceptual hash and near-duplicates, oriented thumbnail."""
    snap = _snapshot(ctx)
    s = ctx.settings
    with ctx.blobs.local_path(snap["original"]) as path:
        try:
            img, info = inspect_image(path, max_pixels=s.max_image_pixels, max_frames=s.max_gif_frames)
            try:
                ctx.progress(20.0, "decoding")
                rgb = decode_oriented(img, max_side=max(1024, 2 * s.thumbnail_width))
            finally:
                img.close()
        except ImageRefused as exc:
            raise PermanentError(str(exc)) from None
    import imagehash

    phash = str(imagehash.phash(rgb))
    data, tw, th = make_thumbnail(rgb, s.thumbnail_width)
    thumb_path = ctx.scratch / "thumbnail.jpg"
    thumb_path.write_bytes(data)
    ctx.progress(70.0, "storing thumbnail")
    (thumb_sha,) = ctx.stage_blobs([thumb_path])
    width, height = (info.height, info.width) if info.orientation in (5, 6, 7, 8) else (info.width, info.height)
    image_meta = {"format": info.format, "mode": info.mode, "frames": info.frames, "orientation": info.orientation,
                  "stored_size": [info.width, info.height]}
    with ctx.outputs({"phash": phash}) as session:
        asset = ctx.asset(session)
        meta = dict(asset.meta or {})
        meta.update(image=image_meta, exif=info.exif, xmp=info.xmp, xmp_fields=info.xmp_fields)
        meta.pop("near_duplicate", None)
        asset.width, asset.height, asset.phash = width, height, phash
        asset.duplicate_of = None
        near = _nearest_image(session, asset.id, phash)
        if near is not None and near[1] <= s.near_duplicate_distance:
            asset.duplicate_of = near[0]
            meta["near_duplicate"] = {"asset_id": near[0], "distance": near[1]}
        asset.meta = meta
        replaced = _replace_renditions(session, asset.id, ["thumbnail"], [Rendition(
            asset_id=asset.id, kind="thumbnail", blob_sha=thumb_sha, mime="image/jpeg", size_bytes=len(data),
            width=tw, height=th)])
    _drop_unreferenced(ctx, replaced)


def _nearest_image(session: Session, asset_id: int, phash: str) -> tuple[int, int] | None:
    """The earlier image asset whose pHash is closest to `phash`: (asset id, Hamming distance)."""
    best: tuple[int, int] | None = None
    rows = session.execute(select(Asset.id, Asset.phash).where(
        Asset.kind == "image", Asset.phash.is_not(None), Asset.id < asset_id, Asset.status != "failed"))
    for other_id, other in rows:
        try:
            d = hamming(phash, other)
        except ValueError:
            continue
        if best is None or d < best[1]:
            best = (other_id, d)
    return best
