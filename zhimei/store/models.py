"""The library's domain tables (SQLAlchemy 2). Change them only together with a migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base", "Asset", "Rendition", "Segment", "Shot", "Keyframe", "Tag", "Person", "Job", "ApiToken",
    "Feed", "utcnow", "ASSET_KINDS", "ASSET_STATUSES", "JOB_STATUSES", "SEGMENT_KINDS", "ROLES",
]

ASSET_KINDS = ("article", "image", "audio", "video")
ASSET_STATUSES = ("pending", "processing", "ready", "failed")
SEGMENT_KINDS = ("transcript", "ocr", "paragraph", "caption")
JOB_STATUSES = ("blocked", "queued", "running", "done", "failed", "cancelled")
ROLES = ("viewer", "reviewer", "editor", "admin")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite hands back naive ones otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime()}


class Asset(Base):
    """One piece of content: an article, image, audio or video, with lineage to its parents."""

    __tablename__ = "asset"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(1000), default="")
    language: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(500), default="", index=True)
    external_id: Mapped[str | None] = mapped_column(String(1000))
    rights: Mapped[str] = mapped_column(String(500), default="")
    licence: Mapped[str] = mapped_column(String(200), default="")
    filename: Mapped[str] = mapped_column(String(255), default="")
    mime: Mapped[str] = mapped_column(String(100), default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    phash: Mapped[str | None] = mapped_column(String(16))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("asset.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")

    renditions: Mapped[list[Rendition]] = relationship(back_populates="asset", cascade="all, delete-orphan")

    __table_args__ = (Index("ix_asset_source_external", "source", "external_id"),)


class Rendition(Base):
    """A stored file of an asset: original, proxy, audio16k, thumbnail… (blob by sha256)."""

    __tablename__ = "rendition"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    blob_sha: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    asset: Mapped[Asset] = relationship(back_populates="renditions")
    __table_args__ = (UniqueConstraint("asset_id", "kind", name="uq_rendition_asset_kind"),)


class Segment(Base):
    """A time-coded (media) or offset-coded (text) unit of text: transcript, OCR, paragraph, caption."""

    __tablename__ = "segment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    start: Mapped[float | None] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float)
    char_start: Mapped[int | None] = mapped_column(Integer)
    char_end: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (UniqueConstraint("asset_id", "kind", "seq", name="uq_segment_asset_kind_seq"),)


class Shot(Base):
    """A shot of a video: [start, end) in seconds and frames."""

    __tablename__ = "shot"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    __table_args__ = (UniqueConstraint("asset_id", "seq", name="uq_shot_asset_seq"),)


class Keyframe(Base):
    """A representative still of a shot, with its thumbnail."""

    __tablename__ = "keyframe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    shot_seq: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)
    blob_sha: Mapped[str] = mapped_column(String(64), index=True)
    thumb_sha: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    __table_args__ = (UniqueConstraint("asset_id", "shot_seq", name="uq_keyframe_asset_shot"),)


class Tag(Base):
    """A label on an asset, automatic or set by a person."""

    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    origin: Mapped[str] = mapped_column(String(32), default="user")
    score: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    __table_args__ = (UniqueConstraint("asset_id", "name", name="uq_tag_asset_name"),)


class Person(Base):
    """A person known to the library (faces and names come with the understanding issue)."""

    __tablename__ = "person"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Job(Base):
    """One stage of work on one asset: the single source of truth for every job backend."""

    __tablename__ = "job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    depends_on: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(500), default="")
    last_error: Mapped[str | None] = mapped_column(Text)
    input_hash: Mapped[str | None] = mapped_column(String(64))
    staged_blobs: Mapped[list[str]] = mapped_column(JSON, default=list)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (
        UniqueConstraint("asset_id", "stage", name="uq_job_asset_stage"),
        Index("ix_job_claim", "status", "priority", "id"),
    )


class ApiToken(Base):
    """An API token (only its sha256 is stored) with a role."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_sha: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Feed(Base):
    """An RSS/Atom feed polled on a schedule."""

    __tablename__ = "feed"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    interval_seconds: Mapped[float] = mapped_column(Float, default=900.0)
    etag: Mapped[str | None] = mapped_column(String(500))
    modified: Mapped[str | None] = mapped_column(String(200))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
