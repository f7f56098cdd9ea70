"""舆情 insight on a real stream: articles and feed items ingested through the library with publication times, the
periodic story task run through the job system, bursts and stories checked against what the stream holds; watchlist
alerts posted to a real HTTP server on 127.0.0.1 (signature checked, a 500 retried, no duplicate alert); reach equal
to the engagement events posted; REST errors. Runs on SQLite and (with --db postgres) PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from zhimei.jobs import drain
from zhimei.jobs.tasks import enqueue_task, periodic_tasks, run_periodic
from zhimei.library import ingest_bytes
from zhimei.settings import reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import utcnow
from zhimei.store.models_insight import InsightAlert, InsightItem, InsightStory

STAGES = '["zhimei.library.text_stages", "zhimei.distribute.tasks", "zhimei.insight.tasks"]'

BRIDGE = [  # the story that breaks in the current window: five reports, three sources
    ("长江大桥因桥面裂缝紧急封闭", "长江大桥今天上午发现桥面裂缝，交通部门紧急封闭大桥，过江车辆绕行。", "城市晚报"),
    ("长江大桥封闭 过江交通拥堵", "长江大桥封闭后，二桥和隧道车流猛增，早高峰过江交通严重拥堵。", "城市晚报"),
    ("专家检测长江大桥裂缝", "桥梁专家今天下午登上长江大桥检测裂缝，大桥何时恢复通行尚无定论。", "新华社"),
    ("长江大桥封闭首日 公交线路调整", "长江大桥封闭首日，十二条公交线路改道，市民出行时间明显延长。", "电视台"),
    ("市政府回应长江大桥裂缝", "市政府表示将公布长江大桥裂缝检测结果，大桥维修方案正在制定。", "电视台"),
]
BASELINE = [  # one report a day on other subjects, and the daily weather
    ("菜市场蔬菜价格平稳", "本周菜市场蔬菜供应充足，白菜和萝卜价格平稳，市民采购正常。"),
    ("图书馆延长开放时间", "市图书馆自下月起每晚延长开放一小时，方便读者夜间借阅。"),
    ("老城区雨污分流改造启动", "老城区雨污分流改造工程今天启动，预计年底完工，部分道路临时封闭。"),
    ("中学生科技节开幕", "全市中学生科技节今天开幕，三百多件机器人和航模作品参展。"),
    ("社区养老食堂开业", "东湖社区养老食堂开业，老人每餐只需十元，志愿者负责送餐上门。"),
    ("春季马拉松报名开始", "春季马拉松今天开始报名，赛道经过滨江公园和老城区，名额两万个。"),
    ("博物馆推出青铜器特展", "市博物馆推出青铜器特展，展出商周时期文物一百二十件。"),
]
WEATHER = ("今日天气预报", "今天全市多云，最高气温十八度，夜间有小雨，出门请带雨具。")


def article(title: str, body: str) -> bytes:
    return f"# {title}\n\n{body}\n".encode()


def ingest(title: str, body: str, at, source: str = "newsdesk", name: str | None = None) -> int:
    return ingest_bytes(article(title, body), name or f"{title}.md", source=source, published_at=at).asset_id


@pytest.fixture
def stream(zhome, monkeypatch):
    """A library whose pipeline is the text stages, with the distribute and insight tasks loaded."""
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", STAGES)
    reset_settings()
    return zhome


class Hook:
    """A webhook receiver on 127.0.0.1: answers the queued statuses in turn (then 200), records every request."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.delays: list[float] = []
        self.requests: list[dict] = []
        self.feed = b""
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  (serves `feed` as RSS)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(srv.feed)))
                self.end_headers()
                self.wfile.write(srv.feed)

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                srv.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if srv.delays:
                    time.sleep(srv.delays.pop(0))  # a hanging endpoint
                status = srv.statuses.pop(0) if srv.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def run_story_task() -> None:
    enqueue_task("insight.stories", {}, key="insight.stories")
    drain()


def rss(items: list[tuple[str, str, str, object]]) -> bytes:
    entries = "".join(
        f"<item><guid>{gid}</guid><title>{title}</title><description>{body}</description>"
        f"<pubDate>{format_datetime(at)}</pubDate><link>https://news.example.org/{gid}</link></item>"
        for gid, title, body, at in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>江城快讯</title>'
            f"<link>https://news.example.org/</link><description>d</description>{entries}</channel></rss>").encode()


