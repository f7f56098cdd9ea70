"""Studio errors: bad input is refused with a message that names the problem."""

from __future__ import annotations

__all__ = ["StudioError"]


class StudioError(ValueError):
    """Bad studio input (unknown source ids, a source with no text, empty output…); the message says which."""
