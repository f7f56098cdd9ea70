"""Text normalisation for moderation: a matching "skeleton" of a text with an offset map back to the original.

Each original character becomes zero or more skeleton characters:
- NFKC (full/half width, ①→1, Ⓐ→a, 𝐀→a, ligatures), diacritics stripped, casefold;
- Traditional → Simplified Chinese (OpenCC t2s, applied per character from a table built once);
- homoglyphs (Cyrillic / Greek look-alikes) → Latin; leet digits/symbols inside Latin words (sh1t, @ss);
- zero-width / format characters, whitespace, punctuation and symbols are dropped (they become "gaps"), so
  letters with characters inserted between them (f.u.c.k, 傻*逼, 傻\u200b逼) come together in the skeleton.

`Skeleton.pos[i]` is the index in the original text of skeleton character i, so a match on the skeleton reports
the original span. `Skeleton.gap(i)` is the original text between skeleton characters i-1 and i.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass

__all__ = ["Skeleton", "skeleton", "quick_skeleton", "norm_char", "normalize_text", "is_latin", "clean_text"]

# Cyrillic / Greek / other look-alikes of Latin letters (after casefold)
_HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q",
    "ԝ": "w", "ɡ": "g", "ɑ": "a", "ο": "o", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k",
    "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ʏ": "y", "ı": "i", "ℓ": "l",
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "ħ": "h",
}
# digits/symbols used for letters inside a Latin word ("sh1t", "@ss", "b!tch")
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}

_cache: dict[str, str] = {}
_t2s: dict[str, str] | None = None
_t2s_lock = threading.Lock()


def _t2s_table() -> dict[str, str]:
    """Character-level Traditional→Simplified table from OpenCC (built once per process, ~1 s)."""
    global _t2s
    if _t2s is None:
        with _t2s_lock:
            if _t2s is None:
                from zhimei.models.textnorm import to_simplified

                chars = [chr(c) for r in ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00)) for c in range(*r)]
                out = to_simplified("\n".join(chars)).split("\n")
                _t2s = {a: b for a, b in zip(chars, out, strict=False) if a != b and len(b) == 1}
    return _t2s


def norm_char(c: str) -> str:
    """The skeleton form of one character: '' for separators, usually one character, sometimes more (ß→ss)."""
    got = _cache.get(c)
    if got is not None:
        return got
    if "\ud800" <= c <= "\udfff":  # lone surrogate: keep as an inert separator
        out = ""
    else:
        cat = unicodedata.category(c)
        if cat[0] in "ZCP" or cat == "Mn" or cat == "Me":
            out = ""
        elif cat == "So" and " LETTER " in unicodedata.name(c, "") and unicodedata.name(c)[-2] == " ":
            out = unicodedata.name(c)[-1].casefold()  # 🅰, 🇦 and other letter symbols without a decomposition
        else:
            d = unicodedata.normalize("NFKD", c)
            d = "".join(x for x in d if not unicodedata.combining(x))
            d = unicodedata.normalize("NFKC", d).casefold()
            parts = []
            for x in d:
                x = _HOMOGLYPHS.get(x, x)
                cx = unicodedata.category(x[0]) if x else "Zs"
                if cx[0] in "LN":
                    parts.append(_t2s_table().get(x, x) if "\u3400" <= x <= "\ufaff" else x)
            out = "".join(parts)
    if len(_cache) < 200_000:
        _cache[c] = out
    return out


def is_latin(c: str) -> bool:
    """True for an ASCII letter or digit (skeleton characters of Latin words)."""
    return c.isascii() and c.isalnum()


def clean_text(text: object) -> str:
    """Any input as a str safe to process: None → '', NULs dropped, lone surrogates kept as inert characters."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return str(text).replace("\x00", "")


@dataclass(frozen=True, slots=True)
class Skeleton:
    """The skeleton string, `pos[i]` = original index of skeleton char i, and the original text."""

    text: str
    pos: tuple[int, ...]
    original: str

    def gap(self, i: int) -> str:
        """Original text strictly between skeleton chars i-1 and i ('' when adjacent or at an end)."""
        if i <= 0 or i >= len(self.pos):
            return ""
        return self.original[self.pos[i - 1] + 1:self.pos[i]]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of skeleton [start, end)."""
        return self.pos[start], self.pos[end - 1] + 1


def skeleton(text: str) -> Skeleton:
    """Build the matching skeleton of `text` (see module doc)."""
    chars: list[str] = []
    pos: list[int] = []
    n = len(text)
    for i, c in enumerate(text):
        if c in _LEET and _leet_context(text, i, n):
            out = _LEET[c]
        elif c.isascii() and c.isalnum():
            out = c.lower()
        else:
            out = norm_char(c)
        for x in out:
            chars.append(x)
            pos.append(i)
    return Skeleton("".join(chars), tuple(pos), text)


def _leet_context(text: str, i: int, n: int) -> bool:
    """A leet digit counts as a letter between two ASCII letters (sh1t); @ and $ next to one (@ss)."""
    prev = text[i - 1] if i > 0 else ""
    nxt = text[i + 1] if i + 1 < n else ""
    p = prev.isascii() and prev.isalpha()
    q = nxt.isascii() and nxt.isalpha()
    return (p and q) if text[i].isdigit() else (p or q)


class _LightTable(dict):
    """str.translate table for `normalize_text`, filled per character on first use."""

    def __missing__(self, key: int) -> str:
        c = chr(key)
        if unicodedata.category(c) in ("Cf", "Cs"):
            out = ""
        else:
            table = _t2s_table()
            out = "".join(table.get(x) or _HOMOGLYPHS.get(x) or x
                          for x in unicodedata.normalize("NFKC", c).casefold())
        if len(self) < 200_000:
            self[key] = out
        return out


class _SkeletonTable(dict):
    """str.translate table giving `skeleton(text).text` for texts without leet characters."""

    def __missing__(self, key: int) -> str:
        c = chr(key)
        out = c.lower() if c.isascii() and c.isalnum() else norm_char(c)
        if len(self) < 200_000:
            self[key] = out
        return out


_LIGHT = _LightTable()
_SKEL = _SkeletonTable()
_LEET_CHARS = frozenset(_LEET)


def quick_skeleton(text: str) -> str | None:
    """The skeleton string without the offset map (fast path), or None when the text has leet characters
    whose reading depends on their neighbours (then use `skeleton`)."""
    if not _LEET_CHARS.isdisjoint(text):
        return None
    return text.translate(_SKEL)


def normalize_text(text: str) -> str:
    """Light normalisation for the classifier, character by character: NFKC, casefold, Traditional→Simplified,
    homoglyphs; keeps punctuation and spaces (format characters such as zero-width spaces are dropped)."""
    return clean_text(text).translate(_LIGHT)
