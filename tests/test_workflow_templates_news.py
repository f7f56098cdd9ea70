"""The shipped news templates end to end with real components: the morning brief (feed items → rising story →
cited drafts → proofread → an editor's approval through the API → AIGC labels → review → published in a JSON feed
channel) and the breaking-news alert (a real watchlist alert → headline and summary → moderation → an editor edits
the headline through the API → the desk's webhook on 127.0.0.1 gets the edited headline; text that moderation
blocks never goes out)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from zhimei.jobs import drain
from zhimei.jobs.tasks import enqueue_task
from zhimei.library import ingest_bytes
from zhimei.settings import reset_settings
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset, Job, utcnow
from zhimei.workflow import get_run

pytestmark = pytest.mark.slow

STAGES = '["zhimei.library.text_stages", "zhimei.insight.tasks", "zhimei.workflow.tasks"]'

METRO = [  # the night's story: four reports from three newsrooms about the same failure
    ("地铁三号线信号故障 早高峰大面积延误",
     "今天早上七点，地铁三号线发生信号故障，列车全线限速运行，早高峰乘客滞留站台。", "城市晚报"),
    ("地铁三号线故障致多站限流",
     "地铁三号线信号故障后，人民广场站和火车站站实施限流，公交公司加开接驳巴士。", "新华社"),
    ("地铁公司回应三号线信号故障",
     "地铁公司表示三号线信号故障原因是设备老化，维修人员已到场抢修，预计中午恢复。", "电视台"),
    ("三号线故障 市民改乘公交出行",
     "受地铁三号线信号故障影响，沿线公交客流猛增，不少市民改乘出租车或骑共享单车上班。", "电视台"),
]
BASELINE = [  # one report a day on other subjects
    ("菜市场蔬菜价格平稳", "本周菜市场蔬菜供应充足，白菜和萝卜价格平稳，市民采购正常。"),
    ("图书馆延长开放时间", "市图书馆自下月起每晚延长开放一小时，方便读者夜间借阅。"),
    ("老城区雨污分流改造启动", "老城区雨污分流改造工程今天启动，预计年底完工，部分道路临时封闭。"),
    ("中学生科技节开幕", "全市中学生科技节今天开幕，三百多件机器人和航模作品参展。"),
    ("社区养老食堂开业", "东湖社区养老食堂开业，老人每餐只需十元，志愿者负责送餐上门。"),
]


def ingest(title: str, body: str, at, source: str) -> int:
    return ingest_bytes(f"# {title}\n\n{body}\n".encode(), f"{title}.md", source=source, published_at=at).asset_id


def run_stories() -> None:
    """The periodic insight task through the job system: items analysed, stories grouped, watchlists checked."""
    enqueue_task("insight.stories", {}, key="insight.stories")
    drain()


@pytest.fixture
def newsroom(zhome, monkeypatch):
    """The text stages, the insight tasks and the workflow steps: what the two templates need."""
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", STAGES)
    reset_settings()
    return zhome


class Desk:
    """The desk's webhook on 127.0.0.1: records every JSON body posted."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                desk.got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/desk"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def desk():
    d = Desk()
    yield d
    d.close()


def _steps(run: dict) -> dict[str, dict]:
    return {s["key"]: s for s in run["steps"]}


def _explain(run: dict) -> str:
    return f"run {run['id']} {run['status']}: {[(s['key'], s['status'], s['error']) for s in run['steps']]}"


