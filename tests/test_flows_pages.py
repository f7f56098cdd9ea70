"""流程 pages rendered in-process: the list, editor, run view and inbox for editors and viewers (viewers see no
editing controls), 404 pages for unknown runs and workflows, and a run paused at an approval shown in the inbox."""

from __future__ import annotations

import re
import time

import pytest

import zhimei.jobs as jobs
from zhimei.settings import reset_settings
from zhimei.workflow import approval_inbox, decide_approval, get_run, list_templates, save_workflow, start_run

BRIEF = """
name: brief-check
title: 快讯核对 Brief check
description: A brief is drafted, a person approves its headline, then it is handed on.
inputs:
  text: {type: str, required: true, doc: the brief}
  urgent: {type: bool, default: false}
steps:
  - key: draft
    type: set
    title: 起草 Draft
    with: {value: "${inputs.text}"}
  - key: approve
    type: approval
    title: 核准快讯 Approve the brief
    instructions: 读一遍，改好标题 Read the brief and fix the headline.
    show: {text: "${steps.draft.outputs.value}", notes: [first, second]}
    edit:
      - {name: headline, type: text, label: 标题 Headline, value: "${inputs.text}"}
      - {name: keep, type: bool, label: 保留 Keep, value: true}
  - key: final
    type: set
    title: 交付 Hand on
    with: {value: "${steps.approve.outputs.headline}"}
"""


@pytest.fixture
def site(client, tokens):
    """The app client, the editor's and the viewer's headers, and a saved workflow."""
    save_workflow(BRIEF, actor="t-editor")
    return client, {"Authorization": f"Bearer {tokens['editor']}"}, {"Authorization": f"Bearer {tokens['viewer']}"}


def _has(html: str, testid: str) -> bool:
    return f'data-testid="{testid}"' in html


def test_list_page_for_editor_and_viewer(site):
    c, editor, viewer = site
    run = start_run("brief-check", {"text": "台风登陆"}, actor="t-editor")
    r = c.get("/flows", headers=editor)
    assert r.status_code == 200
    html = r.text
    assert 'data-testid="flow-row" data-name="brief-check"' in html
    assert "快讯核对 Brief check" in html and "v1" in html
    assert _has(html, "start-form") and _has(html, "flow-new") and _has(html, "flow-start")
    assert f'data-testid="run-row" data-id="{run["id"]}"' in html
    # the start form knows the declared inputs (names, types, defaults) for its key/value rows
    inputs = re.search(r'<script type="application/json" id="flow-inputs">(.*?)</script>', html, re.S).group(1)
    assert '"name": "text"' in inputs and '"type": "bool"' in inputs
    if list_templates():
        assert _has(html, "template-install")

    v = c.get("/flows", headers=viewer)
    assert v.status_code == 200 and 'data-name="brief-check"' in v.text
    for control in ("start-form", "flow-new", "flow-start", "template-install", "flow-edit"):
        assert not _has(v.text, control), control


def test_editor_pages_and_their_roles(site):
    c, editor, viewer = site
    r = c.get("/flows/brief-check/edit", headers=editor)
    assert r.status_code == 200
    assert _has(r.text, "editor-source") and _has(r.text, "editor-save") and _has(r.text, "step-types")
    assert "name: brief-check" in r.text and 'data-testid="editor-version">v1' in r.text
    new = c.get("/flows/new", headers=editor)
    assert new.status_code == 200 and _has(new.text, "editor-save") and not _has(new.text, "editor-delete")
    for t in list_templates()[:1]:
        filled = c.get(f"/flows/new?template={t['name']}", headers=editor)
        assert filled.status_code == 200 and t["name"] in filled.text and _has(filled.text, "editor-save")

    # viewers may not open the editor; unknown names are a 404 page, not a 500
    assert c.get("/flows/new", headers=viewer).status_code == 403
    assert c.get("/flows/brief-check/edit", headers=viewer).status_code == 403
    missing = c.get("/flows/no-such-flow/edit", headers=editor)
    assert missing.status_code == 404 and "no-such-flow" in missing.text and "text/html" in missing.headers[
        "content-type"]
    assert c.get("/flows/new?template=no-such-template", headers=editor).status_code == 404


