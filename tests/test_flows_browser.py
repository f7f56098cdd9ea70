"""流程 in headless Chromium: an editor writes a workflow in the editor (a problem is shown with its path, then it
validates and saves), starts a run from /flows with key/value inputs, watches it pause at an approval, approves
it in the inbox with an edited headline and sees the run resume and finish — executed by the served app's own
worker threads. A second editor who decides the same approval afterwards is told plainly that it was already
decided (409). A second test installs a template, starts a run with JSON inputs, retries a failed step after
fixing its cause, cancels a running run and deletes a workflow.
Screenshots: /tmp/zhimei-flows-{editor,inbox,run}.png, /tmp/zhimei-flows.png."""

from __future__ import annotations

import json
import re

import pytest
from webserver import live_server, watched_page

from zhimei.settings import reset_settings
from zhimei.store.tokens import create_token
from zhimei.workflow import approval_inbox, get_run, list_runs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SOURCE = """name: brief-check
title: 快讯核对 Brief check
inputs:
  text: {type: str, required: true, doc: the brief}
steps:
  - key: draft
    type: set
    title: 起草 Draft
    with: {value: "${inputs.text}"}
  - key: approve
    type: approval
    title: 核准快讯 Approve the brief
    instructions: 读一遍，改好标题 Read the brief and fix the headline.
    show: {text: "${steps.draft.outputs.value}"}
    edit: [{name: headline, type: text, label: 标题 Headline, value: "${inputs.text}"}]
  - key: final
    type: set
    title: 交付 Hand on
    with: {value: "${steps.approve.outputs.headline}"}
"""


