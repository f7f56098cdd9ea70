"""互动/实验 over REST and the CLI: batches with per-event reasons, 422s that name the problem, roles, counters,
experiments created, served, promoted; `zhimei events load` with a resent file counting nothing twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from zhimei.cli import app as cli_app
from zhimei.distribute.engagement import MAX_BATCH
from zhimei.store.db import session_scope
from zhimei.store.models import Asset

AT = datetime(2026, 11, 30, 12, 30, tzinfo=UTC).isoformat()


def make_asset(title: str = "台风登陆") -> int:
    with session_scope() as s:
        a = Asset(kind="video", title=title)
        s.add(a)
        s.flush()
        return a.id


def h(tokens, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def test_event_batches_over_rest(client, tokens):
    a = make_asset()
    ed = h(tokens, "editor")
    batch = [{"event_id": "r1", "type": "play", "user": "u1", "asset_id": a, "value": 42.5, "at": AT,
              "channel": "ott"},
             {"event_id": "r1", "type": "play", "user": "u1", "asset_id": a, "value": 42.5, "at": AT,
              "channel": "ott"},
             {"event_id": "r2", "type": "share", "user": "u2", "asset_id": a + 100, "at": AT},
             {"event_id": "r3", "type": "click", "user": "u2", "asset_id": a, "at": AT}]
    assert client.post("/api/events", json=batch).status_code == 401
    assert client.post("/api/events", json=batch, headers=h(tokens, "viewer")).status_code == 403
    r = client.post("/api/events", json=batch, headers=ed)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 1)
    assert body["errors"] == [{"index": 2, "event_id": "r2", "reason": f"unknown or deleted asset {a + 100}"}]
    again = client.post("/api/events", json=batch, headers=ed).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    rows = client.get("/api/events/counters", params={"asset_id": a, "bucket": "hour"}, headers=ed).json()
    assert {(r["channel"], r["plays"], r["clicks"], r["watch_seconds"]) for r in rows} == {("ott", 1, 0, 42.5),
                                                                                           ("", 0, 1, 0.0)}
    assert rows[0]["bucket_start"].startswith("2026-11-30T12:00:00")
    pop = client.get("/api/events/popular", headers=h(tokens, "viewer")).json()
    assert pop[0]["asset_id"] == a and pop[0]["score"] > 0
    # malformed batches: 422 with the reason
    for bad in ({"event_id": "x"}, [], "events", [{}] * (MAX_BATCH + 1)):
        r = client.post("/api/events", json=bad, headers=ed)
        assert r.status_code == 422, bad if not isinstance(bad, list) else len(bad)
        assert "detail" in r.json()
    r = client.post("/api/events", content=b"{not json", headers={**ed, "content-type": "application/json"})
    assert r.status_code == 422
    assert client.get("/api/events/counters", params={"bucket": "week"}, headers=ed).status_code == 422
    assert client.get("/api/events/counters", params={"since": "soon"}, headers=ed).status_code == 422
    assert client.post("/api/events/rollup", headers=ed).status_code == 403
    assert client.post("/api/events/rollup", headers=h(tokens, "admin")).status_code == 200


def test_experiments_over_rest(client, tokens):
    a = make_asset()
    ed, viewer = h(tokens, "editor"), h(tokens, "viewer")
    for bad in ({"asset_id": a, "texts": ["only"]}, {"asset_id": a, "texts": ["a", ""]},
                {"asset_id": 0, "texts": ["a", "b"]}, {"asset_id": a, "kind": "video", "texts": ["a", "b"]},
                {"asset_id": a, "texts": ["a"] * 9}, {"asset_id": a, "texts": ["a", "b"], "min_impressions": -1}):
        r = client.post("/api/experiments", json=bad, headers=ed)
        assert r.status_code == 422, (bad, r.text)
    assert client.post("/api/experiments", json={"asset_id": a + 50, "texts": ["a", "b"]},
                       headers=ed).status_code == 404
    assert client.post("/api/experiments", json={"asset_id": a, "texts": ["a", "b"]},
                       headers=viewer).status_code == 403
    r = client.post("/api/experiments", json={"asset_id": a, "texts": ["台风今晚登陆", "台风登陆：这些地方要停课"],
                                              "min_impressions": 10}, headers=ed)
    assert r.status_code == 201, r.text
    exp = r.json()
    assert client.post("/api/experiments", json={"asset_id": a, "texts": ["x", "y"]}, headers=ed).status_code == 409
    served = client.get(f"/api/experiments/{exp['id']}/serve", params={"user": "u9"}, headers=viewer).json()
    assert served["policy"] == "thompson" and served["variant_id"] in {v["id"] for v in exp["variants"]}
    assert client.get("/api/experiments/99999/serve", headers=viewer).status_code == 404
    vid = exp["variants"][1]["id"]
    events = [{"event_id": f"i{i}", "type": "impression", "user": f"u{i}", "asset_id": a, "variant_id": vid,
               "at": AT} for i in range(4)] + [{"event_id": "c0", "type": "click", "user": "u0", "asset_id": a,
                                                "variant_id": vid, "at": AT}]
    assert client.post("/api/events", json=events, headers=ed).json()["accepted"] == 5
    got = client.get(f"/api/experiments/{exp['id']}", headers=viewer).json()
    v = got["variants"][1]
    assert (v["impressions"], v["clicks"], v["ctr"]) == (4, 1, 0.25) and v["ci_low"] < 0.25 < v["ci_high"]
    assert client.post(f"/api/experiments/{exp['id']}/promote", json={"variant_id": 12345},
                       headers=ed).status_code == 422
    r = client.post(f"/api/experiments/{exp['id']}/promote", json={"variant_id": vid}, headers=ed)
    assert r.status_code == 200 and r.json()["winner_variant_id"] == vid and r.json()["promoted_by"] == "t-editor"
    assert client.post(f"/api/experiments/{exp['id']}/promote", json={"variant_id": exp["variants"][0]["id"]},
                       headers=ed).status_code == 409
    assert client.post(f"/api/experiments/{exp['id']}/stop", headers=ed).status_code == 409
    listed = client.get("/api/experiments", params={"status": "promoted"}, headers=viewer).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == exp["id"]
    assert client.get("/api/experiments", params={"status": "paused"}, headers=viewer).status_code == 422
    page = client.get("/experiments", headers=viewer)
    assert page.status_code == 200 and "台风登陆：这些地方要停课" in page.text and "25.00%" in page.text


def test_events_and_experiments_from_the_cli(zhome, tmp_path):
    a = make_asset()
    lines = [json.dumps({"event_id": f"l{i}", "type": "click" if i % 3 else "impression", "user": f"u{i % 7}",
                         "asset_id": a, "at": AT}) for i in range(30)]
    lines.insert(5, "{broken")
    f = tmp_path / "events.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(cli_app, ["events", "load", str(f), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output.strip().splitlines()[-1])
    assert (rep["accepted"], rep["rejected"]) == (30, 1) and rep["errors"][0]["index"] == 5
    r = runner.invoke(cli_app, ["events", "load", str(f), "--json"])
    rep = json.loads(r.output.strip().splitlines()[-1])
    assert (rep["accepted"], rep["duplicates"]) == (0, 30)
    r = runner.invoke(cli_app, ["events", "counters", "--asset", str(a), "--json"])
    rows = json.loads(r.output)
    assert rows[0]["clicks"] == 20 and rows[0]["impressions"] == 10
    r = runner.invoke(cli_app, ["experiments", "create", str(a), "--text", "标题甲", "--text", "标题乙", "--json"])
    assert r.exit_code == 0, r.output
    exp = json.loads(r.output)
    r = runner.invoke(cli_app, ["experiments", "show", str(exp["id"])])
    assert r.exit_code == 0 and "标题乙" in r.output and "P(best)" in r.output
    r = runner.invoke(cli_app, ["experiments", "list", "--json"])
    assert json.loads(r.output)["total"] == 1
    r = runner.invoke(cli_app, ["experiments", "promote", str(exp["id"]), "--variant", str(exp["variants"][0]["id"]),
                                "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["status"] == "promoted"
    r = runner.invoke(cli_app, ["experiments", "show", "4242"])
    assert r.exit_code == 2 and "no experiment 4242" in r.output
    r = runner.invoke(cli_app, ["events", "load", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 2
