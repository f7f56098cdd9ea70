"""Tables for workflow (SQLAlchemy 2): workflows, runs, steps, approvals.
Change them only together with their migration (0011)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhimei.store.models import Base, utcnow

__all__ = ["Workflow", "WorkflowRun", "WorkflowStep", "WorkflowApproval", "RUN_STATUSES", "STEP_STATUSES",
           "APPROVAL_STATUSES"]

RUN_STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "cancelled")
STEP_STATUSES = ("pending", "queued", "running", "waiting", "succeeded", "failed", "skipped", "cancelled")
APPROVAL_STATUSES = ("waiting", "approved", "rejected", "expired")


class Workflow(Base):
    """A saved workflow: its source text (YAML or TOML), the validated definition, its triggers' state."""

    __tablename__ = "workflow"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    format: Mapped[str] = mapped_column(String(8), default="yaml")
    source: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Per trigger: what it saw last (last asset id, last alert id, last scheduled slot)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class WorkflowRun(Base):
    """One run of a workflow version (the definition is copied so later edits never change a running run)."""

    __tablename__ = "workflow_run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    trigger: Mapped[str] = mapped_column(String(32), default="manual")
    trigger_key: Mapped[str | None] = mapped_column(String(200))
    """What fired it (e.g. "schedule:2026-12-03T07:00", "asset:12"): one run per workflow and key."""
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    __table_args__ = (UniqueConstraint("workflow", "trigger_key", name="uq_workflow_run_trigger"),)


class WorkflowStep(Base):
    """One step of a run: status, attempt, resolved inputs, outputs, timings, tokens, error, its current job."""

    __tablename__ = "workflow_step"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("workflow_run.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int | None] = mapped_column(Integer)
    stuck: Mapped[bool] = mapped_column(Boolean, default=False)
    queued_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    seconds: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("run_id", "key", name="uq_workflow_step_key"),)


class WorkflowApproval(Base):
    """A person's decision a run waits for: what to look at, what may be edited, the decision and its edits."""

    __tablename__ = "workflow_approval"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("workflow_run.id", ondelete="CASCADE"), index=True)
    step_key: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(300), default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    show: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    editable: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column()
    escalate_at: Mapped[datetime | None] = mapped_column()
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_at: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    edits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (UniqueConstraint("run_id", "step_key", "attempt", name="uq_workflow_approval_step"),)
