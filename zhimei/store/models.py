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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base", "Asset", "Rendition", "Segment", "Shot", "Keyframe", "Tag", "Person", "Job", "ApiToken",
    "Feed", "Face", "Entity", "TagChange", "Topic", "Embedding", "SafetyScore", "utcnow",
    "ASSET_KINDS", "ASSET_STATUSES", "JOB_STATUSES", "SEGMENT_KINDS", "ROLES",
    "ENTITY_KINDS", "TAG_ORIGINS", "SearchDoc", "SourceCredibility", "UNMAPPED_TABLES", "include_name",
    "ReviewCase", "ReviewDecision", "AuditEntry", "AuditHead", "REVIEW_CASE_STATUSES", "REVIEW_DECISIONS",
]

ASSET_KINDS = ("article", "image", "audio", "video")
ASSET_STATUSES = ("pending", "processing", "ready", "failed")
SEGMENT_KINDS = ("transcript", "ocr", "paragraph", "caption")
JOB_STATUSES = ("blocked", "queued", "running", "done", "failed", "cancelled")
ROLES = ("viewer", "reviewer", "editor", "admin")
ENTITY_KINDS = ("PER", "LOC", "ORG", "TIME")
TAG_ORIGINS = ("user", "auto", "topic")


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
    """A person known to the library: a cluster of faces, named (or not) by an editor."""

    __tablename__ = "person"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    thumb_sha: Mapped[str | None] = mapped_column(String(64), index=True)
    named_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    face_count: Mapped[int] = mapped_column(Integer, default=0)
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Mean face descriptor (float32) of the person's faces, for incremental clustering."""


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
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)
    """Arguments of a background task (jobs with no asset, see `zhimei.jobs.tasks`)."""
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


# ---------------------------------------------------------------- understanding (migration 0002)

class Face(Base):
    """A face seen in an image or a video keyframe, with its descriptor and the person it belongs to."""

    __tablename__ = "face"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    shot_seq: Mapped[int | None] = mapped_column(Integer)
    """The keyframe's shot (video); None for an image."""
    time: Mapped[float | None] = mapped_column(Float)
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    w: Mapped[int] = mapped_column(Integer)
    h: Mapped[int] = mapped_column(Integer)
    frame_width: Mapped[int | None] = mapped_column(Integer)
    frame_height: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    descriptor: Mapped[bytes | None] = mapped_column(LargeBinary)
    """float32 vector from the faces backend (128-d for dlib)."""
    model: Mapped[str] = mapped_column(String(100), default="")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), index=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    """A person put this face in its person (split/merge): re-clustering keeps it there."""
    thumb_sha: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Entity(Base):
    """A named entity (PER, LOC, ORG, TIME) found in a segment's text (offsets into that text) or the title."""

    __tablename__ = "entity"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="")
    """The segment kind the entity came from, or "title"."""
    kind: Mapped[str] = mapped_column(String(8), index=True)
    text: Mapped[str] = mapped_column(String(500))
    norm: Mapped[str] = mapped_column(String(500), index=True)
    char_start: Mapped[int | None] = mapped_column(Integer)
    char_end: Mapped[int | None] = mapped_column(Integer)
    start: Mapped[float | None] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float)


class TagChange(Base):
    """Who added or removed which tag on an asset, and when."""

    __tablename__ = "tag_change"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(8))
    """add | remove"""
    origin: Mapped[str] = mapped_column(String(32), default="user")
    """The origin of the tag that was added or removed."""
    who: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Topic(Base):
    """The controlled topic vocabulary (admins edit it); assets get topic tags from its keywords."""

    __tablename__ = "topic"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    name_en: Mapped[str] = mapped_column(String(100), default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="SET NULL"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Embedding(Base):
    """A dense text vector (float32, L2-normalised) of a segment or a whole asset, per embedding model."""

    __tablename__ = "embedding"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))
    """segment | asset"""
    owner_id: Mapped[int] = mapped_column(Integer)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(100))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    __table_args__ = (UniqueConstraint("owner_kind", "owner_id", "model", name="uq_embedding_owner_model"),
                      Index("ix_embedding_model_kind", "model", "owner_kind"))


