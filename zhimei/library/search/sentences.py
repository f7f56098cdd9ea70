"""Sentences and clauses of archive text with their character offsets (Chinese 。！？； and English sentence
ends, abbreviations and decimals kept whole), for extractive answers."""

from __future__ import annotations

import re

__all__ = ["split_sentences", "split_clauses", "MAX_SENTENCE"]

MAX_SENTENCE = 300
"""A longer sentence is cut at its clause marks (，,：:) into pieces of at most about this many characters."""

_END = re.compile(r"[。！？；!?;…]+[”’」』）)\]\"']*|\.(?:[”’\")\]']*)(?=\s|$)|\n+")
_ABBREV = frozenset("mr mrs ms dr prof st jr sr vs etc inc ltd co no gen gov sen rep jan feb mar apr jun jul aug "
                    "sep sept oct nov dec u.s u.k e.g i.e a.m p.m".split())
_CLAUSE = re.compile(r"[，,：:、]")


def _is_abbreviation(text: str, dot: int) -> bool:
    j = dot
    while j > 0 and (text[j - 1].isalpha() or text[j - 1] == "."):
        j -= 1
    word = text[j:dot].casefold()
    if len(word) == 1 and word.isalpha():  # an initial: "J. Smith"
        return True
    if word in _ABBREV:
        return True
    nxt = text[dot + 1:dot + 3].lstrip()
    return bool(nxt) and nxt[0].islower()  # "e.g. the" — a sentence does not start in lower case


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _cut_long(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    if b - a <= MAX_SENTENCE:
        out.append((a, b))
        return
    start = a
    last = a
    for m in _CLAUSE.finditer(text, a, b):
        if m.end() - start > MAX_SENTENCE and last > start:
            out.append(_strip(text, start, last))
            start = last
        last = m.end()
    while b - start > MAX_SENTENCE:
        cut = last if start < last < b and last - start <= MAX_SENTENCE else start + MAX_SENTENCE
        out.append(_strip(text, start, cut))
        start = cut
    if b > start:
        out.append(_strip(text, start, b))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`, in order, surrounding spaces left out."""
    out: list[tuple[int, int]] = []
    pos = 0
    for m in _END.finditer(text or ""):
        if m.group(0).startswith(".") and _is_abbreviation(text, m.start()):
            continue
        if m.group(0).startswith(".") and m.start() > 0 and text[m.start() - 1].isdigit() \
                and text[m.end():m.end() + 1].isdigit():
            continue
        a, b = _strip(text, pos, m.end() if not m.group(0).startswith("\n") else m.start())
        if b > a:
            _cut_long(text, a, b, out)
        pos = m.end()
    a, b = _strip(text or "", pos, len(text or ""))
    if b > a:
        _cut_long(text, a, b, out)
    return [(a, b) for a, b in out if b > a and any(ch.isalnum() for ch in text[a:b])]


def split_clauses(sentence: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the clauses of one sentence (cut at ，,：:；; and the sentence end)."""
    out, pos = [], 0
    for m in re.finditer(r"[，,：:；;。！？!?]", sentence):
        a, b = _strip(sentence, pos, m.start())
        if b > a:
            out.append((a, b))
        pos = m.end()
    a, b = _strip(sentence, pos, len(sentence))
    if b > a:
        out.append((a, b))
    return out
