"""Reading the library: asset lists with filters, and one asset's full detail (CLI, API and pages share it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.store.models import Asset, Job, Keyframe, Rendition, Segment, Shot, Tag

__all__ = ["asset_summary", "asset_detail", "list_assets", "asset_jobs"]


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def asset_summary(a: Asset, thumb_sha: str | None = None) -> dict[str, Any]:
    """The fields shown in lists and grids."""
    return {
        "id": a.id, "kind": a.kind, "title": a.title, "status": a.status, "language": a.language,
        "source": a.source, "filename": a.filename, "mime": a.mime, "size_bytes": a.size_bytes,
        "duration": a.duration, "width": a.width, "height": a.height, "sha256": a.sha256,
        "failure_reason": a.failure_reason, "duplicate_of": a.duplicate_of, "parent_id": a.parent_id,
        "created_at": _iso(a.created_at), "published_at": _iso(a.published_at), "thumbnail": thumb_sha,
    }


def list_assets(session: Session, *, kind: str | None = None, status: str | None = None,
                source: str | None = None, q: str | None = None, limit: int = 60,
                offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Assets newest first with their thumbnail, and the total count matching the filters."""
    stmt = select(Asset)
    if kind:
        stmt = stmt.where(Asset.kind == kind)
    if status:
        stmt = stmt.where(Asset.status == status)
    if source:
        stmt = stmt.where(Asset.source == source)
    if q:
        stmt = stmt.where(Asset.title.icontains(q[:200], autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Asset.id.desc()).limit(max(1, min(limit, 500))).offset(max(0, offset)))
    assets = list(rows)
    thumbs = dict(session.execute(
        select(Rendition.asset_id, Rendition.blob_sha)
        .where(Rendition.kind == "thumbnail", Rendition.asset_id.in_([a.id for a in assets]))
    ).all()) if assets else {}
    return [asset_summary(a, thumbs.get(a.id)) for a in assets], total


def asset_jobs(session: Session, asset_id: int) -> list[dict[str, Any]]:
    """The asset's jobs in stage order."""
    jobs = session.scalars(select(Job).where(Job.asset_id == asset_id).order_by(Job.id))
    return [{
        "id": j.id, "stage": j.stage, "status": j.status, "progress": round(j.progress, 1),
        "attempts": j.attempts, "max_attempts": j.max_attempts, "message": j.message,
        "last_error": j.last_error, "depends_on": j.depends_on, "worker": j.worker,
        "started_at": _iso(j.started_at), "finished_at": _iso(j.finished_at),
        "heartbeat_at": _iso(j.heartbeat_at),
    } for j in jobs]


def asset_detail(session: Session, asset_id: int) -> dict[str, Any] | None:
    """Everything known about one asset: metadata, renditions, shots, keyframes, segments, tags, jobs."""
    a = session.get(Asset, asset_id)
    if a is None:
        return None
    rends = session.scalars(select(Rendition).where(Rendition.asset_id == asset_id).order_by(Rendition.id))
    renditions = [{"kind": r.kind, "sha256": r.blob_sha, "mime": r.mime, "size_bytes": r.size_bytes,
                   "width": r.width, "height": r.height, "duration": r.duration} for r in rends]
    thumb = next((r["sha256"] for r in renditions if r["kind"] == "thumbnail"), None)
    out = asset_summary(a, thumb)
    out.update({
        "rights": a.rights, "licence": a.licence, "external_id": a.external_id, "meta": a.meta or {},
        "updated_at": _iso(a.updated_at), "renditions": renditions,
        "shots": [{"seq": s.seq, "start": s.start, "end": s.end, "start_frame": s.start_frame,
                   "end_frame": s.end_frame}
                  for s in session.scalars(select(Shot).where(Shot.asset_id == asset_id).order_by(Shot.seq))],
        "keyframes": [{"shot": k.shot_seq, "time": k.time, "sha256": k.blob_sha, "thumbnail": k.thumb_sha,
                       "width": k.width, "height": k.height}
                      for k in session.scalars(select(Keyframe).where(Keyframe.asset_id == asset_id)
                                               .order_by(Keyframe.shot_seq))],
        "segments": [{"id": s.id, "kind": s.kind, "seq": s.seq, "start": s.start, "end": s.end,
                      "char_start": s.char_start, "char_end": s.char_end, "text": s.text,
                      "language": s.language}
                     for s in session.scalars(select(Segment).where(Segment.asset_id == asset_id)
                                              .order_by(Segment.kind, Segment.seq))],
        "tags": [{"name": t.name, "origin": t.origin, "score": t.score}
                 for t in session.scalars(select(Tag).where(Tag.asset_id == asset_id).order_by(Tag.name))],
        "children": list(session.scalars(select(Asset.id).where(Asset.parent_id == asset_id))),
        "jobs": asset_jobs(session, asset_id),
    })
    # understanding: tags with who/when, people and faces, entities, tag history, safety, embeddings
    from zhimei.library.understand.catalogue import asset_tags, understanding

    out["tags"] = asset_tags(session, asset_id)
    out.update(understanding(session, asset_id))
    return out
