"""Number, date and punctuation style for Chinese news copy: small independent rules, each a function
``rule(text) -> list[Suggestion]``.

- `halfwidth_punctuation`: ``,;:?!.()`` after (or ``,`` before) a Chinese character → full width (，；：？！。（）).
- `fullwidth_digits`: full-width digits and Latin letters (１９５０, ＡＢＣ) → half width (1950, ABC).
- `date_style`: 2026-11-22 / 2026/11/22 / 2026.11.22 in Chinese text → 2026年11月22日; 22号 after 月 → 22日.
- `thousands_separators`: integers of five or more digits → 1,234,567 (not years, codes or phone-like numbers);
  misplaced separators (12,34,567) are regrouped.
- `quote_style`: straight quotes around Chinese text → “ ” (and ‘ ’), a mixed pair (“…") is mended.
- `repeated_punctuation`: 。。 ，， ！！！ ？？ → one (…… and —— are kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from zhimei.review.proofread.types import Suggestion, make_suggestion

__all__ = ["RULES", "date_style", "fullwidth_digits", "halfwidth_punctuation", "quote_style", "repeated_punctuation",
           "style_suggestions", "thousands_separators"]

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", ".": "。", "(": "（", ")": "）"}


def _is_cjk(ch: str) -> bool:
    return bool(ch) and bool(_CJK_CHAR.match(ch))


def halfwidth_punctuation(text: str) -> list[Suggestion]:
    """Half-width punctuation right after a Chinese character (or ``(`` before one) → full width."""
    out = []
    for m in re.finditer(r"[,;:?!.()]", text):
        i, ch = m.start(), m.group()
        prev = text[i - 1] if i > 0 else ""
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if ch == "(":
            ok = _is_cjk(nxt) or _is_cjk(prev)
        elif ch == ".":
            ok = _is_cjk(prev) and (not nxt or nxt.isspace() or _is_cjk(nxt))  # not 3.5, not example.com
        elif ch == ":":
            ok = _is_cjk(prev) and not nxt.isdigit()
        else:
            ok = _is_cjk(prev) or (_is_cjk(nxt) and not (prev.isascii() and prev.isalpha()))
        if ok:
            out.append(make_suggestion(i, i + 1, ch, _HALF_TO_FULL[ch], "punctuation", 0.9,
                                       "中文里用全角标点", "full-width punctuation in Chinese text"))
    return out


def fullwidth_digits(text: str) -> list[Suggestion]:
    """Runs of full-width digits / Latin letters → half width."""
    out = []
    for m in re.finditer(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+(?:[\uff0e．][\uff10-\uff19]+)?", text):
        s = m.group()
        half = "".join(chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in s)
        out.append(make_suggestion(m.start(), m.end(), s, half, "number", 0.95,
                                   "数字和字母用半角", "half-width digits and letters"))
    return out


_DATE = re.compile(r"(?<![\d.\-/])((?:19|20)\d{2})([-/.])(\d{1,2})\2(\d{1,2})(?![\d.\-/])")
_HAO = re.compile(r"(\d{1,2})月(\d{1,2})号")


def date_style(text: str) -> list[Suggestion]:
    """Numeric dates in Chinese text → 2026年11月22日; 11月22号 → 11月22日."""
    if not _CJK_CHAR.search(text):
        return []
    out = []
    for m in _DATE.finditer(text):
        y, mo, d = int(m.group(1)), int(m.group(3)), int(m.group(4))
        if 1 <= mo <= 12 and 1 <= d <= 31:
            out.append(make_suggestion(m.start(), m.end(), m.group(), f"{y}年{mo}月{d}日", "date", 0.8,
                                       "中文日期写作“年月日”", "Chinese dates are written 年月日"))
    for m in _HAO.finditer(text):
        if 1 <= int(m.group(1)) <= 12 and 1 <= int(m.group(2)) <= 31:
            s = m.start() + m.group().index("号")
            out.append(make_suggestion(s, s + 1, "号", "日", "date", 0.7,
                                       "书面语日期用“日”", "written dates use 日, not 号"))
    return out


_BIG = re.compile(r"(?<![A-Za-z0-9_.,+\-/#:])(\d{1,3}(?:,\d{1,3})+|\d{5,})(?![A-Za-z0-9_%/:-]|[.,]\d)")


def thousands_separators(text: str) -> list[Suggestion]:
    """Integers of five or more digits get thousands separators; wrongly grouped ones are regrouped."""
    out = []
    for m in _BIG.finditer(text):
        s = m.group()
        digits = s.replace(",", "")
        after = text[m.end():m.end() + 1]
        if after in ("年", "号") or len(digits) > 12 or digits.startswith("0"):
            continue  # years, numbers, codes and phone numbers are not amounts
        grouped = f"{int(digits):,}"
        if grouped != s and (len(digits) >= 5 or "," in s):
            out.append(make_suggestion(m.start(), m.end(), s, grouped, "number", 0.6,
                                       "五位以上的数字用千分位分隔", "group digits by thousands"))
    return out


def quote_style(text: str) -> list[Suggestion]:
    """Straight double/single quotes next to Chinese text → curly pairs; a pair mixing kinds is mended."""
    out = []
    opened = False
    for m in re.finditer(r"[\"“”]", text):
        i, ch = m.start(), m.group()
        prev = text[i - 1] if i > 0 else ""
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if ch == "\"" and not (_is_cjk(prev) or _is_cjk(nxt) or prev in "，。：；！？（ " or nxt in "，。：；！？）"):
            continue
        if ch == "\"" and not _CJK_CHAR.search(text[max(0, i - 20):i + 20]):
            continue
        want = "”" if opened else "“"
        if ch != want:
            out.append(make_suggestion(i, i + 1, ch, want, "punctuation", 0.8,
                                       "中文引号成对使用“”", "Chinese text uses paired “” quotes"))
        opened = not opened
    for m in re.finditer(r"'([^'\n]{1,40})'", text):
        if _CJK_CHAR.search(m.group(1)):
            out.append(make_suggestion(m.start(), m.start() + 1, "'", "‘", "punctuation", 0.7,
                                       "中文单引号用‘’", "Chinese single quotes are ‘ ’"))
            out.append(make_suggestion(m.end() - 1, m.end(), "'", "’", "punctuation", 0.7,
                                       "中文单引号用‘’", "Chinese single quotes are ‘ ’"))
    return out


_REPEAT = re.compile(r"([。，、；：！？!?,])\1+|([！？!?])(?:[！？!?])+")


def repeated_punctuation(text: str) -> list[Suggestion]:
    """Doubled punctuation (。。 ，， ！！！ ?? ！？) → one mark."""
    out = []
    for m in _REPEAT.finditer(text):
        s = m.group()
        first = s[0]
        keep = {"!": "！", "?": "？"}.get(first, first) if _CJK_CHAR.search(text[max(0, m.start() - 2):m.start()]) \
            else first
        out.append(make_suggestion(m.start(), m.end(), s, keep, "punctuation", 0.95,
                                   "标点不重复使用", "do not repeat punctuation"))
    return out


RULES: dict[str, Callable[[str], list[Suggestion]]] = {
    "halfwidth_punctuation": halfwidth_punctuation, "fullwidth_digits": fullwidth_digits, "date_style": date_style,
    "thousands_separators": thousands_separators, "quote_style": quote_style,
    "repeated_punctuation": repeated_punctuation,
}


def style_suggestions(text: str) -> list[Suggestion]:
    """All style rules over ``text`` (possibly overlapping; `proofread` resolves overlaps)."""
    out: list[Suggestion] = []
    for rule in RULES.values():
        out.extend(rule(text))
    return out
