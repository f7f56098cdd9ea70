"""实验 title/cover experiments: Wilson intervals, P(best), Thompson sampling converging on the better title with
clicks simulated from a seeded generator and counted through the real event ingest, the promotion rule (automatic
and by hand), serving, and variants from the studio — on SQLite, or PostgreSQL with --db postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import zhimei.jobs as jobs
from zhimei.distribute.engagement import (
    EngagementError,
    auto_promote_due,
    create_experiment,
    get_experiment,
    ingest_events,
    list_experiments,
    prob_best,
    promote,
    serve_variant,
    stop_experiment,
    thompson_pick,
    wilson_interval,
)
from zhimei.jobs.tasks import enqueue_task
from zhimei.library.assets import ingest_bytes
from zhimei.settings import reset_settings
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset


def make_asset(title: str = "市政府发布新一轮消费券", kind: str = "article") -> int:
    with session_scope() as s:
        a = Asset(kind=kind, title=title)
        s.add(a)
        s.flush()
        return a.id


def test_wilson_interval_and_probability_to_be_best():
    lo, hi = wilson_interval(10, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.0552, 0.1744)  # the textbook values
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo0, hi0 = wilson_interval(0, 50)
    assert lo0 == 0.0 and 0.05 < hi0 < 0.08
    assert wilson_interval(50, 50)[1] == 1.0
    pb = prob_best([(60, 1000), (40, 1000)])
    assert abs(sum(pb) - 1.0) < 1e-9 and 0.97 < pb[0] < 0.995
    assert prob_best([(5, 100), (5, 100)]) == prob_best([(5, 100), (5, 100)])  # same counts, same answer
    assert 0.4 < prob_best([(5, 100), (5, 100)])[0] < 0.6
    rng = np.random.default_rng(0)
    picks = [thompson_pick([(90, 100), (10, 100)], rng) for _ in range(200)]
    assert picks.count(0) == 200


def _simulate(exp_id: int, true_ctr: dict[int, float], rounds: int, per_round: int, seed: int) -> None:
    """Serve in batches by Thompson sampling on the current counts; clicks drawn from the true CTRs; every
    impression and click goes through the real ingest as events carrying the variant id."""
    rng = np.random.default_rng(seed)
    base = datetime.now(UTC) - timedelta(hours=2)
    n = 0
    for _r in range(rounds):
        exp = get_experiment(exp_id)
        if exp["status"] != "running":
            break
        ids = [v["id"] for v in exp["variants"]]
        stats = [(v["clicks"], v["impressions"]) for v in exp["variants"]]
        events = []
        for _ in range(per_round):
            vid = ids[thompson_pick(stats, rng)]
            n += 1
            at = (base + timedelta(seconds=n)).isoformat()
            common = {"user": f"sim-{n % 997}", "asset_id": exp["asset_id"], "variant_id": vid, "at": at}
            events.append({"event_id": f"imp-{exp_id}-{seed}-{n}", "type": "impression", **common})
            if rng.random() < true_ctr[vid]:
                events.append({"event_id": f"clk-{exp_id}-{seed}-{n}", "type": "click", **common})
        rng.shuffle(events)
        report = ingest_events(events)
        assert report.rejected == 0 and report.accepted == len(events)


def test_thompson_sampling_converges_to_the_better_title_and_promotes_it(zhome):
    asset = make_asset()
    exp = create_experiment(asset, texts=["消费券来了", "新一轮消费券今起发放：怎么领、在哪用", "政府发券"],
                            min_impressions=3000, created_by="desk")
    assert exp["status"] == "running" and [v["label"] for v in exp["variants"]] == ["A", "B", "C"]
    ids = [v["id"] for v in exp["variants"]]
    true_ctr = {ids[0]: 0.04, ids[1]: 0.08, ids[2]: 0.03}
    _simulate(exp["id"], true_ctr, rounds=12, per_round=250, seed=11)  # 3000 impressions: not promoted before
    mid = get_experiment(exp["id"])
    assert mid["impressions"] == 3000 and mid["status"] == "running"
    by_id = {v["id"]: v for v in mid["variants"]}
    # the better title already gets most of the traffic
    assert by_id[ids[1]]["impressions"] > by_id[ids[0]]["impressions"] + by_id[ids[2]]["impressions"]
    assert mid["leader_variant_id"] == ids[1]
    for v in mid["variants"]:
        assert v["ci_low"] <= v["ctr"] <= v["ci_high"]
        assert (v["ci_low"], v["ci_high"]) == wilson_interval(v["clicks"], v["impressions"])
    assert abs(sum(v["p_best"] for v in mid["variants"]) - 1) < 1e-9
    _simulate(exp["id"], true_ctr, rounds=30, per_round=250, seed=12)
    enqueue_task("engagement.experiments")  # the periodic task promotes it
    jobs.drain()
    done = get_experiment(exp["id"])
    assert done["status"] == "promoted" and done["winner_variant_id"] == ids[1] and done["promoted_by"] == "auto"
    assert by_id[ids[1]]["p_best"] <= done["variants"][1]["p_best"] and done["variants"][1]["p_best"] >= 0.95
    with read_scope() as s:
        assert s.get(Asset, asset).meta["promoted_title"] == "新一轮消费券今起发放：怎么领、在哪用"
    # serving now always returns the winner; impressions after promotion are not counted on the variants
    assert {serve_variant(exp["id"], f"u{i}")["variant_id"] for i in range(20)} == {ids[1]}
    ingest_events([{"event_id": "after", "type": "impression", "user": "x", "asset_id": asset,
                    "variant_id": ids[0], "at": datetime.now(UTC).isoformat()}])
    assert get_experiment(exp["id"])["variants"][0]["impressions"] == done["variants"][0]["impressions"]
    assert get_experiment(exp["id"])["impressions"] == done["impressions"]


def test_promotion_rule_needs_both_certainty_and_impressions(zhome):
    asset = make_asset("两个标题")
    exp = create_experiment(asset, texts=["甲标题", "乙标题"], min_impressions=500)
    a, b = (v["id"] for v in exp["variants"])
    at = datetime.now(UTC).isoformat()
    evs = []
    for i in range(200):  # b is clearly better but only 400 impressions
        evs.append({"event_id": f"a{i}", "type": "impression", "user": f"u{i}", "asset_id": asset, "variant_id": a,
                    "at": at})
        evs.append({"event_id": f"b{i}", "type": "impression", "user": f"u{i}", "asset_id": asset, "variant_id": b,
                    "at": at})
        if i % 4 == 0:
            evs.append({"event_id": f"bc{i}", "type": "click", "user": f"u{i}", "asset_id": asset, "variant_id": b,
                        "at": at})
        if i % 40 == 0:
            evs.append({"event_id": f"ac{i}", "type": "click", "user": f"u{i}", "asset_id": asset, "variant_id": a,
                        "at": at})
    ingest_events(evs)
    view = get_experiment(exp["id"])
    assert view["leader_p_best"] > 0.99 and view["impressions"] == 400 and not view["promotable"]
    assert auto_promote_due() == []
    more = [{"event_id": f"more{i}", "type": "impression", "user": "m", "asset_id": asset,
             "variant_id": a if i % 2 else b, "at": at} for i in range(100)]
    ingest_events(more)
    assert get_experiment(exp["id"])["promotable"]
    assert auto_promote_due() == [exp["id"]]
    assert get_experiment(exp["id"])["winner_variant_id"] == b
    # a manual-only experiment is never promoted automatically; an editor promotes it, the same again is a no-op
    other = create_experiment(asset, texts=["一", "二"], auto_promote=False, min_impressions=0)
    assert auto_promote_due() == []
    o1 = other["variants"][0]["id"]
    assert promote(other["id"], o1, actor="editor-1")["winner_variant_id"] == o1
    assert promote(other["id"], o1)["promoted_by"] == "editor-1"
    with pytest.raises(EngagementError) as exc:
        promote(other["id"], other["variants"][1]["id"])
    assert exc.value.status == 409
    with pytest.raises(EngagementError) as exc:
        stop_experiment(other["id"])
    assert exc.value.status == 409


def test_serving_records_nothing_and_is_stable_per_user(zhome):
    asset = make_asset()
    exp = create_experiment(asset, texts=["标题一", "标题二", "标题三"])
    picks = {serve_variant(exp["id"], "reader-7")["variant_id"] for _ in range(10)}
    assert len(picks) == 1  # the same user keeps their draw while counts do not move
    spread = {serve_variant(exp["id"])["variant_id"] for _ in range(60)}
    assert len(spread) == 3  # flat posteriors: every variant gets served
    assert get_experiment(exp["id"])["impressions"] == 0
    stopped = stop_experiment(exp["id"])
    assert stopped["status"] == "stopped"
    assert serve_variant(exp["id"], "reader-7")["policy"] == "control"
    with pytest.raises(EngagementError) as exc:
        serve_variant(999_999)
    assert exc.value.status == 404


def test_bad_experiments_are_refused(zhome):
    asset = make_asset()
    img = make_asset("图", kind="image")
    for kwargs, status in [({"texts": ["only one"]}, 422), ({"texts": ["同一个", "同一个"]}, 422),
                           ({"kind": "video"}, 422), ({"texts": ["x" * 301, "y"]}, 422),
                           ({"kind": "cover", "cover_asset_ids": [img, asset]}, 422),
                           ({"kind": "cover", "cover_asset_ids": [img, 987654]}, 404),
                           ({"kind": "cover"}, 422)]:
        with pytest.raises(EngagementError) as exc:
            create_experiment(asset, **kwargs)
        assert exc.value.status == status, kwargs
    with pytest.raises(EngagementError) as exc:
        create_experiment(987654, texts=["a", "b"])
    assert exc.value.status == 404
    create_experiment(asset, texts=["a", "b"])
    with pytest.raises(EngagementError) as exc:
        create_experiment(asset, texts=["c", "d"])
    assert exc.value.status == 409 and "already has a running title experiment" in str(exc.value)
    img2 = make_asset("图二", kind="image")
    cover = create_experiment(asset, kind="cover", cover_asset_ids=[img, img2])
    assert [v["cover_asset_id"] for v in cover["variants"]] == [img, img2]
    assert list_experiments(status="running")["total"] == 2
    with pytest.raises(EngagementError):
        list_experiments(status="paused")
    # an event on a variant must be for that experiment's asset
    other = make_asset("另一条")
    r = ingest_events([{"event_id": "wrong", "type": "click", "user": "u", "asset_id": other,
                        "variant_id": cover["variants"][0]["id"], "at": datetime.now(UTC).isoformat()}])
    assert r.rejected == 1 and "belongs to an experiment on asset" in r.errors[0]["reason"]


def test_title_variants_come_from_the_studio(zhome, monkeypatch):
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    body = ("# 城市地铁新线开通\n\n本市地铁十四号线今天正式开通运营，全长三十公里，设站二十座。"
            "开通首日客流超过十万人次，沿线居民通勤时间大幅缩短。\n\n"
            "地铁公司表示，新线采用全自动驾驶系统，高峰时段发车间隔两分钟。\n")
    aid = ingest_bytes(body.encode(), "metro.md", source="test").asset_id
    jobs.drain()
    exp = create_experiment(aid, studio_variants=3)
    sources = [v["source"] for v in exp["variants"]]
    assert sources[0] == "current title" and all(s.startswith("studio:") for s in sources[1:])
    assert 2 <= len(exp["variants"]) <= 4
    assert len({v["text"] for v in exp["variants"]}) == len(exp["variants"])


def test_cover_variants_come_from_the_studio_covers_of_the_asset(zhome):
    video = make_asset("防汛演练", kind="video")
    with session_scope() as s:
        covers = [Asset(kind="image", title=f"防汛演练 — cover 16:9 v{i}", parent_id=video,
                        meta={"studio": {"task": "covers", "params": {"variant": i}}}) for i in (1, 2, 3)]
        other = Asset(kind="image", title="a still, not a cover", parent_id=video, meta={})
        s.add_all([*covers, other])
        s.flush()
        cover_ids = [c.id for c in covers]
    exp = create_experiment(video, kind="cover")
    assert [v["cover_asset_id"] for v in exp["variants"]] == cover_ids
    assert {v["source"] for v in exp["variants"]} == {"studio:covers"}
    win = exp["variants"][2]["id"]
    promote(exp["id"], win)
    with read_scope() as s:
        assert s.get(Asset, video).meta["promoted_cover_asset_id"] == cover_ids[2]
    assert serve_variant(exp["id"], "anyone")["cover_asset_id"] == cover_ids[2]
