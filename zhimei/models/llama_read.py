"""Reading token log-probabilities with llama.cpp: one context per model file, shared by every reader in the
process. The ASR beam rescorer (`asr_rescore.LMScorer`) and the Chinese speller (`zh_speller.GemmaScorer`) both
read gemma-3-270m (its trimmed-vocabulary copy, `gguf_trim`); sharing keeps one copy in a worker that does both.

The context is driven through llama.cpp's batch API rather than ``Llama.eval``, for two savings that matter on
short clips: logits are computed only at the positions a reader asks for (gemma's output layer spans 262,144
tokens and costs more per position than the rest of the model), and several continuations of one text are read in
a single batch, each as its own sequence sharing the text's cached prefix (`Reader.branches`). The third saving is
the trimmed vocabulary itself: 55,147 output rows instead of 262,144 (`llm_llama.gemma_scoring_path`)."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# imported before llama_cpp: it sets OMP_WAIT_POLICY=PASSIVE before libgomp loads (2 threads are many times slower
# on shared cores otherwise)
import zhimei.models.llm_llama  # noqa: F401

__all__ = ["READ_TOKENS", "Reader", "common_prefix", "log_softmax", "reader"]

READ_TOKENS = 192
"""Longest token sequence (BOS included) one read may hold."""
BRANCHES = 8
"""Continuations read in one batch (`Reader.branches`)."""
BATCH = 512
"""Tokens per llama.cpp batch."""


class Reader:
    """A llama.cpp context for scoring text, and the lock its users hold while they read it. Sequence 0 holds
    the text last given to `read`; `branches` reads continuations of it without disturbing it."""

    def __init__(self, llm: Any) -> None:
        import llama_cpp
        from llama_cpp._internals import LlamaContext

        self.llm = llm
        self.lock = threading.RLock()
        self.n_vocab = int(llm.n_vocab())
        params = type(llm.context_params).from_buffer_copy(llm.context_params)
        params.n_ctx = READ_TOKENS * (BRANCHES + 1)
        params.n_batch = params.n_ubatch = BATCH
        params.n_seq_max = BRANCHES + 1
        params.kv_unified = True
        self._context = LlamaContext(model=llm._model, params=params, verbose=False)
        llm._stack.callback(self._context.close)  # freed before the model it reads
        self._ctx = self._context.ctx
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(BATCH, 0, BRANCHES + 1)
        llm._stack.callback(llama_cpp.llama_batch_free, self._batch)
        self._lib = llama_cpp
        self.held: list[int] = []

    def read(self, ids: Sequence[int], want: Iterable[int] = ()) -> np.ndarray:
        """Make sequence 0 hold ``ids`` and return the logits at positions ``want`` (row k predicts the token
        after ``ids[want[k]]``), re-reading only from the first token that differs from what it held (or the
        first wanted position, if earlier). Hold ``lock``."""
        ids, want = list(ids), sorted(set(want))
        if len(ids) > READ_TOKENS:
            raise ValueError(f"too long to read: {len(ids)} tokens > {READ_TOKENS}")
        if want and not 0 <= want[0] <= want[-1] < len(ids):
            raise ValueError(f"positions {want[0]}..{want[-1]} outside {len(ids)} tokens")
        keep = common_prefix(self.held, ids)
        if want:
            keep = min(keep, want[0])
        self.held = []  # (a failed decode leaves sequence 0 unknown)
        self._lib.llama_memory_seq_rm(self._mem, 0, keep, -1)
        flagged = set(want)
        rows = self._decode([(0, p, ids[p], p in flagged) for p in range(keep, len(ids))])
        self.held = ids
        return np.stack(rows) if rows else np.zeros((0, self.n_vocab), dtype=np.float32)

    def branches(self, texts: Sequence[tuple[Sequence[int], int]]) -> list[np.ndarray]:
        """For each ``(ids, start)``: the log-probability of each of ``ids[start:]`` given the tokens before it.
        Each text is read as its own sequence from where it leaves what sequence 0 holds (its shared prefix is
        not re-read); up to `BRANCHES` texts go in one batch. Sequence 0 is left as it was. Hold ``lock``."""
        out: list[np.ndarray] = []
        for at in range(0, len(texts), BRANCHES):
            out.extend(self._branch_batch(texts[at:at + BRANCHES]))
        return out

    def logprobs(self, ids: Sequence[int], start: int = 1) -> np.ndarray:
        """Log-probability of each of ``ids[start:]`` given the tokens before it (one `branches` text)."""
        return self.branches([(ids, start)])[0]

    def _branch_batch(self, texts: Sequence[tuple[Sequence[int], int]]) -> list[np.ndarray]:
        lib, cells, wanted = self._lib, [], []
        for seq, (ids, start) in enumerate(texts, start=1):
            ids = list(ids)
            if len(ids) > READ_TOKENS:
                raise ValueError(f"too long to read: {len(ids)} tokens > {READ_TOKENS}")
            if not 1 <= start <= len(ids):
                raise ValueError(f"start {start} outside 1..{len(ids)}")
            wanted.append((ids, start))
            if start == len(ids):
                continue
            # read from where the text leaves sequence 0, and no later than the first position whose logits count
            first = min(common_prefix(self.held, ids), start - 1)
            lib.llama_memory_seq_rm(self._mem, seq, -1, -1)
            if first:
                lib.llama_memory_seq_cp(self._mem, 0, seq, 0, first)
            cells.extend((seq, p, ids[p], p >= start - 1) for p in range(first, len(ids) - 1))
        try:
            rows = self._decode(cells)
        finally:
            for seq in range(1, len(texts) + 1):
                lib.llama_memory_seq_rm(self._mem, seq, -1, -1)
        out, r = [], 0
        for ids, start in wanted:
            n = len(ids) - start
            block = log_softmax(np.stack(rows[r:r + n])) if n else np.zeros((0, self.n_vocab), np.float32)
            out.append(block[np.arange(n), ids[start:]].astype(np.float32))
            r += n
        return out

    def _decode(self, cells: Sequence[tuple[int, int, int, bool]]) -> list[np.ndarray]:
        """Decode (sequence, position, token, want logits) cells in batches; the logits rows in cell order."""
        lib, batch, rows = self._lib, self._batch, []
        for at in range(0, len(cells), BATCH):
            chunk = cells[at:at + BATCH]
            batch.n_tokens = len(chunk)
            for i, (seq, pos, tok, flag) in enumerate(chunk):
                batch.token[i] = tok
                batch.pos[i] = pos
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = flag
            rc = lib.llama_decode(self._ctx, batch)
            if rc != 0:
                raise RuntimeError(f"llama.cpp could not read the text (llama_decode returned {rc})")
            for i, (_seq, _pos, _tok, flag) in enumerate(chunk):
                if flag:
                    ptr = lib.llama_get_logits_ith(self._ctx, i)
                    rows.append(np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                                      shape=(self.n_vocab,)).copy())
        return rows


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    p = 0
    while p < n and a[p] == b[p]:
        p += 1
    return p


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

            # the Llama object supplies the model, its tokenizer and the context settings; its own context is
            # kept minimal, the Reader's context does the reading
            llm = Llama(model_path=str(gguf), n_ctx=16, n_batch=16, n_threads=threads, n_threads_batch=threads,
                        seed=0, verbose=False)
            _readers[key] = Reader(llm)
        return _readers[key]
