"""Word-list matching: Aho-Corasick over the normalised skeleton, hits reported as original spans.

Word lists are TSV (``term<TAB>category<TAB>severity``; ``#`` comments; category ``allow`` makes an allow-list
entry) or YAML (``{category, severity, words: [...], allow: [...]}``). A term ``word*`` also matches longer words
starting with it (``fuck*`` → fuckers), ``*word`` words ending with it. Severity 1 (low) … 3 (high), or
low/medium/high. The shipped list is `data/wordlists/`; admins add files to ``$ZHIMEI_HOME/review/wordlists``.

`Lexicon.current()` returns an immutable `CompiledLexicon`; when a list file changes (mtime/size, files added or
removed) a new one is compiled and swapped in atomically; readers holding the old one keep using it.
"""

from __future__ import annotations

import bisect
import itertools
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick

from zhimei.review.moderation.normalize import Skeleton, clean_text, is_latin, quick_skeleton, skeleton

__all__ = ["Term", "LexiconHit", "CompiledLexicon", "Lexicon", "LexiconError", "load_terms", "default_lexicon",
           "package_wordlist_dir", "admin_wordlist_dir", "SEVERITIES", "MAX_HITS"]

SEVERITIES = {"low": 1, "medium": 2, "high": 3}
MAX_HITS = 1000
"""At most this many hits are reported per text (the first ones in text order)."""
_HARD_BREAKS = set("，。！？；：、,;:!?…\n\r\u2028\u2029")
_LIST_SUFFIXES = (".tsv", ".txt", ".yaml", ".yml")


