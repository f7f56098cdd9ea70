"""Publishing's REST API (roles, 4xx naming the problem), the public /pub URLs (only live items, anonymous), the
OTT launcher layout, and the `zhimei publish` CLI through typer's CliRunner."""

from __future__ import annotations

import json
import re

import feedparser
import pytest
from publish_helpers import article, pass_review, reviewed_article, use_stages
from typer.testing import CliRunner

from zhimei.cli import app as cli_app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(client, tokens, monkeypatch):
    use_stages(monkeypatch)
    return client, bearer(tokens["editor"]), bearer(tokens["viewer"])


def test_channels_api_validates_and_keeps_roles(api):
    c, editor, viewer = api
    r = c.post("/api/publish/channels", json={"name": "web", "kind": "rss", "title": "Web"}, headers=viewer)
    assert r.status_code == 403 and "editor" in r.json()["detail"]
    r = c.post("/api/publish/channels", json={"name": "web", "kind": "rss", "title": "Web"}, headers=editor)
    assert r.status_code == 201 and r.json()["feeds"]["rss"] == "/pub/web/rss.xml"
    for body, match in [({"name": "Web Site", "kind": "rss"}, "not valid"),
                        ({"name": "x", "kind": "fax"}, "unknown channel kind"),
                        ({"name": "tv", "kind": "ott", "config": {"rows": [{"title": "T", "kind": "magic"}]}},
                         "rows\\[0\\].kind"),
                        ({"name": "tv", "kind": "ott", "config": {"rows": [{"title": "T", "kind": "assets"}]}},
                         "asset_ids"),
                        ({"name": "hook", "kind": "webhook", "config": {"url": "javascript:alert(1)"}},
                         "not an http"),
                        ({"name": "web2", "kind": "rss", "config": {"limit": 0}}, "between 1 and 500")]:
        r = c.post("/api/publish/channels", json=body, headers=editor)
        assert r.status_code == 422, (body, r.text)
        assert re.search(match, r.json()["detail"]), r.json()
    assert c.post("/api/publish/channels", json={"name": "web", "kind": "atom"}, headers=editor).status_code == 409
    r = c.post("/api/publish/channels", json={"name": "hook", "kind": "webhook",
                                              "config": {"url": "https://partner.example/hook"}}, headers=editor)
    assert r.status_code == 201 and len(r.json()["secret"]) == 64
    got = c.get("/api/publish/channels/hook", headers=viewer).json()
    assert got["has_secret"] and "secret" not in got  # never shown again
    r = c.patch("/api/publish/channels/web", json={"title": "网站", "config": {"limit": 5}}, headers=editor)
    assert r.status_code == 200 and r.json()["title"] == "网站" and r.json()["config"] == {"limit": 5}
    assert c.patch("/api/publish/channels/nope", json={"title": "x"}, headers=editor).status_code == 404
    assert c.get("/api/publish/channels/Bad Name", headers=viewer).status_code == 422
    names = [x["name"] for x in c.get("/api/publish/channels", headers=viewer).json()["items"]]
    assert names == ["hook", "web"]


def test_publications_api_gate_schedule_withdraw(api):
    c, editor, viewer = api
    c.post("/api/publish/channels", json={"name": "web", "kind": "rss"}, headers=editor)
    aid = article("新闻发布会", "市长在发布会上介绍了明年的预算安排。")
    r = c.post("/api/publish/publications", json={"asset_id": aid, "channel": "web"}, headers=editor)
    assert r.status_code == 409 and "review" in r.json()["detail"]
    pass_review(aid)
    for body, status in [({"asset_id": 0, "channel": "web"}, 422), ({"asset_id": aid}, 422),
                         ({"asset_id": aid, "channel": "web", "publish_at": "soon"}, 422),
                         ({"asset_id": aid, "channel": "web", "embargo_until": "2026-13-45"}, 422),
                         ({"asset_id": aid, "channel": "nope"}, 404), ({"asset_id": 99999, "channel": "web"}, 404)]:
        r = c.post("/api/publish/publications", json=body, headers=editor)
        assert r.status_code == status, (body, r.text)
    r = c.post("/api/publish/publications", json={"asset_id": aid, "channel": "web",
                                                  "embargo_until": "2030-01-01T00:00:00+08:00"}, headers=editor)
    assert r.status_code == 201 and r.json()["status"] == "scheduled" and not r.json()["visible"]
    assert r.json()["live_from"] == "2029-12-31T16:00:00+00:00"
    pid = r.json()["id"]
    assert c.post("/api/publish/publications", json={"asset_id": aid, "channel": "web"},
                  headers=editor).status_code == 200  # the same publication
    assert c.post("/api/publish/publications", json={"asset_id": aid, "channel": "web"},
                  headers=viewer).status_code == 403
    assert c.get("/api/publish/publications?status=upcoming", headers=viewer).json()["total"] == 1
    assert c.get("/api/publish/publications?status=bogus", headers=viewer).status_code == 422
    # embargoed: nothing public yet
    assert feedparser.parse(c.get("/pub/web/rss.xml").content).entries == []
    assert c.get(f"/pub/web/{aid}.ninjs.json").status_code == 404
    r = c.post(f"/api/publish/publications/{pid}/withdraw", json={"reason": "x" * 2001}, headers=editor)
    assert r.status_code == 422
    r = c.post(f"/api/publish/publications/{pid}/withdraw", json={"reason": "plan changed"}, headers=editor)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert c.post("/api/publish/publications/424242/withdraw", json={}, headers=editor).status_code == 404
    assert c.get("/api/publish/deliveries?status=lost", headers=editor).status_code == 422
    assert c.get("/api/publish/deliveries", headers=viewer).status_code == 403
    assert c.post("/api/publish/deliveries/77/retry", headers=editor).status_code == 404
    assert c.get(f"/api/publish/export/{aid}?format=pdf", headers=viewer).status_code == 422
    assert c.get(f"/api/publish/export/{aid}?format=ninjs", headers=viewer).status_code == 409


