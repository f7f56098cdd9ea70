"""The understanding of one asset as plain data (asset detail, REST API and pages share it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.library.understand.entities import summarise_entities
from zhimei.library.understand.people import asset_people
from zhimei.library.understand.safety import safety_summary
from zhimei.library.understand.tags import tag_changes
from zhimei.store.models import Embedding, Entity, Face, SafetyScore, Segment, Tag

__all__ = ["understanding", "asset_tags", "asset_entities", "asset_faces", "asset_safety", "transcript"]


def asset_tags(session: Session, asset_id: int) -> list[dict[str, Any]]:
    """The asset's tags: topics first, then editors' tags, then keywords; by score within each."""
    order = {"topic": 0, "user": 1, "auto": 2}
    tags = session.scalars(select(Tag).where(Tag.asset_id == asset_id))
    out = [{"name": t.name, "origin": t.origin, "score": t.score, "created_by": t.created_by or None,
            "created_at": t.created_at.isoformat() if t.created_at else None} for t in tags]
    return sorted(out, key=lambda t: (order.get(t["origin"], 3), -(t["score"] or 0.0), t["name"]))


def asset_entities(session: Session, asset_id: int) -> dict[str, Any]:
    """Entities grouped (kind, text, count, first time) and every mention."""
    rows = list(session.scalars(select(Entity).where(Entity.asset_id == asset_id)
                                .order_by(Entity.start, Entity.segment_id, Entity.char_start)))
    mentions = [{"kind": e.kind, "text": e.text, "source": e.source, "segment_id": e.segment_id,
                 "char_start": e.char_start, "char_end": e.char_end, "start": e.start, "end": e.end} for e in rows]
    return {"summary": summarise_entities(rows), "mentions": mentions}


def asset_faces(session: Session, asset_id: int) -> list[dict[str, Any]]:
    """Every face in the asset with its person."""
    rows = session.scalars(select(Face).where(Face.asset_id == asset_id).order_by(Face.time, Face.id))
    return [{"id": f.id, "person_id": f.person_id, "shot": f.shot_seq, "time": f.time, "box": [f.x, f.y, f.w, f.h],
             "frame": [f.frame_width, f.frame_height], "score": f.score, "thumbnail": f.thumb_sha,
             "pinned": f.pinned} for f in rows]


def asset_safety(session: Session, asset_id: int) -> dict[str, Any]:
    """Safety scores per image/keyframe and the summary."""
    rows = list(session.scalars(select(SafetyScore).where(SafetyScore.asset_id == asset_id)
                                .order_by(SafetyScore.shot_seq, SafetyScore.id)))
    out = safety_summary(rows)
    out["frames"] = [{"shot": r.shot_seq, "time": r.time, "max": r.max_score, "scores": r.scores} for r in rows]
    return out


def transcript(session: Session, asset_id: int, with_words: bool = True) -> list[dict[str, Any]]:
    """The transcript lines with times (and words)."""
    rows = session.scalars(select(Segment).where(Segment.asset_id == asset_id, Segment.kind == "transcript")
                           .order_by(Segment.seq))
    out = []
    for s in rows:
        d = {"seq": s.seq, "start": s.start, "end": s.end, "text": s.text, "language": s.language}
        if with_words:
            d["words"] = (s.meta or {}).get("words", [])
        out.append(d)
    return out


def understanding(session: Session, asset_id: int) -> dict[str, Any]:
    """People, faces, entities, tags with their history, safety and what was embedded, for one asset."""
    emb = dict(session.execute(select(Embedding.owner_kind, func.count()).where(Embedding.asset_id == asset_id)
                               .group_by(Embedding.owner_kind)).all())
    models = sorted(set(session.scalars(select(Embedding.model).where(Embedding.asset_id == asset_id).distinct())))
    return {
        "people": asset_people(session, asset_id),
        "faces": asset_faces(session, asset_id),
        "entities": asset_entities(session, asset_id),
        "tag_changes": tag_changes(session, asset_id),
        "safety": asset_safety(session, asset_id),
        "embeddings": {"segments": emb.get("segment", 0), "asset": emb.get("asset", 0), "models": models},
    }
