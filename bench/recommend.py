"""Recommendation accuracy on MovieLens-100k and serving latency at 100k readers × 50k items.

Accuracy. Data: the MovieLens-100k atomic files (`ml-100k.inter`, `.item`) that ship inside the `recbole`
wheel (found on disk, recbole itself is not imported: it needs torch), or `--data DIR` holding files of the same
format. Protocol (Microsoft Recommenders' MovieLens benchmark): `python_random_split` ratio 0.75, seed 42 (rows
shuffled as one, not per user: sklearn's ShuffleSplit permutation, reproduced with numpy), every rating an
implicit positive, items seen in training removed from the lists, top 10, `ndcg_at_k` / `recall_at_k` with binary
relevance averaged over test users who also appear in training. There SAR reports nDCG@10 0.382 and BPR 0.442.
Hyper-parameters (EASE λ, ALS, the blend weights) are tuned on an inner 75/25 random split of the TRAINING rows
only (seed 43); the test split is touched once, at the end. Every source and the blend run through the product's
serving code (`zhimei.distribute.recommend.engine.Engine`).

Latency. Synthetic power-law interactions (100k readers, 50k items, ~3M interactions, clustered tastes), the
model trained by the product's trainer (item-CF neighbours above `ease_max_items`, ALS, content vectors), then
`Engine.rank` — candidate recall from every source + blend + MMR + exploration slots — timed per reader.

    nice -n 10 .venv/bin/python bench/recommend.py [--data DIR] [--skip-latency] [--latency-users 100000]

The last line of stdout is one JSON object of all figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhimei.distribute.recommend.blend import BlendWeights  # noqa: E402
from zhimei.distribute.recommend.content import normalise_rows  # noqa: E402
from zhimei.distribute.recommend.engine import Engine  # noqa: E402
from zhimei.distribute.recommend.fresh import fresh_scores  # noqa: E402
from zhimei.distribute.recommend.itemcf import item_cf  # noqa: E402
from zhimei.distribute.recommend.matrix import build_matrix, topk  # noqa: E402
from zhimei.distribute.recommend.model import RecModel  # noqa: E402
from zhimei.distribute.recommend.trainer import TrainParams, train_model  # noqa: E402

K = 10
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zhimei-bench"
GEN_VERSION = 2  # bump when `synthetic` or the trainer changes (invalidates the cached model)


# ------------------------------------------------------------------------------------------- data
def find_ml100k(data: str | None) -> Path:
    """The folder with ml-100k.inter: --data, else inside the installed recbole package (not imported)."""
    if data:
        p = Path(data)
        if not (p / "ml-100k.inter").exists():
            hits = list(p.glob("*.inter"))
            if not hits:
                sys.exit(f"--data {p}: no *.inter atomic file there")
        return p
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("recbole is not installed: .venv/bin/pip install --no-deps recbole==1.2.1 (or pass --data DIR)")
    p = Path(list(spec.submodule_search_locations)[0]) / "dataset_example" / "ml-100k"
    if not (p / "ml-100k.inter").exists():
        sys.exit(f"no ml-100k.inter under {p}")
    return p


def read_atomic(path: Path) -> tuple[list[str], list[list[str]]]:
    """A RecBole atomic file: a header of `name:type` columns, tab-separated rows."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = [h.split(":")[0] for h in fh.readline().rstrip("\n").split("\t")]
        rows = [line.rstrip("\n").split("\t") for line in fh if line.strip()]
    return header, rows


