"""Understanding stages of the library pipeline (registered on import) — 智能编目.

video:   asr (after normalize); ocr, faces, image_safety (after keyframes)
audio:   asr
image:   ocr, faces, image_safety (after image_meta)
all:     entities, tags, embed (after asr / ocr / extract_text, whichever apply)

Each stage replaces the rows it owns for its asset inside `ctx.outputs()`, so a rerun never duplicates.
A backend that cannot run fails the stage at once with a PermanentError naming it and why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import delete, select

from zhimei.jobs import StageContext, stage
from zhimei.library.understand.asr import archive_hotwords, transcript_rows
from zhimei.library.understand.common import (
    backend,
    backend_id,
    frames_of,
    model_failure,
    pack_vector,
    snapshot,
    working_image,
)
from zhimei.library.understand.embed import asset_vector, embed_texts
from zhimei.library.understand.entities import SourceText, entity_rows
from zhimei.library.understand.faces import DetectedFace, cluster_faces, face_crop, lock_people, prune_empty_people
from zhimei.library.understand.ocr import CaptionTracker, has_cjk_text, ocr_rows
from zhimei.library.understand.safety import safety_row, safety_summary
from zhimei.library.understand.tags import (
    chosen_topics,
    removed_by_people,
    score_topics,
    topic_dicts,
    topic_vectors,
)
from zhimei.store.db import session_scope
from zhimei.store.models import Embedding, Entity, Face, SafetyScore, Segment, Tag
from zhimei.store.refs import referenced_blobs

__all__ = ["asr_stage", "ocr_stage", "faces_stage", "image_safety_stage", "entities_stage", "tags_stage",
           "embed_stage", "TEXT_STAGES", "OCR_MAX_SIDE", "FACES_MAX_SIDE", "SAFETY_MAX_SIDE"]

TEXT_STAGES = ("asr", "ocr", "extract_text")
TEXT_KINDS = ("transcript", "ocr", "paragraph", "caption")
OCR_MAX_SIDE = 2048
"""Images are reduced to this longest side before OCR (news text stays legible; memory stays bounded)."""
FACES_MAX_SIDE = 1600
SAFETY_MAX_SIDE = 1024
MAX_TAG_TEXT = 200_000
"""Characters of an asset's text read for keywords and topics."""


def _model_error() -> type[Exception]:
    from zhimei.models import ModelError

    return ModelError


def _set_meta(asset: Any, key: str, value: Any) -> None:
    meta = dict(asset.meta or {})
    if value is None:
        meta.pop(key, None)
    else:
        meta[key] = value
    asset.meta = meta


def _drop_unreferenced(ctx: StageContext, shas: set[str]) -> None:
    """After a rerun replaced outputs: delete old blobs nothing refers to any more."""
    if not shas:
        return
    with session_scope() as session:
        refs = referenced_blobs(session)
    for sha in shas - refs:
        ctx.blobs.delete(sha)


def _primary_language(tag: str | None) -> str | None:
    return tag.split("-")[0].lower() if tag else None


# ---------------------------------------------------------------- speech

@stage("asr", kinds=("video", "audio"), after=("normalize",), priority=50)
def asr_stage(ctx: StageContext) -> None:
    """Transcribe the 16 kHz audio rendition into time-coded transcript segments (words in meta)."""
    snap = snapshot(ctx)
    wav = snap.renditions.get("audio16k")
    if wav is None:
        note = "no audio track" if not (snap.meta.get("probe") or {}).get("has_audio", False) else "no audio rendition"
        with ctx.outputs({"segments": 0, "note": note}) as session:
            session.execute(delete(Segment).where(Segment.asset_id == ctx.asset_id, Segment.kind == "transcript"))
            _set_meta(ctx.asset(session), "asr", {"segments": 0, "note": note})
        return
    asr = backend("asr")
    with session_scope() as session:
        hotwords = archive_hotwords(session)
    language = _primary_language(snap.language)
    ctx.progress(2.0, "transcribing")

    def tick(fraction: float) -> None:
        ctx.progress(2.0 + 93.0 * fraction, "transcribing")

    model_error = _model_error()
    with ctx.blobs.local_path(wav) as path:
        try:
            try:
                tr = asr.transcribe(path, language=language, hotwords=hotwords or None, progress=tick)
            except model_error as exc:
                if language is None or "cannot transcribe language" not in str(exc):
                    raise
                language = None  # the catalogue's language tag is not one the model knows: detect it
                tr = asr.transcribe(path, language=None, hotwords=hotwords or None, progress=tick)
        except model_error as exc:
            raise model_failure(exc, asr, "speech recognition failed") from None
    rows = transcript_rows(ctx.asset_id, tr)
    info: dict[str, Any] = {"segments": len(rows), "language": tr.language,
                            "language_probability": tr.language_probability, "model": backend_id(asr),
                            "hotwords": len(hotwords)}
    if not rows:
        info["note"] = "no speech found (silence, music or noise)"
    with ctx.outputs(info) as session:
        session.execute(delete(Segment).where(Segment.asset_id == ctx.asset_id, Segment.kind == "transcript"))
        session.flush()
        session.add_all(rows)
        asset = ctx.asset(session)
        _set_meta(asset, "asr", info)
        if rows and tr.language and not asset.language:
            asset.language = tr.language[:16]


