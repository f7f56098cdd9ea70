"""Publishing: the review gate, idempotency, schedules and embargoes (feeds never show an item early), the
periodic go-live task, withdrawal, new versions, and the contract functions other areas use."""

from __future__ import annotations

import time
from datetime import timedelta

import feedparser
import pytest
from publish_helpers import article, pass_review, reviewed_article, use_stages

import zhimei.jobs as jobs
from zhimei.distribute.publish import (
    PublishError,
    create_channel,
    feed_document,
    get_publication,
    list_publications,
    make_due_live,
    publication_times,
    publish,
    published_asset_ids,
    update_channel,
    withdraw,
    withdraw_publication,
)
from zhimei.jobs.tasks import run_periodic
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Segment, utcnow
from zhimei.store.models_publish import Publication


@pytest.fixture
def desk(zhome, monkeypatch):
    use_stages(monkeypatch)
    with session_scope() as s:
        create_channel(s, "web", "rss", title="网站 Web")
        create_channel(s, "app", "jsonfeed", title="App")
    return zhome


def _feed_ids(channel: str = "web") -> list[str]:
    parsed = feedparser.parse(feed_document(channel, "rss", base_url="http://news.test")[0])
    assert not parsed.bozo, parsed.bozo_exception
    return [e.id for e in parsed.entries]


def _live(channel: str | None = None) -> list[int]:
    with read_scope() as s:
        return published_asset_ids(s, channel)


def test_only_an_asset_that_passed_review_publishes(desk):
    aid = article("城市交通新规", "本周市政府发布了新的交通规定，市民反响积极。")
    with pytest.raises(PublishError, match="no review case") as exc:
        publish(aid, "web")
    assert exc.value.status == 409
    case = pass_review(aid)
    p = publish(aid, "web", actor="editor-a")
    assert p["created"] and p["status"] == "live" and p["visible"] and p["review_case"] == case
    assert _live() == [aid] and _live("web") == [aid] and _live("app") == []
    assert _feed_ids() == [f"urn:zhimei:web:asset:{aid}"]

    # a rejected asset does not publish
    bad = article("另一篇稿件", "这是一篇需要驳回的稿件内容。", "bad.md")
    from zhimei.review.queue import decide, open_case

    c = open_case(bad, actor="desk")
    decide(c["id"], "t-reviewer", "reject", ["reject.other"])
    with pytest.raises(PublishError, match="rejected") as exc:
        publish(bad, "web")
    assert exc.value.status == 409


def test_an_edited_asset_needs_a_new_review_and_then_replaces_the_old_version(desk):
    aid = reviewed_article("市场快讯", "今日股市平稳开盘，成交量较昨日略有增加。")
    first = publish(aid, "web")
    with session_scope() as s:  # the newsroom edits the text: a new version
        seg = s.query(Segment).filter_by(asset_id=aid, kind="paragraph").order_by(Segment.seq.desc()).first()
        original = seg.text
        seg.text = seg.text + "午后指数小幅上涨。"
    # the unreviewed edit shows nowhere: the feed serves the version that passed review
    doc = feed_document("web", "jsonfeed")[0].decode()
    assert "今日股市平稳开盘" in doc and "午后指数小幅上涨" not in doc
    with pytest.raises(PublishError, match="changed since") as exc:
        publish(aid, "web")
    assert exc.value.status == 409
    pass_review(aid)
    second = publish(aid, "web")
    assert second["created"] and second["id"] != first["id"] and second["version"] != first["version"]
    assert get_publication(first["id"])["status"] == "superseded"
    assert _feed_ids() == [f"urn:zhimei:web:asset:{aid}"]  # one entry per story
    assert "午后指数小幅上涨" in feed_document("web", "jsonfeed")[0].decode()
    with session_scope() as s:  # the edit is undone: the first version (reviewed before) comes back
        seg = s.query(Segment).filter_by(asset_id=aid, kind="paragraph").order_by(Segment.seq.desc()).first()
        seg.text = original
    back = publish(aid, "web")
    assert back["id"] == first["id"] and back["revision"] == 2 and back["status"] == "live"
    assert get_publication(second["id"])["status"] == "superseded" and _live() == [aid]


def test_publishing_twice_is_one_publication(desk):
    aid = reviewed_article("体育新闻", "本地球队昨晚以二比一获胜。")
    a = publish(aid, "web")
    b = publish(aid, "web")
    assert a["id"] == b["id"] and b["created"] is False
    with read_scope() as s:
        assert s.query(Publication).filter_by(asset_id=aid).count() == 1
    other = publish(aid, "app")  # another channel is another publication
    assert other["created"] and other["id"] != a["id"]
    assert list_publications(asset_id=aid)["total"] == 2


