"""Input checks shared by the desk functions: names, notes and free text, refusing hostile text by name."""

from __future__ import annotations

import unicodedata
from typing import Any

from zhimei.desk.errors import DeskError
from zhimei.settings import get_settings

__all__ = ["clean_text", "check_desk_name", "check_person", "check_note", "check_id"]

_BIDI = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}
_RESERVED = {"items", "new"}
_URL_UNSAFE = set('/\\?#%"<>')


def _bad_char(text: str, multiline: bool) -> str | None:
    for ch in text:
        if multiline and ch in "\n\t":
            continue
        if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs") or ch in "\u2028\u2029":
            return ch
    return None


def clean_text(value: Any, what: str, max_chars: int, *, multiline: bool = False, required: bool = False) -> str:
    """`value` stripped, or DeskError 422 naming `what` (not text, too long, control or bidi-override characters)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DeskError(f"{what} must be text, got {type(value).__name__}")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip() if multiline else value.strip()
    if required and not text:
        raise DeskError(f"{what} is required")
    if len(text) > max_chars:
        raise DeskError(f"{what} is {len(text)} characters long; the most is {max_chars}")
    bad = _bad_char(text, multiline)
    if bad is not None:
        raise DeskError(f"{what} contains a control character (U+{ord(bad):04X}); remove it")
    return text


def check_desk_name(value: Any) -> str:
    """A desk name: 1-64 characters (Chinese welcome), no control characters, not only digits, none of /\\?#%."""
    name = clean_text(value, "desk name", 64, required=True)
    if name.isdigit():
        raise DeskError(f"desk name {name!r} is only digits (digits name a desk by its id); add a word")
    if name.lower() in _RESERVED:
        raise DeskError(f"desk name {name!r} is reserved; choose another")
    if any(c in _URL_UNSAFE for c in name):
        raise DeskError(f"desk name {name!r} may not contain any of / \\ ? # % \" < >")
    return name


def check_person(value: Any, what: str = "member name") -> str:
    """A person: the actor name zhimei uses elsewhere (a token's name, cli:<login>), 1-100 characters."""
    return clean_text(value, what, 100, required=True)


def check_note(value: Any, what: str = "note", *, required: bool = False) -> str:
    """A note (several lines allowed), at most `desk_note_max_chars` characters."""
    return clean_text(value, what, get_settings().desk_note_max_chars, multiline=True, required=required)


def check_id(value: Any, what: str) -> int:
    """A positive whole number id."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DeskError(f"{what} must be a positive whole number, got {value!r}")
    return value
