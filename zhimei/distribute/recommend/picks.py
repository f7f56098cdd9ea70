"""Editors' picks (编辑推荐): assets the newsroom pushes into recommendations, per channel or everywhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from zhimei.store.models import Asset, utcnow
from zhimei.store.models_recommend import EditorPick

__all__ = ["RecommendError", "add_pick", "remove_pick", "list_picks", "active_picks", "check_channel"]

MAX_CHANNEL = 64


class RecommendError(ValueError):
    """Bad input (422) or a missing thing (404); the message names the problem."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def check_channel(channel: Any) -> str:
    """A channel name ('' = every channel); RecommendError when not a short text."""
    if channel is None:
        return ""
    if not isinstance(channel, str) or len(channel) > MAX_CHANNEL:
        raise RecommendError(f"channel must be a name of at most {MAX_CHANNEL} characters")
    return channel.strip()


def _pick_dict(p: EditorPick, title: str = "") -> dict[str, Any]:
    return {"id": p.id, "asset_id": p.asset_id, "title": title, "channel": p.channel, "rank": p.rank,
            "note": p.note, "starts_at": p.starts_at.isoformat() if p.starts_at else None,
            "ends_at": p.ends_at.isoformat() if p.ends_at else None, "created_by": p.created_by,
            "created_at": p.created_at.isoformat()}


def add_pick(session: Session, asset_id: int, *, channel: str | None = None, rank: int = 0, note: str = "",
             starts_at: datetime | None = None, ends_at: datetime | None = None, actor: str = "") -> dict[str, Any]:
    """Pick an asset for a channel ('' or None: every channel). Picking it again updates the pick (idempotent).
    RecommendError 404 for an unknown asset, 422 for a bad window or rank."""
    channel = check_channel(channel)
    if not isinstance(asset_id, int) or asset_id < 1:
        raise RecommendError("asset_id must be a positive integer")
    if not isinstance(rank, int) or not -1000 <= rank <= 1000:
        raise RecommendError("rank must be an integer between -1000 and 1000")
    if starts_at and ends_at and ends_at <= starts_at:
        raise RecommendError("ends_at must be after starts_at")
    if len(note or "") > 500:
        raise RecommendError("note is longer than 500 characters")
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise RecommendError(f"no asset {asset_id}", 404)
    pick = session.scalars(select(EditorPick).where(EditorPick.asset_id == asset_id,
                                                    EditorPick.channel == channel)).first()
    if pick is None:
        pick = EditorPick(asset_id=asset_id, channel=channel, created_by=actor[:100])
        session.add(pick)
    pick.rank, pick.note, pick.starts_at, pick.ends_at = rank, note or "", starts_at, ends_at
    session.flush()
    return _pick_dict(pick, asset.title)


def remove_pick(session: Session, pick_id: int) -> dict[str, Any]:
    """Remove a pick; RecommendError 404 when there is none with that id."""
    pick = session.get(EditorPick, pick_id)
    if pick is None:
        raise RecommendError(f"no editor's pick {pick_id}", 404)
    out = _pick_dict(pick)
    session.delete(pick)
    session.flush()
    return out


def list_picks(session: Session, channel: str | None = None) -> list[dict[str, Any]]:
    """Every pick (of one channel and the all-channel ones when `channel` is given), best rank first."""
    q = select(EditorPick, Asset.title).join(Asset, Asset.id == EditorPick.asset_id)
    if channel:
        q = q.where(EditorPick.channel.in_([check_channel(channel), ""]))
    q = q.order_by(EditorPick.rank, EditorPick.id)
    return [_pick_dict(p, t) for p, t in session.execute(q)]


def active_picks(session: Session, channel: str | None) -> list[tuple[int, int]]:
    """(asset_id, rank) of the picks in force now for a channel (its own and the all-channel ones)."""
    now = utcnow()
    chans = ["", check_channel(channel)] if channel else [""]
    q = (select(EditorPick.asset_id, EditorPick.rank).where(EditorPick.channel.in_(chans))
         .where(or_(EditorPick.starts_at.is_(None), EditorPick.starts_at <= now))
         .where(or_(EditorPick.ends_at.is_(None), EditorPick.ends_at > now))
         .order_by(EditorPick.rank, EditorPick.id))
    seen: dict[int, int] = {}
    for aid, rank in session.execute(q):
        seen.setdefault(int(aid), int(rank))
    return list(seen.items())
