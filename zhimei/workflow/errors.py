"""The one error type of workflows: a message naming the field, step or person, an HTTP-like status, and for
validation the full list of problems with their paths."""

from __future__ import annotations

from typing import Any

__all__ = ["WorkflowError", "StepFailed"]


class WorkflowError(ValueError):
    """Bad workflow input or a refused action. ``status``: 400/403/404/409/422; ``problems``: validation problems
    as [{"path": "steps.draft.with.text", "message": "..."}] (empty for other errors)."""

    def __init__(self, message: str, status: int = 422, problems: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.problems = list(problems or [])


class StepFailed(RuntimeError):
    """Raised by a step type: the step fails with this message (and is retried when it has retries left)."""