class SafetyScore(Base):
    """Image-safety scores of an image or of one video keyframe."""

    __tablename__ = "safety_score"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    shot_seq: Mapped[int | None] = mapped_column(Integer)
    time: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    max_score: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    model: Mapped[str] = mapped_column(String(100), default="")


# ---------------------------------------------------------------- search (migration 0003)
class SearchDoc(Base):
    """One searchable unit: a segment of an asset, or the asset's title (segment_id None), with its text
    pre-segmented into `tokens` (jieba words for Chinese) for the database's full-text index — FTS5
    `search_fts` on SQLite, a generated `tsv` column with a GIN index on PostgreSQL (both outside the ORM)."""

    __tablename__ = "search_doc"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """title | transcript | ocr | paragraph | caption"""
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    start: Mapped[float | None] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float)
    char_start: Mapped[int | None] = mapped_column(Integer)
    char_end: Mapped[int | None] = mapped_column(Integer)


class SourceCredibility(Base):
    """How far the newsroom trusts a source (1 = unreliable … 5 = authoritative), set by an admin."""

    __tablename__ = "source_credibility"
    source: Mapped[str] = mapped_column(String(500), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=3)
    note: Mapped[str] = mapped_column(String(500), default="")
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


UNMAPPED_TABLES = ("search_fts", "embedding_vector")
"""Tables made by migrations or at run time outside the ORM (FTS5 and its shadow tables, pgvector)."""


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic filter: leave the unmapped search tables and the PostgreSQL `tsv` column out of comparisons."""
    if type_ == "table" and name and name.startswith(UNMAPPED_TABLES):
        return False
    if type_ == "column" and name == "tsv" and parent_names.get("table_name") == "search_doc":
        return False
    if type_ == "index" and name in ("ix_search_doc_tsv",):
        return False
    return True


# ---------------------------------------------------------------- review queue (migration 0004)
REVIEW_CASE_STATUSES = ("open", "in_review", "escalated", "passed", "rejected", "superseded")
REVIEW_DECISIONS = ("approve", "reject", "escalate")


class ReviewCase(Base):
    """One review case per asset version and channel: the moderation verdict, priority, assignee and SLA."""

    __tablename__ = "review_case"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    """Content hash of the asset at open time (original sha256 + title + segment texts)."""
    channel: Mapped[str] = mapped_column(String(64), default="default")
    strict: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    tier: Mapped[str] = mapped_column(String(16), default="pass")
    """The moderation verdict's tier: pass | needs_review | block."""
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """The verdict's reasons (code, category, tier, score, zh, en, where)."""
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """The findings behind those reasons: flagged spans (segment, start, end, word) and frames."""
    model_version: Mapped[str | None] = mapped_column(String(100))
    priority: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    expected_reach: Mapped[int] = mapped_column(BigInteger, default=0)
    assignee: Mapped[str | None] = mapped_column(String(100), index=True)
    second_reviewer_required: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    opened_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    __table_args__ = (UniqueConstraint("asset_id", "version", "channel", name="uq_review_case_version"),)


class ReviewDecision(Base):
    """A reviewer's decision on a case, with reason codes and a note."""

    __tablename__ = "review_decision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_case.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(16))
    """approve | reject | escalate"""
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """An append-only, hash-chained audit log entry (database triggers refuse UPDATE and DELETE).

    hash = sha256 of the canonical JSON of (seq, at, actor, action, subject, payload, prev_hash); `payload` is the
    canonical JSON text itself, so any edit of a stored byte breaks the chain."""

    __tablename__ = "audit_entry"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The one-row head of the audit chain (last seq and hash): appends lock it, and verification compares
    the chain's end with it, so deleting the newest entries is detected too."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Tables of the later areas live in their own modules; importing them here puts them into Base.metadata.
from zhimei.store import (  # noqa: E402,F401
    models_desk,
    models_engagement,
    models_insight,
    models_publish,
    models_recommend,
    models_workflow,
)
