"""A pinyin input method's word trigram, reading the syllables of a Chinese transcript (拼音整句转换).

Whisper often hears a syllable right and writes the wrong character for it (灯机 for 登记). A pinyin input method
solves exactly that problem: given the syllables, write the likeliest words. `PinyinReader` does it with the
open-gram word trigram that SunPinyin ships (Debian ``sunpinyin-data``: ``lm_sc.t3g``, a threaded back-off
trigram of 71,759 words, 2.5 M bigrams and 1 M trigrams; ``pydict_sc.bin``, its 84,154-word lexicon; CC BY-SA 3.0).
The characters the recogniser was sure of stay as written; the others may become any word of the same toneless
syllables, and the best path through the word lattice (Viterbi, a few LM states kept per position) is the reading.
Where it differs from the transcript, the speller re-reads the difference with gemma and whisper before taking it.

`WordTrigram` reads SunPinyin's binary formats with numpy (layout: SunPinyin's ``slm.h``/``slm.cpp``,
``CThreadSlm``): a header (N, whether values are -log, the size of each level), a table of 65,536 probabilities
and one of 16,384 back-off weights, then each level's nodes (12 bytes: word id, back-off index, probability index,
first child, back-off level and node) and the last level's leaves (8 bytes).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ModelFileError", "PinyinReader", "WordTrigram", "get_pinyin_reader", "log_probability", "pinyin_lm_dir"]

log = logging.getLogger(__name__)

SEARCH = ("/usr/lib/x86_64-linux-gnu/sunpinyin/data", "/usr/lib/aarch64-linux-gnu/sunpinyin/data",
          "/usr/lib/sunpinyin/data", "/usr/share/sunpinyin")
"""Where Debian (and other distributions) put sunpinyin-data's files."""
MODEL, LEXICON = "lm_sc.t3g", "pydict_sc.bin"
SENTENCE_END = 0
"""The word id of the sentence boundary in SunPinyin's model."""
UNKNOWN = -20.0
"""Log-probability of a character outside the lexicon (it also resets the history)."""
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")

State = tuple[int, int]
"""(level, node index) of a history in the model; (0, 0) is the empty history."""


class ModelFileError(ValueError):
    """A SunPinyin file that is not what its format says."""


def pinyin_lm_dir(settings: Any = None) -> Path | None:
    """The folder holding ``lm_sc.t3g`` and ``pydict_sc.bin`` (setting ``zh_pinyin_lm_dir``, else the Debian
    package's), or None when neither has them."""
    if settings is None:
        from zhimei.settings import get_settings

        settings = get_settings()
    chosen = str(getattr(settings, "zh_pinyin_lm_dir", "") or "")
    for folder in ([chosen] if chosen else SEARCH):
        path = Path(folder)
        if (path / MODEL).is_file() and (path / LEXICON).is_file():
            return path
    return None


