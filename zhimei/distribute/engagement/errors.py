"""The one error of the engagement area: a message for people and the HTTP status it maps to."""

from __future__ import annotations

__all__ = ["EngagementError"]


class EngagementError(ValueError):
    """Bad input or a missing thing: `status` is 422 (bad input), 404 (unknown) or 409 (wrong state)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status
