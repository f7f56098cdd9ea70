"""Event timelines (事件脉络): assets grouped into events in time order, with who/where/when/what, over articles
ingested through the pipeline with the real models."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from zhimei.jobs import worker
from zhimei.library.assets import ingest_bytes
from zhimei.library.search import SearchError, timeline

ARTICLES = [
    ("gaemi-1.md", datetime(2024, 7, 25, 8, tzinfo=UTC),
     "# 台风格美在福建莆田登陆\n\n7月25日晚，台风格美在福建省莆田市秀屿区沿海登陆，登陆时中心附近最大风力15级。"
     "国务院总理李强要求福建全力做好防汛防台工作。\n"),
    ("gaemi-2.md", datetime(2024, 7, 26, 9, tzinfo=UTC),
     "# 台风格美登陆福建后 莆田转移群众\n\n受台风格美影响，福建省莆田市紧急转移群众两万余人。"
     "国务院总理李强连夜部署福建防汛防台和抢险救灾工作。\n"),
    ("bebinca.md", datetime(2024, 9, 16, 7, tzinfo=UTC),
     "# 台风贝碧嘉登陆上海\n\n9月16日上午，台风贝碧嘉在上海市浦东新区临港新城登陆，"
     "是1949年以来登陆上海的最强台风。上海市长龚正在防汛指挥部部署抢险。\n"),
    ("port.md", datetime(2024, 8, 1, 7, tzinfo=UTC),
     "# 上海港集装箱吞吐量创新高\n\n上海港今年集装箱吞吐量突破四千万标准箱，港口运营保持平稳。\n"),
]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_timeline_groups_assets_into_events_in_time_order_with_who_and_where(zhome):
    ids = {name: ingest_bytes(body.encode(), name, published_at=when).asset_id for name, when, body in ARTICLES}
    worker.drain()
    tl = timeline("台风")
    assert tl.query == "台风" and len(tl.events) == 2
    first, second = tl.events
    assert first.start < second.start and [e.id for e in tl.events] == [1, 2]
    assert {a["asset_id"] for a in first.assets} == {ids["gaemi-1.md"], ids["gaemi-2.md"]}
    assert [a["asset_id"] for a in first.assets] == [ids["gaemi-1.md"], ids["gaemi-2.md"]]  # in time order
    assert first.start.startswith("2024-07-25") and first.end.startswith("2024-07-26")
    assert "李强" in first.who and "福建" in " ".join(first.where) and "莆田" in " ".join(first.where)
    assert "台风" in first.title
    assert [a["asset_id"] for a in second.assets] == [ids["bebinca.md"]]
    assert "上海" in " ".join(second.where) and any("龚正" in w for w in second.who)  # LAC: 龚正在
    assert second.title == "台风贝碧嘉登陆上海"
    assert first.assets[0]["url"].startswith(f"/assets/{ids['gaemi-1.md']}")
    assert all(ids["port.md"] != a["asset_id"] for e in tl.events for a in e.assets)
    json.dumps(tl.to_dict(), ensure_ascii=False)

    assert len(timeline("台风", limit_events=1).events) == 1
    assert timeline("台风", filters={"date_from": "2024-09-01"}).events[0].title == "台风贝碧嘉登陆上海"
    with pytest.raises(SearchError):
        timeline("  ")
    with pytest.raises(SearchError):
        timeline("台风", limit_events=0)
    assert timeline("🌀🌀").events is not None  # no crash on emoji
