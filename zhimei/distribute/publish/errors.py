"""The one error type of publishing: a request that cannot be done, with the HTTP status it maps to."""

from __future__ import annotations

__all__ = ["PublishError"]


class PublishError(ValueError):
    """Refused: `status` is 404 (unknown channel/asset/publication), 409 (state: not passed review, withdrawn,
    unlabelled AI content) or 422 (bad input); the message names the problem."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status