def test_run_page_and_inbox_for_a_paused_run(site):
    c, editor, viewer = site
    run = start_run("brief-check", {"text": "台风今晚登陆"}, actor="t-editor")
    jobs.drain()
    paused = get_run(run["id"])
    assert paused["status"] == "waiting"

    r = c.get(f"/flows/runs/{run['id']}", headers=editor)
    assert r.status_code == 200
    html = r.text
    assert 'data-testid="run-status" data-status="waiting"' in html
    assert 'data-key="draft" data-status="succeeded"' in html
    assert 'data-key="approve" data-status="waiting"' in html
    assert 'data-key="final" data-status="pending"' in html
    approval = approval_inbox()[0]
    assert f'href="/flows/inbox#approval-{approval["id"]}"' in html
    assert _has(html, "run-cancel") and _has(html, "step-retry")
    assert "台风今晚登陆" in html  # the draft's outputs, folded

    rv = c.get(f"/flows/runs/{run['id']}", headers=viewer)
    assert rv.status_code == 200 and not _has(rv.text, "run-cancel") and not _has(rv.text, "step-retry")

    inbox = c.get("/flows/inbox", headers=editor)
    assert inbox.status_code == 200
    page = inbox.text
    assert f'id="approval-{approval["id"]}"' in page and "核准快讯 Approve the brief" in page
    assert 'data-testid="show-text">台风今晚登陆' in page
    assert "<li><span class=\"show-text\">first</span></li>" in page
    assert 'data-edit="headline" data-type="text"' in page and 'value="台风今晚登陆"' in page
    assert 'data-edit="keep" data-type="bool"' in page
    assert _has(page, "approve") and _has(page, "reject") and _has(page, "decision-comment")
    vinbox = c.get("/flows/inbox", headers=viewer)
    assert vinbox.status_code == 200 and f'id="approval-{approval["id"]}"' in vinbox.text
    assert not _has(vinbox.text, "decision-form")
    assert c.get("/flows/inbox?status=bogus", headers=editor).status_code == 422

    # decided: the run finishes; the inbox lists it under approved with who, the comment and the edits
    decide_approval(approval["id"], "approve", actor="t-editor", edits={"headline": "台风今晚在沿海登陆"},
                    comment="更具体 sharper")
    jobs.drain()
    done = c.get(f"/flows/runs/{run['id']}", headers=editor).text
    assert 'data-testid="run-status" data-status="succeeded"' in done and 'data-live="0"' in done
    assert 'data-key="final" data-status="succeeded"' in done and "台风今晚在沿海登陆" in done
    assert re.search(r'<button[^>]*data-testid="run-cancel"\s+hidden', done)
    assert _has(c.get("/flows/inbox", headers=editor).text, "inbox-empty")
    decided = c.get("/flows/inbox?status=approved", headers=viewer).text
    assert _has(decided, "decided") and "t-editor" in decided and "更具体 sharper" in decided
    assert _has(decided, "approval-edits") and "台风今晚在沿海登陆" in decided
    assert f'id="approval-{approval["id"]}"' in c.get("/flows/inbox?status=all", headers=viewer).text


def test_unknown_run_is_a_404_page_and_anonymous_goes_to_login(site):
    c, editor, viewer = site
    r = c.get("/flows/runs/987654", headers=viewer)
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert 'data-testid="error-message"' in r.text and "987654" in r.text
    anon = c.get("/flows", follow_redirects=False)
    assert anon.status_code in (302, 303, 307) and anon.headers["location"].startswith("/login")


CLIPS = """
name: pick-clips
steps:
  - key: found
    type: set
    with:
      value:
        - {asset_id: 5, title: 开幕 Opening, start: 1.0, end: 3.5, url: "/api/assets/5/media/proxy#t=1.00,3.50"}
        - {asset_id: 5, title: 采访 Interview, start: 12, end: 20}
  - key: pick
    type: approval
    show: {clips: "${steps.found.outputs.value}", tags: [台风, 防汛]}
    edit:
      - {name: clips, type: list, label: 保留的片段 Clips to keep, value: "${steps.found.outputs.value}"}
      - {name: tags, type: list, label: 标签 Tags, value: [台风, 防汛]}
      - {name: priority, type: number, label: 优先级 Priority, value: 2}
"""


def test_inbox_shows_clips_as_players_and_lists_as_fields(site):
    c, editor, _viewer = site
    save_workflow(CLIPS, actor="t-editor")
    start_run("pick-clips", actor="t-editor")
    jobs.drain()
    page = c.get("/flows/inbox", headers=editor).text
    # the clips play from the library's media URLs, cued to their span
    assert page.count('data-testid="show-clip"') == 2
    assert 'src="/api/assets/5/media/proxy#t=1.00,3.50"' in page
    assert 'src="/api/assets/5/media/proxy#t=12,20"' in page
    assert "开幕 Opening" in page and 'href="/assets/5"' in page
    assert '<li><span class="show-text">防汛</span></li>' in page
    # a list of clips is picked with checkboxes; a list of words is one per line; a number is a number input
    assert 'data-edit="clips" data-type="pick"' in page and page.count('class="check pick-item"') == 2
    assert "开幕 Opening · 0:01.0–0:03.5 · #5" in page
    assert re.search(r'data-edit="tags" data-type="list"[^>]*>台风\n防汛</textarea>', page)
    assert re.search(r'type="number"[^>]*data-edit="priority"[^>]*\n?\s*value="2"', page)


def test_a_step_no_worker_takes_is_flagged_stuck_with_a_retry(site, monkeypatch):
    c, editor, viewer = site
    monkeypatch.setenv("ZHIMEI_WORKFLOW_STUCK_SECONDS", "0.01")
    reset_settings()
    run = start_run("brief-check", {"text": "无人处理"}, actor="t-editor")  # no worker runs: it stays queued
    deadline = time.monotonic() + 10
    while not get_run(run["id"])["steps"][0]["stuck"] and time.monotonic() < deadline:
        time.sleep(0.02)
    html = c.get(f"/flows/runs/{run['id']}", headers=editor).text
    draft = html[html.index('data-key="draft"'):html.index('data-key="approve"')]
    assert "卡住 Stuck" in draft
    assert not re.search(r'data-testid="step-stuck"[^>]*hidden', draft)
    assert not re.search(r'data-testid="step-retry"[^>]*hidden', draft)
    later = html[html.index('data-key="approve"'):]
    assert re.search(r'data-testid="step-stuck"[^>]*hidden', later)
