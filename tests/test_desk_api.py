"""编辑部 desks over REST (token roles, then desk roles on top; 4xx naming the problem; lock conflicts naming the
holder and expiry) and the `zhimei desk` CLI through typer's CliRunner."""

from __future__ import annotations

import json
import re
import threading
import uuid
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from zhimei.cli import app as cli_app
from zhimei.library.assets import ingest_bytes
from zhimei.store.tokens import create_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def asset(title: str = "稿件") -> int:
    body = f"# {title}\n\n{title}的正文 {uuid.uuid4().hex}。\n"
    return ingest_bytes(body.encode(), f"{uuid.uuid4().hex[:8]}.md", source="desk-test").asset_id


D = quote("时政")


@pytest.fixture
def api(client, tokens):
    """Desk 时政: chief t-editor, editor ed-li, reporter ed-zhang (all editor tokens); t-admin is not a member."""
    people = {"chief": bearer(tokens["editor"]), "li": bearer(create_token("ed-li", "editor")),
              "zhang": bearer(create_token("ed-zhang", "editor")), "viewer": bearer(tokens["viewer"]),
              "admin": bearer(tokens["admin"])}
    r = client.post("/api/desks", json={"name": "时政", "description": "时政新闻"}, headers=people["chief"])
    assert r.status_code == 201, r.text
    assert r.json()["members"] == [{"name": "t-editor", "role": "chief", "added_by": "t-editor",
                                    "added_at": r.json()["members"][0]["added_at"]}]
    for name, role in [("ed-li", "editor"), ("ed-zhang", "reporter")]:
        r = client.put(f"/api/desks/{D}/members/{name}", json={"role": role}, headers=people["chief"])
        assert r.status_code == 200 and r.json()["role"] == role, r.text
    return client, people


def test_desks_and_members_over_rest(api):
    c, p = api
    assert c.post("/api/desks", json={"name": "财经"}, headers=p["viewer"]).status_code == 403
    assert c.post("/api/desks", json={"name": "时政"}, headers=p["li"]).status_code == 409
    r = c.post("/api/desks", json={"name": "12"}, headers=p["li"])
    assert r.status_code == 422 and "only digits" in r.json()["detail"]
    r = c.post("/api/desks", json={"name": "财\x1b经"}, headers=p["li"])
    assert r.status_code == 422 and "control character" in r.json()["detail"]
    listed = c.get("/api/desks", headers=p["viewer"]).json()
    assert [d["name"] for d in listed["items"]] == ["时政"] and listed["stages"][0] == "incoming"
    assert listed["transitions"]["incoming"] == ["in_progress"]
    desk_id = listed["items"][0]["id"]
    assert c.get(f"/api/desks/{desk_id}", headers=p["viewer"]).json()["name"] == "时政"
    r = c.get(f"/api/desks/{quote('体育')}", headers=p["viewer"])
    assert r.status_code == 404 and r.json()["detail"] == "no desk '体育'"
    # members: only a chief of the desk or an admin token
    r = c.put(f"/api/desks/{D}/members/new-guy", json={"role": "reporter"}, headers=p["li"])
    assert r.status_code == 403 and "managing members needs the desk role chief" in r.json()["detail"]
    assert c.put(f"/api/desks/{D}/members/new-guy", json={"role": "reporter"}, headers=p["viewer"]).status_code == 403
    r = c.put(f"/api/desks/{D}/members/new-guy", json={"role": "proofreader"}, headers=p["admin"])
    assert r.status_code == 200 and r.json()["role"] == "proofreader"
    r = c.put(f"/api/desks/{D}/members/new-guy", json={"role": "boss"}, headers=p["chief"])
    assert r.status_code == 422 and "unknown desk role 'boss'" in r.json()["detail"]
    members = c.get(f"/api/desks/{D}/members", headers=p["viewer"]).json()["items"]
    assert [(m["name"], m["role"]) for m in members] == [("t-editor", "chief"), ("ed-li", "editor"),
                                                          ("ed-zhang", "reporter"), ("new-guy", "proofreader")]
    assert c.delete(f"/api/desks/{D}/members/ghost", headers=p["chief"]).status_code == 404
    assert c.delete(f"/api/desks/{D}/members/new-guy", headers=p["chief"]).json() == {"removed": "new-guy"}
    hist = c.get(f"/api/desks/{D}/history", headers=p["viewer"]).json()["items"]
    assert hist[0]["action"] == "member_removed" and hist[0]["detail"]["member"] == "new-guy"


