"""Tables for desk (SQLAlchemy 2): desks, members, items with their stage and edit lock, and the append-only
history. Change them only together with their migration (0010)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhimei.store.models import Base, utcnow

__all__ = ["Desk", "DeskMember", "DeskItem", "DeskEvent", "DESK_ROLES", "DESK_STAGES", "DESK_ACTIONS"]

DESK_ROLES = ("chief", "editor", "reporter", "proofreader")
DESK_STAGES = ("incoming", "in_progress", "proofread", "review", "ready", "published")
DESK_ACTIONS = ("created", "moved", "assigned", "handed_over", "transferred", "retitled", "locked", "unlocked",
                "lock_broken", "note", "member_added", "member_changed", "member_removed", "desk_created")


class Desk(Base):
    """A desk (编辑部门): 时政, 财经, 视频 …, with members and the items it works on."""

    __tablename__ = "desk"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeskMember(Base):
    """A person on a desk (the actor name the rest of zhimei uses, e.g. a token's name) and their desk role."""

    __tablename__ = "desk_member"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    desk_id: Mapped[int] = mapped_column(ForeignKey("desk.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="reporter")
    added_by: Mapped[str] = mapped_column(String(100), default="")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("desk_id", "name", name="uq_desk_member_name"),)


class DeskItem(Base):
    """One asset worked on by one desk: its stage, assignee, version (optimistic concurrency) and edit lock."""

    __tablename__ = "desk_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    desk_id: Mapped[int] = mapped_column(ForeignKey("desk.id", ondelete="CASCADE"))
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(String(1000), default="")
    stage: Mapped[str] = mapped_column(String(16), default="incoming")
    assignee: Mapped[str | None] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Raised by every change of the item; a write names the version it read."""
    lock_holder: Mapped[str | None] = mapped_column(String(100))
    lock_token: Mapped[str | None] = mapped_column(String(64))
    lock_expires_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    stage_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When the item entered its stage."""
    __table_args__ = (Index("ix_desk_item_desk_stage", "desk_id", "stage"),)


class DeskEvent(Base):
    """One row of history, never changed: who did what to an item (or to a desk's members), and when."""

    __tablename__ = "desk_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    desk_id: Mapped[int] = mapped_column(ForeignKey("desk.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("desk_item.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