# ---------------------------------------------------------------- stills: OCR, faces, safety

@stage("ocr", kinds=("video", "image"), after=("keyframes", "image_meta"), priority=55)
def ocr_stage(ctx: StageContext) -> None:
    """Read on-screen text on each keyframe (or the image); a caption on consecutive keyframes is one segment."""
    snap = snapshot(ctx)
    frames = frames_of(ctx, snap)
    tracker = CaptionTracker()
    ocr = backend("ocr") if frames else None
    model_error = _model_error()
    for i, fr in enumerate(frames):
        ctx.progress(90.0 * i / len(frames), f"reading text {i + 1}/{len(frames)}")
        with working_image(ctx, fr, OCR_MAX_SIDE, f"ocr-{i}") as (path, scale, _img):
            try:
                lines = ocr.read(path)
            except model_error as exc:
                raise model_failure(exc, ocr, "OCR failed") from None
        tracker.add_frame(lines, shot_seq=fr.shot_seq, start=fr.start, end=fr.end, scale=scale)
    rows = ocr_rows(ctx.asset_id, tracker.captions)
    result = {"segments": len(rows), "frames": len(frames), "model": backend_id(ocr) if ocr else None}
    with ctx.outputs(result) as session:
        session.execute(delete(Segment).where(Segment.asset_id == ctx.asset_id, Segment.kind == "ocr"))
        session.flush()
        session.add_all(rows)


@stage("faces", kinds=("video", "image"), after=("keyframes", "image_meta"), priority=56)
def faces_stage(ctx: StageContext) -> None:
    """Detect and describe faces on keyframes (or the image) and cluster them into the library's people."""
    snap = snapshot(ctx)
    frames = frames_of(ctx, snap)
    fb = backend("faces") if frames else None
    model_error = _model_error()
    found: list[DetectedFace] = []
    crops = []
    for i, fr in enumerate(frames):
        ctx.progress(85.0 * i / len(frames), f"looking for faces {i + 1}/{len(frames)}")
        with working_image(ctx, fr, FACES_MAX_SIDE, f"faces-{i}") as (path, scale, img):
            try:
                faces = fb.detect(path, embed=True)
            except model_error as exc:
                raise model_failure(exc, fb, "face detection failed") from None
            for j, f in enumerate(faces):
                left, top, right, bottom = f.box
                local = (left, top, max(1, right - left), max(1, bottom - top))
                crop = ctx.scratch / f"face-{i}-{j}.jpg"
                crop.write_bytes(face_crop(img, local))
                crops.append(crop)
                found.append(DetectedFace(
                    shot_seq=fr.shot_seq, time=fr.time, box=tuple(int(round(v * scale)) for v in local),
                    frame_size=(int(round(img.width * scale)), int(round(img.height * scale))),
                    score=float(f.score),
                    descriptor=np.asarray(f.embedding, dtype=np.float32) if f.embedding else None))
    ctx.progress(90.0, "storing faces")
    shas = ctx.stage_blobs(crops) if crops else []
    for f, sha in zip(found, shas, strict=True):
        f.thumb_sha = sha
    match = float(getattr(fb, "match_distance", 0.6)) if fb else 0.6
    with ctx.outputs({"faces": len(found), "frames": len(frames)}) as session:
        lock_people(session)
        old = list(session.scalars(select(Face).where(Face.asset_id == ctx.asset_id)))
        previous = [{"shot_seq": f.shot_seq, "box": (f.x, f.y, f.w, f.h), "person_id": f.person_id, "pinned": f.pinned}
                    for f in old]
        old_people = {f.person_id for f in old if f.person_id is not None}
        old_thumbs = {f.thumb_sha for f in old if f.thumb_sha}
        session.execute(delete(Face).where(Face.asset_id == ctx.asset_id))
        session.flush()
        rows = cluster_faces(session, ctx.asset_id, found, match_distance=match,
                             model=backend_id(fb) if fb else "", previous=previous)
        prune_empty_people(session, old_people - {r.person_id for r in rows})
        people = sorted({r.person_id for r in rows if r.person_id is not None})
        _set_meta(ctx.asset(session), "faces", {"faces": len(rows), "people": people})
    _drop_unreferenced(ctx, old_thumbs - set(shas))


