"""Warm-up for a long-running search process (the web server): pay the first query's one-off costs at start,
then take everything loaded out of the garbage collector's sight."""

from __future__ import annotations

import gc
import time

__all__ = ["warm_up"]


def warm_up(freeze: bool = True) -> dict[str, object]:
    """Load the word segmenter, the embedder, its background sentences and the ANN indexes (caught up with the
    embedding table), as the first search would; then, with `freeze`, move every object alive into the
    collector's permanent generation (`gc.freeze`). The loaded dictionaries and models are hundreds of thousands
    of references that a full collection would otherwise walk on every pass: at 1M segments such a pass took 34 ms,
    landing inside two of 300 timed searches (51 and 47 ms, against a p50 of 15 ms); frozen, the slowest was
    25 ms. Returns seconds per part, and why the vector side could not be warmed, if it could not."""
    from zhimei.library.search.tokens import query_terms
    from zhimei.library.search.vectors import embedder_model, query_vector, relevance_floor, vector_hits
    from zhimei.models import ModelError, NotReady

    out: dict[str, object] = {}
    t0 = time.perf_counter()
    query_terms("新闻发布会 press conference")
    out["words_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    try:
        vec, model = query_vector("新闻 news"), embedder_model()
        relevance_floor(vec, model)
        vector_hits(vec, 1, model)
        vector_hits(vec, 1, model, owner="asset")
    except (NotReady, ModelError) as exc:
        out["vector_problem"] = str(exc)
    out["vectors_s"] = round(time.perf_counter() - t0, 3)
    if freeze:
        gc.collect()
        gc.freeze()
        out["frozen_objects"] = gc.get_freeze_count()
    return out
