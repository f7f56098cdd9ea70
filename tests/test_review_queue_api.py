"""审核 over REST, the command line and the pages: open/list/decide/bulk/assign with roles (reviewer decides,
admin edits word lists and policies), bad input as 4xx with the reason, audited moderation admin edits."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from zhimei.cli import app
from zhimei.jobs import drain
from zhimei.library.assets import ingest_bytes
from zhimei.review.moderation import moderate_text
from zhimei.review.queue import list_audit, verify_audit
from zhimei.settings import reset_settings

BAD = "有网友留言说组织者是个傻逼，引发争议。"
MILD = "他说了一句滚蛋就走了。"


@pytest.fixture
def lib(zhome, monkeypatch):
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    return zhome


def article(body: str, title: str = "新闻") -> int:
    aid = ingest_bytes(f"# {title}\n\n{body}\n".encode(), f"{title}.md").asset_id
    drain()
    return aid


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_rest_open_list_decide_bulk_and_roles(lib, client, tokens):
    rv, vw, ed = bearer(tokens["reviewer"]), bearer(tokens["viewer"]), bearer(tokens["editor"])
    bad, mild = article(BAD, "甲"), article(MILD, "乙")
    r = client.post("/api/review/cases", json={"asset_id": bad}, headers=rv)
    assert r.status_code == 201 and r.json()["tier"] == "block"
    cid = r.json()["id"]
    again = client.post("/api/review/cases", json={"asset_id": bad}, headers=rv)
    assert again.status_code == 200 and again.json()["id"] == cid
    mid = client.post("/api/review/cases", json={"asset_id": mild, "expected_reach": 50}, headers=ed).json()["id"]
    listed = client.get("/api/review/cases", headers=rv).json()
    assert listed["total"] == 2 and [c["id"] for c in listed["items"]] == [cid, mid]
    assert client.get("/api/review/cases?overdue=true", headers=rv).json()["total"] == 0
    assert client.get(f"/api/review/cases/{cid}", headers=rv).json()["flags"][0]["detail"]["word"] == "傻逼"
    reasons = client.get("/api/review/reasons", headers=rv).json()["items"]
    assert {"code": "approve.newsworthy", "decision": "approve"}.items() <= reasons[2].items()
    # roles: viewers read the asset's review state only; reviewers decide
    assert client.get("/api/review/cases", headers=vw).status_code == 403
    r = client.post(f"/api/review/cases/{cid}/decide", json={"decision": "approve", "reasons": ["approve.newsworthy"]},
                    headers=vw)
    assert r.status_code == 403 and r.json()["needed_role"] == "reviewer"
    # bad input
    assert client.get("/api/review/cases/999999", headers=rv).status_code == 404
    r = client.post(f"/api/review/cases/{cid}/decide", json={"decision": "maybe", "reasons": ["approve.newsworthy"]},
                    headers=rv)
    assert r.status_code == 422 and "unknown decision 'maybe'" in r.json()["detail"]
    r = client.post(f"/api/review/cases/{cid}/decide", json={"decision": "approve"}, headers=rv)
    assert r.status_code == 422
    r = client.post(f"/api/review/cases/{cid}/decide", json={"decision": "reject", "reasons": ["approve.newsworthy"]},
                    headers=rv)
    assert r.status_code == 422 and "does not go with" in r.json()["detail"]
    assert client.get("/api/review/cases?status=weird", headers=rv).status_code == 422
    assert client.post("/api/review/cases", json={"asset_id": 999999}, headers=rv).status_code == 404
    assert client.post("/api/review/cases", json={"asset_id": bad, "channel": "nope"}, headers=rv).status_code == 422
    empty = {"ids": [], "decision": "approve", "reasons": ["approve.newsworthy"]}
    assert client.post("/api/review/cases/bulk", json=empty, headers=rv).status_code == 422
    # assign, decide (two reviewers for high risk), bulk
    assert client.post(f"/api/review/cases/{cid}/assign", json={}, headers=rv).json()["assignee"] == "t-reviewer"
    body = {"decision": "approve", "reasons": ["approve.newsworthy"], "note": "quoted"}
    assert client.post(f"/api/review/cases/{cid}/decide", json=body, headers=rv).json()["status"] == "in_review"
    r = client.post(f"/api/review/cases/{cid}/decide", json=body, headers=rv)
    assert r.status_code == 409 and "different reviewer" in r.json()["detail"]
    state = client.get(f"/api/review/assets/{bad}", headers=vw).json()
    assert state["passed"] is False and state["case"] == cid
    bulk = client.post("/api/review/cases/bulk", json={"ids": [cid, mid], **body}, headers=ed).json()
    assert [r["status"] for r in bulk["results"]] == ["passed", "passed"]
    assert client.get(f"/api/review/assets/{bad}", headers=vw).json()["passed"] is True
    audit = client.get(f"/api/audit?subject=case:{cid}", headers=rv).json()
    assert [e["action"] for e in audit["items"]] == ["case.decide", "case.decide", "case.assign", "case.open"]
    assert client.get("/api/audit/verify", headers=rv).json()["ok"] is True


def test_pages_queue_case_and_form_decisions(lib, client, tokens):
    aid = article(BAD, "页面")
    rv = bearer(tokens["reviewer"])
    client.get(f"/login?token={tokens['reviewer']}")
    page = client.get("/review")
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text).group(1)
    assert 'data-testid="queue-empty"' in page.text
    r = client.post("/review/open", data={"asset_id": str(aid), "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/review/cases/")
    cid = int(r.headers["location"].split("/")[3].split("?")[0])
    page = client.get("/review").text
    assert f'data-case-id="{cid}"' in page and "2×" in page
    view = client.get(f"/review/cases/{cid}").text
    assert re.search(r'<mark class="flag tier-block" data-testid="flag-mark"[^>]*>傻逼</mark>', view)
    assert 'src="/static/review.js"' in view and "<script>" not in view
    # a form decision without a reason of its kind is refused with the reason; with one it is recorded
    r = client.post(f"/review/cases/{cid}/decide", data={"decision": "approve", "reason": "reject.abuse",
                                                          "csrf_token": csrf})
    assert r.status_code == 422 and "at least one reason code" in r.text
    r = client.post(f"/review/cases/{cid}/decide", data={"decision": "reject", "reason": ["reject.abuse"],
                                                          "note": "abuse", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/review/cases/{cid}", headers=rv).json()["status"] == "rejected"
    r = client.post(f"/review/cases/{cid}/decide", data={"decision": "approve", "reason": "approve.newsworthy"})
    assert r.status_code == 403  # no CSRF token
    r = client.post("/review/bulk", data={"decision": "approve", "ids": [str(cid)], "reason": "approve.no_violation",
                                          "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "bulk_failed=1" in r.headers["location"]
    assert client.get(r.headers["location"]).status_code == 200
    assert client.get("/review/cases/999999").status_code == 404
    assert client.get("/admin/moderation").status_code == 403


def test_moderation_admin_word_lists_and_policies_are_audited(lib, client, tokens):
    ad, rv = bearer(tokens["admin"]), bearer(tokens["reviewer"])
    word = {"word": "坏坏词", "category": "abuse", "severity": 3}
    assert client.post("/api/moderation/wordlists/admin.tsv/words", json=word, headers=rv).status_code == 403
    r = client.post("/api/moderation/wordlists/admin.tsv/words", json=word, headers=ad)
    assert r.status_code == 201 and r.json()["entries"] == 1
    assert moderate_text("这是坏坏词吧", use_classifier=False).tier == "block"
    r = client.post("/api/moderation/wordlists/admin.tsv/words",
                    json={"word": "坏坏词典", "category": "allow"}, headers=ad)
    assert r.status_code == 201
    assert moderate_text("买了一本坏坏词典", use_classifier=False).tier == "pass"
    lists = client.get("/api/moderation/wordlists", headers=ad).json()
    mine = next(f for f in lists["files"] if f["name"] == "admin.tsv")
    assert mine["editable"] and mine["words"] == [{"word": "坏坏词", "category": "abuse", "severity": 3}]
    assert mine["allow"][0]["word"] == "坏坏词典"
    assert not next(f for f in lists["files"] if f["name"] == "default.tsv")["editable"]
    for bad_file, bad_word, msg in (("../x.tsv", word, "must be a name"), ("admin.tsv", {**word, "word": "###"},
                                                                             "cannot start with #"),
                                    ("admin.tsv", {**word, "category": "Bad Cat"}, "lower-case")):
        r = client.post(f"/api/moderation/wordlists/{bad_file}/words", json=bad_word, headers=ad)
        assert r.status_code in (404, 422) and (r.status_code == 404 or msg in r.json()["detail"])
    r = client.delete("/api/moderation/wordlists/admin.tsv/words?word=坏坏词", headers=ad)
    assert r.status_code == 200 and r.json()["removed"] == 1
    assert client.delete("/api/moderation/wordlists/admin.tsv/words?word=坏坏词", headers=ad).status_code == 404
    assert moderate_text("这是坏坏词吧", use_classifier=False).tier == "pass"
    # policies: strict switch and a threshold
    pol = {p["channel"]: p for p in client.get("/api/moderation/policies", headers=ad).json()["items"]}
    assert set(pol) >= {"default", "kids", "comments"} and pol["default"]["strict_mode"] is False
    r = client.put("/api/moderation/policies/kids/strict", json={"strict": True}, headers=ad)
    assert r.status_code == 200 and r.json()["strict_mode"] and r.json()["overridden"]
    aid = article(MILD, "儿童")
    c = client.post("/api/review/cases", json={"asset_id": aid, "channel": "kids"}, headers=rv).json()
    assert c["strict"] is True
    r = client.put("/api/moderation/policies/kids/thresholds/abuse", json={"review_at": 0.2, "block_at": 0.4},
                   headers=ad)
    assert r.status_code == 200 and r.json()["thresholds"]["abuse"] == [0.2, 0.4] and r.json()["strict_mode"]
    r = client.put("/api/moderation/policies/kids/thresholds/abuse", json={"review_at": 0.6, "block_at": 0.4},
                   headers=ad)
    assert r.status_code == 422 and "must not be above" in r.json()["detail"]
    assert client.put("/api/moderation/policies/nope/strict", json={"strict": True}, headers=ad).status_code == 404
    actions = [e["action"] for e in list_audit()["items"]]
    assert actions[:1] == ["policy.threshold"] and {"wordlist.add", "wordlist.remove", "policy.strict"} <= set(actions)
    assert verify_audit().ok
    client.get(f"/login?token={tokens['admin']}")
    page = client.get("/admin/moderation")
    assert page.status_code == 200 and 'data-channel="kids"' in page.text and "坏坏词典" in page.text


def test_cli_review_commands(lib):
    runner = CliRunner()
    aid = article(BAD, "命令行")
    r = runner.invoke(app, ["review", "open", str(aid), "--json", "--as", "desk"])
    assert r.exit_code == 0, r.output
    cid = json.loads(r.stdout)["id"]
    r = runner.invoke(app, ["review", "queue", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["items"][0]["id"] == cid
    assert runner.invoke(app, ["review", "queue", "--overdue", "--json"]).stdout.strip().startswith('{"total": 0')
    r = runner.invoke(app, ["review", "decide", str(cid), "approve", "--reason", "approve.newsworthy", "--as", "alice"])
    assert r.exit_code == 0 and "in_review" in r.output
    r = runner.invoke(app, ["review", "decide", str(cid), "approve", "--reason", "approve.newsworthy", "--as", "alice"])
    assert r.exit_code == 2 and "different reviewer" in r.output
    r = runner.invoke(app, ["review", "decide", str(cid), "maybe", "--reason", "x"])
    assert r.exit_code == 2 and "unknown decision" in r.output
    assert runner.invoke(app, ["review", "status", str(aid)]).exit_code == 1
    r = runner.invoke(app, ["review", "assign", str(cid), "bob", "--as", "lead"])
    assert r.exit_code == 0 and "assignee bob" in r.output
    r = runner.invoke(app, ["review", "decide", str(cid), "approve", "--reason", "approve.newsworthy", "--as", "bob",
                            "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "passed"
    assert runner.invoke(app, ["review", "status", str(aid)]).exit_code == 0
    assert runner.invoke(app, ["review", "case", "999999"]).exit_code == 2
    r = runner.invoke(app, ["review", "words", "add", "命令行禁词", "--category", "abuse", "--severity", "high"])
    assert r.exit_code == 0 and "severity 3" in r.output
    assert runner.invoke(app, ["review", "strict", "default", "on"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["review", "policies", "--json"]).stdout)[0]["strict_mode"] is True
    assert runner.invoke(app, ["review", "strict", "default", "maybe"]).exit_code == 2
    assert "approve.newsworthy" in runner.invoke(app, ["review", "reasons"]).output
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 0 and "OK" in r.output