@stage("image_safety", kinds=("video", "image"), after=("keyframes", "image_meta"), priority=57)
def image_safety_stage(ctx: StageContext) -> None:
    """Explicit-content scores per keyframe (or for the image), and the asset's strongest finding."""
    snap = snapshot(ctx)
    frames = frames_of(ctx, snap)
    sb = backend("image_safety") if frames else None
    model_error = _model_error()
    rows = []
    for i, fr in enumerate(frames):
        ctx.progress(90.0 * i / len(frames), f"checking {i + 1}/{len(frames)}")
        with working_image(ctx, fr, SAFETY_MAX_SIDE, f"safety-{i}") as (path, _scale, _img):
            try:
                res = sb.score(path)
            except model_error as exc:
                raise model_failure(exc, sb, "image safety check failed") from None
        rows.append(safety_row(ctx.asset_id, res, shot_seq=fr.shot_seq, time=fr.time, model=backend_id(sb)))
    summary = safety_summary(rows)
    with ctx.outputs(summary) as session:
        session.execute(delete(SafetyScore).where(SafetyScore.asset_id == ctx.asset_id))
        session.flush()
        session.add_all(rows)
        _set_meta(ctx.asset(session), "safety", summary)


# ---------------------------------------------------------------- text: entities, tags, embeddings

def _sources(ctx: StageContext) -> tuple[str, str | None, list[SourceText]]:
    """(title, language, the asset's text segments) read in one short transaction."""
    with session_scope() as session:
        asset = ctx.asset(session)
        segs = session.scalars(select(Segment).where(Segment.asset_id == ctx.asset_id, Segment.kind.in_(TEXT_KINDS))
                               .order_by(Segment.kind, Segment.seq))
        sources = [SourceText(segment_id=s.id, source=s.kind, text=s.text or "", language=s.language,
                              start=s.start, end=s.end, words=tuple((s.meta or {}).get("words") or ()))
                   for s in segs if (s.text or "").strip()]
        return asset.title or "", asset.language, sources


ALL_KINDS = ("article", "image", "audio", "video")


@stage("entities", kinds=ALL_KINDS, after=TEXT_STAGES, priority=70)
def entities_stage(ctx: StageContext) -> None:
    """People, places, organisations and times named in the title and every segment (zh and en)."""
    title, language, sources = _sources(ctx)
    if title.strip():
        sources.insert(0, SourceText(segment_id=None, source="title", text=title, language=None))
    eb = backend("entities") if sources else None
    model_error = _model_error()
    try:
        rows = entity_rows(ctx.asset_id, sources, lambda text, lang: eb.extract(text, lang),
                           tick=lambda f: ctx.progress(90.0 * f, "finding names")) if sources else []
    except model_error as exc:
        raise model_failure(exc, eb, "entity recognition failed") from None
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.kind] = counts.get(r.kind, 0) + 1
    with ctx.outputs({"entities": len(rows), "by_kind": counts}) as session:
        session.execute(delete(Entity).where(Entity.asset_id == ctx.asset_id))
        session.flush()
        session.add_all(rows)


def _keywords(kb: Any, sources: list[SourceText], title: str) -> dict[str, float]:
    """Keywords per script (Chinese text and other text separately), best weight per keyword."""
    zh = "\n".join(s.text for s in sources if has_cjk_text(s.text))[:MAX_TAG_TEXT]
    other = "\n".join(s.text for s in sources if not has_cjk_text(s.text))[:MAX_TAG_TEXT]
    if has_cjk_text(title):
        zh = f"{title}\n{zh}" if zh else title
    elif title:
        other = f"{title}\n{other}" if other else title
    found: dict[str, float] = {}
    for text, lang in ((zh, "zh"), (other, None)):
        if len(text.strip()) < 2:
            continue
        for k in kb.extract(text, lang, top_k=8):
            word = " ".join(k.text.split())
            if len(word) < 2 or word.replace(".", "").isdigit() or len(word) > 100:
                continue
            found[word] = max(found.get(word, 0.0), float(k.weight))
    return dict(sorted(found.items(), key=lambda kv: -kv[1])[:10])