def test_schedule_and_embargo_hold_until_their_time(desk):
    soon = reviewed_article("定时发布", "这篇稿件将在稍后发布。", "a.md")
    held = reviewed_article("禁发稿件", "这篇稿件在禁发期结束前不得出现。", "b.md")
    now = utcnow()
    s1 = publish(soon, "web", publish_at=(now + timedelta(seconds=1.5)).isoformat())
    s2 = publish(held, "web", publish_at=(now - timedelta(minutes=5)).isoformat(),
                 embargo_until=(now + timedelta(seconds=1.5)).isoformat())
    assert s1["status"] == "scheduled" and not s1["visible"]
    assert s2["status"] == "scheduled" and not s2["visible"] and s2["live_from"] == s2["embargo_until"]
    assert _live() == [] and _feed_ids() == []
    with read_scope() as s:
        assert publication_times(s, [soon, held]) == {}
    # the periodic task does nothing before the time
    assert make_due_live() == []
    assert list_publications(status="upcoming")["total"] == 2
    # the time passes: feeds show the items at once, the periodic task flips them to live
    deadline = time.monotonic() + 10
    while _live() != [soon, held] and _live() != [held, soon] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(_live()) == {soon, held} and len(_feed_ids()) == 2
    run_periodic()
    assert jobs.drain() >= 1
    assert {get_publication(s1["id"])["status"], get_publication(s2["id"])["status"]} == {"live"}
    with read_scope() as s:
        times = publication_times(s, [soon, held])
    assert set(times) == {soon, held} and times[held].isoformat() == s2["embargo_until"]


def test_rescheduling_and_bad_times(desk):
    aid = reviewed_article("改期稿件", "发布时间可以修改。")
    later = utcnow() + timedelta(days=1)
    p = publish(aid, "web", publish_at=later.isoformat())
    q = publish(aid, "web", publish_at=(later + timedelta(hours=2)).isoformat())
    assert q["id"] == p["id"] and q["created"] is False and q["publish_at"] > p["publish_at"]
    assert publish(aid, "web", publish_at="2026-12-24T08:00:00")["publish_at"].startswith("2026-12-24T08:00:00")
    for bad, match in [("tomorrow", "not an ISO 8601"), ("2999-01-01T00:00:00Z", "ten years")]:
        with pytest.raises(PublishError, match=match) as exc:
            publish(aid, "web", publish_at=bad)
        assert exc.value.status == 422
    with pytest.raises(PublishError, match="not valid") as exc:
        publish(aid, "Web Site")
    assert exc.value.status == 422
    with pytest.raises(PublishError, match="not found") as exc:
        publish(999_999, "web")
    assert exc.value.status == 404


def test_withdraw_takes_items_down_and_publishing_again_reinstates(desk):
    aid = reviewed_article("撤稿测试", "这篇稿件将被撤回。")
    p = publish(aid, "web")
    assert _live() == [aid]
    w = withdraw(aid, "web", reason="factual error", actor="editor-b")
    assert [x["status"] for x in w] == ["withdrawn"] and "factual error" in w[0]["withdraw_reason"]
    assert _live() == [] and _feed_ids() == []
    assert withdraw_publication(p["id"])["status"] == "withdrawn"  # again: nothing changes
    with pytest.raises(PublishError, match="no scheduled or live") as exc:
        withdraw(aid, "web")
    assert exc.value.status == 404
    again = publish(aid, "web")
    assert again["id"] == p["id"] and again["revision"] == 2 and again["status"] == "live"
    assert _live() == [aid]


def test_a_disabled_channel_publishes_nothing(desk):
    aid = reviewed_article("停用渠道", "渠道停用时不发布。")
    publish(aid, "web")
    with session_scope() as s:
        update_channel(s, "web", enabled=False)
    assert _live() == []
    with pytest.raises(PublishError, match="disabled") as exc:
        publish(aid, "web")
    assert exc.value.status == 409
    with pytest.raises(PublishError, match="disabled"):
        feed_document("web", "rss")


def test_a_promoted_experiment_title_is_the_published_headline(desk):
    from zhimei.distribute.engagement import create_experiment, promote

    aid = reviewed_article("原标题：交通新规发布", "本周市政府发布了新的交通规定，市民反响积极。")
    publish(aid, "app")
    exp = create_experiment(aid, texts=["原标题：交通新规发布", "新规来了：这些路段限行"], auto_promote=False)
    promote(exp["id"], exp["variants"][1]["id"], actor="editor-a")
    import json

    assert [i["title"] for i in json.loads(feed_document("app", "jsonfeed")[0])["items"]] == ["新规来了：这些路段限行"]
