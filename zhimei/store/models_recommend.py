"""Tables for recommend (SQLAlchemy 2). Change them only together with their migration (0008)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhimei.store.models import Base, utcnow

__all__ = ["RecommendModel", "EditorPick", "RecommendChannel"]


class RecommendModel(Base):
    """One trained recommendation model: its arrays live in a blob (``.npz``); the highest version is current."""

    __tablename__ = "recommend_model"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    blob_sha: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    neighbour_kind: Mapped[str] = mapped_column(String(16), default="")
    """ease | itemcf"""
    readers: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    interactions: Mapped[int] = mapped_column(BigInteger, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    train_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    job_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EditorPick(Base):
    """An editor's pick (编辑推荐): an asset pushed into recommendations of one channel ('' = every channel),
    optionally only within a time window."""

    __tablename__ = "editor_pick"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(64), default="")
    rank: Mapped[int] = mapped_column(Integer, default=0)
    """Lower shows first."""
    note: Mapped[str] = mapped_column(String(500), default="")
    starts_at: Mapped[datetime | None] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("asset_id", "channel", name="uq_editor_pick_asset_channel"),)


class RecommendChannel(Base):
    """A channel's anti-filter-bubble knob: MMR diversity (0 = pure relevance … 1 = pure novelty) and the share
    of slots given to exploration (fresh and trending items outside the reader's profile)."""

    __tablename__ = "recommend_channel"
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    diversity: Mapped[float] = mapped_column(Float, default=0.3)
    explore_share: Mapped[float] = mapped_column(Float, default=0.1)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
