"""The recommendation algorithms on their own (numpy in, arrays out): matrix building, EASE and item-CF
neighbours, ALS fold-in, MMR and exploration, the engine's exclusions and reasons, model files and the cache."""

from __future__ import annotations

import time

import numpy as np
import pytest

from zhimei.distribute.recommend.blend import BlendWeights
from zhimei.distribute.recommend.diversity import intra_list_similarity, mmr, with_exploration
from zhimei.distribute.recommend.ease import ease
from zhimei.distribute.recommend.engine import Engine
from zhimei.distribute.recommend.itemcf import item_cf
from zhimei.distribute.recommend.matrix import build_matrix, topk
from zhimei.distribute.recommend.model import BoundedCache, RecModel
from zhimei.distribute.recommend.trainer import TrainParams, train_model


def _clustered(n_users=300, n_items=60, groups=3, seed=0):
    """Readers who each read 8 items, 7 of them from their own group of items."""
    rng = np.random.default_rng(seed)
    group_of_item = np.arange(n_items) % groups
    users, items = [], []
    for u in range(n_users):
        g = u % groups
        own = np.flatnonzero(group_of_item == g)
        picks = list(rng.choice(own, 7, replace=False)) + [int(rng.integers(n_items))]
        users += [u + 1000] * len(picks)
        items += [int(i) + 1 for i in picks]
    vec = np.zeros((n_items, groups), np.float32)
    vec[np.arange(n_items), group_of_item] = 1.0
    vec += 0.05 * rng.normal(size=vec.shape).astype(np.float32)
    return np.array(users), np.array(items), vec, group_of_item


def _model(**kw):
    users, items, vec, groups = _clustered()
    fm = build_matrix(users, items)
    params = TrainParams(als_factors=8, als_iterations=5, **kw)
    return fm, train_model(fm, params, item_vectors=vec[fm.item_ids - 1]), groups


def test_matrix_sums_duplicates_decays_and_damps():
    fm = build_matrix([5, 5, 7], [10, 10, 11], [1.0, 2.0, 4.0], last_at=np.array([0, 0, 86400.0 * 10]),
                      now=86400.0 * 10, half_life_days=10, extra_items=[99])
    assert list(fm.user_ids) == [5, 7] and list(fm.item_ids) == [10, 11, 99]
    assert fm.X[0, 0] == pytest.approx(np.log1p(1.5))  # (1 + 2) halved by one half-life, then log-damped
    assert fm.X[1, 1] == pytest.approx(np.log1p(4.0))
    assert fm.X[:, 2].nnz == 0 and list(fm.item_index([11, 12])) == [1, -1]
    with pytest.raises(ValueError, match="differ in length"):
        build_matrix([1, 2], [1])


def test_topk_is_best_first_without_a_full_sort():
    s = np.array([0.1, 5.0, 3.0, -1.0, 4.0])
    assert list(topk(s, 3)) == [1, 4, 2]
    assert list(topk(s, 10)) == [1, 4, 2, 0, 3] and len(topk(s, 0)) == 0


def test_neighbour_sources_recommend_within_the_taste_group():
    users, items, _vec, group_of_item = _clustered()
    fm = build_matrix(users, items)
    for table in (ease(fm.binary(), lam=50.0), item_cf(fm.X, k=10, shrink=1.0), ease(fm.binary(), lam=50.0, k=10)):
        nb, w = table.neighbours(0, 5)
        assert len(nb) == 5 and np.all(np.diff(w) <= 1e-6)
        assert np.mean(group_of_item[fm.item_ids[nb] - 1] == group_of_item[fm.item_ids[0] - 1]) >= 0.8
    with pytest.raises(ValueError, match="positive lambda"):
        ease(fm.binary(), lam=0)


def test_engine_excludes_seen_and_dead_items_and_explains():
    fm, model, groups = _model()
    eng = Engine(model)
    live = np.ones(model.n_items, bool)
    live[:5] = False
    ctx = eng.prepare(live, {"trending": model.popularity})
    row = 0
    items, st = model.history(row)
    picks = eng.rank(row, items, st, ctx, n=10)
    got = {p.index for p in picks}
    assert len(picks) == 10 and not got & set(items.tolist()) and not got & set(range(5))
    own = groups[fm.item_ids[items] - 1]
    majority = np.bincount(own).argmax()
    assert np.mean([groups[fm.item_ids[p.index] - 1] == majority for p in picks[:5]]) >= 0.8
    personal = [p for p in picks if p.source in ("neighbours", "als", "content")]
    assert personal and all(p.because in set(items.tolist()) for p in personal)
    # a reader the model never saw is folded in from their history (no retrain needed)
    folded = eng.rank(None, items, st, ctx, n=10)
    assert len({p.index for p in folded} & got) >= 6


