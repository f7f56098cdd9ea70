"""Story/topic clustering and topic classification of news titles (zhimei.insight.clustering).

    nice -n 10 .venv/bin/python bench/topics.py [--data FILE] [--limit N] [--cache DIR]

FILE: ``title<TAB>class id`` per line (class names in class.txt beside it); default
``../shared/eval-dev/topics/THUCNews_dev.txt``.

Protocol:
- the number of clusters given to k-means is the file's true class count (stated in the output);
- baseline, same run: jieba-word TF-IDF → TruncatedSVD(100) → L2 → k-means (10 restarts, seed 0);
- e5 only: k-means on the titles' multilingual-e5-small vectors (no training at all);
- product: `cluster_from_features` (k-means on centred e5 vectors + topic probabilities) with the shipped topic
  classifier — EXCEPT when FILE is the file the shipped classifier was trained on (same sha256): then the topic
  probabilities are cross-fitted (5 stratified folds, seed 0; each row scored by heads trained on the other
  four folds), so no row is scored by a model that saw it;
- stories: `cluster_from_features` with n_clusters=None (automatic story grouping) on the first 2,000 titles,
  reported against the topic labels (purity is high by design, NMI is not the target there);
- topic-classification accuracy of the n-gram head, the e5 head and their mean (the shipped classifier).
e5 vectors are cached in --cache (default /tmp/zhimei-bench-insight) keyed by the file's titles.
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

from zhimei.insight import clustering  # noqa: E402
from zhimei.insight.ngram import data_dir, load_model, normalize, words  # noqa: E402
from zhimei.insight.topics_classifier import E5Head, load_e5_head, topic_probabilities  # noqa: E402
from zhimei.insight.train import (  # noqa: E402
    SEED,
    default_topics_data,
    docs_of,
    embed_cached,
    fit_e5_head,
    fit_topics,
    read_topics,
    sha256,
)


def purity(y: np.ndarray, lab: np.ndarray) -> float:
    tot = 0
    for c in np.unique(lab):
        tot += np.bincount(y[lab == c]).max()
    return tot / len(y)


def scores(y: np.ndarray, lab: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import normalized_mutual_info_score

    return {"nmi": round(float(normalized_mutual_info_score(y, lab)), 4), "purity": round(float(purity(y, lab)), 4),
            "clusters": int(len(np.unique(lab)))}


def baseline(titles: list[str], k: int) -> np.ndarray:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize as l2

    x = TfidfVectorizer(analyzer=lambda t: words(normalize(t))).fit_transform(titles)
    z = l2(TruncatedSVD(100, random_state=SEED).fit_transform(x))
    return KMeans(n_clusters=k, n_init=10, random_state=SEED).fit_predict(z)


def cross_fitted(titles: list[str], y: np.ndarray, vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold (n-gram head, e5 head) probabilities."""
    from sklearn.model_selection import StratifiedKFold

    docs = docs_of(titles)
    k = int(y.max()) + 1
    pn = np.zeros((len(y), k), np.float32)
    pe = np.zeros((len(y), k), np.float32)
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=SEED).split(titles, y):
        f = fit_topics([docs[i] for i in tr], y[tr])
        pn[te] = f.model().predict([normalize(titles[i]) for i in te])
        w, b = fit_e5_head(vecs[tr], y[tr])
        pe[te] = E5Head(w, b, vecs[tr].mean(axis=0), []).predict(vecs[te])
    return pn, pe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=default_topics_data())
    ap.add_argument("--limit", type=int, default=0, help="use only the first N titles")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/zhimei-bench-insight"))
    ap.add_argument("--story-n", type=int, default=2000)
    a = ap.parse_args()
    titles, y, names = read_topics(a.data)
    if a.limit:
        titles, y = titles[: a.limit], y[: a.limit]
    k = int(len(np.unique(y)))
    model = load_model("topics-zh")
    trained_on = {d.get("sha256") for d in model.meta.get("data", [])}
    crossfit = sha256(a.data) in trained_on
    print(f"{a.data.name}: {len(titles)} titles, {k} classes ({', '.join(names)}); k-means gets k={k} "
          f"(the true class count); topic probabilities: {'cross-fitted 5-fold' if crossfit else 'shipped model'}")

    t0 = time.perf_counter()
    base = scores(y, baseline(titles, k))
    t_base = time.perf_counter() - t0
    print(f"baseline TF-IDF+SVD+k-means : NMI {base['nmi']:.4f}  purity {base['purity']:.4f}  ({t_base:.1f} s)")

    t0 = time.perf_counter()
    vecs = embed_cached(titles, folder=a.cache)
    t_emb = time.perf_counter() - t0
    print(f"e5 vectors: {t_emb:.1f} s (cached in {a.cache} after the first run)")
    e5only = scores(y, clustering._kmeans(vecs, k))
    print(f"e5 k-means (no training)    : NMI {e5only['nmi']:.4f}  purity {e5only['purity']:.4f}")

    t0 = time.perf_counter()
    if crossfit:
        pn, pe = cross_fitted(titles, y, vecs)
        probs = (pn + pe) / 2.0
        centred = clustering._unit(vecs - vecs.mean(axis=0))
        tfidf = model.features([normalize(t) for t in titles])
    else:
        pn = topic_probabilities(titles)
        pe = load_e5_head().predict(vecs)
        probs, centred, tfidf = clustering.cluster_features(titles, vecs)
    t_feat = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = scores(y, clustering.cluster_from_features(probs, centred, tfidf, k))
    t_km = time.perf_counter() - t0
    print(f"product (e5 + topic probs)  : NMI {ours['nmi']:.4f}  purity {ours['purity']:.4f}  "
          f"(k-means {t_km:.1f} s)")
    nostat = scores(y, clustering.cluster_from_features(pn, None, tfidf, k))
    print(f"no embedder (tfidf + probs) : NMI {nostat['nmi']:.4f}  purity {nostat['purity']:.4f}")
    acc = {"ngram": round(float(np.mean(pn.argmax(1) == y)), 4), "e5": round(float(np.mean(pe.argmax(1) == y)), 4),
           "shipped_mean": round(float(np.mean(probs.argmax(1) == y)), 4)}
    print(f"topic classification accuracy: n-gram {acc['ngram']:.4f}  e5 {acc['e5']:.4f}  "
          f"mean (shipped) {acc['shipped_mean']:.4f}")

    n = min(a.story_n, len(titles))
    t0 = time.perf_counter()
    st = clustering.cluster_from_features(probs[:n], centred[:n], tfidf[:n], None)
    t_story = time.perf_counter() - t0
    stories = scores(y[:n], st)
    multi = int(np.sum(np.bincount(st) > 1))
    print(f"stories (n_clusters=None, first {n}): {stories['clusters']} stories ({multi} with 2+ titles), "
          f"purity {stories['purity']:.4f}, NMI {stories['nmi']:.4f}, {t_story:.2f} s")

    # end-to-end speed of cluster_texts on fresh titles (vectors given, as callers with stored vectors do)
    m = min(1000, len(titles))
    t0 = time.perf_counter()
    clustering.cluster_texts(titles[:m], vectors=vecs[:m])
    t_ct = time.perf_counter() - t0
    cached = t_emb < 5
    print(f"cluster_texts on {m} titles with their vectors: {m / t_ct:.0f} titles/s; embedding: "
          + ("from cache" if cached else f"{len(titles) / t_emb:.1f} titles/s"))
    print(json.dumps({
        "data": a.data.name, "titles": len(titles), "classes": k, "k_given": k, "cross_fitted": crossfit,
        "baseline_tfidf_svd_kmeans": base, "e5_kmeans": e5only, "product": ours, "product_no_embedder": nostat,
        "topic_accuracy": acc, "stories_auto": {**stories, "n": n, "multi": multi},
        "cluster_texts_titles_per_s": round(m / t_ct, 1), "feature_seconds": round(t_feat, 1),
        "embed_titles_per_s": None if cached else round(len(titles) / t_emb, 1),
        "model_dir": str(data_dir()),
    }))


if __name__ == "__main__":
    main()
