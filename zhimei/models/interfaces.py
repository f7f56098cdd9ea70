"""One small interface per capability. Pipeline stages depend on these, never on a model library."""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zhimei.models.base import Backend
from zhimei.models.types import Entity, Face, Keyword, OcrLine, SafetyResult, Transcript

__all__ = ["ASR", "OCR", "TextEmbedder", "Faces", "ImageSafety", "Entities", "Keywords", "LLM",
           "LLMUsage", "TextStream", "TTS", "Translator", "INTERFACES"]

Progress = Callable[[float], None]


class ASR(Backend):
    """Speech to text."""

    capability = "asr"

    @abstractmethod
    def transcribe(self, audio_path: str | Path, language: str | None = None,
                   hotwords: str | Sequence[str] | None = None, progress: Progress | None = None) -> Transcript:
        """Transcribe a recording. ``language`` None: detect it. ``hotwords``: names/terms likely to occur.
        ``progress(fraction)`` is called as the work advances (it may raise to cancel)."""

    def transcribe_many(self, audio_paths: Sequence[str | Path], language: str | None = None,
                        hotwords: str | Sequence[str] | None = None,
                        progress: Progress | None = None) -> Iterator[Transcript]:
        """Transcripts of several recordings, in order (one after another here; a backend may overlap them).
        ``progress`` gives each recording an equal share."""
        paths = list(audio_paths)
        for k, path in enumerate(paths):
            share = None if progress is None else (lambda f, k=k: progress((k + f) / len(paths)))
            yield self.transcribe(path, language=language, hotwords=hotwords, progress=share)


class OCR(Backend):
    """Text in images."""

    capability = "ocr"

    @abstractmethod
    def read(self, image_path: str | Path) -> list[OcrLine]:
        """Lines of text in reading order."""


class TextEmbedder(Backend):
    """Dense text vectors for semantic search (L2-normalised, so dot product = cosine)."""

    capability = "embedder"
    dim: int

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for documents, shape (n, dim), float32."""

    @abstractmethod
    def embed_query(self, text: str) -> np.ndarray:
        """Vector for a search query, shape (dim,), float32."""


class Faces(Backend):
    """Face detection and description."""

    capability = "faces"
    match_distance: float = 0.6

    @abstractmethod
    def detect(self, image_path: str | Path, embed: bool = True) -> list[Face]:
        """Faces in the image, each with a descriptor when ``embed``."""

    @staticmethod
    def distance(a: Sequence[float], b: Sequence[float]) -> float:
        """Euclidean distance between two face descriptors."""
        return float(np.linalg.norm(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)))


class ImageSafety(Backend):
    """Explicit-content scores for images."""

    capability = "image_safety"

    @abstractmethod
    def score(self, image_path: str | Path) -> SafetyResult:
        """Scores for one image."""


class Entities(Backend):
    """Named entities: PER, LOC, ORG, TIME."""

    capability = "entities"

    @abstractmethod
    def extract(self, text: str, language: str | None = None) -> list[Entity]:
        """Entities with character offsets into ``text``."""


class Keywords(Backend):
    """Keywords of a text."""

    capability = "keywords"

    @abstractmethod
    def extract(self, text: str, language: str | None = None, top_k: int = 10) -> list[Keyword]:
        """Up to ``top_k`` keywords, most important first."""


@dataclass(frozen=True)
class LLMUsage:
    """What one LLM call cost: tokens in and out, wall seconds, and which backend/model ran it.

    ``prompt_seconds`` is the time to the first generated token (prompt processing), when known;
    ``estimated`` is True when the backend could not report exact token counts."""

    backend: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    prompt_seconds: float | None = None
    finish_reason: str | None = None
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def generation_tokens_per_second(self) -> float | None:
        """Completion tokens per second of generation (after the prompt), when measurable."""
        if self.prompt_seconds is None:
            return self.completion_tokens / self.seconds if self.completion_tokens and self.seconds > 0 else None
        gen = self.seconds - self.prompt_seconds  # the first token came with the prompt time
        return (self.completion_tokens - 1) / gen if self.completion_tokens > 1 and gen > 0 else None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON, the studio's per-call record)."""
        return {**asdict(self), "total_tokens": self.total_tokens}


