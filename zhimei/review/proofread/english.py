"""English spelling: pyspellchecker's packaged English frequency list (pyspellchecker==0.9.1, MIT; 160k words).

A word is checked when it is all lower-case or capitalised at the start of a sentence (other capitalised words,
ALL-CAPS acronyms, words with digits, e-mail addresses, URLs and words under three letters are names or codes and
are left alone). An unknown word gets the most frequent known word within one edit (two for words of five or more
letters); the replacement keeps the original's capitalisation.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from functools import lru_cache
from typing import Any

from zhimei.review.proofread.types import Suggestion, make_suggestion

__all__ = ["english_suggestions", "spellchecker"]

_WORD = re.compile(r"(?<![\w@/.\-'])([A-Za-z][a-z]+(?:'[a-z]+)?)(?![\w@/\-]|\.[A-Za-z])")
_SKIP = re.compile(r"(?:https?://|www\.)[!-~]+|[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
                   r"|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|org|net|cn|html?)\b", re.I)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def spellchecker() -> Any:
    """The English checker (pyspellchecker's en frequency list, loaded once)."""
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=2)


def _sentence_start(text: str, i: int) -> bool:
    j = i - 1
    while j >= 0 and text[j] in " \t\"'“‘(（":
        j -= 1
    return j < 0 or text[j] in ".!?。！？\n"


def _match_case(word: str, rep: str) -> str:
    return rep[:1].upper() + rep[1:] if word[:1].isupper() else rep


def english_suggestions(text: str, extra_words: set[str] | None = None) -> list[Suggestion]:
    """Misspelt English words in ``text`` (Latin words only; works inside Chinese text too)."""
    sc = spellchecker()
    known = extra_words or set()
    out = []
    skip = [(m.start(), m.end()) for m in _SKIP.finditer(text)]
    skip_starts = [a for a, _b in skip]
    for m in _WORD.finditer(text):
        word = m.group(1)
        k = bisect.bisect_right(skip_starts, m.start()) - 1
        if k >= 0 and m.start() < skip[k][1]:
            continue
        if len(word) < 3 or (word[0].isupper() and not _sentence_start(text, m.start())):
            continue
        low = word.lower()
        if low in known or "'" in low:
            continue
        with _lock:
            if sc[low] > 0:
                continue
            if len(low) < 5:
                cands = [w for w in sc.edit_distance_1(low) if sc[w] > 0]
            else:
                cands = list(sc.candidates(low) or [])
            cands = [w for w in cands if sc[w] > 0 and "'" not in w]
            if not cands:
                continue
            best = max(cands, key=lambda w: (sc[w], w))
            freq = sc[best]
        conf = min(0.95, 0.5 + 0.05 * math.log10(freq + 1))
        out.append(make_suggestion(m.start(1), m.end(1), word, _match_case(word, best), "english", conf,
                                   f"英文拼写：{best}", f"English spelling: {best}"))
    return out
