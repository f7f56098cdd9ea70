"""News-topic classes (财经, 房产, 股票, 教育, 科技, 社会, 时政, 体育, 游戏, 娱乐) for titles and short texts.

Two shipped heads trained by `zhimei.insight.train` on THUCNews titles: an n-gram softmax regression
(``data/topics-zh.npz``) and a softmax regression on multilingual-e5-small vectors (``data/topics-e5.npz``,
cross-lingual, so English titles get classes too). With vectors the probabilities are the mean of both heads
(e5 alone for text without Chinese); without vectors the n-gram head alone. Measured by ``bench/topics.py``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np

from zhimei.insight.ngram import ModelError, data_dir, load_model, normalize

__all__ = ["topic_probabilities", "classify_topics", "topic_classes", "E5Head", "load_e5_head", "MODEL_NAME"]

MODEL_NAME = "topics-zh"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass
class E5Head:
    """Softmax regression on e5 vectors, and the mean training vector (for centring)."""

    weights: np.ndarray  # (classes, dim)
    bias: np.ndarray
    mean: np.ndarray
    classes: list[str]

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        z = np.asarray(vectors, np.float32) @ self.weights.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


_head: list[E5Head] = []
_lock = threading.Lock()


def load_e5_head() -> E5Head:
    """The shipped e5 head, loaded once."""
    if _head:
        return _head[0]
    with _lock:
        if not _head:
            path = data_dir() / "topics-e5.npz"
            try:
                with np.load(path, allow_pickle=False) as z:
                    _head.append(E5Head(z["weights"].astype(np.float32), z["bias"].astype(np.float32),
                                        z["mean"].astype(np.float32), str(z["classes"]).split("\x00")))
            except (OSError, KeyError, ValueError) as exc:
                raise ModelError(f"cannot load {path.name}: {exc}; run `python -m zhimei.insight.train`") from exc
        return _head[0]


def topic_classes() -> list[str]:
    """The class names, in column order of `topic_probabilities`."""
    return list(load_model(MODEL_NAME).meta.get("classes") or load_e5_head().classes)


def topic_probabilities(texts: list[str], vectors: np.ndarray | None = None) -> np.ndarray:
    """(n, classes) probabilities; `vectors` (n, 384) e5 passage vectors of the same texts, if at hand."""
    if isinstance(texts, str):
        raise TypeError("topic_probabilities takes a list of texts, not one string")
    model = load_model(MODEL_NAME)
    k = len(model.bias)
    if not texts:
        return np.zeros((0, k), np.float32)
    norm = [normalize(t if isinstance(t, str) else "") for t in texts]
    p = model.predict(norm).astype(np.float32)
    if vectors is None:
        return p
    vectors = np.asarray(vectors, np.float32)
    if vectors.shape[0] != len(texts):
        raise ValueError(f"{vectors.shape[0]} vectors for {len(texts)} texts")
    pe = load_e5_head().predict(vectors)
    zh = np.fromiter((bool(_CJK.search(t)) for t in norm), bool, len(norm))
    return np.where(zh[:, None], (p + pe) / 2.0, pe).astype(np.float32)


def classify_topics(texts: list[str], vectors: np.ndarray | None = None) -> list[tuple[str, float]]:
    """The most likely class name and its probability for each text."""
    p = topic_probabilities(texts, vectors)
    names = topic_classes()
    return [(names[int(i)], float(row[int(i)])) for row, i in zip(p, p.argmax(axis=1), strict=True)]