class TextStream(Iterator[str]):
    """Generated text piece by piece. Iterate it (or call `read`); `.text` is what came so far, `.usage`
    is set once it is exhausted. Wraps a generator that yields the pieces and *returns* the LLMUsage."""

    def __init__(self, pieces: Generator[str, None, LLMUsage | None]) -> None:
        self._gen = pieces
        self._parts: list[str] = []
        self.usage: LLMUsage | None = None
        self.done = False

    def __iter__(self) -> TextStream:
        return self

    def __next__(self) -> str:
        if self.done:
            raise StopIteration
        try:
            piece = next(self._gen)
        except StopIteration as end:
            self.done = True
            self.usage = end.value
            raise StopIteration from None
        self._parts.append(piece)
        return piece

    @property
    def text(self) -> str:
        """The text generated so far (all of it once exhausted)."""
        return "".join(self._parts)

    def read(self) -> str:
        """Consume the rest and return the whole text."""
        for _ in self:
            pass
        return self.text

    def close(self) -> None:
        """Stop generating (frees the backend for other calls)."""
        self.done = True
        self._gen.close()

    def __enter__(self) -> TextStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LLM(Backend):
    """Text generation.

    Every call records an `LLMUsage` readable right after it, in the same thread, as `last_usage`
    (streams carry theirs as ``stream.usage``). `stream_complete` / `stream_chat` yield text pieces as they
    are generated; backends without streaming yield the whole answer as one piece."""

    capability = "llm"
    context_tokens: int = 0
    """Context window in tokens (prompt + answer); 0 = unknown (remote)."""

    @abstractmethod
    def complete(self, prompt: str, max_tokens: int = 256, temperature: float = 0.2,
                 stop: Sequence[str] | None = None) -> str:
        """Continue ``prompt``."""

    @abstractmethod
    def chat(self, messages: Sequence[dict[str, str]], max_tokens: int = 256, temperature: float = 0.2) -> str:
        """Answer a chat (``[{"role": "user", "content": ...}]``)."""

    def stream_complete(self, prompt: str, max_tokens: int = 256, temperature: float = 0.2,
                        stop: Sequence[str] | None = None) -> TextStream:
        """Continue ``prompt`` piece by piece (default: the whole completion as one piece)."""

        def pieces() -> Generator[str, None, LLMUsage | None]:
            text = self.complete(prompt, max_tokens=max_tokens, temperature=temperature, stop=stop)
            if text:
                yield text
            return self.last_usage

        return TextStream(pieces())

    def stream_chat(self, messages: Sequence[dict[str, str]], max_tokens: int = 256,
                    temperature: float = 0.2) -> TextStream:
        """Answer a chat piece by piece (default: the whole answer as one piece)."""

        def pieces() -> Generator[str, None, LLMUsage | None]:
            text = self.chat(messages, max_tokens=max_tokens, temperature=temperature)
            if text:
                yield text
            return self.last_usage

        return TextStream(pieces())

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes (default: an estimate, one per CJK character and ~1.3 per other word)."""
        cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")
        words = len([w for w in "".join(" " if "\u3400" <= ch <= "\u9fff" else ch for ch in text).split() if w])
        return cjk + int(words * 1.3 + 0.5)

    @property
    def last_usage(self) -> LLMUsage | None:
        """Usage of the last call made by this thread on this backend (None before any)."""
        return getattr(self._usage_local(), "usage", None)

    def _record_usage(self, usage: LLMUsage) -> LLMUsage:
        self._usage_local().usage = usage
        return usage

    def _usage_local(self) -> threading.local:
        return self.__dict__.setdefault("_usage_tls", threading.local())


class TTS(Backend):
    """Text to speech."""

    capability = "tts"
    languages: tuple[str, ...] = ()

    @abstractmethod
    def synthesize(self, text: str, out_path: str | Path, language: str | None = None) -> Path:
        """Speak ``text`` into a WAV file (written atomically); returns its path."""


class Translator(Backend):
    """Machine translation."""

    capability = "translator"

    @abstractmethod
    def translate(self, text: str, target: str, source: str | None = None) -> str:
        """``text`` in the ``target`` language (``"zh"``, ``"en"``...)."""


INTERFACES: dict[str, type[Backend]] = {
    "asr": ASR, "ocr": OCR, "embedder": TextEmbedder, "faces": Faces, "image_safety": ImageSafety,
    "entities": Entities, "keywords": Keywords, "llm": LLM, "tts": TTS, "translator": Translator,
}
