"""`proofread`: every check over one text, overlaps resolved, in text order."""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable

from zhimei.review.proofread.types import KINDS, ProofreadError, Suggestion, make_suggestion

__all__ = ["LANGS", "LM_MAX_CHARS", "MAX_CHARS", "detect_lang", "proofread", "spelling_skipped",
           "spelling_suggestions"]

LANGS = ("auto", "zh", "en")
MAX_CHARS = 200_000
"""Longest text accepted."""
LM_MAX_CHARS = 5_000
"""Chinese spelling (a language-model pass, about a second per sentence on two CPU cores) runs on texts up to this
long; a longer text gets the other checks only unless ``lm_max_chars`` is raised (the CLI raises it and shows a
progress bar). A dictionary-only fallback was tried and dropped: on SIGHAN-2014 its correction F1 stayed under 0.05."""
_PRIORITY = {"term": 0, "spelling": 1, "english": 2, "date": 3, "number": 3, "punctuation": 4}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_cache: OrderedDict[str, list[tuple[int, int, str, str, float, str]]] = OrderedDict()
_CACHE_SIZE = 4096


def detect_lang(text: str) -> str:
    """"zh" when Chinese characters make up at least a tenth of the letters, else "en"."""
    zh = len(_CJK.findall(text))
    en = len(_LATIN.findall(text))
    return "zh" if zh and zh * 10 >= zh + en else "en"


def _confidence(gain: float, margin: float) -> float:
    return min(0.99, 0.5 + 0.5 * (1 - 2.0 ** (-(gain - margin) / 3.0)))


def spelling_suggestions(text: str, progress: Callable[[int, int], None] | None = None) -> list[Suggestion]:
    """Chinese spelling suggestions (clause results are cached, so proofreading an edited text again only
    re-reads the clauses that changed)."""
    from zhimei.models.zh_speller import get_speller, split_clauses

    sp = get_speller()
    out: list[Suggestion] = []
    clauses = split_clauses(text)
    for offset, clause in clauses:
        key = clause
        edits = _cache.get(key)
        if edits is None:
            got = sp.correct(clause)
            edits = [(e.start, e.end, e.original, e.replacement, e.gain, e.kind) for e in got]
            _cache[key] = edits
            if len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        else:
            _cache.move_to_end(key)
        for start, end, orig, rep, gain, how in edits:
            zh = "同音字" if how == "sound" else "形近字"
            en = "sounds alike" if how == "sound" else "looks alike"
            out.append(make_suggestion(start + offset, end + offset, orig, rep, "spelling",
                                       _confidence(gain, sp.margin), f"疑似错别字（{zh}）：{orig}→{rep}",
                                       f"likely typo ({en}): {orig}→{rep}"))
        if progress:
            progress(offset + len(clause), len(text))
    return out


class _Spans:
    """Non-overlapping [start, end) spans, sorted; overlap tests by bisection."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        k = bisect.bisect_right(self.starts, start) - 1
        if k >= 0 and (self.ends[k] > start or self.starts[k] == start):
            return True
        return k + 1 < len(self.starts) and self.starts[k + 1] < max(end, start + 1)

    def add(self, start: int, end: int) -> None:
        k = bisect.bisect_right(self.starts, start)
        self.starts.insert(k, start)
        self.ends.insert(k, end)


def spelling_skipped(text: str, lang: str = "auto", lm_max_chars: int = LM_MAX_CHARS) -> bool:
    """True when `proofread` leaves Chinese spelling out of ``text`` because it is too long."""
    lang = detect_lang(text) if lang == "auto" else lang
    return lang == "zh" and len(text) > lm_max_chars


def _resolve(items: Iterable[Suggestion]) -> list[Suggestion]:
    kept: list[Suggestion] = []
    spans = _Spans()
    for s in sorted(items, key=lambda s: (_PRIORITY.get(s.kind, 9), -s.confidence, s.start)):
        if s.replacement == s.original or spans.overlaps(s.start, s.end):
            continue
        kept.append(s)
        spans.add(s.start, s.end)
    return sorted(kept, key=lambda s: (s.start, s.end))


def proofread(text: str, lang: str = "auto", terms: list | None = None, kinds: Iterable[str] | None = None,
              lm_max_chars: int = LM_MAX_CHARS,
              progress: Callable[[int, int], None] | None = None) -> list[Suggestion]:
    """Suggestions for ``text``: Chinese spelling, English spelling, the term dictionary (``terms``: a list of
    `Term`, default the stored dictionary) and number/date/punctuation style. ``kinds`` limits the checks (see
    `KINDS`); Chinese spelling runs when the text is at most ``lm_max_chars`` long (see `spelling_skipped`)."""
    from zhimei.review.proofread.english import english_suggestions
    from zhimei.review.proofread.style import RULES
    from zhimei.review.proofread.terms import TermDict, load_terms

    if not isinstance(text, str):
        raise ProofreadError("text must be a string")
    if len(text) > MAX_CHARS:
        raise ProofreadError(f"text is {len(text):,} characters; at most {MAX_CHARS:,} are proofread at once")
    if lang not in LANGS:
        raise ProofreadError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    wanted = set(KINDS if kinds is None else kinds)
    bad = wanted - set(KINDS)
    if bad:
        raise ProofreadError(f"unknown kind(s) {', '.join(sorted(bad))}; choose from {', '.join(KINDS)}")
    if lang == "auto":
        lang = detect_lang(text)
    term_list = load_terms() if terms is None else terms
    tdict = TermDict(term_list)
    found: list[Suggestion] = []
    if "term" in wanted:
        found += tdict.suggestions(text)
    if "spelling" in wanted and lang == "zh" and _CJK.search(text):
        if len(text) <= lm_max_chars:
            found += spelling_suggestions(text, progress=progress)
    if "english" in wanted:
        extra = {w.lower() for t in term_list for w in re.findall(r"[A-Za-z]+", t.term)}
        found += english_suggestions(text, extra)
    style_kinds = {"number", "date", "punctuation"} & wanted
    if style_kinds:
        for rule in RULES.values():
            if lang == "en" and rule.__name__ in ("halfwidth_punctuation", "quote_style", "date_style"):
                continue
            found += [s for s in rule(text) if s.kind in style_kinds]
    # text already written as an exact term is never changed by another check
    exact = _Spans()
    for t in term_list:
        for m in re.finditer(re.escape(t.term), text):
            if not exact.overlaps(m.start(), m.end()):
                exact.add(m.start(), m.end())
    found = [s for s in found if s.kind == "term" or not exact.overlaps(s.start, s.end)]
    return _resolve(found)