def test_a_person_approves_a_paused_run_in_the_inbox_and_sees_it_finish(zhome, browser, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.workflow.tasks"]')
    monkeypatch.setenv("ZHIMEI_JOB_POLL_SECONDS", "0.2")
    reset_settings()
    token = create_token("browser-editor", "editor")
    other = create_token("browser-editor-2", "editor")
    with live_server(workers=2) as server:
        page, errors = watched_page(browser, server, token)

        # write the workflow: a bad step type is named with its path, the fixed file validates and saves
        page.goto(f"{server.url}/flows/new")
        expect(page.locator('[data-testid="step-type"][data-name="set"]')).to_have_count(1)
        source = page.locator('[data-testid="editor-source"]')
        source.focus()
        page.keyboard.type("steps:")
        page.keyboard.press("Enter")  # one level deeper after "key:"
        page.keyboard.press("Tab")  # Tab indents with spaces (YAML has no tabs) instead of leaving the field
        expect(source).to_have_value("steps:\n    ")
        expect(source).to_be_focused()
        broken = SOURCE.replace("type: set\n    title: 起草", "type: sett\n    title: 起草")
        page.fill('[data-testid="editor-source"]', broken)
        state = page.locator('[data-testid="validation-state"]')
        expect(state).to_have_attribute("data-state", "bad")
        problem = page.locator('[data-testid="problem"]').first
        expect(problem).to_contain_text("sett")
        assert problem.get_attribute("data-path").startswith("steps")
        page.screenshot(path="/tmp/zhimei-flows-editor.png", full_page=True)
        page.fill('[data-testid="editor-source"]', SOURCE)
        expect(state).to_have_attribute("data-state", "ok")
        expect(page.locator('[data-testid="problem"]')).to_have_count(0)
        page.click('[data-testid="editor-save"]')
        page.wait_for_url("**/flows/brief-check/edit")
        expect(page.locator('[data-testid="editor-version"]')).to_have_text("v1")
        expect(page.locator('[data-testid="flow-msg"]')).to_contain_text("brief-check")

        # start a run with the key/value inputs (the declared input is filled in as a row)
        page.goto(f"{server.url}/flows")
        page.locator('[data-testid="flow-row"][data-name="brief-check"] [data-testid="flow-start"]').click()
        row = page.locator('[data-testid="kv-row"]')
        expect(row).to_have_count(1)
        expect(row.locator('[data-testid="kv-name"]')).to_have_value("text")
        row.locator('[data-testid="kv-value"]').fill("台风“海燕”今晚登陆")
        page.click('[data-testid="start-submit"]')
        page.wait_for_url("**/flows/runs/*")
        run_id = int(page.url.rstrip("/").split("/")[-1])

        # the worker threads run the first step; the run pauses at the approval and links to the inbox
        status = page.locator('[data-testid="run-status"]')
        expect(status).to_have_attribute("data-status", "waiting", timeout=30_000)
        expect(page.locator('[data-testid="step"][data-key="draft"]')).to_have_attribute("data-status", "succeeded")
        expect(page.locator('[data-testid="step"][data-key="final"]')).to_have_attribute("data-status", "pending")
        link = page.locator('[data-testid="step"][data-key="approve"] [data-testid="step-approval-link"]')
        expect(link).to_be_visible()

        # a colleague opens the inbox too, before anyone decides
        page2, errors2 = watched_page(browser, server, other)
        page2.goto(f"{server.url}/flows/inbox")
        expect(page2.locator('[data-testid="approval"]')).to_have_count(1)

        link.click()
        page.wait_for_url(re.compile(r".*/flows/inbox#approval-\d+$"))
        card = page.locator('[data-testid="approval"]')
        expect(card).to_have_count(1)
        expect(card.locator('[data-testid="show-text"]')).to_have_text("台风“海燕”今晚登陆")
        expect(card.locator('[data-testid="approval-instructions"]')).to_contain_text("fix the headline")
        headline = card.get_by_label("标题 Headline")
        expect(headline).to_have_value("台风“海燕”今晚登陆")
        headline.fill("台风“海燕”今晚在沿海登陆")
        card.get_by_label("意见 Comment").fill("标题更具体 more precise headline")
        page.screenshot(path="/tmp/zhimei-flows-inbox.png", full_page=True)
        card.get_by_role("button", name="批准 Approve").click()
        msg = card.locator('[data-testid="decision-msg"]')
        expect(msg).to_contain_text("Approved")
        expect(card).to_have_attribute("data-status", "approved")

        # the colleague's decision comes second: a 409, said plainly
        page2.locator('[data-testid="approve"]').click()
        msg2 = page2.locator('[data-testid="decision-msg"]')
        expect(msg2).to_contain_text("Someone else decided first")
        expect(msg2).to_contain_text("browser-editor")
        expect(page2.locator('[data-testid="approval"]')).to_have_attribute("data-conflict", "1")

        # back to the run: it resumes and finishes with the edited headline
        card.locator('[data-testid="decision-run-link"]').click()
        page.wait_for_url(f"**/flows/runs/{run_id}")
        expect(status).to_have_attribute("data-status", "succeeded", timeout=30_000)
        final = page.locator('[data-testid="step"][data-key="final"]')
        expect(final).to_have_attribute("data-status", "succeeded")
        final.locator("summary", has_text="Outputs").click()
        expect(final.locator('[data-testid="step-outputs"]')).to_contain_text("台风“海燕”今晚在沿海登陆")
        expect(page.locator('[data-testid="run-cancel"]')).to_be_hidden()
        page.screenshot(path="/tmp/zhimei-flows-run.png", full_page=True)

        run = get_run(run_id)
        assert run["status"] == "succeeded" and run["steps"][-1]["outputs"]["value"] == "台风“海燕”今晚在沿海登陆"
        decided = approval_inbox(status="approved")
        assert [(a["decided_by"], a["comment"]) for a in decided] == [
            ("browser-editor", "标题更具体 more precise headline")]
        assert [r["id"] for r in list_runs(workflow="brief-check")] == [run_id]

        # the list shows the last run's status
        page.goto(f"{server.url}/flows")
        expect(page.locator('[data-testid="flow-row"][data-name="brief-check"] .status-succeeded')).to_have_count(1)
        page.screenshot(path="/tmp/zhimei-flows.png", full_page=True)
        assert errors == []
        assert [e for e in errors2 if "409" not in e] == []  # the refused second decision is expected


FETCH = """name: fetch-file
title: 取稿 Fetch a file
inputs:
  path: {type: str, required: true, doc: a file on the server}
steps:
  - key: fetch
    type: ingest
    title: 入库 Ingest
    with: {path: "${inputs.path}", source: wire}
"""

WAIT = """name: slow-wait
title: 等待 Wait a minute
steps:
  - key: wait
    type: delay
    with: {seconds: 60}
"""


def test_templates_install_json_inputs_retry_a_failed_step_and_cancel(zhome, browser, monkeypatch, tmp_path):
    from playwright.sync_api import expect

    from zhimei.workflow import list_templates, save_workflow, start_run

    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages", "zhimei.workflow.tasks"]')
    monkeypatch.setenv("ZHIMEI_JOB_POLL_SECONDS", "0.2")
    reset_settings()
    save_workflow(FETCH, actor="desk")
    save_workflow(WAIT, actor="desk")
    token = create_token("browser-editor", "editor")
    wire = tmp_path / "wire-story.md"
    with live_server(workers=2) as server:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/flows")

        # install a shipped template
        template = list_templates()[0]["name"]
        page.locator(f'[data-testid="template-row"][data-name="{template}"] [data-testid="template-install"]').click()
        expect(page.locator('[data-testid="flow-msg"]')).to_contain_text("Installed")
        expect(page.locator(f'[data-testid="flow-row"][data-name="{template}"]')).to_have_count(1)

        # start a run with JSON inputs: the file is not there yet, so its step fails with the reason
        page.select_option('[data-testid="start-workflow"]', "fetch-file")
        page.check('[data-testid="mode-json"]')
        page.fill('[data-testid="start-json"]', json.dumps({"path": str(wire)}))
        page.click('[data-testid="start-submit"]')
        page.wait_for_url("**/flows/runs/*")
        status = page.locator('[data-testid="run-status"]')
        expect(status).to_have_attribute("data-status", "failed", timeout=30_000)
        step = page.locator('[data-testid="step"][data-key="fetch"]')
        expect(step.locator('[data-testid="step-error"]')).to_contain_text("wire-story.md")
        expect(step.locator('[data-field="attempt"]')).to_have_text("1")

        # the file arrives; Retry runs the step again and the run finishes
        wire.write_text("# 通稿\n\n今天上午，市政府召开新闻发布会。\n", encoding="utf-8")
        step.locator('[data-testid="step-retry"]').click()
        expect(status).to_have_attribute("data-status", "succeeded", timeout=30_000)
        expect(step).to_have_attribute("data-status", "succeeded")
        expect(step.locator('[data-field="attempt"]')).to_have_text("2")
        expect(step.locator('[data-testid="step-error"]')).to_be_hidden()
        expect(step.locator('[data-testid="step-retry"]')).to_be_hidden()
        expect(step.locator('[data-testid="step-outputs"]')).to_contain_text('"asset_id"')

        # a long wait is cancelled from the run view
        run = start_run("slow-wait", actor="desk")
        page.goto(f"{server.url}/flows/runs/{run['id']}")
        expect(page.locator('[data-testid="step"][data-key="wait"]')).to_have_attribute(
            "data-status", "running", timeout=30_000)
        page.once("dialog", lambda d: d.accept())
        page.click('[data-testid="run-cancel"]')
        expect(status).to_have_attribute("data-status", "cancelled")
        expect(page.locator('[data-testid="step"][data-key="wait"]')).to_have_attribute("data-status", "cancelled")
        expect(page.locator('[data-testid="run-cancel"]')).to_be_hidden()
        expect(page.locator('[data-testid="run-error"]')).to_contain_text("browser-editor")

        # a finished workflow is deleted from its editor (its runs stay visible)
        page.goto(f"{server.url}/flows/fetch-file/edit")
        page.once("dialog", lambda d: d.accept())
        page.click('[data-testid="editor-delete"]')
        page.wait_for_url("**/flows?notice=flow-deleted")
        expect(page.locator('[data-testid="flow-row"][data-name="fetch-file"]')).to_have_count(0)
        expect(page.locator('[data-testid="run-row"]')).to_have_count(2)
        assert errors == []
