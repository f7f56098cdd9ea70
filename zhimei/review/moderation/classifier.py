"""The offensive-text classifier at run time: character 1–N-gram TF-IDF and linear models, pure numpy, plus
(from model version 2) the semantic member of `semantic.py` (word vectors + logistic regression, jieba).

The model file (``data/classifier-<version>.npz`` + ``.json`` metadata) holds the n-gram vocabulary, idf
weights and one weight row per linear model (logistic regression, NB-weighted logistic regression with the
NB ratios folded into its weights), and the semantic member's word table and weights; the score is the mean of
the n-gram models' probabilities, blended with the semantic member's at its stored share. Training lives in
`train.py` (scikit-learn); loading needs neither training nor scikit-learn.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zhimei.review.moderation.normalize import clean_text, normalize_text
from zhimei.review.moderation.semantic import SemanticModel, applies

__all__ = ["Classifier", "ClassifierError", "char_ngrams", "model_dir", "latest_model_path", "load_classifier",
           "MAX_CHARS"]

MAX_CHARS = 5000
"""Longer texts are scored in windows of this many characters (the maximum window score counts)."""
_WS = re.compile(r"\s\s+")


class ClassifierError(RuntimeError):
    """The model file is missing or unreadable."""


def char_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """The same character n-grams as scikit-learn's ``analyzer='char'`` (runs of whitespace become one space)."""
    text = _WS.sub(" ", text)
    n = len(text)
    out: list[str] = []
    for k in range(lo, hi + 1):
        out += [text[i:i + k] for i in range(n - k + 1)]
    return out


def model_dir() -> Path:
    return Path(__file__).parent / "data"


def latest_model_path() -> Path:
    """The newest shipped ``classifier-<version>.npz``."""
    files = sorted(model_dir().glob("classifier-*.npz"), key=lambda p: _version_key(p.stem.split("-", 1)[1]))
    if not files:
        raise ClassifierError(f"no classifier model in {model_dir()}; run `zhimei review train`")
    return files[-1]


def _version_key(v: str) -> tuple:
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[.\-]", v.lstrip("v")))


@dataclass
class Classifier:
    """A loaded model: `score(text)` → probability that the text is offensive."""

    vocab: dict[str, int]
    idf: np.ndarray
    weights: np.ndarray  # (models, features)
    bias: np.ndarray  # (models,)
    ngram: tuple[int, int]
    threshold: float
    meta: dict[str, Any]
    semantic: SemanticModel | None = None
    semantic_share: float = 0.0

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "?"))

    @classmethod
    def load(cls, path: str | Path) -> Classifier:
        """Load a model file (and its metadata JSON next to it)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                terms = str(z["vocab"]).split("\x00") if z["vocab"].size else []
                idf, w, b = z["idf"].astype(np.float32), z["weights"].astype(np.float32), z["bias"].astype(np.float32)
                ngram = (int(z["ngram"][0]), int(z["ngram"][1]))
                threshold = float(z["threshold"])
                semantic = SemanticModel.from_arrays(z) if "sem_words" in z.files else None
                share = float(z["sem_share"]) if semantic is not None else 0.0
        except (OSError, KeyError, ValueError) as exc:
            raise ClassifierError(f"cannot load classifier {path.name}: {exc}") from exc
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        if len(terms) != idf.shape[0] or w.shape[1] != idf.shape[0]:
            raise ClassifierError(f"classifier {path.name} is inconsistent (vocab {len(terms)}, idf {idf.shape})")
        return cls({t: i for i, t in enumerate(terms)}, idf, w, b, ngram, threshold, meta, semantic, share)

    def _features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        get = self.vocab.get
        pairs = [(j, c) for g, c in Counter(char_ngrams(text, *self.ngram)).items() if (j := get(g)) is not None]
        if not pairs:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        ix = np.fromiter((j for j, _ in pairs), np.int64, len(pairs))
        tf = np.fromiter((c for _, c in pairs), np.float32, len(pairs))
        val = (1.0 + np.log(tf)) * self.idf[ix]
        norm = float(np.sqrt(np.dot(val, val)))
        return ix, val / norm if norm else val

    def _score_one(self, text: str) -> float:
        ix, val = self._features(text)
        z = self.weights[:, ix] @ val + self.bias
        p = float(np.mean(1.0 / (1.0 + np.exp(-z))))
        if self.semantic is None or not applies(text):
            return p
        return (1.0 - self.semantic_share) * p + self.semantic_share * self.semantic.score(text)

    def score(self, text: str) -> float:
        """Probability in [0, 1] that `text` is offensive or abusive (normalised first; long texts in windows)."""
        t = normalize_text(clean_text(text)).strip()
        if not t:
            return 0.0
        if len(t) <= MAX_CHARS:
            return self._score_one(t)
        step = MAX_CHARS - 200
        return max(self._score_one(t[i:i + MAX_CHARS]) for i in range(0, len(t), step))

    def score_many(self, texts: list[str]) -> list[float]:
        """`score` for each text."""
        return [self.score(t) for t in texts]

    def offensive(self, text: str) -> bool:
        """The model's own decision at its threshold."""
        return self.score(text) >= self.threshold


_loaded: dict[str, Classifier] = {}
_lock = threading.Lock()


def load_classifier(path: str | Path | None = None) -> Classifier:
    """The shipped classifier (newest version), loaded once per process."""
    key = str(path) if path else ""
    got = _loaded.get(key)
    if got is not None:
        return got
    with _lock:
        if key not in _loaded:
            _loaded[key] = Classifier.load(Path(path) if path else latest_model_path())
        return _loaded[key]
