"""Plain result types returned by the model backends (no model library types leak out)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Word",
    "Segment",
    "Transcript",
    "OcrLine",
    "Box",
    "Face",
    "SafetyRegion",
    "SafetyResult",
    "Entity",
    "Keyword",
    "Readiness",
]

Box = tuple[int, int, int, int]
"""Pixel box ``(left, top, right, bottom)``."""


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span (seconds) and probability."""

    start: float
    end: float
    text: str
    prob: float


@dataclass(frozen=True)
class Segment:
    """A stretch of speech: times in seconds from the start of the file."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


@dataclass
class Transcript:
    """What was said in a recording. Empty ``segments`` means no speech was found."""

    language: str | None
    language_probability: float
    segments: list[Segment] = field(default_factory=list)
    duration: float = 0.0

    @property
    def text(self) -> str:
        """All segment texts joined (no separator for Chinese/Japanese, a space otherwise)."""
        sep = "" if (self.language or "") in ("zh", "ja", "yue") else " "
        return sep.join(s.text.strip() for s in self.segments if s.text.strip()).strip()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"text": self.text}


@dataclass(frozen=True)
class OcrLine:
    """A line of text read from an image."""

    text: str
    box: Box
    score: float


@dataclass(frozen=True)
class Face:
    """A detected face; ``embedding`` (128-d for dlib) compares faces by Euclidean distance."""

    box: Box
    score: float
    embedding: list[float] | None = None


@dataclass(frozen=True)
class SafetyRegion:
    """One region a safety detector flagged."""

    label: str
    score: float
    box: Box


@dataclass
class SafetyResult:
    """Image-safety scores: ``unsafe`` in [0, 1] is the strongest explicit finding; per-label maxima."""

    unsafe: float
    labels: dict[str, float] = field(default_factory=dict)
    regions: list[SafetyRegion] = field(default_factory=list)


@dataclass(frozen=True)
class Entity:
    """A named entity: kind is PER, LOC, ORG or TIME; ``start``/``end`` are character offsets."""

    text: str
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Keyword:
    """A keyword and its weight (higher is more important)."""

    text: str
    weight: float


@dataclass(frozen=True)
class Readiness:
    """Whether a backend can run here, and why not when it cannot; ``degraded``: what a ready backend runs without
    (optional data or models that are missing, so it works less well than measured), empty when nothing."""

    ok: bool
    reason: str = ""
    degraded: str = ""

    def __bool__(self) -> bool:
        return self.ok
