"""Tables for insight (SQLAlchemy 2): analysed items, stories, watchlists and their alerts.
Change them only together with their migration (0009)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhimei.store.models import Base, utcnow

__all__ = ["InsightItem", "InsightStory", "InsightWatchlist", "InsightAlert", "WATCHLIST_KINDS", "ALERT_REASONS",
           "ALERT_STATUSES"]

WATCHLIST_KINDS = ("term", "person", "org")
ALERT_REASONS = ("volume", "negative")
ALERT_STATUSES = ("pending", "sent", "failed", "no_webhook")


class InsightStory(Base):
    """A story: ingested items about one thing, with its heat (volume, growth, burst, engagement, sources)."""

    __tablename__ = "insight_story"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(1000), default="")
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    entities: Mapped[list[str]] = mapped_column(JSON, default=list)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    source_count: Mapped[int] = mapped_column(Integer, default=0)
    volume: Mapped[int] = mapped_column(Integer, default=0)
    """Items in the current window."""
    previous_volume: Mapped[int] = mapped_column(Integer, default=0)
    """Items in the window before it."""
    growth: Mapped[float] = mapped_column(Float, default=1.0)
    burst: Mapped[float] = mapped_column(Float, default=0.0)
    engagement: Mapped[float] = mapped_column(Float, default=0.0)
    heat: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    components: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sentiment: Mapped[float | None] = mapped_column(Float)
    """Mean probability that the story's items are positive."""
    negative_share: Mapped[float | None] = mapped_column(Float)
    first_at: Mapped[datetime | None] = mapped_column()
    last_at: Mapped[datetime | None] = mapped_column(index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InsightItem(Base):
    """One ingested asset as insight sees it: when, from where, its terms, entities and sentiment, its story."""

    __tablename__ = "insight_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(index=True)
    """Publication time, else ingest time."""
    kind: Mapped[str] = mapped_column(String(16), default="article")
    source: Mapped[str] = mapped_column(String(500), default="")
    title: Mapped[str] = mapped_column(String(1000), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    """Title and the start of the body (paragraphs, transcript, captions), what watchlists match against."""
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    entities: Mapped[list[str]] = mapped_column(JSON, default=list)
    """"KIND:norm" of the people, organisations and places named."""
    sentiment: Mapped[float | None] = mapped_column(Float)
    sentiment_model: Mapped[str] = mapped_column(String(100), default="")
    story_id: Mapped[int | None] = mapped_column(ForeignKey("insight_story.id", ondelete="SET NULL"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    analysed_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("asset_id", name="uq_insight_item_asset"),)


class InsightWatchlist(Base):
    """Terms, a person or an organisation the newsroom watches; alerts go to its webhook."""

    __tablename__ = "insight_watchlist"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="term")
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Spellings matched (case-folded) in titles, text and entity names."""
    webhook_url: Mapped[str] = mapped_column(String(2000), default="")
    secret: Mapped[str] = mapped_column(String(200), default="")
    """HMAC-SHA256 key of the webhook signature."""
    window_hours: Mapped[float] = mapped_column(Float, default=24.0)
    baseline_windows: Mapped[int] = mapped_column(Integer, default=7)
    volume_factor: Mapped[float] = mapped_column(Float, default=2.0)
    min_volume: Mapped[int] = mapped_column(Integer, default=3)
    negative_jump: Mapped[float] = mapped_column(Float, default=0.25)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InsightAlert(Base):
    """One alert: a watchlist's volume or negative share jumped in one window (at most one per reason/window)."""

    __tablename__ = "insight_alert"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("insight_watchlist.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[datetime] = mapped_column()
    window_end: Mapped[datetime] = mapped_column()
    volume: Mapped[int] = mapped_column(Integer, default=0)
    baseline: Mapped[float] = mapped_column(Float, default=0.0)
    negative_share: Mapped[float | None] = mapped_column(Float)
    baseline_negative: Mapped[float | None] = mapped_column(Float)
    asset_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    __table_args__ = (UniqueConstraint("watchlist_id", "reason", "window_start", name="uq_insight_alert_window"),)
