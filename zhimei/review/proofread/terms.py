"""The term dictionary (术语库): official names, titles and place names that must be written exactly.

Stored as JSON in ``$ZHIMEI_HOME/proofread/terms.json``: ``{"version": 1, "terms": [{"term", "variants",
"note"}]}`` (written atomically under a lock). A term is suggested in place of

- any listed variant (世卫组织 → 世界卫生组织, if listed), matched as a whole;
- a Latin-script term written with other capitals or spacing (xinhua news agency → Xinhua News Agency);
- a Chinese term of 2+ characters written with a same-sounding character (乌鲁木其 → 乌鲁木齐): a window of the
  text whose toneless pinyin equals the term's and differs from it in at most a third of its characters.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhimei.review.proofread.types import ProofreadError, Suggestion, make_suggestion
from zhimei.store.files import write_atomic

__all__ = ["Term", "TermDict", "add_term", "default_terms_path", "load_terms", "make_term", "remove_term",
           "term_suggestions"]

MAX_TERMS = 5000
MAX_TERM_CHARS = 100
_lock = threading.Lock()
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Term:
    """One exact form and the wrong forms that should become it."""

    term: str
    variants: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "variants": list(self.variants), "note": self.note}


def default_terms_path() -> Path:
    """``$ZHIMEI_HOME/proofread/terms.json``."""
    from zhimei.settings import get_settings

    return get_settings().home / "proofread" / "terms.json"


def _clean(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ProofreadError(f"{what} must be a string")
    value = value.strip()
    if not value:
        raise ProofreadError(f"{what} is empty")
    if len(value) > MAX_TERM_CHARS or "\n" in value:
        raise ProofreadError(f"{what} must be one line of at most {MAX_TERM_CHARS} characters")
    return value


def make_term(term: Any, variants: Any = (), note: Any = "") -> Term:
    """A validated Term (ProofreadError names the bad field)."""
    t = _clean(term, "term")
    if isinstance(variants, str):
        variants = [v for v in re.split(r"[,，;；]", variants) if v.strip()]
    if not isinstance(variants, list | tuple):
        raise ProofreadError("variants must be a list of strings")
    vs = []
    for v in variants:
        v = _clean(v, "variant")
        if v != t and v not in vs:
            vs.append(v)
    if not isinstance(note, str) or len(note) > 500:
        raise ProofreadError("note must be a string of at most 500 characters")
    return Term(t, tuple(vs), note.strip())


def load_terms(path: Path | None = None) -> list[Term]:
    """The stored terms (an empty list when the file does not exist yet)."""
    path = path or default_terms_path()
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text("utf-8"))
        return [make_term(t["term"], t.get("variants", []), t.get("note", "")) for t in doc["terms"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProofreadError(f"term dictionary {path} cannot be read: {exc}") from exc


def _save(terms: list[Term], path: Path) -> None:
    doc = {"version": 1, "terms": [t.to_dict() for t in sorted(terms, key=lambda t: t.term)]}
    write_atomic(path, json.dumps(doc, ensure_ascii=False, indent=1))


def add_term(term: str, variants: Any = (), note: str = "", path: Path | None = None) -> Term:
    """Add a term, or replace the entry with the same exact form (idempotent)."""
    path = path or default_terms_path()
    new = make_term(term, variants, note)
    with _lock:
        terms = [t for t in load_terms(path) if t.term != new.term]
        if len(terms) >= MAX_TERMS:
            raise ProofreadError(f"the term dictionary is full ({MAX_TERMS} terms)")
        _save([*terms, new], path)
    return new


def remove_term(term: str, path: Path | None = None) -> bool:
    """Remove a term; False when it was not there."""
    path = path or default_terms_path()
    with _lock:
        terms = load_terms(path)
        kept = [t for t in terms if t.term != term.strip()]
        if len(kept) == len(terms):
            return False
        _save(kept, path)
    return True


def _key(s: str) -> tuple[str, ...] | None:
    from zhimei.models.zh_correct import syllables

    out = []
    for c in s:
        r = syllables(c)
        if not r:
            return None
        out.append(r[0])
    return tuple(out)


class TermDict:
    """Compiled matchers for a list of terms."""

    def __init__(self, terms: list[Term]) -> None:
        self.terms = terms
        variants = {v: t.term for t in terms for v in t.variants}
        self._variants = (re.compile("|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True)))
                          if variants else None)
        self._variant_map = variants
        latin = [t.term for t in terms if not _CJK.search(t.term) and re.search(r"[A-Za-z]", t.term)]
        self._latin = [(t, re.compile(r"(?<![A-Za-z])" + r"\s*".join(re.escape(w) for w in t.split()) +
                                      r"(?![A-Za-z])", re.IGNORECASE)) for t in latin]
        self._by_key: dict[int, dict[tuple[str, ...], str]] = {}
        for t in terms:
            if len(t.term) >= 2 and all("\u4e00" <= c <= "\u9fff" for c in t.term):
                k = _key(t.term)
                if k:
                    self._by_key.setdefault(len(t.term), {})[k] = t.term

    def suggestions(self, text: str) -> list[Suggestion]:
        """Wrong forms of the dictionary's terms in ``text``."""
        out: list[Suggestion] = []
        if self._variants is not None:
            for m in self._variants.finditer(text):
                term = self._variant_map[m.group()]
                out.append(make_suggestion(m.start(), m.end(), m.group(), term, "term", 0.95,
                                           f"规范写法：{term}", f"the exact form is {term}"))
        for term, rx in self._latin:
            for m in rx.finditer(text):
                if m.group() != term:
                    out.append(make_suggestion(m.start(), m.end(), m.group(), term, "term", 0.9,
                                               f"规范写法：{term}", f"the exact form is {term}"))
        if self._by_key:
            from zhimei.models.zh_correct import syllables

            py = [(syllables(c) or ("",))[0] for c in text]
            for n, table in self._by_key.items():
                for i in range(len(text) - n + 1):
                    k = tuple(py[i:i + n])
                    term = table.get(k)
                    if term is None:
                        continue
                    window = text[i:i + n]
                    diff = sum(a != b for a, b in zip(window, term, strict=True))
                    if 0 < diff <= max(1, n // 3):
                        out.append(make_suggestion(i, i + n, window, term, "term", 0.85,
                                                   f"术语同音误写：{term}", f"sounds like the term {term}"))
        return out


def term_suggestions(text: str, terms: list[Term] | None = None) -> list[Suggestion]:
    """Term-dictionary suggestions (``terms`` default: the stored dictionary)."""
    return TermDict(load_terms() if terms is None else terms).suggestions(text)
