"""审核队列: a case per asset version (idempotent; a new version supersedes), priority = risk × reach, the
two-reviewer rule for high risk, escalation, SLA overdue, bulk decisions, require_passed for publishing, the
asset's review_status for search, the `review` stage, and the refusals for bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from zhimei.jobs import drain
from zhimei.library.assets import ingest_bytes
from zhimei.review.queue import (
    NotPassed,
    ReviewError,
    assign,
    bulk_decide,
    decide,
    get_case,
    list_audit,
    list_cases,
    open_case,
    overdue_cases,
    priority,
    require_passed,
    review_state,
    verify_audit,
)
from zhimei.settings import reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Segment, utcnow

BAD = "有网友留言说组织者是个傻逼，引发争议。"  # 傻逼: abuse, severity 3 → block
MILD = "他说了一句滚蛋就走了。"  # 滚蛋: abuse, severity 1 → needs review
CLEAN = "居民们分享了自己喜欢的书，气氛温馨。"


@pytest.fixture
def lib(zhome, monkeypatch):
    """A fresh library whose pipeline is the text stages only."""
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    return zhome


def article(body: str, title: str = "社区新闻", reach: int | None = None) -> int:
    """Ingest a small Markdown article, extract its paragraphs; optionally set its expected reach."""
    aid = ingest_bytes(f"# {title}\n\n本周社区举办了读书会。\n\n{body}\n".encode(), f"{title}.md",
                       source="test").asset_id
    drain()
    if reach is not None:
        with session_scope() as s:
            a = s.get(Asset, aid)
            a.meta = {**(a.meta or {}), "expected_reach": reach}
    return aid


def meta_status(aid: int) -> str | None:
    with session_scope() as s:
        return (s.get(Asset, aid).meta or {}).get("review_status")


def test_one_case_per_version_and_a_new_version_supersedes_the_old(lib):
    aid = article(BAD)
    c1 = open_case(aid, actor="desk")
    assert c1["created"] and c1["status"] == "open" and c1["tier"] == "block" and c1["current"]
    assert c1["second_reviewer_required"] and c1["approvals_needed"] == 2
    flag = next(f for f in c1["flags"] if f["source"] == "lexicon")
    assert flag["detail"]["word"] == "傻逼" and flag["tier"] == "block" and "segment_id" in flag["where"]
    assert any(r["code"] == "lexicon.abuse" and r["zh"] and r["en"] for r in c1["reasons"])
    assert meta_status(aid) == "blocked"
    again = open_case(aid, actor="someone-else")
    assert again["id"] == c1["id"] and not again["created"]
    assert len(list_audit(action="case.open")["items"]) == 1
    # another channel is another case of the same version
    kids = open_case(aid, "kids")
    assert kids["created"] and kids["id"] != c1["id"] and kids["channel"] == "kids"
    # the text changes: a new version, a new case; the old undecided one is superseded
    with session_scope() as s:
        s.execute(update(Segment).where(Segment.asset_id == aid, Segment.text.contains("傻逼"))
                  .values(text="有网友留言，引发讨论。"))
    assert not get_case(c1["id"])["current"]
    c2 = open_case(aid)
    assert c2["created"] and c2["version"] != c1["version"] and c2["tier"] == "pass" and not c2["flags"]
    assert get_case(c1["id"])["status"] == "superseded"
    assert meta_status(aid) == "pending"
    with pytest.raises(ReviewError, match="superseded already") as e:
        decide(c1["id"], "alice", "approve", ["approve.newsworthy"])
    assert e.value.status == 409
    assert verify_audit().ok


def test_priority_is_risk_times_reach_and_orders_the_queue(lib):
    big_clean = article(CLEAN, "大新闻", reach=1_000_000)
    small_bad = article(BAD, "小帖子", reach=100)
    mid_mild = article(MILD, "中等", reach=500)
    ids = {aid: open_case(aid)["id"] for aid in (big_clean, small_bad, mid_mild)}
    items = list_cases()["items"]
    assert [c["asset_id"] for c in items] == [small_bad, mid_mild, big_clean]
    for c in items:
        assert c["priority"] == pytest.approx(priority(c["tier"], c["score"], c["expected_reach"]), abs=1e-3)
    assert items[0]["expected_reach"] == 100 and items[2]["expected_reach"] == 1_000_000
    assert items[1]["tier"] == "needs_review" and meta_status(mid_mild) == "needs_review"
    assert items[2]["tier"] == "pass" and meta_status(big_clean) == "pending"
    # an explicit reach overrides the asset's, and the default is 1000
    plain = article(CLEAN, "默认")
    assert open_case(plain)["expected_reach"] == 1000
    with pytest.raises(ReviewError, match="non-negative"):
        open_case(article(MILD, "负数"), expected_reach=-1)
    assert list_cases(tier="block")["total"] == 1 and list_cases(asset_id=big_clean)["items"][0]["id"] == ids[big_clean]


def test_high_risk_needs_two_distinct_reviewers_and_search_sees_the_outcome(lib):
    aid = article(BAD)
    cid = open_case(aid)["id"]
    assigned = assign(cid, "alice", actor="lead")
    assert assigned["assignee"] == "alice" and assigned["status"] == "in_review"
    c = decide(cid, "alice", "approve", ["approve.newsworthy"], "quoted in a report")
    assert c["status"] == "in_review" and c["approvals"] == 1
    with pytest.raises(ReviewError, match="different reviewer") as e:
        decide(cid, "alice", "approve", ["approve.false_positive"])
    assert e.value.status == 409
    with pytest.raises(NotPassed, match="in_review"):
        require_passed(aid)
    c = decide(cid, "bob", "approve", ["approve.newsworthy"])
    assert c["status"] == "passed" and c["approvals"] == 2 and c["decided_at"]
    assert [d["reviewer"] for d in c["decisions"]] == ["alice", "bob"]
    assert meta_status(aid) == "passed" and require_passed(aid) == cid
    from zhimei.library.search.filters import review_status

    with session_scope() as s:
        assert review_status(s.get(Asset, aid).meta) == "passed"
    with pytest.raises(ReviewError, match="passed already"):
        decide(cid, "carol", "reject", ["reject.abuse"])
    actions = [e["action"] for e in list_audit(subject=f"case:{cid}")["items"]]
    assert actions == ["case.decide", "case.decide", "case.assign", "case.open"]


def test_low_risk_passes_with_one_reviewer_escalation_needs_two_reject_is_final(lib):
    mild = open_case(article(MILD, "一"))
    assert mild["tier"] == "needs_review" and not mild["second_reviewer_required"]
    assert decide(mild["id"], "alice", "approve", ["approve.no_violation"])["status"] == "passed"
    other = open_case(article(MILD, "二"))
    esc = decide(other["id"], "alice", "escalate", ["escalate.senior"], "not sure")
    assert esc["status"] == "escalated" and esc["second_reviewer_required"]
    assert decide(other["id"], "bob", "approve", ["approve.newsworthy"])["status"] == "in_review"
    assert decide(other["id"], "carol", "approve", ["approve.newsworthy"])["status"] == "passed"
    third_aid = article(MILD, "三")
    third = open_case(third_aid)
    assert decide(third["id"], "alice", "reject", ["reject.abuse"])["status"] == "rejected"
    assert meta_status(third_aid) == "rejected"
    with pytest.raises(NotPassed, match="rejected"):
        require_passed(third_aid)
    with pytest.raises(ReviewError, match="rejected already"):
        assign(third["id"], "bob")


def test_sla_overdue_by_tier(lib):
    block = open_case(article(BAD, "急"))
    mild = open_case(article(MILD, "缓"))
    opened = utcnow()
    assert overdue_cases() == [] and not block["overdue"]
    later = opened + timedelta(hours=2)  # past the block tier's 1 h, inside needs_review's 4 h
    assert [c["id"] for c in overdue_cases(now=later)] == [block["id"]]
    assert list_cases(overdue=True, now=later)["items"][0]["overdue"]
    much_later = opened + timedelta(hours=5)
    assert {c["id"] for c in overdue_cases(now=much_later)} == {block["id"], mild["id"]}
    decide(mild["id"], "alice", "approve", ["approve.no_violation"])
    assert [c["id"] for c in overdue_cases(now=much_later)] == [block["id"]]  # decided cases are never overdue
    # escalation restarts the clock at the block tier's SLA
    esc = decide(block["id"], "alice", "escalate", ["escalate.legal"])
    assert esc["due_at"] > block["due_at"]


def test_bulk_decisions_report_each_case(lib):
    clean = open_case(article(CLEAN, "甲"))
    mild = open_case(article(MILD, "乙"))
    bad = open_case(article(BAD, "丙"))
    res = bulk_decide([clean["id"], mild["id"], bad["id"], 99999], "alice", "approve", ["approve.no_violation"])
    by_id = {r["id"]: r for r in res["results"]}
    assert res["ok"] == 3 and res["failed"] == 1
    assert by_id[clean["id"]]["status"] == "passed" and by_id[mild["id"]]["status"] == "passed"
    assert by_id[bad["id"]]["status"] == "in_review"  # high risk: still waits for a second reviewer
    assert by_id[99999]["status_code"] == 404 and "not found" in by_id[99999]["error"]
    res2 = bulk_decide([clean["id"], bad["id"]], "bob", "approve", ["approve.no_violation"])
    assert [r["ok"] for r in res2["results"]] == [False, True] and get_case(bad["id"])["status"] == "passed"
    entries = list_audit(action="case.decide")["items"]
    assert len(entries) == 4 and all(e["payload"].get("bulk") for e in entries)
    with pytest.raises(ReviewError, match="at least one case"):
        bulk_decide([], "alice", "approve", ["approve.no_violation"])


def test_require_passed_follows_the_current_version(lib):
    aid = article(MILD)
    with pytest.raises(NotPassed, match="no review case"):
        require_passed(aid)
    cid = open_case(aid)["id"]
    decide(cid, "alice", "approve", ["approve.no_violation"])
    assert require_passed(aid) == cid and require_passed(aid, "default") == cid
    with pytest.raises(NotPassed, match="in channel 'kids'"):
        require_passed(aid, "kids")
    with session_scope() as s:
        a = s.get(Asset, aid)
        a.title = "改过的标题 An edited title"
    state = review_state(aid)
    assert not state["passed"] and "changed since case" in state["detail"]
    with pytest.raises(NotPassed, match="changed since"):
        require_passed(aid)
    with pytest.raises(ReviewError, match="not found") as e:
        require_passed(10**9)
    assert e.value.status == 404


def test_bad_input_is_refused_with_the_reason(lib):
    cid = open_case(article(MILD))["id"]
    cases = [
        (lambda: decide(cid, "alice", "maybe", ["approve.no_violation"]), "unknown decision 'maybe'", 422),
        (lambda: decide(cid, "alice", "approve", []), "at least one reason code", 422),
        (lambda: decide(cid, "alice", "approve", ["reject.abuse"]), "does not go with", 422),
        (lambda: decide(cid, "alice", "approve", ["nope"]), "unknown reason code", 422),
        (lambda: decide(cid, "", "approve", ["approve.no_violation"]), "non-empty name", 422),
        (lambda: decide(cid, "alice", "approve", ["approve.no_violation"], "x" * 3000), "longer than", 422),
        (lambda: decide(424242, "alice", "approve", ["approve.no_violation"]), "not found", 404),
        (lambda: decide(0, "alice", "approve", ["approve.no_violation"]), "positive integer", 422),
        (lambda: open_case(424242), "not found", 404),
        (lambda: open_case(cid, "no-such-channel"), "unknown channel", 422),
        (lambda: list_cases(status="weird"), "unknown case status", 422),
        (lambda: assign(424242, "bob"), "not found", 404),
    ]
    for call, message, status in cases:
        with pytest.raises(ReviewError, match=message) as e:
            call()
        assert e.value.status == status, message
    assert get_case(cid)["decisions"] == []


@pytest.fixture
def review_stage(lib, monkeypatch):
    """The pipeline with the `review` stage after text extraction (the settings name the modules)."""
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages", "zhimei.review.queue.stage"]')
    reset_settings()


def test_the_review_stage_opens_a_case_after_extraction(review_stage):
    from zhimei.store.models import Job

    aid = ingest_bytes(f"# 社区\n\n{BAD}\n".encode(), "auto.md").asset_id
    drain()
    with session_scope() as s:
        errs = {j.stage: j.last_error for j in s.scalars(select(Job).where(Job.asset_id == aid))}
        jobs = {j.stage: (j.status, j.depends_on) for j in s.scalars(select(Job).where(Job.asset_id == aid))}
    assert jobs["review"][0] == "done", errs
    assert "extract_text" in jobs["review"][1] and jobs["extract_text"][0] == "done"
    items = list_cases(asset_id=aid)["items"]
    assert len(items) == 1 and items[0]["tier"] == "block" and items[0]["opened_by"] == "pipeline"
    assert open_case(aid)["id"] == items[0]["id"]  # the same version: the same case
    assert meta_status(aid) == "blocked"