def test_morning_brief_drafts_the_rising_story_and_publishes_it_after_approval(newsroom, client, tokens):
    from zhimei.distribute.publish import create_channel, list_publications

    now = utcnow()
    for d, (t, b) in enumerate(BASELINE, start=1):
        ingest(t, b, now - timedelta(days=d, hours=2), source="城市晚报")
    metro = [ingest(t, b, now - timedelta(hours=5 - i), source=src) for i, (t, b, src) in enumerate(METRO)]
    drain()
    run_stories()
    with session_scope() as s:
        create_channel(s, "web", "jsonfeed", title="Website")
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}

    assert client.post("/api/flows/templates/morning-brief/install", headers=editor).status_code == 201
    r = client.post("/api/flows/morning-brief/runs", headers=editor, json={"inputs": {"stories": "1"}})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]
    drain()
    run = get_run(run_id)
    assert run["status"] == "waiting", _explain(run)
    steps = _steps(run)
    assert set(metro) <= set(steps["gather"]["outputs"]["asset_ids"])
    story = steps["stories"]["outputs"]["stories"][0]
    assert set(story["asset_ids"]) <= set(metro) and len(story["asset_ids"]) >= 3
    drafts = steps["draft"]["outputs"]["text"]
    draft_ids = steps["draft"]["outputs"]["asset_id"]
    assert len(drafts) == len(draft_ids) == 1 and "三号线" in drafts[0]
    assert steps["proofread"]["outputs"]["count"] == [len(steps["proofread"]["outputs"]["suggestions"][0])]
    assert steps["approve"]["status"] == "waiting" and steps["publish"]["status"] == "pending"

    approval = next(a for a in client.get("/api/flows/approvals", headers=viewer).json() if a["run_id"] == run_id)
    assert approval["step_key"] == "approve" and approval["show"]["briefs"] == drafts
    r = client.post(f"/api/flows/approvals/{approval['id']}", headers=editor,
                    json={"decision": "approve", "comment": "facts checked against the wire"})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    drain()
    run = get_run(run_id)
    assert run["status"] == "succeeded", _explain(run)
    steps = _steps(run)
    labelled = steps["label"]["outputs"]["asset_id"]
    assert steps["label"]["outputs"]["source_asset"] == draft_ids and len(labelled) == 1
    assert steps["cases"]["outputs"]["tier"] == ["pass"] and steps["passed"]["outputs"]["passed"] == [True]
    assert steps["passed"]["inputs"]["reviewer"] == "t-editor"
    pubs = list_publications(channel="web")["items"]
    assert [p["asset_id"] for p in pubs] == labelled and pubs[0]["status"] == "live"
    assert steps["publish"]["outputs"]["publication_id"] == [pubs[0]["id"]]
    with read_scope() as s:
        draft = s.get(Asset, draft_ids[0])
        assert draft.meta["ai_generated"] and draft.parent_id in metro and draft.meta["studio"]["task"] == "draft"
        assert draft.title == story["title"] and sorted(draft.meta["studio"]["sources"]) == sorted(story["asset_ids"])
        brief = s.get(Asset, labelled[0])
        assert brief.meta["provenance"]["labelled"]["source_asset"] == draft_ids[0]
        assert brief.meta["review_status"] == "passed"
    feed = client.get("/pub/web/feed.json").json()  # the public feed carries the labelled brief's text
    item = next(it for it in feed["items"] if it["id"].endswith(f":asset:{labelled[0]}"))
    assert "三号线" in item["title"] and "信号故障" in item["content_html"]
    assert "人工智能生成" in item["content_html"] and item["_aigc"]["fields"]["Label"] == "1"
    # the review case judged the labelled brief's text, not an empty asset: the waiting step ran its processing
    # itself (one runner here, busy with that very step)
    assert steps["labelled"]["outputs"]["statuses"] == {str(labelled[0]): "ready"}
    with read_scope() as s:
        workers = set(s.scalars(select(Job.worker).where(Job.asset_id == labelled[0])))
    assert workers and all(w.endswith(f":run-{run_id}:labelled") for w in workers), workers


ABUSE = [  # a second story whose reports quote the abuse word for word
    ("网红直播辱骂外卖员引发众怒", "一名网红在直播中对外卖员大喊你就是个傻逼，视频在网上广泛传播。"),
    ("辱骂外卖员的网红道歉", "这名网红今天发视频道歉，承认在直播中骂外卖员傻逼是错误的。"),
    ("平台封禁辱骂外卖员的网红", "直播平台封禁了骂外卖员傻逼的网红账号三十天，并要求其公开道歉。"),
]


def _alert_of(name: str) -> dict:
    from zhimei.insight import list_alerts

    with read_scope() as s:
        return next(a for a in list_alerts(s)["items"] if a["watchlist"] == name)


def _start(client, editor: dict, alert_id: int, webhook: str) -> int:
    r = client.post("/api/flows/breaking-news/runs", headers=editor,
                    json={"inputs": {"alert_id": str(alert_id), "webhook": webhook}})
    assert r.status_code == 201, r.text
    drain()
    return r.json()["id"]


def _approval(client, viewer: dict, run_id: int) -> dict:
    return next(a for a in client.get("/api/flows/approvals", headers=viewer).json() if a["run_id"] == run_id)


