"""Story and topic clustering (故事聚类) of titles and short texts.

Each text is described by its multilingual-e5-small vector (centred on the mean news-title vector, so that
unrelated titles are no longer all ~0.88 similar) and by its news-topic probabilities from
`zhimei.insight.topics_classifier` (scaled by TOPIC_WEIGHT), which keeps stories from straddling topics.

- ``n_clusters`` given: k-means (10 restarts, fixed seed) on those features — topic-level grouping.
- ``n_clusters=None`` (stories): average linkage, merged while the mean pairwise similarity is at least
  STORY_SIMILARITY; the similarity of two texts is their centred e5 cosine (cross-lingual), raised by NGRAM_BONUS
  of the gap where their n-gram TF-IDF cosine is higher (shared names and numbers). A story is thus a group of
  texts about the same event, in any language; more than MAX_GROUP texts are first cut by k-means.

Without the embedder (not installed / not ready) k-means uses the n-gram TF-IDF and topic probabilities, and
stories the n-gram cosine alone (threshold STORY_SIMILARITY_NGRAM).
Empty texts each get their own label. Measured by ``bench/topics.py``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from zhimei.insight.ngram import load_model, normalize
from zhimei.insight.topics_classifier import MODEL_NAME, load_e5_head, topic_probabilities

__all__ = ["cluster_texts", "embed_texts", "try_embed", "cluster_features", "TOPIC_WEIGHT", "STORY_SIMILARITY",
           "MAX_GROUP", "SEED", "NGRAM_BONUS", "STORY_SIMILARITY_NGRAM", "cluster_from_features"]

TOPIC_WEIGHT = 1.0
STORY_SIMILARITY = 0.5
"""Story threshold on the centred e5 cosine, raised towards the n-gram cosine where that is higher
(by NGRAM_BONUS of the difference)."""
NGRAM_BONUS = 0.3
STORY_SIMILARITY_NGRAM = 0.25
"""Story threshold on the n-gram TF-IDF cosine when no embedder is available."""
MAX_GROUP = 2500
"""Story grouping compares all pairs; more texts than this are first cut by k-means into parts about half as big."""
SEED = 0
_BATCH = 32
_CACHE_MAX = 20_000
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def embed_texts(texts: list[str], progress: Callable[[float], None] | None = None) -> np.ndarray:
    """(n, 384) e5 passage vectors through the project's embedder (zhimei.models), with a bounded in-process cache
    (the same title is embedded once); raises zhimei.models NotReady when no embedder is available."""
    from zhimei.models import get_backend

    keys = [(t or " ").strip() or " " for t in texts]
    out: dict[str, np.ndarray] = {}
    with _cache_lock:
        for k in keys:
            v = _cache.get(k)
            if v is not None:
                out[k] = v
    todo = list(dict.fromkeys(k for k in keys if k not in out))
    if todo:
        emb = get_backend("embedder")
        for i in range(0, len(todo), _BATCH):
            part = todo[i:i + _BATCH]
            vecs = np.asarray(emb.embed_passages(part), np.float32)
            for k, v in zip(part, vecs, strict=True):
                out[k] = v
            if progress:
                progress(min(1.0, (i + _BATCH) / len(todo)))
        with _cache_lock:
            for k in todo:
                _cache[k] = out[k]
            while len(_cache) > _CACHE_MAX:
                _cache.popitem(last=False)
    dim = int(next(iter(out.values())).shape[0]) if out else 384
    return np.vstack([out[k] for k in keys]) if keys else np.zeros((0, dim), np.float32)


def try_embed(texts: list[str]) -> np.ndarray | None:
    """`embed_texts`, or None when no embedder is available."""
    from zhimei.models import NotReady

    try:
        return embed_texts(texts)
    except NotReady:
        return None


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


def cluster_features(texts: list[str], vectors: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, object]:
    """(topic probabilities, centred unit e5 vectors or None, n-gram TF-IDF rows) for the texts."""
    probs = topic_probabilities(texts, vectors)
    centred = None
    if vectors is not None:
        centred = _unit(np.asarray(vectors, np.float32) - load_e5_head().mean)
    tfidf = load_model(MODEL_NAME).features([normalize(t) for t in texts])
    return probs, centred, tfidf


def _kmeans(x: object, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=SEED).fit_predict(x)


def _stories(centred: np.ndarray | None, tfidf: object) -> np.ndarray:
    """Average-linkage labels of one group: merged while the mean pairwise similarity is at least the threshold."""
    from scipy.cluster.hierarchy import fcluster, linkage

    sim = np.asarray((tfidf @ tfidf.T).todense(), np.float32)  # type: ignore[attr-defined]
    threshold = STORY_SIMILARITY_NGRAM
    if centred is not None:
        e = centred @ centred.T
        sim = e + NGRAM_BONUS * np.maximum(0.0, sim - e)
        threshold = STORY_SIMILARITY
    n = sim.shape[0]
    if n < 2:
        return np.ones(n, np.int64)
    dist = np.clip(1.0 - sim, 0.0, 2.0)
    iu = np.triu_indices(n, k=1)
    return fcluster(linkage(dist[iu], method="average"), t=1.0 - threshold, criterion="distance")


def cluster_texts(texts: list[str], *, n_clusters: int | None = None, vectors: np.ndarray | None = None) -> list[int]:
    """A cluster label per text (0, 1, … in order of first appearance). `n_clusters` fixes the number of
    (topic-level) clusters; None groups texts into stories automatically. `vectors`: the texts' e5 passage
    vectors if the caller has them (else they are computed, when an embedder is available)."""
    if isinstance(texts, str):
        raise TypeError("cluster_texts takes a list of texts, not one string")
    if n_clusters is not None and (not isinstance(n_clusters, int) or n_clusters < 1):
        raise ValueError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    texts = [t if isinstance(t, str) else "" for t in texts]
    idx = [i for i, t in enumerate(texts) if normalize(t)]
    labels = np.full(len(texts), -1, np.int64)
    if idx:
        sub = [texts[i] for i in idx]
        if vectors is not None:
            vectors = np.asarray(vectors, np.float32)
            if vectors.shape[0] != len(texts):
                raise ValueError(f"{vectors.shape[0]} vectors for {len(texts)} texts")
            vecs = vectors[idx]
        else:
            vecs = try_embed(sub)
        probs, centred, tfidf = cluster_features(sub, vecs)
        labels[idx] = cluster_from_features(probs, centred, tfidf, n_clusters)
    return _renumber(labels)


def cluster_from_features(probs: np.ndarray, centred: np.ndarray | None, tfidf: object,
                          n_clusters: int | None = None) -> np.ndarray:
    """Labels from `cluster_features` output (k-means when `n_clusters`, else stories); benches pass their own
    cross-fitted topic probabilities here."""
    if n_clusters:
        return _topic_level(probs, centred, tfidf, n_clusters)
    return _story_level(centred, tfidf)


def _topic_level(probs: np.ndarray, centred: np.ndarray | None, tfidf: object, k: int) -> np.ndarray:
    from scipy.sparse import csr_matrix, hstack

    n = probs.shape[0]
    if n <= k:
        return np.arange(n)
    if centred is not None:
        x = np.hstack([centred, TOPIC_WEIGHT * probs])
    else:
        x = hstack([tfidf, csr_matrix(TOPIC_WEIGHT * probs)]).tocsr()
    return _kmeans(x, k)


def _story_level(centred: np.ndarray | None, tfidf: object) -> np.ndarray:
    n = tfidf.shape[0]  # type: ignore[attr-defined]
    parts = [np.arange(n)]
    if n > MAX_GROUP:  # bound the all-pairs matrices: cut into parts by k-means first
        cut = _kmeans(centred if centred is not None else tfidf, int(np.ceil(n / MAX_GROUP)) * 2)
        parts = [np.flatnonzero(cut == j) for j in np.unique(cut)]
    out = np.zeros(n, np.int64)
    nxt = 0
    for part in parts:
        lab = _stories(None if centred is None else centred[part], tfidf[part])  # type: ignore[index]
        out[part] = nxt + lab
        nxt += int(lab.max()) + 1
    return out


def _renumber(labels: np.ndarray) -> list[int]:
    """Labels 0, 1, … by first appearance; -1 (empty text) becomes a label of its own each time."""
    seen: dict[int, int] = {}
    out = []
    for lab in labels.tolist():
        if lab < 0:
            out.append(len(seen))
            seen[-1 - len(seen)] = len(seen)
        else:
            if lab not in seen:
                seen[lab] = len(seen)
            out.append(seen[lab])
    return out
