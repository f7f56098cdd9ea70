"""Short answers to factoid questions: the span of the best sentence that fills the question's slot
(谁 → a person, 什么时候 → a time, 多少 → a number, 什么 → what the sentence says where the question asks).

The question is aligned with the sentence: the words before the question word and after it are found in the
sentence and what lies between them is the answer; when the question word's context cannot be found, a span
of the expected type (time expression, number with unit, person/place from the entities backend) is taken from
the clause that shares most with the question."""

from __future__ import annotations

import re
from collections.abc import Callable

from zhimei.library.search.sentences import split_clauses

__all__ = ["question_type", "short_answer", "WH_WORDS"]

WH_WORDS: list[tuple[str, str]] = [
    # (question word, expected answer type) — longest first where they overlap
    ("什么时候", "TIME"), ("什么时间", "TIME"), ("什么年代", "TIME"), ("哪一年", "TIME"),
    ("哪年", "TIME"), ("何时", "TIME"), ("几月", "TIME"), ("哪天", "TIME"), ("哪一天", "TIME"), ("多少年", "NUM"),
    ("多少", "NUM"), ("多大", "NUM"), ("多长", "NUM"), ("多高", "NUM"), ("多重", "NUM"), ("多远", "NUM"),
    ("多久", "NUM"), ("多深", "NUM"), ("多宽", "NUM"), ("几", "NUM"),
    ("哪位", "PER"), ("谁", "PER"),
    ("什么地方", "LOC"), ("哪个国家", "LOC"), ("哪国", "LOC"), ("哪里", "LOC"), ("哪儿", "LOC"), ("何地", "LOC"),
    ("何处", "LOC"),
    ("为什么", "WHY"), ("为何", "WHY"), ("怎么样", "HOW"), ("怎样", "HOW"), ("如何", "HOW"), ("怎么", "HOW"),
    ("哪些", "WHAT"), ("哪个", "WHAT"), ("哪一", "WHAT"), ("什么", "WHAT"), ("啥", "WHAT"), ("哪", "WHAT"),
    ("何", "WHAT"),
]
_EN_WH = [("how many", "NUM"), ("how much", "NUM"), ("how long", "NUM"), ("how old", "NUM"), ("when", "TIME"),
          ("what year", "TIME"), ("who", "PER"), ("whom", "PER"), ("where", "LOC"), ("why", "WHY"), ("how", "HOW"),
          ("what", "WHAT"), ("which", "WHAT")]
_TIME = re.compile(r"(?:(?:公元前?)?\d{1,4}\s*年(?:代)?(?:\d{1,2}\s*月)?(?:\d{1,2}\s*[日号])?"
                   r"|\d{1,2}\s*月\d{1,2}\s*[日号]|[一二三四五六七八九十〇零百]+年|\d{1,2}\s*世纪(?:\d{1,2}年代)?|[\u4e00-\u9fff]{2}\d{1,2}年)"
                   r"(?:\s*[（(][^（()）]{1,12}[）)])?"
                   r"|\b(?:1[0-9]|20)\d{2}\b|(?:January|February|March|April|May|June|July|August|September|"
                   r"October|November|December)\s+\d{1,2}(?:,\s*\d{4})?")
_NUM = re.compile(r"(?:约|大约|近|超过|逾)?[\d一二三四五六七八九十百千万亿两〇零.,，]+(?:多|余)?\s*"
                  r"(?:[%％]|[a-zA-Z²³]{1,4}|[\u4e00-\u9fff]{1,3})?")
_TRAIL = "的了呢吗呀？?。，,.!！ "
_LEAD = "是为在于约有"
_UNITS = ("分钟", "小时", "公里", "公斤", "平方公里", "平方米", "米", "个", "次", "年", "月", "日", "天", "岁",
          "人", "名", "位", "种", "元", "吨", "倍", "届", "场", "部", "座", "件", "本", "家", "所", "条", "层",
          "号", "周", "度", "%")


def question_type(question: str) -> tuple[str, int, int]:
    """(expected type, start, end of the question word) — ("", -1, -1) when the question has none."""
    q = question.strip()
    best: tuple[str, int, int] = ("", -1, -1)
    for word, kind in WH_WORDS:
        i = q.find(word)
        if i >= 0 and (best[1] < 0 or i < best[1] or (i == best[1] and len(word) > best[2] - best[1])):
            best = (kind, i, i + len(word))
    if best[0] == "WHY" and q[best[1]:best[2]] == "为什么" and not re.sub(r"[？?。！!\s]", "", q[best[2]:]):
        best = ("WHAT", best[1] + 1, best[2])  # 即算为什么？ — "is counted as what"
    if best[1] >= 0:
        return best
    low = q.casefold()
    for word, kind in _EN_WH:
        m = re.search(rf"\b{word}\b", low)
        if m:
            return kind, m.start(), m.end()
    return best


