"""Tables for engagement (SQLAlchemy 2). Change them only together with their migration.

Readers are pseudonymous (an HMAC of the outside user id, never the id itself). Raw events are not kept: each
batch is folded into counters (asset × channel × hour, rolled up into days later) and per-reader implicit-feedback
rows; only a hash of each event id is kept, for a bounded time, so retries count once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhimei.store.models import Base, utcnow

__all__ = ["Reader", "ReaderInteraction", "EngagementCounter", "EventSeen", "Experiment", "ExperimentVariant",
           "EXPERIMENT_KINDS", "EXPERIMENT_STATUSES", "COUNTER_GRAINS"]

EXPERIMENT_KINDS = ("title", "cover")
EXPERIMENT_STATUSES = ("running", "promoted", "stopped")
COUNTER_GRAINS = ("hour", "day")


class Reader(Base):
    """A reader or viewer, known only by a keyed hash of the outside user id, with their personalisation consent."""

    __tablename__ = "reader"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    consent: Mapped[bool] = mapped_column(Boolean, default=True)
    consent_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column()


class ReaderInteraction(Base):
    """What one reader did with one asset, summed over events: the implicit feedback recommendations learn from."""

    __tablename__ = "reader_interaction"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("reader.id", ondelete="CASCADE"))
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    weight: Mapped[float] = mapped_column(Float, default=0.0)
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    plays: Mapped[int] = mapped_column(Integer, default=0)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    watch_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    dwell_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    first_at: Mapped[datetime] = mapped_column()
    last_at: Mapped[datetime] = mapped_column(index=True)
    __table_args__ = (UniqueConstraint("reader_id", "asset_id", name="uq_reader_interaction"),)


class EngagementCounter(Base):
    """Anonymous totals per asset × channel × time bucket (an hour, or a day once rolled up)."""

    __tablename__ = "engagement_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64), default="")
    grain: Mapped[str] = mapped_column(String(8), default="hour")
    bucket_start: Mapped[datetime] = mapped_column(index=True)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    plays: Mapped[int] = mapped_column(BigInteger, default=0)
    shares: Mapped[int] = mapped_column(BigInteger, default=0)
    watch_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    dwell_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    __table_args__ = (
        UniqueConstraint("asset_id", "channel", "grain", "bucket_start", name="uq_engagement_counter_bucket"),
        Index("ix_engagement_counter_grain_bucket", "grain", "bucket_start"),
    )


class EventSeen(Base):
    """The dedupe window: a 128-bit hash of each counted event id and when it arrived (pruned after a while)."""

    __tablename__ = "event_seen"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class Experiment(Base):
    """A title or cover test on one asset: variants served by Thompson sampling until a winner is promoted."""

    __tablename__ = "experiment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    auto_promote: Mapped[bool] = mapped_column(Boolean, default=True)
    min_impressions: Mapped[int] = mapped_column(Integer, default=1000)
    winner_variant_id: Mapped[int | None] = mapped_column(Integer)
    promoted_by: Mapped[str | None] = mapped_column(String(100))
    promoted_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExperimentVariant(Base):
    """One arm of an experiment: a title text or a cover image asset, with its impression and click totals."""

    __tablename__ = "experiment_variant"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text, default="")
    cover_asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(64), default="manual")
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    __table_args__ = (UniqueConstraint("experiment_id", "seq", name="uq_experiment_variant_seq"),)
