"""The one error type of the desk area: a request that cannot be done, with the HTTP status it maps to."""

from __future__ import annotations

__all__ = ["DeskError"]


class DeskError(ValueError):
    """Refused: `status` is 403 (not a member / wrong desk role), 404 (unknown desk, member, item or asset),
    409 (locked by someone else, stale version, a move the stage does not allow), 422 (bad input) or 428
    (a write without the item's version or a lock token); the message names the problem."""

    def __init__(self, message: str, status: int = 422, **extra: object):
        super().__init__(message)
        self.status = status
        self.extra = extra
