"""Workflows over REST (/api/flows) and the `zhimei flow` CLI: validation answers with every problem, roles,
templates, runs, the approval inbox and decisions (a second decision is a 409 naming who), retry and cancel."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from zhimei.jobs import drain
from zhimei.settings import reset_settings

FLOW = """
name: headline-check
title: Headline check
inputs:
  text: {type: str, required: true}
steps:
  - {key: draft, type: set, with: {value: "${inputs.text}"}}
  - key: approve
    type: approval
    instructions: Fix the headline if needed.
    show: {headline: "${steps.draft.outputs.value}"}
    edit: [{name: headline, type: text, label: Headline, value: "${steps.draft.outputs.value}"}]
  - {key: final, type: set, with: {value: "${steps.approve.outputs.headline}"}}
"""


@pytest.fixture
def api(client, tokens, monkeypatch):
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.workflow.tasks"]')
    reset_settings()
    return client, {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}


def test_validate_save_run_approve_over_rest(api):
    c, h = api
    r = c.post("/api/flows/validate", headers=h["viewer"],
               json={"source": "name: x\nsteps:\n  - {key: a, type: nope}\n  - {key: b, type: set}\n"})
    assert r.status_code == 200 and r.json()["ok"] is False
    paths = {p["path"] for p in r.json()["problems"]}
    assert {"steps.a.type", "steps.b.with.value"} <= paths
    assert c.post("/api/flows", headers=h["viewer"], json={"source": FLOW}).status_code == 403
    bad = c.post("/api/flows", headers=h["editor"], json={"source": "name: x\nsteps: []\n"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "steps"
    r = c.post("/api/flows", headers=h["editor"], json={"source": FLOW, "format": "yaml"})
    assert r.status_code == 201 and r.json()["name"] == "headline-check" and r.json()["version"] == 1
    assert c.get("/api/flows", headers=h["viewer"]).json()[0]["name"] == "headline-check"
    got = c.get("/api/flows/headline-check", headers=h["viewer"]).json()
    assert got["source"] == FLOW and got["definition"]["steps"][1]["type"] == "approval"
    assert c.get("/api/flows/nope", headers=h["viewer"]).status_code == 404
    assert any(t["name"] == "studio.clips" for t in c.get("/api/flows/step-types", headers=h["viewer"]).json())

    r = c.post("/api/flows/headline-check/runs", headers=h["editor"], json={"inputs": {}})
    assert r.status_code == 422 and "missing input 'text'" in r.json()["detail"]
    r = c.post("/api/flows/headline-check/runs", headers=h["editor"], json={"inputs": {"text": "台风登陆"}})
    assert r.status_code == 201
    run_id = r.json()["id"]
    drain()
    run = c.get(f"/api/flows/runs/{run_id}", headers=h["viewer"]).json()
    assert run["status"] == "waiting"
    inbox = c.get("/api/flows/approvals", headers=h["viewer"]).json()
    assert len(inbox) == 1 and inbox[0]["workflow"] == "headline-check" and inbox[0]["show"]["headline"] == "台风登陆"
    aid = inbox[0]["id"]
    assert run["steps"][1]["approval_id"] == aid
    assert c.post(f"/api/flows/approvals/{aid}", headers=h["viewer"], json={"decision": "approve"}).status_code == 403
    r = c.post(f"/api/flows/approvals/{aid}", headers=h["editor"], json={"decision": "maybe"})
    assert r.status_code == 422
    r = c.post(f"/api/flows/approvals/{aid}", headers=h["editor"],
               json={"decision": "approve", "edits": {"headline": "台风今晨登陆"}, "comment": "更准确"})
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["decided_by"] == "t-editor"
    r = c.post(f"/api/flows/approvals/{aid}", headers=h["admin"], json={"decision": "reject"})
    assert r.status_code == 409 and "already approved by t-editor" in r.json()["detail"]
    drain()
    run = c.get(f"/api/flows/runs/{run_id}", headers=h["viewer"]).json()
    assert run["status"] == "succeeded" and run["steps"][2]["outputs"] == {"value": "台风今晨登陆"}
    runs = c.get("/api/flows/runs", headers=h["viewer"], params={"workflow": "headline-check"}).json()
    assert [x["id"] for x in runs] == [run_id]
    assert c.get("/api/flows/runs", headers=h["viewer"], params={"status": "bogus"}).status_code == 422
    assert c.get("/api/flows/runs/999", headers=h["viewer"]).status_code == 404
    assert c.post(f"/api/flows/runs/{run_id}/cancel", headers=h["editor"]).status_code == 409
    r = c.post(f"/api/flows/runs/{run_id}/steps/final/retry", headers=h["editor"])
    assert r.status_code == 409 and "only a failed" in r.json()["detail"]
    assert c.delete("/api/flows/headline-check", headers=h["editor"]).status_code == 204
    assert c.get(f"/api/flows/runs/{run_id}", headers=h["viewer"]).status_code == 200  # runs stay visible


def test_templates_install_and_cancel_over_rest(api):
    c, h = api
    ts = c.get("/api/flows/templates", headers=h["viewer"]).json()
    assert {t["name"] for t in ts} == {"morning-brief", "video-clips", "breaking-news", "daily-sentiment"}
    assert all(t["source"] and t["format"] == "yaml" for t in ts)
    r = c.post("/api/flows/templates/video-clips/install", headers=h["editor"])
    assert r.status_code == 201 and r.json()["name"] == "video-clips"
    assert c.post("/api/flows/templates/nope/install", headers=h["editor"]).status_code == 404
    c.post("/api/flows", headers=h["editor"], json={"source": FLOW})
    run_id = c.post("/api/flows/headline-check/runs", headers=h["editor"], json={"inputs": {"text": "a"}}).json()["id"]
    drain()
    r = c.post(f"/api/flows/runs/{run_id}/cancel", headers=h["editor"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert c.get("/api/flows/approvals", headers=h["viewer"]).json() == []
    expired = c.get("/api/flows/approvals", headers=h["viewer"], params={"status": "expired"}).json()
    assert expired[0]["comment"] == "run cancelled by t-editor"
    assert c.delete("/api/flows/nope", headers=h["editor"]).status_code == 404


def test_cli_validate_save_run_approve(api, tmp_path):
    from zhimei.cli import app

    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - {key: a, type: set, after: b, with: {value: 1}}\n"
                   "  - {key: b, type: set, after: a, with: {value: 2}}\n", encoding="utf-8")
    res = runner.invoke(app, ["flow", "validate", str(bad)])
    assert res.exit_code == 2 and "cycle" in res.output
    good = tmp_path / "flow.yaml"
    good.write_text(FLOW, encoding="utf-8")
    assert runner.invoke(app, ["flow", "validate", str(good)]).exit_code == 0
    res = runner.invoke(app, ["flow", "save", str(good)])
    assert res.exit_code == 0 and "saved headline-check v1" in res.output
    res = runner.invoke(app, ["flow", "run", "headline-check", "--input", "text=早间新闻", "--wait", "--json"])
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)
    assert run["status"] == "waiting"
    aid = run["steps"][1]["approval_id"]
    res = runner.invoke(app, ["flow", "inbox"])
    assert res.exit_code == 0 and "headline-check" in res.output
    res = runner.invoke(app, ["flow", "approve", str(aid), "--edit", "headline=晚间新闻", "-m", "ok"])
    assert res.exit_code == 0 and "approved" in res.output
    res = runner.invoke(app, ["flow", "approve", str(aid)])
    assert res.exit_code == 1 and "already approved" in res.output
    drain()
    res = runner.invoke(app, ["flow", "status", str(run["id"]), "--json"])
    assert json.loads(res.stdout)["steps"][2]["outputs"] == {"value": "晚间新闻"}
    res = runner.invoke(app, ["flow", "list"])
    assert "headline-check" in res.output and "succeeded" in res.output
    res = runner.invoke(app, ["flow", "run", "nope"])
    assert res.exit_code == 2 and "no workflow named 'nope'" in res.output
