"""Text normalisation for transcripts: Traditional→Simplified, and the scoring normaliser for WER/CER.

Two uses:
- `to_simplified` is applied to every Chinese transcript the product writes.
- `normalize_for_scoring` puts a reference and a hypothesis into one comparable form (lower case, no
  punctuation, numbers spelled out the same way on both sides) before computing WER/CER.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

__all__ = [
    "to_simplified",
    "has_cjk",
    "en_number_words",
    "zh_number_words",
    "normalize_en",
    "normalize_zh",
    "normalize_for_scoring",
    "score_tokens",
    "edit_distance",
]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified (OpenCC t2s); other text is unchanged."""
    if not text or not _CJK.search(text):
        return text
    with _lock:  # the OpenCC handle is not documented as thread-safe
        return _t2s().convert(text)


def has_cjk(text: str) -> bool:
    """True when the text contains Chinese characters."""
    return bool(_CJK.search(text or ""))


_THOUSANDS = re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])")


def _join_thousands(text: str) -> str:
    """``1,200,000`` → ``1200000`` (ASCII commas only; a list comma "，" is left alone)."""
    return _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)


# ---------------------------------------------------------------- English numbers
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
        "twelve": "twelfth"}


def _en_below_1000(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        if n % 10:
            words.append(_ONES[n % 10])
    elif n or not words:
        words.append(_ONES[n])
    return words


def _en_cardinal(n: int) -> list[str]:
    if n < 1000:
        return _en_below_1000(n)
    words: list[str] = []
    for value, name in _SCALES:
        if n >= value:
            words += _en_cardinal(n // value) + [name]
            n %= value
    if n:
        words += _en_below_1000(n)
    return words


def en_number_words(token: str, ordinal: bool = False) -> str:
    """Spell an English number (``"1995"``, ``"3.5"``, ``"1,200"``) as words; 4-digit years read in pairs."""
    token = token.replace(",", "")
    if "." in token:
        whole, frac = token.split(".", 1)
        head = en_number_words(whole or "0")
        return head + " point " + " ".join(_ONES[int(d)] for d in frac if d.isdigit())
    if not token.isdigit():
        return token
    n = int(token)
    if len(token) > 1 and token.startswith("0"):
        words = [_ONES[int(d)] if d != "0" else "oh" for d in token]
    elif len(token) == 4 and not ordinal and (1100 <= n <= 1999 or 2010 <= n <= 2099) and n % 100:
        hi, lo = divmod(n, 100)
        words = _en_below_1000(hi) + (["oh"] + _en_below_1000(lo) if lo < 10 else _en_below_1000(lo))
    else:
        words = _en_cardinal(n)
    if ordinal:
        last = words[-1]
        if last in _ORD:
            last = _ORD[last]
        elif last.endswith("y"):
            last = last[:-1] + "ieth"
        else:
            last += "th"
        words[-1] = last
    return " ".join(words)


_EN_TITLES = {"mr": "mister", "mrs": "missus", "ms": "miss", "dr": "doctor", "st": "saint", "prof": "professor",
              "jr": "junior", "sr": "senior", "gen": "general", "gov": "governor", "sen": "senator",
              "rep": "representative", "capt": "captain", "lt": "lieutenant", "col": "colonel", "sgt": "sergeant"}
_EN_FILLERS = {"uh", "um", "umm", "uhm", "hmm", "mm", "mhm", "ah", "er", "erm"}
_EN_SPLIT = {"okay": "ok", "o k": "ok"}


def normalize_en(text: str) -> list[str]:
    """English text as scoring words: lower case, no punctuation, numbers and titles spelled out."""
    t = unicodedata.normalize("NFKC", _join_thousands(text)).lower()
    t = t.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    t = re.sub(r"\$\s?(\d+(?:\.\d+)?)", r"\1 dollars", t)
    t = re.sub(r"£\s?(\d+(?:\.\d+)?)", r"\1 pounds", t)
    t = re.sub(r"€\s?(\d+(?:\.\d+)?)", r"\1 euros", t)
    t = t.replace("%", " percent").replace("&", " and ").replace("+", " plus ")
    t = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: " " + en_number_words(m.group(1), ordinal=True) + " ", t)
    t = re.sub(r"(\d+)s\b", r"\1 s", t)  # 1990s -> 1990 s (kept as a word after spelling)
    t = re.sub(r"\d+(?:\.\d+)?", lambda m: " " + en_number_words(m.group(0)) + " ", t)
    t = re.sub(r"[-\u2010-\u2015/]", " ", t)
    t = re.sub(r"[^\w\s']", " ", t)
    words = []
    for w in t.split():
        w = w.strip("'")
        if not w or w in _EN_FILLERS:
            continue
        w = _EN_TITLES.get(w, w)
        words.append(_EN_SPLIT.get(w, w))
    # "nineteen ninety s" -> "nineteen nineties"
    out: list[str] = []
    for w in words:
        if w == "s" and out and out[-1].endswith("y"):
            out[-1] = out[-1][:-1] + "ies"
        elif w == "s" and out:
            out[-1] += "s"
        else:
            out.append(w)
    return out


# ---------------------------------------------------------------- Chinese numbers
_ZH_DIGITS = "零一二三四五六七八九"
_ZH_UNITS = ["", "十", "百", "千"]


def _zh_below_10000(n: int) -> str:
    s = ""
    zero = False
    for i in range(3, -1, -1):
        d = (n // 10**i) % 10
        if d:
            if zero and s:
                s += "零"
            s += _ZH_DIGITS[d] + _ZH_UNITS[i]
            zero = False
        elif s:
            zero = True
    return s


def _zh_cardinal(n: int) -> str:
    if n == 0:
        return "零"
    parts = []
    for unit_value, unit in ((10**8, "亿"), (10**4, "万"), (1, "")):
        chunk = (n // unit_value) % 10**4 if unit_value < 10**8 else n // unit_value
        if chunk:
            text = _zh_cardinal(chunk) if chunk >= 10**4 else _zh_below_10000(chunk)
            if parts and chunk < 1000:
                text = "零" + text
            parts.append(text + unit)
        n %= unit_value
    s = "".join(parts)
    return s[1:] if s.startswith("一十") else s


def zh_number_words(token: str, digits_only: bool = False) -> str:
    """Read an Arabic number the way a Chinese transcript writes it (二十五, 三点五, 二零一二)."""
    token = token.replace(",", "")
    if "." in token:
        whole, frac = token.split(".", 1)
        return zh_number_words(whole or "0") + "点" + "".join(_ZH_DIGITS[int(d)] for d in frac if d.isdigit())
    if not token.isdigit():
        return token
    if digits_only or (len(token) > 1 and token.startswith("0")) or len(token) > 12:
        return "".join(_ZH_DIGITS[int(d)] for d in token)
    return _zh_cardinal(int(token))


def _zh_numbers(t: str) -> str:
    t = re.sub(r"(\d+(?:\.\d+)?)%", lambda m: "百分之" + zh_number_words(m.group(1)), t)
    t = re.sub(r"(\d{2,4})(?=年)", lambda m: zh_number_words(m.group(1), digits_only=True), t)
    return re.sub(r"\d+(?:\.\d+)?", lambda m: zh_number_words(m.group(0)), t)


def normalize_zh(text: str) -> list[str]:
    """Chinese text as scoring tokens: Simplified, no punctuation, numbers read out; one token per
    character, a Latin word counts as one token."""
    t = unicodedata.normalize("NFKC", _join_thousands(text))
    t = to_simplified(t)
    t = _zh_numbers(t).lower()
    tokens: list[str] = []
    for m in re.finditer(r"[a-z']+|[^\W_]", t):
        tok = m.group(0).strip("'")
        if tok:
            tokens.append(tok)
    return tokens


def normalize_for_scoring(text: str, lang: str) -> list[str]:
    """Tokens for WER (English and other space-separated languages) or CER (Chinese, Japanese)."""
    if lang.split("-")[0].lower() in ("zh", "ja", "yue", "cmn"):
        return normalize_zh(text)
    return normalize_en(text)


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two token lists."""
    if not ref:
        return len(hyp)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def score_tokens(ref: str, hyp: str, lang: str) -> tuple[int, int]:
    """(edits, reference length) after normalising both sides the same way."""
    r = normalize_for_scoring(ref, lang)
    h = normalize_for_scoring(hyp, lang)
    return edit_distance(r, h), len(r)