def test_breaking_news_alert_goes_to_the_desk_with_the_edited_headline_and_blocked_text_does_not(
        newsroom, client, tokens, desk):
    from zhimei.insight import create_watchlist
    from zhimei.insight.watchlists import window_bounds

    now = utcnow()
    start, _ = window_bounds(now, 24.0)  # alert windows are aligned: today's reports go from the window's start
    with session_scope() as s:
        create_watchlist(s, "地铁三号线", ["三号线"], min_volume=3, negative_jump=1.0)  # 1.0: volume alerts only
        create_watchlist(s, "外卖员", ["外卖员"], min_volume=3, negative_jump=1.0)
    metro = [ingest(t, b, min(now, start + timedelta(minutes=5 + i)), source=src)
             for i, (t, b, src) in enumerate(METRO)]
    abuse = [ingest(t, b, min(now, start + timedelta(minutes=20 + i)), source="晨报") for i, (t, b) in enumerate(ABUSE)]
    drain()
    run_stories()  # analyses the items and checks the watchlists: one volume alert each, no webhook of their own
    metro_alert, abuse_alert = _alert_of("地铁三号线"), _alert_of("外卖员")
    assert metro_alert["reason"] == "volume" and sorted(metro_alert["asset_ids"]) == sorted(metro)
    assert sorted(abuse_alert["asset_ids"]) == sorted(abuse)
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.post("/api/flows/templates/breaking-news/install", headers=editor).status_code == 201

    # the metro alert: headline and summary of its reports, moderation passes, the editor rewrites the headline
    run_id = _start(client, editor, metro_alert["id"], desk.url)
    run = get_run(run_id)
    assert run["status"] == "waiting", _explain(run)
    steps = _steps(run)
    assert sorted(steps["alert"]["outputs"]["asset_ids"]) == sorted(metro)
    headline, summary = steps["headline"]["outputs"]["headline"], steps["summary"]["outputs"]["text"]
    assert "三号线" in headline + summary and steps["check"]["outputs"]["tier"] == "pass"
    approval = _approval(client, viewer, run_id)
    assert approval["show"]["moderation"] == "pass" and approval["show"]["variants"][0] == headline
    assert {e["name"]: e["value"] for e in approval["editable"]} == {"headline": headline, "text": summary}
    assert desk.got == []  # nothing goes out before the editor approves
    edited = "地铁三号线信号故障 预计中午恢复运营"
    r = client.post(f"/api/flows/approvals/{approval['id']}", headers=editor,
                    json={"decision": "approve", "edits": {"headline": edited}, "comment": "clearer headline"})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    drain()
    run = get_run(run_id)
    assert run["status"] == "succeeded", _explain(run)
    notify = _steps(run)["notify"]
    assert _steps(run)["recheck"]["outputs"]["tier"] == "pass"
    assert notify["status"] == "succeeded" and notify["outputs"]["sent"] and notify["outputs"]["status_code"] == 200
    assert len(desk.got) == 1 and desk.got[0]["run_id"] == run_id
    assert desk.got[0]["message"] == f"{edited}\n{summary}" and headline not in desk.got[0]["message"].split("\n")[0]

    # the abuse alert: its reports quote an abusive word, moderation blocks, approving does not send it
    run_id = _start(client, editor, abuse_alert["id"], desk.url)
    run = get_run(run_id)
    assert run["status"] == "waiting", _explain(run)
    steps = _steps(run)
    assert steps["check"]["outputs"]["tier"] == "block", steps["check"]
    assert any(r["code"] == "lexicon.abuse" for r in steps["check"]["outputs"]["reasons"])
    approval = _approval(client, viewer, run_id)
    assert approval["show"]["moderation"] == "block"
    r = client.post(f"/api/flows/approvals/{approval['id']}", headers=editor, json={"decision": "approve"})
    assert r.status_code == 200, r.text
    drain()
    run = get_run(run_id)
    assert run["status"] == "succeeded", _explain(run)
    steps = _steps(run)
    assert steps["recheck"]["outputs"]["tier"] == "block" and steps["notify"]["status"] == "skipped"
    assert len(desk.got) == 1

    # moderation judges what goes out: text the editor adds at the approval is checked again, and held back
    run_id = _start(client, editor, metro_alert["id"], desk.url)
    approval = _approval(client, viewer, run_id)
    assert approval["show"]["moderation"] == "pass"
    r = client.post(f"/api/flows/approvals/{approval['id']}", headers=editor,
                    json={"decision": "approve", "edits": {"text": f"{summary}\n有乘客骂地铁公司是傻逼。"}})
    assert r.status_code == 200, r.text
    drain()
    run = get_run(run_id)
    assert run["status"] == "succeeded", _explain(run)
    steps = _steps(run)
    assert steps["recheck"]["outputs"]["tier"] == "block" and steps["notify"]["status"] == "skipped"
    assert len(desk.got) == 1