@stage("tags", kinds=ALL_KINDS, after=TEXT_STAGES, priority=72)
def tags_stage(ctx: StageContext) -> None:
    """Keyword tags and topic tags from the controlled vocabulary; editors' tags and removals are kept."""
    title, _language, sources = _sources(ctx)
    text = "\n".join(s.text for s in sources)[:MAX_TAG_TEXT]
    with session_scope() as session:
        topics = topic_dicts(session, enabled_only=True)
    keywords: dict[str, float] = {}
    chosen = []
    scores = []
    model_error = _model_error()
    if text.strip() or title.strip():
        kb = backend("keywords")
        emb = backend("embedder")
        try:
            keywords = _keywords(kb, sources, title)
            ctx.progress(40.0, "matching topics")
            if topics:
                tvecs = topic_vectors(emb, topics)
                avec = emb.embed_passages([(f"{title}\n{text}")[:2000]])[0]
                scores = score_topics(topics, text, title, avec, tvecs)
                chosen = chosen_topics(scores)
        except model_error as exc:
            raise model_failure(exc, emb, "tagging failed") from None
    result = {"keywords": list(keywords), "topics": [t.name for t in chosen],
              "topic_scores": [{"name": s.name, "score": s.score, "keyword": s.keyword, "semantic": s.semantic,
                                "hits": s.hits} for s in scores[:5]]}
    with ctx.outputs(result) as session:
        removed = removed_by_people(session, ctx.asset_id)
        session.execute(delete(Tag).where(Tag.asset_id == ctx.asset_id, Tag.origin.in_(("auto", "topic"))))
        session.flush()
        taken = {n.casefold() for n in session.scalars(select(Tag.name).where(Tag.asset_id == ctx.asset_id))}
        new: list[tuple[str, str, float]] = [(t.name, "topic", t.score) for t in chosen]
        new += [(k, "auto", round(w, 4)) for k, w in keywords.items()]
        for name, origin, score in new:
            key = name[:200].casefold()
            if key in taken or key in removed:
                continue
            taken.add(key)
            session.add(Tag(asset_id=ctx.asset_id, name=name[:200], origin=origin, score=score, created_by="zhimei"))
        _set_meta(ctx.asset(session), "topics", result["topic_scores"] or None)


@stage("embed", kinds=ALL_KINDS, after=TEXT_STAGES, priority=75)
def embed_stage(ctx: StageContext) -> None:
    """A vector per text segment and one for the asset (segments' mean plus title), for semantic search."""
    title, _language, sources = _sources(ctx)
    texts = [s.text for s in sources]
    emb = backend("embedder") if (texts or title.strip()) else None
    model_error = _model_error()
    vecs = None
    title_vec = None
    if emb is not None:
        try:
            vecs = embed_texts(emb, texts, tick=lambda f: ctx.progress(90.0 * f, "embedding"))
            title_vec = emb.embed_passages([title])[0] if title.strip() else None
        except model_error as exc:
            raise model_failure(exc, emb, "embedding failed") from None
    model = backend_id(emb) if emb is not None else ""
    rows = []
    if vecs is not None:
        for src, v in zip(sources, vecs, strict=True):
            rows.append(Embedding(owner_kind="segment", owner_id=src.segment_id, asset_id=ctx.asset_id,
                                  segment_id=src.segment_id, model=model, dim=int(v.size), vector=pack_vector(v)))
        av = asset_vector(vecs, title_vec)
        if av is not None:
            rows.append(Embedding(owner_kind="asset", owner_id=ctx.asset_id, asset_id=ctx.asset_id, segment_id=None,
                                  model=model, dim=int(av.size), vector=pack_vector(av)))
    with ctx.outputs({"segments": len(texts), "model": model or None}) as session:
        session.execute(delete(Embedding).where(Embedding.asset_id == ctx.asset_id, Embedding.model == model)
                        if model else delete(Embedding).where(Embedding.asset_id == ctx.asset_id))
        session.flush()
        session.add_all(rows)