def test_items_stages_assignment_and_history_over_rest(api):
    c, p = api
    aid = asset("市政府发布会")
    r = c.post(f"/api/desks/{D}/items", json={"asset_id": aid, "note": "下午三点"}, headers=p["zhang"])
    assert r.status_code == 201 and r.json()["stage"] == "incoming", r.text
    item = r.json()
    iid = item["id"]
    again = c.post(f"/api/desks/{D}/items", json={"asset_id": aid}, headers=p["li"])
    assert again.status_code == 200 and again.json()["id"] == iid and not again.json()["created"]
    assert c.post(f"/api/desks/{D}/items", json={"asset_id": aid}, headers=p["viewer"]).status_code == 403
    r = c.post(f"/api/desks/{D}/items", json={"asset_id": 987654}, headers=p["li"])
    assert r.status_code == 404 and r.json()["detail"] == "no asset 987654"
    assert c.post(f"/api/desks/{D}/items", json={"asset_id": 0}, headers=p["li"]).status_code == 422
    assert c.post(f"/api/desks/{quote('体育')}/items", json={"asset_id": aid}, headers=p["li"]).status_code == 404

    r = c.post(f"/api/desks/items/{iid}/move", json={"stage": "ready", "version": 1}, headers=p["li"])
    assert r.status_code == 409 and "from incoming it can move to in_progress" in r.json()["detail"]
    assert r.json()["allowed"] == ["in_progress"]
    r = c.post(f"/api/desks/items/{iid}/move", json={"stage": "in_progress"}, headers=p["li"])
    assert r.status_code == 428 and "send the version" in r.json()["detail"] and r.json()["version"] == 1
    assert c.post(f"/api/desks/items/{iid}/move", json={"stage": "in_progress", "version": 1},
                  headers=p["viewer"]).status_code == 403
    r = c.post(f"/api/desks/items/{iid}/move", json={"stage": "in_progress", "version": 1}, headers=p["zhang"])
    assert r.status_code == 200 and r.json()["version"] == 2
    r = c.post(f"/api/desks/items/{iid}/move", json={"stage": "proofread", "version": 1}, headers=p["li"])
    assert r.status_code == 409 and "changed since you read it" in r.json()["detail"]
    r = c.post(f"/api/desks/items/{iid}/assign", json={"assignee": "ed-zhang", "version": 2}, headers=p["li"])
    assert r.status_code == 200 and r.json()["assignee"] == "ed-zhang"
    r = c.post(f"/api/desks/items/{iid}/assign", json={"assignee": "ghost", "version": 3}, headers=p["li"])
    assert r.status_code == 404 and "no member 'ghost' on desk '时政'" in r.json()["detail"]
    r = c.post(f"/api/desks/items/{iid}/handover", json={"to": "ed-li", "note": "", "version": 3}, headers=p["zhang"])
    assert r.status_code == 422 and "hand-over note is required" in r.json()["detail"]
    r = c.post(f"/api/desks/items/{iid}/handover", json={"to": "ed-li", "note": "稿子写完了，请改标题", "version": 3},
               headers=p["zhang"])
    assert r.status_code == 200 and r.json()["assignee"] == "ed-li"
    r = c.patch(f"/api/desks/items/{iid}", json={"title": "发布会要点", "version": 4}, headers=p["li"])
    assert r.status_code == 200 and r.json()["title"] == "发布会要点" and r.json()["version"] == 5
    r = c.patch(f"/api/desks/items/{iid}", json={"title": "x\u0085y", "version": 5}, headers=p["li"])
    assert r.status_code == 422 and "control character (U+0085)" in r.json()["detail"]
    r = c.post(f"/api/desks/items/{iid}/notes", json={"note": "x" * 5000}, headers=p["li"])
    assert r.status_code == 422 and "note is 5000 characters long; the most is 4000" in r.json()["detail"]
    r = c.post(f"/api/desks/items/{iid}/notes", json={"note": "请注意\u0000"}, headers=p["li"])
    assert r.status_code == 422 and "control character (U+0000)" in r.json()["detail"]
    assert c.post(f"/api/desks/items/{iid}/notes", json={"note": "标题已改"}, headers=p["li"]).status_code == 201
    # another desk: the admin token creates it and moves the item there
    assert c.post("/api/desks", json={"name": "财经"}, headers=p["admin"]).status_code == 201
    r = c.post(f"/api/desks/items/{iid}/transfer", json={"desk": "体育", "version": 5}, headers=p["li"])
    assert r.status_code == 404 and r.json()["detail"] == "no desk '体育'"
    r = c.post(f"/api/desks/items/{iid}/transfer", json={"desk": "财经", "version": 5}, headers=p["li"])
    assert r.status_code == 200 and r.json()["desk"] == "财经" and r.json()["assignee"] is None

    got = c.get(f"/api/desks/items/{iid}", headers=p["viewer"]).json()
    assert [h["action"] for h in got["history"]] == ["created", "moved", "assigned", "handed_over", "retitled",
                                                     "note", "transferred"]
    assert got["history"][3]["note"] == "稿子写完了，请改标题" and got["history"][3]["actor"] == "ed-zhang"
    assert c.get(f"/api/desks/items/{iid}/history", headers=p["viewer"]).json()["items"] == got["history"]
    assert c.get("/api/desks/items/999999", headers=p["viewer"]).status_code == 404
    assert c.get("/api/desks/items/0", headers=p["viewer"]).status_code == 422
    board = c.get(f"/api/desks/{quote('财经')}/board", headers=p["viewer"]).json()
    assert [i["id"] for i in board["columns"][1]["items"]] == [iid]
    r = c.get(f"/api/desks/{D}/items?stage=nope", headers=p["viewer"])
    assert r.status_code == 422 and "unknown stage 'nope'" in r.json()["detail"]


