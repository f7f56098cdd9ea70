"""N-gram linear text models at run time (sentiment, topic classes): pure numpy + scipy, no scikit-learn.

A model file (``data/<name>.npz`` + ``.json`` metadata) holds one vocabulary of character n-grams and jieba word
n-grams (prefixed ``w:``), their idf weights, and rows of linear weights. Features are sublinear TF-IDF, L2
normalised, exactly as the trainer (`zhimei.insight.train`, scikit-learn's TfidfVectorizer with `analyze` as its
analyzer) computes them. Two heads:

- ``binary``: each row is one binary model (logistic regression, NB-weighted logistic regression with the NB
  ratios folded into its weights); the probability is the mean of the rows' sigmoids;
- ``softmax``: one row per class; the probabilities are the softmax of the rows' scores.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NgramModel", "ModelError", "normalize", "analyze", "data_dir", "load_model", "MAX_CHARS"]

MAX_CHARS = 2000
"""Only the first MAX_CHARS characters of a text are read (reviews, titles and posts are shorter)."""
_WS = re.compile(r"\s+")
_WORDISH = re.compile(r"\w")
_jieba_lock = threading.Lock()


class ModelError(RuntimeError):
    """The model file is missing, unreadable or inconsistent."""


def data_dir() -> Path:
    return Path(__file__).parent / "data"


def normalize(text: str) -> str:
    """NFKC, Traditional→Simplified, lower case, runs of whitespace as one space, at most MAX_CHARS."""
    from zhimei.models.textnorm import to_simplified

    t = unicodedata.normalize("NFKC", (text or "")[:MAX_CHARS]).replace("\x00", " ")
    return _WS.sub(" ", to_simplified(t)).strip().lower()


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    import jieba

    jieba.setLogLevel(60)
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


def words(text: str) -> list[str]:
    """jieba words of a normalised text (tokens without a letter or digit dropped)."""
    with _jieba_lock:  # jieba's tokenizer keeps shared state while it builds its DAG cache
        toks = _tokenizer().lcut(text)
    return [w for w in toks if _WORDISH.search(w)]


def analyze(text: str, char: tuple[int, int] = (1, 3), word: tuple[int, int] = (1, 2)) -> list[str]:
    """The features of a normalised text: character n-grams (spaces kept) and ``w:``-prefixed word n-grams."""
    out: list[str] = []
    n = len(text)
    for k in range(char[0], char[1] + 1):
        out += [text[i:i + k] for i in range(n - k + 1)]
    if word[1] >= 1:
        ws = words(text)
        for k in range(word[0], word[1] + 1):
            out += ["w:" + " ".join(ws[i:i + k]) for i in range(len(ws) - k + 1)]
    return out


@dataclass
class NgramModel:
    """A loaded model; `predict(texts)` gives probabilities (binary: (n,), softmax: (n, classes))."""

    vocab: dict[str, int]
    idf: np.ndarray
    weights: np.ndarray  # (rows, features)
    bias: np.ndarray  # (rows,)
    head: str  # "binary" | "softmax"
    char: tuple[int, int]
    word: tuple[int, int]
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> NgramModel:
        """Load ``<name>.npz`` (and the ``<name>.json`` metadata beside it)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                terms = str(z["vocab"]).split("\x00") if z["vocab"].size else []
                idf = z["idf"].astype(np.float32)
                w = z["weights"].astype(np.float32)
                b = z["bias"].astype(np.float32)
                head = str(z["head"])
                char = (int(z["char"][0]), int(z["char"][1]))
                word = (int(z["word"][0]), int(z["word"][1]))
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot load model {path.name}: {exc}") from exc
        if len(terms) != idf.shape[0] or w.shape[1] != idf.shape[0] or w.shape[0] != b.shape[0]:
            raise ModelError(f"model {path.name} is inconsistent (vocab {len(terms)}, idf {idf.shape}, w {w.shape})")
        if head not in ("binary", "softmax"):
            raise ModelError(f"model {path.name} has an unknown head {head!r}")
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        return cls({t: i for i, t in enumerate(terms)}, idf, w, b, head, char, word, meta)

    def features(self, texts: list[str]) -> Any:
        """Sublinear TF-IDF rows (scipy CSR, L2-normalised) of already normalised texts."""
        from scipy.sparse import csr_matrix

        get = self.vocab.get
        indptr = [0]
        cols: list[int] = []
        vals: list[float] = []
        for t in texts:
            pairs = [(j, c) for g, c in Counter(analyze(t, self.char, self.word)).items() if (j := get(g)) is not None]
            if pairs:
                ix = np.fromiter((j for j, _ in pairs), np.int64, len(pairs))
                v = (1.0 + np.log(np.fromiter((c for _, c in pairs), np.float32, len(pairs)))) * self.idf[ix]
                norm = float(np.sqrt(np.dot(v, v)))
                cols += ix.tolist()
                vals += (v / norm if norm else v).tolist()
            indptr.append(len(cols))
        return csr_matrix((np.asarray(vals, np.float32), np.asarray(cols, np.int64), np.asarray(indptr)),
                          shape=(len(texts), len(self.idf)))

    def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities of already normalised texts: (n,) for a binary head, (n, classes) for softmax."""
        return self.predict_features(self.features(texts))

    def predict_features(self, x: Any) -> np.ndarray:
        """`predict` from rows made by `features`."""
        z = np.asarray(x @ self.weights.T) + self.bias
        if self.head == "binary":
            return (1.0 / (1.0 + np.exp(-z))).mean(axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def known(self, text: str) -> int:
        """How many of a normalised text's features the model knows."""
        return sum(1 for g in analyze(text, self.char, self.word) if g in self.vocab)


_loaded: dict[str, NgramModel] = {}
_lock = threading.Lock()


def load_model(name: str) -> NgramModel:
    """The shipped model ``data/<name>.npz``, loaded once per process."""
    got = _loaded.get(name)
    if got is not None:
        return got
    with _lock:
        if name not in _loaded:
            path = data_dir() / f"{name}.npz"
            if not path.is_file():
                raise ModelError(f"no model {path.name} in {data_dir()}; run `python -m zhimei.insight.train`")
            _loaded[name] = NgramModel.load(path)
        return _loaded[name]