def load(folder: Path):
    inter = folder / "ml-100k.inter" if (folder / "ml-100k.inter").exists() else next(folder.glob("*.inter"))
    header, rows = read_atomic(inter)
    col = {h: i for i, h in enumerate(header)}
    users = np.array([int(r[col["user_id"]]) for r in rows], dtype=np.int64)
    items = np.array([int(r[col["item_id"]]) for r in rows], dtype=np.int64)
    ts = np.array([float(r[col["timestamp"]]) if "timestamp" in col else 0.0 for r in rows])
    features: dict[int, list[str]] = {}
    item_file = inter.with_suffix(".item")
    if item_file.exists():
        h, irows = read_atomic(item_file)
        c = {x: i for i, x in enumerate(h)}
        for r in irows:
            toks = []
            if "class" in c and len(r) > c["class"]:
                toks += ["g:" + g for g in r[c["class"]].split()]
            if "release_year" in c and len(r) > c["release_year"] and r[c["release_year"]].strip().isdigit():
                toks.append(f"decade:{int(r[c['release_year']]) // 10}")
            features[int(r[c["item_id"]])] = toks
    return users, items, ts, features, inter


def random_split(n: int, ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn train_test_split(train_size=ratio, random_state=seed) row indices: (train, test)."""
    n_train = int(np.floor(ratio * n))
    n_test = n - n_train
    perm = np.random.RandomState(seed).permutation(n)
    return perm[n_test:n_test + n_train], perm[:n_test]


def item_vectors(item_ids: np.ndarray, features: dict[int, list[str]]) -> tuple[np.ndarray, np.ndarray] | None:
    """IDF-weighted bag of genre and decade tokens per item (the MovieLens stand-in for text embeddings)."""
    if not features:
        return None
    vocab = sorted({t for toks in features.values() for t in toks})
    if not vocab:
        return None
    index = {t: i for i, t in enumerate(vocab)}
    V = np.zeros((len(item_ids), len(vocab)), dtype=np.float32)
    for r, it in enumerate(item_ids):
        for t in features.get(int(it), []):
            V[r, index[t]] = 1.0
    df = (V > 0).sum(0)
    V *= np.log((1 + len(item_ids)) / (1 + df))[None, :]
    has = V.any(1)
    return normalise_rows(V), has


# ------------------------------------------------------------------------------------------- evaluation
def evaluate(lists: dict[int, np.ndarray], truth: dict[int, set[int]], n_catalogue: int) -> dict[str, float]:
    """Microsoft Recommenders' ndcg_at_k / recall_at_k (binary relevance, users in both) and coverage."""
    disc = 1.0 / np.log1p(np.arange(1, K + 1))
    nd = rc = 0.0
    users = [u for u in truth if u in lists]
    shown: set[int] = set()
    for u in users:
        top = lists[u][:K]
        shown.update(int(i) for i in top)
        t = truth[u]
        hits = np.array([int(i) in t for i in top], dtype=float)
        nd += float((hits * disc[:len(hits)]).sum() / disc[:min(len(t), K)].sum())
        rc += hits.sum() / len(t)
    n = max(1, len(users))
    return {"ndcg@10": round(nd / n, 4), "recall@10": round(rc / n, 4),
            "coverage": round(len(shown) / n_catalogue, 4), "users": len(users)}


def source_lists(engine: Engine, fm, users: list[int], source: str, extra: dict[str, np.ndarray]):
    """Top-10 of a single source per user (seen items removed)."""
    out = {}
    live = np.ones(engine.model.n_items, dtype=bool)
    for u in users:
        row = fm.user_index(u)
        items, strengths = engine.model.history(row)
        if source in extra:
            s = extra[source].copy()
        else:
            s = engine.personal_scores(row, items, strengths).get(source)
            if s is None:
                continue
            s = s.copy()
        s[~live] = -np.inf
        s[items] = -np.inf
        out[u] = fm.item_ids[topk(s, K)]
    return out


def blend_lists(engine: Engine, fm, users: list[int], extra: dict[str, np.ndarray], weights: BlendWeights,
                diversity: float = 0.0, explore: float = 0.0, pool: np.ndarray | None = None):
    ctx = engine.prepare(np.ones(engine.model.n_items, dtype=bool), extra, weights=weights, explore_pool=pool)
    out = {}
    for u in users:
        row = fm.user_index(u)
        items, strengths = engine.model.history(row)
        picks = engine.rank(row, items, strengths, ctx, n=K, diversity=diversity, explore_share=explore)
        out[u] = fm.item_ids[[p.index for p in picks]]
    return out


def truth_of(users: np.ndarray, items: np.ndarray) -> dict[int, set[int]]:
    t: dict[int, set[int]] = {}
    for u, i in zip(users.tolist(), items.tolist(), strict=True):
        t.setdefault(u, set()).add(i)
    return t


def fit(users, items, ts, features, params: TrainParams, all_items: np.ndarray):
    fm = build_matrix(users, items, extra_items=all_items)
    fm.X.data[:] = 1.0  # ratings as implicit positives of equal strength
    vec = item_vectors(fm.item_ids, features)
    model = train_model(fm, params, item_vectors=vec[0] if vec else None, has_vector=vec[1] if vec else None)
    engine = Engine(model)
    # fresh: an item's first appearance in the training rows as its "publication" time
    first = np.full(len(fm.item_ids), np.nan)
    col = fm.item_index(items)
    order = np.argsort(ts)
    first_seen = {}
    for c, t in zip(col[order].tolist(), ts[order].tolist(), strict=True):
        first_seen.setdefault(c, t)
    for c, t in first_seen.items():
        first[c] = t
    extra = {"trending": model.popularity.astype(np.float32),
             "fresh": fresh_scores(first, now=float(ts.max()), half_life_hours=24 * 30)}
    return fm, engine, extra


def tune(users, items, ts, features, all_items, log) -> TrainParams:
    """Pick EASE λ, ALS settings and blend weights on an inner split of the training rows."""
    tr, va = random_split(len(users), 0.75, 43)
    truth = truth_of(users[va], items[va])
    n_cat = len(all_items)
    best = TrainParams()
    # 1. each learned source on its own
    scores = {}
    for lam in (100.0, 200.0, 400.0, 800.0):
        p = TrainParams(ease_lambda=lam, als_factors=0)
        fm, eng, extra = fit(users[tr], items[tr], ts[tr], features, p, all_items)
        r = evaluate(source_lists(eng, fm, list(truth), "neighbours", extra), truth, n_cat)
        scores[lam] = r["ndcg@10"]
        log(f"  inner: EASE λ={lam:g}: nDCG@10 {r['ndcg@10']}")
    best.ease_lambda = max(scores, key=scores.get)
    als_grid = [(f, reg, a) for f in (32, 64) for reg in (0.05, 1.0) for a in (2.0, 10.0)]
    als_scores = {}
    for f, reg, a in als_grid:
        p = TrainParams(als_factors=f, als_regularization=reg, als_alpha=a,
                        weights=BlendWeights(neighbours=0, content=0))  # no neighbour table while tuning ALS
        fm, eng, extra = fit(users[tr], items[tr], ts[tr], features, p, all_items)
        r = evaluate(source_lists(eng, fm, list(truth), "als", extra), truth, n_cat)
        als_scores[(f, reg, a)] = r["ndcg@10"]
        log(f"  inner: ALS factors={f} reg={reg:g} alpha={a:g}: nDCG@10 {r['ndcg@10']}")
    best.als_factors, best.als_regularization, best.als_alpha = max(als_scores, key=als_scores.get)
    # 2. blend weights, sources fixed
    fm, eng, extra = fit(users[tr], items[tr], ts[tr], features, best, all_items)
    grid = itertools.product((0.0, 0.1, 0.25, 0.5), (0.0, 0.05, 0.15), (0.0, 0.05, 0.15), (0.0, 0.03))
    blend_scores = {}
    for als, content, trending, fresh in grid:
        w = BlendWeights(neighbours=1.0, als=als, content=content, trending=trending, fresh=fresh, picks=0.0)
        r = evaluate(blend_lists(eng, fm, list(truth), extra, w), truth, n_cat)
        blend_scores[(als, content, trending, fresh)] = r["ndcg@10"]
    (als, content, trending, fresh), top = max(blend_scores.items(), key=lambda kv: kv[1])
    log(f"  inner: best blend als={als} content={content} trending={trending} fresh={fresh}: nDCG@10 {top} "
        f"(of {len(blend_scores)} weightings)")
    best.weights = BlendWeights(neighbours=1.0, als=als, content=content, trending=trending, fresh=fresh, picks=0.3)
    return best


def accuracy(data: str | None, log) -> dict:
    folder = find_ml100k(data)
    users, items, ts, features, inter = load(folder)
    all_items = np.unique(items)
    log(f"data: {inter} ({len(users)} interactions, {len(np.unique(users))} users, {len(all_items)} items)")
    log("protocol: Microsoft Recommenders python_random_split(ratio=0.75, seed=42), all ratings implicit "
        "positives, seen train items removed, top-10, binary-relevance ndcg_at_k/recall_at_k over test users "
        "present in train; tuning on an inner 75/25 split of TRAIN (seed 43) only")
    tr, te = random_split(len(users), 0.75, 42)
    t0 = time.time()
    params = tune(users[tr], items[tr], ts[tr], features, all_items, log)
    tune_s = time.time() - t0
    log(f"tuned: EASE λ={params.ease_lambda:g}, ALS factors={params.als_factors} reg={params.als_regularization:g} "
        f"alpha={params.als_alpha:g}, weights={params.weights.as_dict()} ({tune_s:.0f} s)")
    t0 = time.time()
    fm, eng, extra = fit(users[tr], items[tr], ts[tr], features, params, all_items)
    train_s = time.time() - t0
    truth = truth_of(users[te], items[te])
    n_cat = len(all_items)
    res: dict[str, dict] = {}
    res["popularity"] = evaluate(source_lists(eng, fm, list(truth), "trending", extra), truth, n_cat)
    res["ease"] = evaluate(source_lists(eng, fm, list(truth), "neighbours", extra), truth, n_cat)
    cf = item_cf(fm.X, k=params.neighbours_k, shrink=params.itemcf_shrink)
    cf_engine = Engine(_swap_neighbours(eng.model, cf))
    res["itemcf"] = evaluate(source_lists(cf_engine, fm, list(truth), "neighbours", extra), truth, n_cat)
    res["als"] = evaluate(source_lists(eng, fm, list(truth), "als", extra), truth, n_cat)
    if eng.model.content is not None:
        res["content"] = evaluate(source_lists(eng, fm, list(truth), "content", extra), truth, n_cat)
    res["fresh"] = evaluate(source_lists(eng, fm, list(truth), "fresh", extra), truth, n_cat)
    res["blend"] = evaluate(blend_lists(eng, fm, list(truth), extra, params.weights), truth, n_cat)
    pool = topk(extra["trending"] + extra["fresh"] * extra["trending"].max(), 200)
    res["blend_diverse"] = evaluate(blend_lists(eng, fm, list(truth), extra, params.weights, diversity=0.3,
                                                explore=0.1, pool=pool), truth, n_cat)
    res["blend_diverse"]["knob"] = {"diversity": 0.3, "explore_share": 0.1}
    log(f"trained on the 75% split in {train_s:.1f} s")
    log(f"{'source':<14}{'nDCG@10':>9}{'Recall@10':>11}{'coverage':>10}")
    for name, r in res.items():
        log(f"{name:<14}{r['ndcg@10']:>9.4f}{r['recall@10']:>11.4f}{r['coverage']:>10.4f}")
    log("reference (same protocol, Microsoft Recommenders): SAR nDCG@10 0.382, BPR 0.442; target blend >= 0.45")
    return {"protocol": "ms-recommenders python_random_split 0.75 seed 42, implicit, remove seen, k=10",
            "sources": res, "params": params.as_dict(), "tune_seconds": round(tune_s, 1),
            "train_seconds": round(train_s, 2)}


def _swap_neighbours(model, table):
    from dataclasses import replace

    return replace(model, neighbours=table, neighbour_kind="itemcf")


# ------------------------------------------------------------------------------------------- latency
def synthetic(n_users: int, n_items: int, seed: int = 0, clusters: int = 300, mean_len: float = 55.0):
    """Power-law interactions: Zipf item popularity, log-normal reader activity, 75% from one taste cluster."""
    rng = np.random.default_rng(seed)
    pop = (1.0 + np.arange(n_items)) ** -0.9
    rng.shuffle(pop)
    cluster_of = rng.integers(0, clusters, n_items)
    lengths = np.clip(rng.lognormal(np.log(mean_len) - 0.5, 1.0, n_users).astype(np.int64), 1, 2000)
    total = int(lengths.sum())
    users = np.repeat(np.arange(n_users, dtype=np.int64), lengths)
    taste = rng.integers(0, clusters, n_users)[users]
    glob_p = pop / pop.sum()
    items = rng.choice(n_items, size=total, p=glob_p)
    own = rng.random(total) < 0.75
    order = np.argsort(cluster_of, kind="stable")
    bounds = np.searchsorted(cluster_of[order], np.arange(clusters + 1))
    for c in range(clusters):
        sel = np.flatnonzero(own & (taste == c))
        members = order[bounds[c]:bounds[c + 1]]
        if len(sel) and len(members):
            p = pop[members] / pop[members].sum()
            items[sel] = members[rng.choice(len(members), size=len(sel), p=p)]
    weights = rng.gamma(1.5, 1.0, total).astype(np.float32)
    centroids = rng.normal(size=(clusters, 32)).astype(np.float32)
    vectors = centroids[cluster_of] + 0.7 * rng.normal(size=(n_items, 32)).astype(np.float32)
    return users, items, weights, vectors


def latency(n_users: int, n_items: int, n_queries: int, log) -> dict:
    from threadpoolctl import threadpool_limits

    t0 = time.time()
    users, items, weights, vectors = synthetic(n_users, n_items)
    fm = build_matrix(users, items, weights, extra_items=np.arange(n_items))
    gen_s = time.time() - t0
    log(f"latency data: {fm.shape[0]} readers × {fm.shape[1]} items, {fm.X.nnz} interactions "
        f"(synthetic power-law, {gen_s:.1f} s)")
    params = TrainParams(als_iterations=10, threads=2)
    cached = CACHE / f"recommend-synthetic-{n_users}x{n_items}-g{GEN_VERSION}.npz"
    if cached.exists():
        model = RecModel.from_bytes(cached.read_bytes())
        train_s = model.train_seconds
        log(f"model loaded from {cached} (delete it to retrain)")
    else:
        t0 = time.time()
        model = train_model(fm, params, item_vectors=vectors, has_vector=np.ones(n_items, bool))
        train_s = time.time() - t0
        model.train_seconds = train_s
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_bytes(model.to_bytes())
        os.replace(tmp, cached)
    log(f"trained ({model.neighbour_kind} top-{params.neighbours_k}, ALS {params.als_factors}, content) in "
        f"{train_s:.1f} s; model {model.nbytes / 2**20:.0f} MiB")
    engine = Engine(model)
    rng = np.random.default_rng(1)
    live = rng.random(n_items) < 0.9  # 10% of the catalogue not live on this channel
    now = 1.7e9
    published = now - rng.exponential(86400 * 20, n_items)
    extra = {"trending": model.popularity.astype(np.float32), "fresh": fresh_scores(published, now=now),
             "picks": np.zeros(n_items, np.float32)}
    extra["picks"][rng.choice(n_items, 10, replace=False)] = 1.0
    pool = topk(extra["trending"] / extra["trending"].max() + extra["fresh"], 200)
    ctx = engine.prepare(live, extra, explore_pool=pool)  # once per channel (the service caches it)
    rows = rng.choice(fm.shape[0], n_queries, replace=False)
    times, cpu = [], []
    load_before = os.getloadavg()[0]
    with threadpool_limits(1):  # one request, one core
        for i, row in enumerate(rows):
            items_u, strengths = model.history(int(row))
            t, c = time.perf_counter(), time.thread_time()
            picks = engine.rank(int(row), items_u, strengths, ctx, n=20, diversity=0.3, explore_share=0.1)
            dt, dc = time.perf_counter() - t, time.thread_time() - c
            if i >= 20:  # warm-up excluded
                times.append(dt)
                cpu.append(dc)
            assert len(picks) == 20
        cold = []
        empty = np.empty(0, np.int64)
        for _ in range(200):
            t = time.perf_counter()
            engine.rank(None, empty, np.empty(0, np.float32), ctx, n=20, diversity=0.3, explore_share=0.1)
            cold.append(time.perf_counter() - t)
    load = max(load_before, os.getloadavg()[0])
    ms = np.array(times) * 1000
    cpu_ms = np.array(cpu) * 1000
    cold_ms = np.array(cold) * 1000
    # how much the inverted-file recall of ALS keeps of the exhaustive top 100
    overlap = []
    for row in rows[:200]:
        u = model.als.users[int(row)]
        exact = set(topk(model.als.items @ u, 100).tolist())
        approx = set(engine.als.recall(u, 100)[0].tolist())
        overlap.append(len(exact & approx) / 100)
    res = {"readers": int(fm.shape[0]), "items": int(fm.shape[1]), "interactions": int(fm.X.nnz),
           "queries": len(times), "p50_ms": round(float(np.percentile(ms, 50)), 3),
           "p95_ms": round(float(np.percentile(ms, 95)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
           "cold_start_p95_ms": round(float(np.percentile(cold_ms, 95)), 3),
           "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 3),
           "cpu_p95_ms": round(float(np.percentile(cpu_ms, 95)), 3), "load_average": round(load, 2),
           "als_ivf_recall@100": round(float(np.mean(overlap)), 3),
           "train_seconds": round(train_s, 1), "model_mib": round(model.nbytes / 2**20, 1),
           "path": "Engine.rank: neighbours(item-CF)+ALS+content+trending+fresh+picks, blend, MMR(0.3), explore 0.1"}
    log(f"latency per reader (n=20, MMR 0.3, explore 0.1, 1 thread): p50 {res['p50_ms']} ms, p95 {res['p95_ms']} ms, "
        f"p99 {res['p99_ms']} ms; cold start p95 {res['cold_start_p95_ms']} ms (target p95 <= 5 ms)")
    log(f"  CPU time per reader: p50 {res['cpu_p50_ms']} ms, p95 {res['cpu_p95_ms']} ms (wall minus waiting for a "
        f"core; load average {res['load_average']} on {os.cpu_count()} CPUs during the run)")
    log(f"  ALS recall through the inverted lists keeps {res['als_ivf_recall@100']:.1%} of the exhaustive top 100")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="folder with MovieLens-style atomic files (ml-100k.inter, ml-100k.item)")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--latency-users", type=int, default=100_000)
    ap.add_argument("--latency-items", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

    def log(msg: str) -> None:
        print(msg, flush=True)

    out: dict = {}
    if not args.skip_accuracy:
        out["accuracy"] = accuracy(args.data, log)
    if not args.skip_latency:
        out["latency"] = latency(args.latency_users, args.latency_items, args.queries, log)
    summary = {}
    if "accuracy" in out:
        src = out["accuracy"]["sources"]
        summary.update({f"{k}_ndcg@10": v["ndcg@10"] for k, v in src.items()})
        summary["blend_recall@10"] = src["blend"]["recall@10"]
        summary["blend_coverage"] = src["blend"]["coverage"]
        summary["popularity_ndcg@10"] = src["popularity"]["ndcg@10"]
    if "latency" in out:
        summary["latency_p50_ms"] = out["latency"]["p50_ms"]
        summary["latency_p95_ms"] = out["latency"]["p95_ms"]
        summary["latency_cpu_p95_ms"] = out["latency"]["cpu_p95_ms"]
    out["summary"] = summary
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