def test_locks_over_rest(api):
    c, p = api
    iid = c.post(f"/api/desks/{D}/items", json={"asset_id": asset("独家")}, headers=p["li"]).json()["id"]
    lock = c.post(f"/api/desks/items/{iid}/lock", json={"minutes": 20}, headers=p["li"])
    assert lock.status_code == 200 and lock.json()["holder"] == "ed-li"
    token = lock.json()["token"]
    r = c.post(f"/api/desks/items/{iid}/lock", headers=p["zhang"])
    assert r.status_code == 409
    assert r.json()["detail"] == f"item {iid} is locked by ed-li until {lock.json()['expires_at']}"
    assert r.json()["holder"] == "ed-li" and r.json()["until"] == lock.json()["expires_at"]
    r = c.post(f"/api/desks/items/{iid}/move", json={"stage": "in_progress", "version": 1}, headers=p["zhang"])
    assert r.status_code == 409 and "locked by ed-li" in r.json()["detail"]
    shown = c.get(f"/api/desks/items/{iid}", headers=p["viewer"]).json()
    assert shown["lock"]["holder"] == "ed-li" and token not in json.dumps(shown)  # the token is the holder's only
    r = c.post(f"/api/desks/items/{iid}/move", json={"stage": "in_progress", "lock_token": token}, headers=p["li"])
    assert r.status_code == 200 and r.json()["stage"] == "in_progress"
    assert c.post(f"/api/desks/items/{iid}/lock", json={"minutes": 0}, headers=p["li"]).status_code == 422
    assert c.post(f"/api/desks/items/{iid}/lock/renew", json={"token": token}, headers=p["li"]).status_code == 200
    r = c.post(f"/api/desks/items/{iid}/lock/break", json={"reason": "急稿"}, headers=p["zhang"])
    assert r.status_code == 403 and "chief" in r.json()["detail"]
    r = c.post(f"/api/desks/items/{iid}/lock/break", json={"reason": "急稿"}, headers=p["chief"])
    assert r.status_code == 200 and r.json()["holder"] == "ed-li"
    r = c.post(f"/api/desks/items/{iid}/unlock", json={"token": token}, headers=p["li"])
    assert r.status_code == 200 and r.json()["released"] is False  # broken already: nothing to release
    r = c.post(f"/api/desks/items/{iid}/move", json={"stage": "proofread", "lock_token": token}, headers=p["li"])
    assert r.status_code == 409 and "not locked with that token" in r.json()["detail"]
    actions = [h["action"] for h in c.get(f"/api/desks/items/{iid}/history", headers=p["viewer"]).json()["items"]]
    assert actions == ["created", "locked", "moved", "lock_broken"]


def test_two_editors_lock_at_once_over_rest(api):
    c, p = api
    iid = c.post(f"/api/desks/{D}/items", json={"asset_id": asset("同时")}, headers=p["li"]).json()["id"]
    barrier = threading.Barrier(2)
    codes: dict[str, int] = {}

    def go(who: str) -> None:
        barrier.wait()
        codes[who] = c.post(f"/api/desks/items/{iid}/lock", headers=p[who]).status_code

    threads = [threading.Thread(target=go, args=(w,)) for w in ("li", "zhang")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes.values()) == [200, 409], codes