def test_a_bursting_term_makes_the_hottest_story(stream, hook):
    from zhimei.insight import hot_topics, term_bursts
    from zhimei.library.feeds import add_feed, poll_feed

    now = utcnow()
    for d in range(1, 8):  # a week of baseline: one item a day on its own subject, plus the weather
        t, b = BASELINE[d - 1]
        ingest(t, b, now - timedelta(days=d, hours=2), source="城市晚报")
        ingest(f"{WEATHER[0]} 第{d}期", WEATHER[1], now - timedelta(days=d, hours=6), source="气象台")
    bridge_ids = [ingest(t, b, now - timedelta(hours=6 - i), source=src) for i, (t, b, src) in enumerate(BRIDGE[:3])]
    weather_now = ingest(f"{WEATHER[0]} 今日", WEATHER[1], now - timedelta(hours=3), source="气象台")
    # two more reports arrive through a feed (items of the stream like any other)
    feed_items = [(f"q-{i}", t, b, now - timedelta(hours=2 - i)) for i, (t, b, _src) in enumerate(BRIDGE[3:])]
    hook.feed = rss(feed_items)
    fid = add_feed(hook.url.replace("/hook", "/rss"))
    assert poll_feed(fid) == 2
    drain()
    with session_scope() as s:
        from zhimei.store.models import Asset

        feed_ids = list(s.scalars(select(Asset.id).where(Asset.source == "江城快讯")))
    assert len(feed_ids) == 2
    bridge_ids += feed_ids

    # the story task is periodic: the scheduler queues it, a worker runs it
    assert "insight.stories" in periodic_tasks()
    assert run_periodic()
    drain()

    with session_scope() as s:
        items = {it.asset_id: it for it in s.scalars(select(InsightItem))}
        assert len(items) == 7 * 2 + 3 + 1 + 2
        assert all(it.sentiment is not None and 0 <= it.sentiment <= 1 and it.sentiment_model for it in items.values())
        assert all("长江大桥" in items[a].terms for a in bridge_ids), [items[a].terms for a in bridge_ids]

        bursts = term_bursts(s, limit=100)
        by_term = {b.term: b for b in bursts}
        assert "长江大桥" in by_term
        b = by_term["长江大桥"]
        assert b.count == 5 and b.baseline_count == 0 and b.z >= 3
        assert sorted(b.asset_ids) == sorted(bridge_ids)
        assert "天气" not in by_term  # named every day: steady, not bursting
        assert bursts[0].z >= b.z

        stories = hot_topics(s)
        top = stories[0]
        members = set(s.scalars(select(InsightItem.asset_id).where(InsightItem.story_id == top.id)))
        assert set(bridge_ids) <= members and weather_now not in members
        assert top.volume == 5 and top.previous_volume == 0 and top.source_count == 3
        assert top.burst >= b.z and top.heat > 0
        assert all(top.heat > other.heat for other in stories[1:])
        scored = [items[a].sentiment for a in members]
        assert top.sentiment == pytest.approx(sum(scored) / len(scored), abs=1e-3)
        assert "长江大桥" in top.terms
        parts = top.components
        assert top.heat == pytest.approx(sum(parts.values()), abs=1e-3)
    first_id = top.id

    # recomputed: the same story keeps its id; nothing new, nothing duplicated
    run_story_task()
    with session_scope() as s:
        again = hot_topics(s)
        assert again[0].id == first_id and again[0].volume == 5
        assert len({st.id for st in again}) == len(again)


def _align_items(window_hours: float = 24.0):
    """(window start, now): alert windows are aligned, so the current window's items go from its start."""
    from zhimei.insight.watchlists import window_bounds

    now = utcnow()
    start, _ = window_bounds(now, window_hours)
    return start, now