def test_public_feed_urls_serve_only_live_items_to_anyone(api):
    c, editor, viewer = api
    c.post("/api/publish/channels", json={"name": "web", "kind": "rss", "title": "Web"}, headers=editor)
    c.post("/api/publish/channels", json={"name": "hook", "kind": "webhook",
                                          "config": {"url": "http://127.0.0.1:9/hook"}}, headers=editor)
    aid = reviewed_article("公开订阅", "这是一篇公开发布的稿件。")
    made = c.post("/api/publish/publications", json={"asset_id": aid, "channel": "web"}, headers=editor)
    assert made.status_code == 201
    r = c.get("/pub/web/rss.xml")  # no credentials
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/rss+xml")
    f = feedparser.parse(r.content)
    assert [e.title for e in f.entries] == ["公开订阅"]
    assert f.feed.links[0].href.startswith("http://testserver/pub/web/")
    assert c.get("/pub/web/atom.xml").headers["content-type"].startswith("application/atom+xml")
    assert json.loads(c.get("/pub/web/feed.json").content)["items"][0]["title"] == "公开订阅"
    assert json.loads(c.get(f"/pub/web/{aid}.ninjs.json").content)["headlines"][0]["value"] == "公开订阅"
    assert c.get(f"/pub/web/{aid}.newsml.xml").content.startswith(b"<?xml")
    media = c.get(f"/pub/web/media/{aid}")  # the published file (text: a download, never rendered inline)
    assert media.status_code == 200 and media.headers["content-disposition"] == "attachment"
    for path in ("/pub/nope/rss.xml", "/pub/web/passwd", "/pub/hook/rss.xml", "/pub/web/99999.ninjs.json",
                 "/pub/web/media/99999", "/pub/WEB/rss.xml"):
        assert c.get(path).status_code in (404, 422), path
    assert c.post("/pub/web/rss.xml").status_code == 405
    c.post(f"/api/publish/publications/{made.json()['id']}/withdraw", json={}, headers=editor)
    assert c.get(f"/pub/web/media/{aid}").status_code == 404 and c.get(f"/pub/web/{aid}.ninjs.json").status_code == 404


