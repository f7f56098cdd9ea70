"""Reading token log-probabilities with llama.cpp: one context per model file, shared by every reader in the
process. The ASR beam rescorer (`asr_rescore.LMScorer`) and the Chinese speller (`zh_speller.GemmaScorer`) both
read gemma-3-270m; sharing keeps one copy (about 400 MB) in a worker that does both."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# imported before llama_cpp: it sets OMP_WAIT_POLICY=PASSIVE before libgomp loads (2 threads are many times slower
# on shared cores otherwise)
import zhimei.models.llm_llama  # noqa: F401

__all__ = ["READ_TOKENS", "Reader", "log_softmax", "reader"]

READ_TOKENS = 192
"""Longest token sequence (BOS included) one read may hold."""


@dataclass
class Reader:
    """A llama.cpp context that keeps the logits of every position (``llm.scores``), and the lock its users hold
    while they evaluate and read it."""

    llm: Any
    lock: threading.RLock

    def eval(self, ids: Sequence[int]) -> int:
        """Make the context hold ``ids`` (logits for each position in ``llm.scores``), re-reading only from the
        first token that differs from what it holds; returns the number of tokens kept. Hold ``lock``."""
        if len(ids) > READ_TOKENS:
            raise ValueError(f"too long to read: {len(ids)} tokens > {READ_TOKENS}")
        cached = self.llm.input_ids[: self.llm.n_tokens]
        p = 0
        while p < min(len(cached), len(ids)) and cached[p] == ids[p]:
            p += 1
        if p < len(ids):
            self.llm.n_tokens = p
            self.llm.eval(list(ids[p:]))
        return p

    def logprobs(self, ids: Sequence[int], start: int = 1) -> np.ndarray:
        """Log-probability of each of ``ids[start:]`` given the tokens before it (``ids`` just evaluated)."""
        rows = log_softmax(np.asarray(self.llm.scores[start - 1: len(ids) - 1], dtype=np.float32))
        return rows[np.arange(len(rows)), list(ids[start:])]


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax."""
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


_readers: dict[tuple[str, int], Reader] = {}
_readers_lock = threading.Lock()


def reader(gguf: Path, threads: int = 2) -> Reader:
    """The process's reader of the model in ``gguf`` (loaded on first use)."""
    key = (str(Path(gguf).resolve()), int(threads))
    with _readers_lock:
        if key not in _readers:
            from llama_cpp import Llama

            llm = Llama(model_path=str(gguf), n_ctx=READ_TOKENS + 16, n_batch=READ_TOKENS + 16, n_threads=threads,
                        n_threads_batch=threads, logits_all=True, seed=0, verbose=False)
            _readers[key] = Reader(llm, threading.RLock())
        return _readers[key]