def test_cold_start_uses_only_the_shared_sources():
    _fm, model, _ = _model()
    eng = Engine(model)
    fresh = np.zeros(model.n_items, np.float32)
    fresh[7] = 1.0
    picks_v = np.zeros(model.n_items, np.float32)
    picks_v[3] = 1.0
    ctx = eng.prepare(np.ones(model.n_items, bool), {"trending": model.popularity, "fresh": fresh, "picks": picks_v},
                      weights=BlendWeights(picks=2.0, fresh=1.0, trending=0.5))
    picks = eng.rank(None, np.empty(0, np.int64), np.empty(0, np.float32), ctx, n=5)
    assert [p.index for p in picks[:2]] == [3, 7]
    assert [p.source for p in picks[:2]] == ["picks", "fresh"] and all(p.because is None for p in picks)


def test_mmr_diversity_grows_with_the_knob():
    _fm, model, groups = _model()
    eng = Engine(model)
    ctx = eng.prepare(np.ones(model.n_items, bool), {"trending": model.popularity})
    sims, spread = [], []
    for d in (0.0, 0.3, 0.6, 0.9):
        totals = []
        for row in range(0, 60, 3):
            items, st = model.history(row)
            picks = eng.rank(row, items, st, ctx, n=8, diversity=d)
            idx = np.array([p.index for p in picks])
            n_groups = len(set(groups[model.item_ids[idx] - 1]))
            totals.append((intra_list_similarity(idx, eng.diversity_vectors), n_groups))
        sims.append(np.mean([t[0] for t in totals]))
        spread.append(np.mean([t[1] for t in totals]))
    assert sims[0] > sims[1] > sims[3], sims
    assert spread[3] > spread[0], spread
    with pytest.raises(ValueError, match="diversity must be between 0 and 1"):
        mmr(np.arange(3), np.ones(3), None, 2, 1.5)


def test_exploration_slots_are_spread_and_never_first():
    ranked = list(range(10))
    out, explored = with_exploration(ranked, [50, 51, 3, 52], 10, 0.3)
    assert len(out) == 10 and explored == {50, 51, 52} and out[0] == 0
    assert sorted(out.index(i) for i in explored) == [2, 6, 9]
    assert with_exploration(ranked, [], 10, 0.3) == (ranked, set())


def test_model_file_round_trip_and_format_check():
    _fm, model, _ = _model()
    back = RecModel.from_bytes(model.to_bytes())
    assert back.neighbour_kind == model.neighbour_kind == "ease"
    assert np.array_equal(back.item_ids, model.item_ids) and np.allclose(back.als.items, model.als.items)
    assert (back.seen != model.seen).nnz == 0 and np.allclose(back.content, model.content)
    big = train_model(build_matrix(*_clustered()[:2]), TrainParams(als_factors=4, als_iterations=2,
                                                                  ease_max_items=10, ivf_min_items=10))
    again = RecModel.from_bytes(big.to_bytes())
    assert again.neighbour_kind == "itemcf" and again.als_ivf is not None
    assert np.array_equal(again.als_ivf.order, big.als_ivf.order)
    with pytest.raises(ValueError):
        RecModel.from_bytes(b"not a model")


def test_bounded_cache_by_size_count_and_age():
    c = BoundedCache(max_bytes=100, max_entries=3, max_age=0.2)
    c.put("a", 1, size=60)
    c.put("b", 2, size=60)  # over the byte budget: the oldest goes
    assert c.get("a") is None and c.get("b") == 2
    c.put("c", 3, size=10)
    c.put("d", 4, size=10)
    c.put("e", 5, size=10)  # over the entry count
    assert c.get("b") is None and c.stats()["entries"] == 3
    c.put("huge", 0, size=1000)  # never fits
    assert c.get("huge") is None
    time.sleep(0.25)
    assert c.get("e") is None and c.stats()["bytes"] <= 100
