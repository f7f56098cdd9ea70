"""智能推荐 faces: the REST API (auth, 404/422 for bad input), the /recommend page and the CLI."""

from __future__ import annotations

import json

from test_recommend import _retrain, newsroom  # noqa: F401  (the fixture)
from typer.testing import CliRunner

import zhimei.jobs as jobs
from zhimei.cli import app


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_rest_recommendations_rows_and_bad_input(newsroom, client, tokens):  # noqa: F811
    _retrain()
    viewer = _h(tokens["viewer"])
    r = client.get("/api/recommend/sport-fan-0", params={"channel": "web", "n": 5}, headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["personalised"] is True and len(body["items"]) == 5
    assert all(it["why"] and it["title"] for it in body["items"])
    assert newsroom["hidden"] not in [it["asset_id"] for it in body["items"]]
    rows = client.get("/api/recommend/sport-fan-0/rows", params={"channel": "web", "size": 3}, headers=viewer)
    assert rows.status_code == 200 and rows.json()["rows"][0]["id"] == "for_you"
    cold = client.get("/api/recommend/nobody-yet", params={"channel": "web"}, headers=viewer).json()
    assert cold["personalised"] is False and cold["items"]
    assert client.get("/api/recommend/sport-fan-0", params={"n": 0}, headers=viewer).status_code == 422
    assert client.get("/api/recommend/sport-fan-0", params={"n": 101}, headers=viewer).status_code == 422
    assert client.get("/api/recommend/sport-fan-0/rows", params={"size": 99}, headers=viewer).status_code == 422
    missing = client.get("/api/recommend/sport-fan-0", params={"channel": "nope"}, headers=viewer)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert client.get("/api/recommend/sport-fan-0").status_code == 401


def test_rest_picks_knob_and_retrain(newsroom, client, tokens):  # noqa: F811
    viewer, editor = _h(tokens["viewer"]), _h(tokens["editor"])
    pick = {"asset_id": newsroom["money"][0], "channel": "web", "rank": 1, "note": "头条"}
    assert client.post("/api/recommend/picks", json=pick, headers=viewer).status_code == 403
    r = client.post("/api/recommend/picks", json=pick, headers=editor)
    assert r.status_code == 200, r.text
    again = client.post("/api/recommend/picks", json=pick, headers=editor).json()
    assert again["id"] == r.json()["id"]  # picking again updates, never duplicates
    listed = client.get("/api/recommend/picks", params={"channel": "web"}, headers=viewer).json()["items"]
    assert [p["asset_id"] for p in listed] == [newsroom["money"][0]]
    bad = client.post("/api/recommend/picks", json={**pick, "asset_id": 999999}, headers=editor)
    assert bad.status_code == 404 and "999999" in bad.json()["detail"]
    window = {**pick, "starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-01T10:00:00Z"}
    assert client.post("/api/recommend/picks", json=window, headers=editor).status_code == 422
    assert client.delete("/api/recommend/picks/424242", headers=editor).status_code == 404
    cold = client.get("/api/recommend/newcomer", params={"channel": "web", "n": 3}, headers=viewer).json()
    assert cold["items"][0]["asset_id"] == newsroom["money"][0]
    assert cold["items"][0]["why"] == "编辑推荐 Editor's pick"
    assert client.delete(f"/api/recommend/picks/{r.json()['id']}", headers=editor).status_code == 200

    assert client.put("/api/recommend/knob", params={"channel": "web"}, json={"diversity": 2},
                      headers=editor).status_code == 422
    k = client.put("/api/recommend/knob", params={"channel": "web"}, json={"diversity": 0.6, "explore_share": 0.2},
                   headers=editor)
    assert k.status_code == 200 and k.json()["diversity"] == 0.6
    assert client.get("/api/recommend/knob", params={"channel": "web"}, headers=viewer).json()["custom"] is True

    assert client.post("/api/recommend/retrain", headers=viewer).status_code == 403
    job = client.post("/api/recommend/retrain", headers=editor)
    assert job.status_code == 202
    jobs.drain()
    models = client.get("/api/recommend/models", headers=viewer).json()["items"]
    assert models[0]["version"] == 1 and models[0]["job_id"] == job.json()["job_id"]


def test_recommend_page_shows_rows_with_why(newsroom, client, tokens):  # noqa: F811
    _retrain()
    client.cookies.set("zhimei_token", tokens["editor"])
    page = client.get("/recommend", params={"user": "money-fan-1", "channel": "web"},
                      headers=_h(tokens["editor"]))
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="rec-row"' in html and "为你推荐 For you" in html
    assert "Because you watched" in html or "Similar to" in html
    assert "/static/recommend.js" in html
    bad = client.get("/recommend", params={"user": "money-fan-1", "channel": "nope"}, headers=_h(tokens["editor"]))
    assert bad.status_code == 404


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_cli_recommend_retrain_picks_and_knob(newsroom):  # noqa: F811
    r = _cli("recommend", "retrain", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["version"] == 1
    r = _cli("recommend", "sport-fan-3", "--json", "--channel", "web", "-n", "4")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["personalised"] and len(data["items"]) == 4 and all(i["why"] for i in data["items"])
    r = _cli("recommend", "sport-fan-3", "--rows", "--channel", "web")
    assert r.exit_code == 0 and "For you" in r.output
    r = _cli("recommend", "picks", "add", str(newsroom["sport"][0]), "--channel", "web", "--json")
    assert r.exit_code == 0, r.output
    r = _cli("recommend", "picks", "list", "--json")
    assert [p["asset_id"] for p in json.loads(r.output)] == [newsroom["sport"][0]]
    r = _cli("recommend", "picks", "add", "999999")
    assert r.exit_code == 1 and "no asset 999999" in r.output
    r = _cli("recommend", "knob", "--channel", "web", "--diversity", "0.5", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["diversity"] == 0.5
    r = _cli("recommend", "knob", "--diversity", "3")
    assert r.exit_code == 2
    r = _cli("recommend", "sport-fan-3", "-n", "0")
    assert r.exit_code != 0
    r = _cli("recommend", "models", "--json")
    assert json.loads(r.output)[0]["version"] == 1
