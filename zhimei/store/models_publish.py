"""Tables for publish (SQLAlchemy 2). Change them only together with their migration (0006_publish).

- ``publish_channel``: where content goes out (a feed, a webhook, an export or an OTT launcher), its config and,
  for webhooks, the HMAC secret;
- ``publication``: one asset version in one channel, with its schedule (``publish_at``), embargo and
  ``live_from`` = the later of the two, and a snapshot of the reviewed content; unique per (asset, channel,
  version) so publishing twice is one row;
- ``publish_delivery``: one webhook message (publish or withdraw event of a publication revision), keyed so that
  retries never duplicate it, with its attempts and the dead-letter state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhimei.store.models import Base, UTCDateTime, utcnow

__all__ = ["PublishChannel", "Publication", "PublishDelivery", "CHANNEL_KINDS", "PUBLICATION_STATUSES",
           "DELIVERY_STATUSES"]

CHANNEL_KINDS = ("rss", "atom", "jsonfeed", "webhook", "ninjs", "newsml", "ott")
PUBLICATION_STATUSES = ("scheduled", "live", "withdrawn", "superseded")
DELIVERY_STATUSES = ("pending", "retrying", "delivered", "dead")


class PublishChannel(Base):
    """A distribution channel: kind, editorial config (feed size, OTT rows, webhook URL) and webhook secret."""

    __tablename__ = "publish_channel"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[str | None] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("name", name="uq_publish_channel_name"),)


class Publication(Base):
    """One asset version in one channel: scheduled → live (→ superseded by a newer version) or withdrawn."""

    __tablename__ = "publication"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("publish_channel.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    review_case_id: Mapped[int | None] = mapped_column(ForeignKey("review_case.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    publish_at: Mapped[datetime] = mapped_column(UTCDateTime())
    embargo_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    live_from: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    went_live_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdraw_reason: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(String(1000), default="")
    ai_generated: Mapped[bool] = mapped_column(Boolean, default=False)
    aigc: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The reviewed version as published (headline, text, file): feeds serve this, not later edits."""
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("asset_id", "channel_id", "version", name="uq_publication_version"),
                      Index("ix_publication_channel_live", "channel_id", "status", "live_from"))


class PublishDelivery(Base):
    """One signed webhook message; ``key`` (sent as X-Zhimei-Delivery) stays the same over every retry."""

    __tablename__ = "publish_delivery"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publication.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("publish_channel.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    key: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("key", name="uq_publish_delivery_key"),
                      UniqueConstraint("publication_id", "event", "revision", name="uq_publish_delivery_event"))
