"""One small interface per capability. Pipeline stages depend on these, never on a model library."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from zhimei.models.base import Backend
from zhimei.models.types import Entity, Face, Keyword, OcrLine, SafetyResult, Transcript

__all__ = ["ASR", "OCR", "TextEmbedder", "Faces", "ImageSafety", "Entities", "Keywords", "LLM", "TTS",
           "Translator", "INTERFACES"]

Progress = Callable[[float], None]


class ASR(Backend):
    """Speech to text."""

    capability = "asr"

    @abstractmethod
    def transcribe(self, audio_path: str | Path, language: str | None = None,
                   hotwords: str | Sequence[str] | None = None, progress: Progress | None = None) -> Transcript:
        """Transcribe a recording. ``language`` None: detect it. ``hotwords``: names/terms likely to occur.
        ``progress(fraction)`` is called as the work advances (it may raise to cancel)."""


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


class LLM(Backend):
    """Text generation."""

    capability = "llm"

    @abstractmethod
    def complete(self, prompt: str, max_tokens: int = 256, temperature: float = 0.2,
                 stop: Sequence[str] | None = None) -> str:
        """Continue ``prompt``."""

    @abstractmethod
    def chat(self, messages: Sequence[dict[str, str]], max_tokens: int = 256, temperature: float = 0.2) -> str:
        """Answer a chat (``[{"role": "user", "content": ...}]``)."""


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
