"""The suggestion record shared by every proofreading check, and `apply_suggestions`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["KINDS", "ProofreadError", "Suggestion", "apply_suggestions", "make_suggestion"]

KINDS = ("spelling", "term", "english", "number", "date", "punctuation")


class ProofreadError(ValueError):
    """Bad input to proofreading (the message names the problem)."""


@dataclass(frozen=True)
class Suggestion:
    """Replace ``text[start:end]`` (== ``original``) by ``replacement``. ``id`` is stable for the same edit."""

    id: str
    start: int
    end: int
    original: str
    replacement: str
    kind: str
    confidence: float
    reason_zh: str
    reason_en: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def shifted(self, offset: int) -> Suggestion:
        """The same suggestion with offsets moved by ``offset``."""
        return make_suggestion(self.start + offset, self.end + offset, self.original, self.replacement, self.kind,
                               self.confidence, self.reason_zh, self.reason_en)


def make_suggestion(start: int, end: int, original: str, replacement: str, kind: str, confidence: float,
                    reason_zh: str, reason_en: str) -> Suggestion:
    """A Suggestion with its id (a hash of position, change and kind)."""
    key = f"{start}:{end}:{original}:{replacement}:{kind}".encode()
    sid = hashlib.sha1(key).hexdigest()[:12]
    return Suggestion(sid, start, end, original, replacement, kind, round(float(confidence), 3), reason_zh,
                      reason_en)


def _as_edit(item: Suggestion | Mapping[str, Any]) -> tuple[int, int, str, str]:
    if isinstance(item, Suggestion):
        return item.start, item.end, item.original, item.replacement
    try:
        start, end = int(item["start"]), int(item["end"])
        original, replacement = str(item["original"]), str(item["replacement"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofreadError(f"a suggestion needs start, end, original and replacement: {exc}") from exc
    return start, end, original, replacement


def apply_suggestions(text: str, accepted: Iterable[Suggestion | Mapping[str, Any]]) -> str:
    """``text`` with the accepted suggestions applied. Each must still match the text (``text[start:end] ==
    original``) and none may overlap another; otherwise ProofreadError names the first offender."""
    edits = sorted((_as_edit(a) for a in accepted), key=lambda e: (e[0], e[1]))
    prev_end = -1
    for start, end, original, _rep in edits:
        if not 0 <= start <= end <= len(text):
            raise ProofreadError(f"suggestion {start}-{end} lies outside the text ({len(text)} characters)")
        if text[start:end] != original:
            raise ProofreadError(f"suggestion {start}-{end} expects {original!r} but the text has "
                                 f"{text[start:end]!r} (proofread again)")
        if start < prev_end:
            raise ProofreadError(f"suggestion {start}-{end} overlaps the one before it")
        prev_end = end
    out = text
    for start, end, _orig, rep in reversed(edits):
        out = out[:start] + rep + out[end:]
    return out