def test_cli_desk_commands(zhome):
    run = CliRunner().invoke
    r = run(cli_app, ["desk", "create", "视频", "--as", "chief-wu", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["members"][0] == {**json.loads(r.output)["members"][0], "role": "chief"}
    assert run(cli_app, ["desk", "create", "视频"]).exit_code == 1
    r = run(cli_app, ["desk", "add-member", "视频", "ed-li", "--role", "editor"])
    assert r.exit_code == 0 and "ed-li is editor on 视频" in r.output
    r = run(cli_app, ["desk", "add-member", "视频", "ed-li", "--role", "boss"])
    assert r.exit_code == 2 and "unknown desk role 'boss'" in r.output
    r = run(cli_app, ["desk", "members", "视频", "--json"])
    assert [m["name"] for m in json.loads(r.output)] == ["chief-wu", "ed-li"]
    aid = asset("视频素材")
    r = run(cli_app, ["desk", "add", "视频", str(aid), "--title", "航拍新区", "--as", "ed-li", "--json"])
    assert r.exit_code == 0, r.output
    iid = json.loads(r.output)["id"]
    r = run(cli_app, ["desk", "add", "体育", str(aid)])
    assert r.exit_code == 2 and "no desk '体育'" in r.output
    r = run(cli_app, ["desk", "move", str(iid), "review"])
    assert r.exit_code == 1 and "from incoming it can move to in_progress" in r.output
    r = run(cli_app, ["desk", "move", str(iid), "in_progress", "--as", "ed-li", "--note", "剪辑中"])
    assert r.exit_code == 0 and "in_progress" in r.output
    r = run(cli_app, ["desk", "lock", str(iid), "--as", "ed-li"])
    assert r.exit_code == 0, r.output
    token = re.search(r"token: (\S+)", r.output).group(1)
    r = run(cli_app, ["desk", "lock", str(iid), "--as", "chief-wu"])
    assert r.exit_code == 1 and "locked by ed-li until" in r.output
    r = run(cli_app, ["desk", "assign", str(iid), "chief-wu", "--as", "chief-wu"])
    assert r.exit_code == 1 and "locked by ed-li" in r.output
    r = run(cli_app, ["desk", "assign", str(iid), "chief-wu", "--as", "ed-li", "--lock-token", token])
    assert r.exit_code == 0, r.output
    r = run(cli_app, ["desk", "handover", str(iid), "ed-li", "--note", "交回给你", "--as", "ed-li",
                      "--lock-token", token, "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["assignee"] == "ed-li"
    r = run(cli_app, ["desk", "retitle", str(iid), "航拍新区全景", "--as", "ed-li", "--lock-token", token])
    assert r.exit_code == 0 and "航拍新区全景" in r.output
    r = run(cli_app, ["desk", "unlock", str(iid), "--token", token, "--as", "ed-li"])
    assert r.exit_code == 0 and "unlocked" in r.output
    assert run(cli_app, ["desk", "note", str(iid), "配乐待定"]).exit_code == 0
    r = run(cli_app, ["desk", "note", str(iid), "坏\x01字符"])
    assert r.exit_code == 2 and "control character" in r.output
    r = run(cli_app, ["desk", "items", "视频", "--stage", "in_progress", "--json"])
    assert [i["id"] for i in json.loads(r.output)] == [iid]
    r = run(cli_app, ["desk", "history", str(iid), "--json"])
    actions = [h["action"] for h in json.loads(r.output)]
    assert actions == ["created", "moved", "locked", "assigned", "handed_over", "retitled", "unlocked", "note"]
    r = run(cli_app, ["desk", "history", str(iid)])
    assert r.exit_code == 0 and "handed_over" in r.output
    assert run(cli_app, ["desk", "history"]).exit_code == 2
    r = run(cli_app, ["desk", "history", "--desk", "视频", "--json"])
    assert json.loads(r.output)[0]["action"] == "note"
    r = run(cli_app, ["desk", "list", "--json"])
    assert json.loads(r.output)[0]["stages"]["in_progress"] == 1
    r = run(cli_app, ["desk", "show", "视频"])
    assert r.exit_code == 0 and "航拍新区" in r.output
    assert run(cli_app, ["desk", "list"]).exit_code == 0
    r = run(cli_app, ["desk", "move", "4242", "review"])
    assert r.exit_code == 2 and "no desk item 4242" in r.output


def test_desk_page_for_viewers_and_unknown_desks(api):
    c, p = api
    c.post(f"/api/desks/{D}/items", json={"asset_id": asset("页面")}, headers=p["li"])
    r = c.get("/desk", headers=p["viewer"])
    assert r.status_code == 200 and 'data-testid="desk-card"' in r.text
    assert 'data-testid="move-submit"' not in r.text  # a viewer reads the board, changes nothing
    r = c.get(f"/desk?desk={D}", headers=p["li"])
    assert r.status_code == 200 and 'data-testid="move-submit"' in r.text and 'data-testid="member-form"' not in r.text
    assert 'data-testid="member-form"' in c.get(f"/desk?desk={D}", headers=p["chief"]).text
    r = c.get(f"/desk?desk={quote('体育')}", headers=p["viewer"])
    assert r.status_code == 404 and "no desk" in r.text
