"""Words for the full-text index and for queries: jieba search-mode segmentation for Chinese (so 中华人民共和国
is found by 人民 and by 共和国), plain words for Latin scripts (the database stems English), lower case,
no punctuation. The same function cuts documents and queries, so both sides always agree."""

from __future__ import annotations

import re
import threading
import unicodedata

__all__ = ["index_tokens", "query_terms", "fts5_match", "pg_tsquery", "MAX_QUERY_CHARS", "MAX_TERMS", "has_cjk"]

MAX_QUERY_CHARS = 1000
"""Longer queries are cut to this many characters (a pasted article still searches, by its opening)."""
MAX_TERMS = 48
_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_lock = threading.Lock()
_jieba = None

STOPWORDS = frozenset("""
的 了 是 在 和 与 及 或 也 就 都 而 但 这 那 之 其 为 于 以 对 把 被 从 等 啊 吗 呢 吧 哪 什么 怎么 哪些 哪个 谁
多少 几 如何 为什么 是否 有没有 一个 这个 那个 哪里 何时 何 么 呀 着 过 得 地 中 上 下 请问 请 告诉 我 你 他 她 它
我们 你们 他们 是不是 能否 可以 哪一 哪位 哪年 几年 多久 什么样 怎样
a an the of to in on at for by with from and or is are was were be been being what who whom whose when where
which how why does did do done has have had this that these those it its as into about can could would should
""".split())


def _cutter():
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def has_cjk(text: str) -> bool:
    """Whether the text holds any Chinese character."""
    return bool(_CJK.search(text))


def _normalise(text: str) -> str:
    # NFKC folds full-width letters/digits and compatibility forms; casefold for Latin.
    return unicodedata.normalize("NFKC", text).casefold()


def _words(text: str) -> list[str]:
    text = _normalise(text)
    if not has_cjk(text):
        return _WORD.findall(text)
    out: list[str] = []
    # No HMM guessing of unknown words: it splits the same unknown name differently by context (锦地罗 alone,
    # 锦地 + 罗 in a question), so documents and queries would disagree; without it they split alike.
    for piece in _cutter().cut_for_search(text, HMM=False):
        out.extend(_WORD.findall(piece))
    return out


def index_tokens(text: str) -> str:
    """The document's words, space-separated, as the full-text index stores them."""
    return " ".join(_words(text or ""))


def query_terms(query: str) -> list[str]:
    """The distinct searchable words of a query, stopwords dropped (all of them kept when nothing else remains)."""
    words = _words((query or "")[:MAX_QUERY_CHARS])
    seen: dict[str, None] = {}
    for w in words:
        seen.setdefault(w, None)
    terms = [w for w in seen if w not in STOPWORDS]
    if not terms:
        terms = list(seen)
    return terms[:MAX_TERMS]


def fts5_match(terms: list[str]) -> str:
    """An FTS5 MATCH expression: any of the terms (each quoted, so nothing in it is FTS syntax)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def pg_tsquery(terms: list[str]) -> str:
    """A to_tsquery() expression: any of the terms (terms are \\w+ words, quoted as lexemes)."""
    return " | ".join("'" + t.replace("'", "''") + "'" for t in terms)