class WordTrigram:
    """SunPinyin's threaded back-off word trigram with its lexicon; natural-log probabilities."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._read_model(self.folder / MODEL)
        self.words = _read_lexicon(self.folder / LEXICON)
        self._cache: dict[tuple[State, int], tuple[float, State]] = {}

    def _read_model(self, path: Path) -> None:
        raw = path.read_bytes()
        if len(raw) < 8:
            raise ModelFileError(f"{path}: {len(raw)} bytes is too short for a SunPinyin model")
        n, use_log = (int(v) for v in np.frombuffer(raw, "<u4", 2, 0))
        if n != 3:
            raise ModelFileError(f"{path}: a {n}-gram model; a trigram (3) was expected")
        sizes = [int(v) for v in np.frombuffer(raw, "<u4", n + 1, 8)]
        off = 8 + 4 * (n + 1)
        expect = off + 4 * ((1 << 16) + (1 << 14)) + 12 * sum(sizes[:n]) + 8 * sizes[n]
        if len(raw) != expect:
            raise ModelFileError(f"{path}: {len(raw)} bytes, but its header describes {expect}")
        pr = np.frombuffer(raw, "<f4", 1 << 16, off).astype(np.float64)
        off += 4 << 16
        bow = np.frombuffer(raw, "<f4", 1 << 14, off).astype(np.float64)
        off += 4 << 14
        with np.errstate(divide="ignore"):
            pr, bow = (-pr, -bow) if use_log else (np.log(pr), np.log(bow))
        self.n = n
        self.wid: list[np.ndarray] = []
        self.logp: list[np.ndarray] = []
        self.child: list[np.ndarray] = []
        self.backoff: list[np.ndarray] = []
        self.back_level: list[np.ndarray] = []
        self.back_node: list[np.ndarray] = []
        for level in range(n + 1):
            if level < n:
                a = np.frombuffer(raw, "<u4", sizes[level] * 3, off).reshape(-1, 3)
                off += 12 * sizes[level]
                self.wid.append((a[:, 0] & 0x3FFFF).astype(np.int32))
                self.backoff.append(bow[a[:, 0] >> 18].astype(np.float32))
                self.logp.append(pr[a[:, 1] & 0xFFFF].astype(np.float32))
                self.child.append(((a[:, 2] >> 25) << 16 | (a[:, 1] >> 16)).astype(np.int32))
                back = a[:, 2]
            else:
                a = np.frombuffer(raw, "<u4", sizes[level] * 2, off).reshape(-1, 2)
                off += 8 * sizes[level]
                self.wid.append((a[:, 0] & 0x3FFFF).astype(np.int32))
                self.logp.append(pr[((a[:, 1] >> 25) & 3) << 14 | (a[:, 0] >> 18)].astype(np.float32))
                back = a[:, 1]
            self.back_node.append((back & 0x7FFFFF).astype(np.int32))
            self.back_level.append(((back >> 23) & 3).astype(np.int8))

    def start(self) -> State:
        """The history at the start of a sentence."""
        return self.transfer((0, 0), SENTENCE_END)[1]

    def transfer(self, history: State, wid: int) -> tuple[float, State]:
        """log P(word ``wid`` | ``history``) and the history after it (backing off as the model says)."""
        key = (history, wid)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        level, pos = history
        cost = 0.0
        while True:
            lo, hi = int(self.child[level][pos]), int(self.child[level][pos + 1])
            ids = self.wid[level + 1]
            k = lo + int(np.searchsorted(ids[lo:hi], wid))
            if k < hi and ids[k] == wid:
                out = (cost + float(self.logp[level + 1][k]), self._history(level + 1, k))
                break
            cost += float(self.backoff[level][pos])
            if level == 0:
                out = (cost + float(self.logp[0][0]), (0, 0))
                break
            level, pos = int(self.back_level[level][pos]), int(self.back_node[level][pos])
        if len(self._cache) > 500_000:
            self._cache.clear()
        self._cache[key] = out
        return out

    def _history(self, level: int, k: int) -> State:
        """The state to continue from after node ``k`` of ``level``: itself when it has children, else its
        back-off."""
        if level < self.n and self.child[level][k] != self.child[level][k + 1]:
            return (level, k)
        return (int(self.back_level[level][k]), int(self.back_node[level][k]))

    def unigram(self, wid: int) -> float:
        """log P(word) with no history."""
        return self.transfer((0, 0), wid)[0]

    def unigrams(self) -> np.ndarray:
        """log P(word) with no history for every word id the model knows (-inf for the others)."""
        out = np.full(int(self.wid[1].max()) + 1, -np.inf, dtype=np.float32)
        out[self.wid[1]] = self.logp[1]
        return out


def _read_lexicon(path: Path) -> dict[str, int]:
    """Word → id from SunPinyin's pinyin trie: a header (word count, node count, offset of the word strings), the
    trie, then every word as a NUL-terminated UCS-4 string in id order (ids below 70 are reserved and empty)."""
    raw = path.read_bytes()
    if len(raw) < 12:
        raise ModelFileError(f"{path}: {len(raw)} bytes is too short for a SunPinyin lexicon")
    count, _nodes, start = (int(v) for v in np.frombuffer(raw, "<u4", 3, 0))
    if not 12 <= start < len(raw) or (len(raw) - start) % 4:
        raise ModelFileError(f"{path}: word strings said to start at byte {start} of {len(raw)}")
    pool = np.frombuffer(raw, "<u4", (len(raw) - start) // 4, start)
    ends = np.flatnonzero(pool == 0)
    if len(ends) < count:
        raise ModelFileError(f"{path}: {len(ends)} words where the header says {count}")
    words: dict[str, int] = {}
    begin = 0
    for wid, end in enumerate(ends[:count].tolist()):
        if end > begin:
            words.setdefault("".join(map(chr, pool[begin:end].tolist())), wid)
        begin = end + 1
    return words


class PinyinReader:
    """Writes the likeliest words for a text's toneless syllables (`read`), keeping the characters it is told to."""

    def __init__(self, lm: WordTrigram, chars_per_syllable: int = 12, states: int = 8) -> None:
        from pypinyin import lazy_pinyin

        self.lm = lm
        self.states = states
        self._pinyin = lazy_pinyin
        index: dict[tuple[str, ...], list[tuple[str, int]]] = {}
        for word, wid in lm.words.items():
            if all("\u4e00" <= c <= "\u9fff" for c in word):
                index.setdefault(tuple(lazy_pinyin(word)), []).append((word, wid))
        unigram = lm.unigrams()
        for key, words in index.items():
            words.sort(key=lambda t: -unigram[t[1]] if t[1] < len(unigram) else np.inf)
            if len(key) == 1:  # the commonest characters of a syllable: rarer ones are almost never meant
                del words[chars_per_syllable:]
        self.index = index
        self.longest = max(len(k) for k in index)
        self.start = lm.start()

    def read(self, text: str, open_: Sequence[bool] | None = None) -> str:
        """``text`` with each run of Chinese characters that holds an open character (``open_``, one flag per
        character; None: all open) rewritten as the model's likeliest words for its syllables. Closed
        characters stay as they are; the result has the same length."""
        if open_ is not None and len(open_) != len(text):
            raise ValueError(f"{len(open_)} open flags for {len(text)} characters")
        out = list(text)
        for run in _CJK_RUN.finditer(text):
            a, b = run.span()
            flags = [True] * (b - a) if open_ is None else [bool(f) for f in open_[a:b]]
            if any(flags):
                out[a:b] = self._read_run(text[a:b], flags)
        return "".join(out)

    def _read_run(self, run: str, open_: list[bool]) -> str:
        syllables = self._pinyin(run)
        if len(syllables) != len(run):  # (pypinyin reads one syllable per Chinese character)
            return run
        lm = self.lm
        n = len(run)
        best: list[dict[State, tuple[float, str]]] = [{} for _ in range(n + 1)]
        best[0][self.start] = (0.0, "")
        for i in range(n):
            if not best[i]:
                continue
            states = sorted(best[i].items(), key=lambda t: -t[1][0])[: self.states]
            for word, wid in self._words_at(run, syllables, open_, i).items():
                after = best[i + len(word)]
                for state, (score, written) in states:
                    lp, nxt = (UNKNOWN, (0, 0)) if wid is None else lm.transfer(state, wid)
                    if nxt not in after or score + lp > after[nxt][0]:
                        after[nxt] = (score + lp, written + word)
        end = max(best[n].items(), key=lambda t: t[1][0] + lm.transfer(t[0], SENTENCE_END)[0])
        return end[1][1]

    def _words_at(self, run: str, syllables: list[str], open_: list[bool], i: int) -> dict[str, int | None]:
        """Words that may start at ``i``: the written ones, and those of the same syllables that keep every
        closed character; word → id (None: the written character, outside the lexicon)."""
        words: dict[str, int | None] = {}
        for length in range(1, min(self.longest, len(run) - i) + 1):
            written = run[i:i + length]
            wid = self.lm.words.get(written)
            if wid is not None:
                words[written] = wid
            if not any(open_[i:i + length]):
                continue
            for word, wid in self.index.get(tuple(syllables[i:i + length]), ()):
                if all(open_[i + k] or word[k] == run[i + k] for k in range(length)):
                    words[word] = wid
        words.setdefault(run[i], None)
        return words


_reader: PinyinReader | None = None
_missing_said = False
_lock = threading.Lock()


def get_pinyin_reader() -> PinyinReader | None:
    """The process-wide reader over sunpinyin-data's model, or None (said once in the log) when it is not
    installed."""
    global _reader, _missing_said
    with _lock:
        if _reader is None:
            folder = pinyin_lm_dir()
            if folder is None:
                if not _missing_said:
                    log.warning("sunpinyin-data not found (apt-get install sunpinyin-data, or set "
                                "ZHIMEI_ZH_PINYIN_LM_DIR): Chinese transcripts go without the pinyin reading")
                    _missing_said = True
                return None
            _reader = PinyinReader(WordTrigram(folder))
        return _reader


def log_probability(lm: WordTrigram, words: Sequence[str]) -> float:
    """log P of a sentence already cut into lexicon words (boundaries included): for checks and tests."""
    state, total = lm.start(), 0.0
    for word in words:
        wid = lm.words.get(word)
        if wid is None:
            total, state = total + UNKNOWN, (0, 0)
            continue
        lp, state = lm.transfer(state, wid)
        total += lp
    return total + lm.transfer(state, SENTENCE_END)[0]