class LexiconError(ValueError):
    """A word-list file that cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Term:
    """One banned (or allowed) word as written in its list, and its skeleton pattern."""

    word: str
    pattern: str
    category: str
    severity: int
    prefix: bool = False  # "*word": may be the end of a longer word
    suffix: bool = False  # "word*": may be the start of a longer word
    source: str = ""
    breaks: frozenset[int] = frozenset()  # pattern positions preceded by a space in the term ("kill yourself")


@dataclass(frozen=True, slots=True)
class LexiconHit:
    """A banned word found in a text: original [start, end), the text there, and the list entry."""

    start: int
    end: int
    text: str
    word: str
    category: str
    severity: int
    source: str = ""

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text, "word": self.word,
                "category": self.category, "severity": self.severity, "source": self.source}


def _severity(value: object, where: str) -> int:
    if isinstance(value, int) and 1 <= value <= 3:
        return value
    s = str(value).strip().lower()
    if s in SEVERITIES:
        return SEVERITIES[s]
    if s.isdigit() and 1 <= int(s) <= 3:
        return int(s)
    raise LexiconError(f"{where}: severity must be 1-3 or low/medium/high, got {value!r}")


def _term(word: str, category: str, severity: int, source: str) -> Term | None:
    w = word.strip()
    prefix, suffix = w.startswith("*"), w.endswith("*")
    core = w.strip("*").strip()
    sk = skeleton(core)
    if not sk.text:
        return None
    breaks = frozenset(i for i in range(1, len(sk.text)) if sk.gap(i).strip() != sk.gap(i) or sk.gap(i).isspace())
    return Term(word=core, pattern=sk.text, category=category.strip().lower() or "other", severity=severity,
                prefix=prefix, suffix=suffix, source=source, breaks=breaks)


def load_terms(path: Path) -> list[Term]:
    """Terms of one list file (TSV/TXT or YAML); LexiconError names a malformed file or line."""
    name = path.name
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LexiconError(f"cannot read word list {name}: {exc}") from exc
    terms: list[Term] = []
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(raw) or {}
        except yaml.YAMLError as exc:
            raise LexiconError(f"word list {name} is not valid YAML: {exc}") from exc
        docs = doc if isinstance(doc, list) else [doc]
        for d in docs:
            if not isinstance(d, dict):
                raise LexiconError(f"word list {name}: expected a mapping with category/severity/words")
            cat = str(d.get("category", "other"))
            sev = _severity(d.get("severity", 2), name)
            for w in d.get("words") or []:
                if (t := _term(str(w), cat, sev, name)) is not None:
                    terms.append(t)
            for w in d.get("allow") or []:
                if (t := _term(str(w), "allow", 1, name)) is not None:
                    terms.append(t)
        return terms
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.split("\t")
        cat = cols[1] if len(cols) > 1 and cols[1].strip() else "other"
        sev = _severity(cols[2], f"{name}:{n}") if len(cols) > 2 and cols[2].strip() else 2
        if (t := _term(cols[0], cat, sev, name)) is not None:
            terms.append(t)
    return terms


def _joined(gap: str) -> bool:
    """A gap of nothing or only invisible format characters: the two sides are one word."""
    return all(c in "\u200b\u200c\u200d\u2060\ufeff\u00ad" for c in gap)


@dataclass(frozen=True)
class CompiledLexicon:
    """An immutable compiled matcher; safe to share between threads."""

    terms: tuple[Term, ...]
    signature: tuple = ()
    compiled_at: float = field(default_factory=time.time)
    _auto: object = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, terms: Iterable[Term], signature: tuple = ()) -> CompiledLexicon:
        """Compile the automaton of all patterns (banned and allowed)."""
        terms = tuple(terms)
        auto = ahocorasick.Automaton()
        by_pattern: dict[str, list[int]] = {}
        for i, t in enumerate(terms):
            by_pattern.setdefault(t.pattern, []).append(i)
        for pat, idx in by_pattern.items():
            auto.add_word(pat, (len(pat), tuple(idx)))
        if by_pattern:
            auto.make_automaton()
        return cls(terms=terms, signature=signature, _auto=auto if by_pattern else None)

    @property
    def banned(self) -> int:
        return sum(t.category != "allow" for t in self.terms)

    def find(self, text: str) -> list[LexiconHit]:
        """Banned words in `text` (original spans), allow-listed phrases suppressed, contained repeats dropped."""
        text = clean_text(text)
        if self._auto is None or not text:
            return []
        quick = quick_skeleton(text)
        if quick is not None and next(self._auto.iter(quick), None) is None:  # type: ignore[attr-defined]
            return []  # nothing listed anywhere: skip the offset map
        sk = skeleton(text)
        if not sk.text:
            return []
        allowed: list[tuple[int, int]] = []
        found: list[tuple[int, int, Term]] = []
        for end, (n, idx) in self._auto.iter(sk.text):  # type: ignore[attr-defined]
            start = end - n + 1
            for i in idx:
                t = self.terms[i]
                if t.category == "allow":
                    allowed.append((start, end + 1))
                elif _valid(sk, start, end + 1, t):
                    found.append((start, end + 1, t))
        if allowed:
            allowed.sort()
            starts = [a for a, _ in allowed]
            reach = list(itertools.accumulate((b for _, b in allowed), max))
            found = [f for f in found if not ((k := bisect.bisect_right(starts, f[0])) and reach[k - 1] >= f[1])]
        found.sort(key=lambda f: (f[0], -(f[1] - f[0]), -f[2].severity))
        hits: list[LexiconHit] = []
        kept: list[tuple[int, int, int]] = []
        for s, e, t in found:
            kept = [k for k in kept if k[1] > s]  # sorted by start: only hits still open can contain this one
            if any(ks <= s and e <= ke and sev >= t.severity for ks, ke, sev in kept):
                continue
            if len(hits) >= MAX_HITS:
                break
            kept.append((s, e, t.severity))
            st = sk.text
            while t.suffix and e < len(st) and is_latin(st[e]) and _joined(sk.gap(e)):
                e += 1  # "fuck*" reports the whole word "fuckers"
            while t.prefix and s > 0 and is_latin(st[s - 1]) and _joined(sk.gap(s)):
                s -= 1
            os_, oe = sk.span(s, e)
            hits.append(LexiconHit(os_, oe, text[os_:oe], t.word, t.category, t.severity, t.source))
        return hits


def _valid(sk: Skeleton, s: int, e: int, t: Term) -> bool:
    """Word-boundary and inserted-character rules that keep skeleton matches from spanning real word breaks."""
    st = sk.text
    if not t.prefix and is_latin(st[s]) and s > 0 and is_latin(st[s - 1]) and _joined(sk.gap(s)):
        return False
    if not t.suffix and is_latin(st[e - 1]) and e < len(st) and is_latin(st[e]) and _joined(sk.gap(e)):
        return False
    gaps = [sk.gap(i) for i in range(s + 1, e) if i - s not in t.breaks]
    if t.breaks and any(len(sk.gap(s + i)) > 4 or any(c in _HARD_BREAKS for c in sk.gap(s + i)) for i in t.breaks):
        return False  # the spaces of a phrase: any short separator, not a clause break
    if all(_joined(g) for g in gaps):
        return True
    if any(len(g) > 4 for g in gaps):
        return False
    uniform = e - s >= 3 and all(not _joined(g) for g in gaps)  # 法.轮.功 / f u c k: every letter separated
    if t.breaks:  # in a phrase, "every letter separated" is judged word by word (k i l l  y o u r s e l f)
        uniform = all(not _joined(g) for g in gaps)
    if not uniform and any(c in _HARD_BREAKS for g in gaps for c in g):
        return False  # 傻，逼着 is two words, not one
    if any(is_latin(c) for c in st[s:e]) and any(c.isspace() for g in gaps for c in g):
        return uniform  # "fu ck" / "as shole": spaces inside a Latin word only when every letter is spaced
    return True


def package_wordlist_dir() -> Path:
    """The shipped word lists."""
    return Path(__file__).parent / "data" / "wordlists"


def admin_wordlist_dir() -> Path:
    """Where admins add word lists: ``$ZHIMEI_HOME/review/wordlists``."""
    from zhimei.settings import get_settings

    return get_settings().home / "review" / "wordlists"


class Lexicon:
    """Word lists from folders/files, compiled once and recompiled when a file changes (checked at most every
    `check_every` seconds)."""

    def __init__(self, sources: Iterable[Path], *, check_every: float = 1.0) -> None:
        self.sources = [Path(p) for p in sources]
        self.check_every = check_every
        self._compiled: CompiledLexicon | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.errors: list[str] = []

    def _files(self) -> list[Path]:
        files: list[Path] = []
        for src in self.sources:
            if src.is_dir():
                files += sorted(p for p in src.iterdir() if p.suffix in _LIST_SUFFIXES and p.is_file())
            elif src.is_file():
                files.append(src)
        return files

    def _signature(self) -> tuple:
        sig = []
        for p in self._files():
            try:
                st = os.stat(p)
            except OSError:
                continue
            sig.append((str(p), st.st_mtime_ns, st.st_size))
        return tuple(sig)

    def current(self) -> CompiledLexicon:
        """The compiled matcher now in force (recompiled first if a list file changed)."""
        cur = self._compiled
        now = time.monotonic()
        if cur is not None and now - self._checked < self.check_every:
            return cur
        sig = self._signature()
        if cur is not None and sig == cur.signature:
            self._checked = now
            return cur
        if cur is not None and not self._lock.acquire(blocking=False):
            return cur  # another thread is compiling the new lists: keep matching with the old ones meanwhile
        if cur is None:
            self._lock.acquire()  # first use: wait for the first compile
        try:
            cur = self._compiled
            if cur is None or cur.signature != sig:
                terms: list[Term] = []
                errors: list[str] = []
                for path, _, _ in sig:
                    try:
                        terms += load_terms(Path(path))
                    except LexiconError as exc:
                        errors.append(str(exc))  # a broken admin file must not take matching down
                self.errors = errors
                self._compiled = cur = CompiledLexicon.build(terms, sig)  # the atomic swap
            self._checked = time.monotonic()
        finally:
            self._lock.release()
        return cur

    def find(self, text: str) -> list[LexiconHit]:
        """Banned words in `text` with the lists now in force."""
        return self.current().find(text)


_default: Lexicon | None = None
_default_lock = threading.Lock()


def default_lexicon() -> Lexicon:
    """The process-wide lexicon: shipped lists + the admin folder of the current home."""
    global _default
    admin = admin_wordlist_dir()
    cur = _default
    if cur is not None and cur.sources[1:] == [admin]:
        return cur
    with _default_lock:
        if _default is None or _default.sources[1:] != [admin]:
            _default = Lexicon([package_wordlist_dir(), admin])
        return _default