def test_watchlist_volume_alert_signed_retried_and_never_duplicated(stream, hook, client, tokens):
    from zhimei.insight import create_watchlist, list_alerts, verify_signature

    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    hook.statuses = [500]  # the first delivery fails: the job system retries it
    with session_scope() as s:
        wl = create_watchlist(s, "长江大桥", ["长江大桥", "Yangtze Bridge"], kind="term", webhook_url=hook.url,
                              min_volume=3, volume_factor=2.0, negative_jump=1.0)  # 1: volume alerts only
    start, now = _align_items()
    for d in range(1, 8):  # one mention a day before: baseline 1 per window
        t, b = BASELINE[d - 1]
        ingest(f"{t}，长江大桥照常通行", b, start - timedelta(days=d) + timedelta(hours=3))
    for i, (t, b, src) in enumerate(BRIDGE[:4]):  # four today
        ingest(t, b, min(now, start + timedelta(minutes=5 + i)), source=src)
    drain()
    run_story_task()  # finds the jump, stores the alert and queues its delivery; drain ran the delivery too

    with session_scope() as s:
        alerts = list(s.scalars(select(InsightAlert)))
        assert len(alerts) == 1
        a = alerts[0]
        assert a.reason == "volume" and a.volume == 4 and a.baseline == pytest.approx(1.0)
        assert a.window_start == start
        assert a.status == "sent" and a.attempts == 2 and a.response_status == 200 and a.delivered_at
    assert len(hook.requests) == 2  # 500, then 200
    for req in hook.requests:
        assert verify_signature(wl["secret"], req["body"], req["headers"]["x-zhimei-signature"])
        assert not verify_signature("another-secret-of-enough-length", req["body"],
                                    req["headers"]["x-zhimei-signature"])
        assert req["headers"]["x-zhimei-delivery"] == f"alert-{a.id}"
    payload = json.loads(hook.requests[-1]["body"])
    assert payload["event"] == "insight.alert" and payload["alert"]["reason"] == "volume"
    assert payload["alert"]["volume"] == 4 and payload["watchlist"]["terms"] == ["长江大桥", "Yangtze Bridge"]
    assert hook.requests[0]["body"] == hook.requests[1]["body"]  # a retry sends the same alert

    # the next runs in the same window: no second alert, no second delivery
    ingest(BRIDGE[4][0], BRIDGE[4][1], min(now, start + timedelta(minutes=30)))
    drain()
    run_story_task()
    run_story_task()
    status = client.get(f"/api/insight/watchlists/{wl['id']}/status", headers=viewer).json()
    assert status["volume"] == 5 and status["baseline"] == pytest.approx(1.0) and status["fires"] == ["volume"]
    with session_scope() as s:
        assert len(list(s.scalars(select(InsightAlert)))) == 1
        hist = list_alerts(s)
        assert hist["total"] == 1 and hist["items"][0]["watchlist"] == "长江大桥"
    assert len(hook.requests) == 2


def test_watchlist_negative_share_alert_and_a_dead_endpoint(stream):
    from zhimei.insight import create_watchlist
    from zhimei.insight.watchlists import ALERT_ATTEMPTS

    dead = Hook([500] * 10)  # never recovers: the alert ends failed after the last attempt
    try:
        with session_scope() as s:
            create_watchlist(s, "Harbour Ferry", ["harbour ferry"], webhook_url=dead.url, min_volume=3,
                             volume_factor=50.0, negative_jump=0.3)
        start, now = _align_items()
        happy = ["The harbour ferry celebrated a wonderful anniversary with happy families and great music.",
                 "Passengers love the new harbour ferry: comfortable seats, friendly crew and a beautiful view.",
                 "The harbour ferry won an award for excellent, reliable and delightful service."]
        for d in range(1, 4):
            for j, text in enumerate(happy):
                ingest(f"Harbour ferry news {d}-{j}", text, start - timedelta(days=d) + timedelta(hours=2 + j))
        awful = ["A terrible harbour ferry crash killed two people and injured dozens in a horrible disaster.",
                 "Furious passengers condemned the harbour ferry operator after the deadly, shameful accident.",
                 "The harbour ferry tragedy: victims grieve, families angry, investigators find awful failures."]
        for j, text in enumerate(awful):
            ingest(f"Harbour ferry disaster {j}", text, min(now, start + timedelta(minutes=1 + j)))
        drain()
        run_story_task()
        with session_scope() as s:
            alerts = list(s.scalars(select(InsightAlert)))
            assert [a.reason for a in alerts] == ["negative"]
            a = alerts[0]
            assert a.volume == 3 and a.negative_share == 1.0 and a.baseline_negative == 0.0
            assert a.status == "failed" and a.attempts == ALERT_ATTEMPTS
            assert "HTTP 500" in a.last_error
        assert len(dead.requests) == ALERT_ATTEMPTS
    finally:
        dead.close()