def _clean_left(text: str) -> str:
    text = re.sub(r"[？?！!。，,\s]+$", "", text)
    return text


def _find_left(context: str, sentence: str) -> int:
    """End position in `sentence` of the longest suffix of `context` (2–10 characters) found in it; -1."""
    for n in range(min(10, len(context)), 1, -1):
        piece = context[-n:]
        i = sentence.find(piece)
        if i >= 0:
            return i + n
    return -1


def _find_right(context: str, sentence: str, after: int) -> int:
    """Start position in `sentence` (at or after `after`) of the question's words following the question word."""
    for skip in range(0, min(4, max(0, len(context) - 1))):
        rest = context[skip:]
        for n in range(min(10, len(rest)), 1, -1):
            i = sentence.find(rest[:n], after)
            if i >= 0:
                return i
    return -1


def _trim(span: str) -> str:
    span = span.strip(_TRAIL + "：:、；;“”\"'")
    while span and span[0] in _LEAD and len(span) > 2:
        span = span[1:]
    return span.strip(_TRAIL)


def _typed(kind: str, sentence: str, question: str, entities: Callable[[str], list[tuple[str, str]]] | None
           ) -> str:
    """A span of the expected type from the clause sharing most characters with the question."""
    qchars = set(question)
    clauses = split_clauses(sentence) or [(0, len(sentence))]
    ranked = sorted(clauses, key=lambda c: -len(qchars & set(sentence[c[0]:c[1]])))
    for a, b in ranked:
        clause = sentence[a:b]
        if kind == "TIME":
            m = _TIME.search(clause)
            if m:
                return m.group(0)
        elif kind == "NUM":
            for m in _NUM.finditer(clause):
                if any(ch.isdigit() or ch in "一二三四五六七八九十百千万亿两" for ch in m.group(0)) \
                        and m.group(0) not in question:
                    return m.group(0).strip("，,")
        elif kind in ("PER", "LOC") and entities is not None:
            names = [t for t, k in entities(clause) if k == kind and t not in question]
            if names:
                return names[0]
    return ""


def short_answer(question: str, sentence: str,
                 entities: Callable[[str], list[tuple[str, str]]] | None = None) -> str:
    """The short answer to a factoid question inside `sentence` ("" when there is none: why/how questions,
    or no slot found). `entities(text)` gives (text, kind) pairs for PER/LOC answers."""
    kind, s, e = question_type(question)
    if not kind or kind in ("WHY", "HOW") or not sentence:
        return ""
    left = _clean_left(question[:s])
    right = _clean_left(question[e:])
    right = right.lstrip("的是个位些")  # 什么的… / 哪些是… / 哪个…
    span = ""
    lpos = _find_left(left, sentence) if len(left) >= 2 else -1
    if lpos >= 0:
        rpos = _find_right(right, sentence, lpos) if len(right) >= 2 else -1
        if rpos > lpos:
            span = sentence[lpos:rpos]
            if kind == "NUM":  # 多少分钟 → keep the unit: 4分钟
                for unit in sorted(_UNITS, key=len, reverse=True):
                    if right.startswith(unit) and sentence.startswith(unit, rpos):
                        span += unit
                        break
        else:
            m = re.search(r"[，,。；;！？!?]", sentence[lpos:])
            span = sentence[lpos:lpos + m.start()] if m else sentence[lpos:]
    elif len(right) >= 2:
        rpos = _find_right(right, sentence, 0)
        if rpos > 0:
            head = sentence[:rpos]
            marks = list(re.finditer(r"[，,。；;：:！？!?）)]", head))
            span = head[marks[-1].end():] if marks else head
    span = _trim(span)
    if kind in ("TIME", "NUM", "PER", "LOC") and span:
        typed = _typed(kind, span, question, entities)
        if typed and (kind in ("PER", "LOC") or len(span) > len(typed) + 4):
            span = typed
    if not span or len(span) > 60 or span in question:
        span = _typed(kind, sentence, question, entities) if kind in ("TIME", "NUM", "PER", "LOC") else ""
    return span