def test_ott_launcher_rows_of_slots(api):
    c, editor, viewer = api
    a = reviewed_article("头条一", "第一条头条新闻。", "a.md")
    b = reviewed_article("头条二", "第二条头条新闻。", "b.md")
    hidden = reviewed_article("未发布", "这条没有发布。", "c.md")
    rows = [{"title": "编辑精选 Picks", "kind": "assets", "asset_ids": [b, hidden, a], "size": 5},
            {"title": "最新 Latest", "kind": "latest", "size": 1, "asset_kind": "article"},
            {"title": "为你推荐 For you", "kind": "personal"}]
    r = c.post("/api/publish/channels", json={"name": "tv", "kind": "ott", "config": {"rows": rows}}, headers=editor)
    assert r.status_code == 201
    for aid in (a, b):
        c.post("/api/publish/publications", json={"asset_id": aid, "channel": "tv"}, headers=editor)
    layout = json.loads(c.get("/pub/tv/ott.json").content)
    assert [r["title"] for r in layout["rows"]] == ["编辑精选 Picks", "最新 Latest"]
    picks = layout["rows"][0]["slots"]
    assert [s["asset_id"] for s in picks] == [b, a]  # the editors' order; the unpublished pick is left out
    assert [s["position"] for s in picks] == [0, 1] and picks[0]["title"] == "头条二"
    assert [s["asset_id"] for s in layout["rows"][1]["slots"]] == [b]  # newest first, size 1
    with_user = c.get("/api/publish/channels/tv/ott?user=reader-1", headers=viewer)
    assert with_user.status_code == 200 and with_user.json()["user"] == "reader-1"
    from zhimei.distribute.publish.ott import personal_rows_hook

    layout = with_user.json()
    if personal_rows_hook() is None:
        assert "not available" in layout["note"]
    else:  # the recommendation area's rows, where the config puts them, with live items only and a "why"
        assert "note" not in layout, layout.get("note")
        assert [r["kind"] for r in layout["rows"]][:2] == ["assets", "latest"]
        personal = layout["rows"][2:]
        assert personal and all(r["kind"] == "personal" for r in personal)
        assert {s["asset_id"] for r in personal for s in r["slots"]} <= {a, b}
        assert all(s.get("why") for r in personal for s in r["slots"])
    # the public URL gives a reader's rows only to whoever holds the channel's secret (no guessing ids)
    from zhimei.distribute.publish import reader_signature

    secret = r.json()["secret"]
    assert c.get("/pub/tv/ott.json?user=reader-1").status_code == 403
    assert c.get("/pub/tv/ott.json?user=reader-1&sig=" + "0" * 64).status_code == 403
    signed = c.get(f"/pub/tv/ott.json?user=reader-1&sig={reader_signature(secret, 'reader-1')}")
    assert signed.status_code == 200 and json.loads(signed.content)["user"] == "reader-1"


def test_cli_publish_channels_withdraw_export(zhome, monkeypatch, tmp_path):
    use_stages(monkeypatch)
    run = CliRunner().invoke
    r = run(cli_app, ["publish", "channels", "add", "web", "--kind", "rss", "--title", "Web"])
    assert r.exit_code == 0, r.output
    r = run(cli_app, ["publish", "channels", "add", "hook", "--kind", "webhook", "--url", "http://127.0.0.1:9/h"])
    assert r.exit_code == 0 and "signing secret" in r.output
    r = run(cli_app, ["publish", "channels", "add", "bad", "--kind", "ott", "--config", "{not json"])
    assert r.exit_code == 2 and "not valid JSON" in r.output
    aid = article("命令行发布", "从命令行发布的稿件。")
    r = run(cli_app, ["publish", str(aid), "--channel", "web"])
    assert r.exit_code == 1 and "review" in r.output  # refused: no passed review
    pass_review(aid)
    r = run(cli_app, ["publish", str(aid), "--channel", "web", "--at", "not-a-time"])
    assert r.exit_code == 2 and "ISO 8601" in r.output
    r = run(cli_app, ["publish", str(aid), "--channel", "web", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["status"] == "live"
    r = run(cli_app, ["publish", "list", "--json"])
    assert json.loads(r.output)["items"][0]["asset_id"] == aid
    r = run(cli_app, ["publish", "channels", "list", "--json"])
    assert {c["name"]: c["live_items"] for c in json.loads(r.output)} == {"hook": 0, "web": 1}
    out = tmp_path / "item.xml"
    r = run(cli_app, ["publish", "export", str(aid), "--format", "newsml", "--out", str(out)])
    assert r.exit_code == 0 and out.read_bytes().startswith(b"<?xml")
    r = run(cli_app, ["publish", "export", str(aid), "--format", "ninjs"])
    assert json.loads(r.output)["headlines"][0]["value"] == "命令行发布"
    r = run(cli_app, ["publish", "export", str(aid), "--format", "pdf"])
    assert r.exit_code == 2
    r = run(cli_app, ["publish", "feed", "web", "--format", "atom"])
    assert r.exit_code == 0 and "命令行发布" in feedparser.parse(r.output).entries[0].title
    r = run(cli_app, ["publish", "withdraw", str(aid), "--channel", "web", "--reason", "test"])
    assert r.exit_code == 0 and "withdrawn" in r.output
    r = run(cli_app, ["publish", "export", str(aid), "--format", "ninjs"])
    assert r.exit_code == 1 and "not live" in r.output
    r = run(cli_app, ["publish", "deliveries", "--dead", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["total"] == 0