def _events(asset_ids: list[int], day0, day1) -> list[dict]:
    """Impressions, clicks, plays with watch time and shares at two times a day apart, in two channels."""
    ev = []
    n = 0

    def add(etype, aid, ch, at, value=None):
        nonlocal n
        n += 1
        e = {"event_id": f"e{n}", "type": etype, "user": f"reader-{n % 7}", "asset_id": aid, "channel": ch,
             "at": at.isoformat()}
        if value is not None:
            e["value"] = value
        ev.append(e)

    a, b = asset_ids
    for i in range(10):
        add("impression", a, "web", day0 + timedelta(minutes=i))
    for i in range(4):
        add("click", a, "web", day0 + timedelta(minutes=20 + i))
    for i in range(6):
        add("impression", a, "app", day1 + timedelta(minutes=i))
    add("click", a, "app", day1 + timedelta(minutes=30))
    add("play", a, "app", day1 + timedelta(minutes=31), 42.5)
    add("share", a, "app", day1 + timedelta(minutes=32))
    for i in range(5):
        add("impression", b, "web", day1 + timedelta(minutes=i))
    add("click", b, "web", day1 + timedelta(minutes=40))
    add("share", b, "web", day1 + timedelta(minutes=41))
    return ev


def test_reach_equals_the_events_posted(stream, client, tokens):
    from typer.testing import CliRunner

    from zhimei.cli import app

    now = utcnow()
    # two calendar days, the later in the window; on the hour, so each day's events (up to 41 minutes after it)
    # never run past midnight into the next day's bucket
    day1 = (now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    day0 = day1 - timedelta(hours=24)
    ids = [ingest(t, b, now - timedelta(hours=3 + i), source=src) for i, (t, b, src) in enumerate(BRIDGE[:2])]
    drain()
    events = _events(ids, day0, day1)
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    r = client.post("/api/events", json=events, headers=editor)
    assert r.status_code == 200, r.text
    r = client.post("/api/events", json=events[:5], headers=editor)  # a retried batch: nothing counted twice
    assert r.status_code == 200, r.text

    r = client.get("/api/insight/reach", params={"asset_id": ids[0]}, headers=viewer)
    assert r.status_code == 200, r.text
    data = r.json()
    t = data["totals"]
    assert (t["impressions"], t["clicks"], t["plays"], t["shares"]) == (16, 5, 1, 1)
    assert t["watch_seconds"] == pytest.approx(42.5) and t["ctr"] == pytest.approx(5 / 16, abs=1e-5)
    series = {p["bucket_start"][:10]: p for p in data["series"]}
    assert series[day0.date().isoformat()]["impressions"] == 10 and series[day0.date().isoformat()]["clicks"] == 4
    d1 = day1.date().isoformat()
    assert series[d1]["impressions"] == 6 and series[d1]["plays"] == 1
    assert series[d1]["ctr"] == pytest.approx(1 / 6, abs=1e-5)
    chans = {c["channel"]: c for c in data["by_channel"]}
    assert chans["web"]["impressions"] == 10 and chans["app"]["impressions"] == 6 and chans["app"]["shares"] == 1

    r = client.get("/api/insight/reach", params={"channel": "web"}, headers=viewer)
    t = r.json()["totals"]
    assert (t["impressions"], t["clicks"], t["shares"]) == (15, 5, 1)
    r = client.get("/api/insight/reach", params={"bucket": "week"}, headers=viewer)
    assert sum(p["impressions"] for p in r.json()["series"]) == 21

    # a story's reach is its assets' reach
    run_story_task()
    with session_scope() as s:
        story = s.scalars(select(InsightStory).where(InsightStory.active.is_(True))).one()
        members = set(s.scalars(select(InsightItem.asset_id).where(InsightItem.story_id == story.id)))
    assert members == set(ids)
    assert story.engagement > 0  # engagement is part of its heat
    r = client.get("/api/insight/reach", params={"story_id": story.id}, headers=viewer)
    t = r.json()["totals"]
    assert (t["impressions"], t["clicks"], t["plays"], t["shares"]) == (21, 6, 1, 2)
    detail = client.get(f"/api/insight/stories/{story.id}", headers=viewer).json()
    assert {it["asset_id"] for it in detail["items"]} == set(ids) and detail["story"]["volume"] == 2
    assert sum(d["items"] for d in detail["trend"]) == 2
    senti = client.get("/api/insight/sentiment", params={"story_id": story.id}, headers=viewer).json()
    with session_scope() as s:
        scores = [it.sentiment for it in s.scalars(select(InsightItem).where(InsightItem.story_id == story.id))]
    assert senti["items"] == 2 and senti["sentiment"] == pytest.approx(sum(scores) / 2, abs=1e-3)
    trends = client.get("/api/insight/trends", headers=viewer).json()
    assert [x["id"] for x in trends["stories"]] == [story.id]
    assert trends["stories"][0]["engagement"] == pytest.approx(story.engagement)

    res = CliRunner().invoke(app, ["reach", "--asset", str(ids[1]), "--json"])
    assert res.exit_code == 0, res.output
    t = json.loads(res.output)["totals"]
    assert (t["impressions"], t["clicks"], t["shares"]) == (5, 1, 1)


def test_rest_watchlists_crud_and_bad_input(stream, client, tokens):
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    body = {"name": "港口", "kind": "org", "terms": ["港务集团", "Port Group"], "webhook_url": "https://hooks.example.org/x"}
    assert client.post("/api/insight/watchlists", json=body, headers=viewer).status_code == 403
    r = client.post("/api/insight/watchlists", json=body, headers=editor)
    assert r.status_code == 201, r.text
    w = r.json()
    assert len(w["secret"]) >= 32 and w["terms"] == ["港务集团", "Port Group"]
    assert client.post("/api/insight/watchlists", json=body, headers=editor).status_code == 409
    listed = client.get("/api/insight/watchlists", headers=viewer).json()["items"]
    assert [x["name"] for x in listed] == ["港口"] and "secret" not in listed[0]
    r = client.patch(f"/api/insight/watchlists/{w['id']}", json={"terms": ["港务集团"], "min_volume": 5},
                     headers=editor)
    assert r.status_code == 200 and r.json()["terms"] == ["港务集团"] and r.json()["min_volume"] == 5

    bad = [
        ("post", "/api/insight/watchlists", {**body, "name": "x", "terms": []}, "terms"),
        ("post", "/api/insight/watchlists", {**body, "name": "x", "kind": "planet"}, "kind"),
        ("post", "/api/insight/watchlists", {**body, "name": "x", "webhook_url": "ftp://h/x"}, "webhook_url"),
        ("post", "/api/insight/watchlists", {**body, "name": "x", "terms": ["  "]}, "empty"),
        ("post", "/api/insight/watchlists", {**body, "name": "x", "min_volume": 0}, "min_volume"),
        ("patch", f"/api/insight/watchlists/{w['id']}", {"kind": "planet"}, "kind"),
    ]
    for method, url, payload, word in bad:
        r = getattr(client, method)(url, json=payload, headers=editor)
        assert r.status_code == 422, (payload, r.text)
        assert word in r.text, r.text
    for url, params, word in [
        ("/api/insight/trends", {"since": "yesterday"}, "since"),
        ("/api/insight/trends", {"since": "2026-11-01T00:00:00"}, "time zone"),
        ("/api/insight/trends", {"limit": 0}, "limit"),
        ("/api/insight/reach", {"bucket": "fortnight"}, "bucket"),
        ("/api/insight/reach", {"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "before"),
        ("/api/insight/reach", {"asset_id": 1, "story_id": 1}, "not both"),
        ("/api/insight/sentiment", {"bucket": "year"}, "bucket"),
        ("/api/insight/alerts", {"status": "lost"}, "status"),
    ]:
        r = client.get(url, params=params, headers=viewer)
        assert r.status_code == 422, (url, params, r.text)
        assert word in r.text, r.text
    assert client.get("/api/insight/stories/999", headers=viewer).status_code == 404
    assert client.get("/api/insight/watchlists/999", headers=viewer).status_code == 404
    assert client.get("/api/insight/reach", params={"story_id": 999}, headers=viewer).status_code == 404
    assert client.get("/api/insight/trends").status_code == 401

    r = client.delete(f"/api/insight/watchlists/{w['id']}", headers=editor)
    assert r.status_code == 200
    assert client.get("/api/insight/watchlists", headers=viewer).json()["items"] == []
    r = client.post("/api/insight/refresh", headers=editor)
    assert r.status_code == 202 and r.json()["job_id"] >= 1
    assert client.post("/api/insight/refresh", headers=editor).json()["job_id"] == r.json()["job_id"]


def test_cli_trends_and_watchlists(stream):
    from typer.testing import CliRunner

    from zhimei.cli import app

    now = utcnow()
    for i, (t, b, src) in enumerate(BRIDGE):
        ingest(t, b, now - timedelta(hours=1 + i), source=src)
    for d, (t, b) in enumerate(BASELINE, 1):
        ingest(t, b, now - timedelta(days=d))
    drain()
    runner = CliRunner()
    res = runner.invoke(app, ["trends", "--refresh", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["stories"] and data["stories"][0]["volume"] == 5
    assert any(b["term"] == "长江大桥" and b["count"] == 5 for b in data["bursts"])
    res = runner.invoke(app, ["trends", "--since", "30m", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["stories"] == []  # nothing new in the last 30 minutes
    assert runner.invoke(app, ["trends", "--since", "soon"]).exit_code != 0

    res = runner.invoke(app, ["watchlist", "add", "大桥", "-t", "长江大桥", "--json"])
    assert res.exit_code == 0, res.output
    wid = json.loads(res.output)["id"]
    res = runner.invoke(app, ["watchlist", "add", "大桥", "-t", "长江大桥"])
    assert res.exit_code == 2 and "exists already" in res.output
    res = runner.invoke(app, ["watchlist", "list", "--json"])
    assert [w["name"] for w in json.loads(res.output)] == ["大桥"]
    assert runner.invoke(app, ["watchlist", "remove", str(wid)]).exit_code == 0
    assert runner.invoke(app, ["watchlist", "remove", str(wid)]).exit_code == 2


def test_a_hanging_webhook_times_out_and_is_retried(stream, monkeypatch, hook):
    from zhimei.insight import create_watchlist

    monkeypatch.setenv("ZHIMEI_INSIGHT_WEBHOOK_TIMEOUT_SECONDS", "0.5")
    reset_settings()
    hook.delays = [3.0]  # the first POST hangs past the timeout
    with session_scope() as s:
        create_watchlist(s, "桥", ["长江大桥"], webhook_url=hook.url, min_volume=2, negative_jump=1.0)
    start, now = _align_items()
    for i, (t, b, src) in enumerate(BRIDGE[:2]):
        ingest(t, b, min(now, start + timedelta(minutes=i)), source=src)
    drain()
    t0 = time.monotonic()
    run_story_task()
    assert time.monotonic() - t0 < 30
    with session_scope() as s:
        (a,) = s.scalars(select(InsightAlert)).all()
        assert a.status == "sent" and a.attempts == 2 and a.last_error is None
    assert len(hook.requests) == 2 and hook.requests[0]["body"] == hook.requests[1]["body"]


@pytest.mark.slow
def test_named_entities_burst_with_the_understanding_pipeline(zhome, monkeypatch):
    """With the understanding stages, the people, organisations and places named burst too."""
    from zhimei.insight import hot_topics, term_bursts

    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages", "zhimei.library.understand_stages", '
                                               '"zhimei.insight.tasks"]')
    reset_settings()
    now = utcnow()
    for d in range(1, 5):
        ingest(*BASELINE[d - 1], now - timedelta(days=d))
    said = ["市交通局局长王建国说，长江大桥今天紧急封闭，检测结果三天内公布。",
            "市交通局的王建国在记者会上表示，长江大桥封闭期间将增开过江轮渡。",
            "市交通局局长王建国今晚再次察看长江大桥裂缝。"]
    for i, body in enumerate(said):
        ingest(f"王建国谈长江大桥封闭（{i + 1}）", body, now - timedelta(hours=3 - i))
    drain()
    run_story_task()
    with session_scope() as s:
        bursts = {(b.kind, b.term): b for b in term_bursts(s, limit=200)}
        assert bursts[("PER", "王建国")].count == 3
        assert bursts[("ORG", "市交通局")].count == 3
        top = hot_topics(s)[0]
        assert "PER:王建国" in top.entities and top.volume == 3


def test_webhooks_to_internal_addresses_are_refused_unless_allowed(stream, monkeypatch, hook):
    from zhimei.insight import create_watchlist

    monkeypatch.setenv("ZHIMEI_FETCH_PRIVATE_URLS", "0")
    reset_settings()
    with session_scope() as s:
        create_watchlist(s, "桥", ["长江大桥"], webhook_url=hook.url, min_volume=2, negative_jump=1.0)
    start, now = _align_items()
    for i, (t, b, src) in enumerate(BRIDGE[:2]):
        ingest(t, b, min(now, start + timedelta(minutes=i)), source=src)
    drain()
    run_story_task()
    with session_scope() as s:
        (a,) = s.scalars(select(InsightAlert)).all()
        assert a.status == "failed" and a.attempts == 1  # permanent: not retried
        assert "non-public address" in a.last_error
    assert hook.requests == []
