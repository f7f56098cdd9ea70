"""Workflows in scale mode: the steps of a run are jobs executed by a real Celery worker process over Redis; the
worker is stopped while the run waits for approval, a new one is started, and the run resumes from there."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from test_celery import CeleryWorker, celery_home  # noqa: F401  (the real-worker fixture)

from zhimei.settings import reset_settings
from zhimei.store.db import read_scope
from zhimei.store.models import Job
from zhimei.workflow import decide_approval, get_run, save_workflow, start_run

pytestmark = pytest.mark.redis

FLOW = """
name: celery-greet
inputs: {who: {type: str, required: true}}
steps:
  - {key: hello, type: set, with: {value: "早安, ${inputs.who}"}}
  - key: ok
    type: approval
    edit: [{name: text, type: text, value: "${steps.hello.outputs.value}"}]
  - {key: out, type: set, foreach: [1, 2], with: {value: "${steps.ok.outputs.text} ${item}"}}
"""


def _wait(run_id: int, status: str, worker: CeleryWorker, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = get_run(run_id)
        if r["status"] == status:
            return r
        if worker.proc.poll() is not None:
            pytest.fail(f"the celery worker exited:\n{worker.tail()}")
        if r["status"] in ("failed", "cancelled") or time.monotonic() > deadline:
            pytest.fail(f"run is {r['status']}: {[(s['key'], s['status'], s['error']) for s in r['steps']]}\n"
                        f"{worker.tail()}")
        time.sleep(0.2)


def test_a_run_on_celery_survives_a_worker_restart_at_its_approval(celery_home, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.workflow.tasks"]')
    reset_settings()
    celery_home.start()
    save_workflow(FLOW, actor="t-editor")
    run = start_run("celery-greet", {"who": "编辑部"}, actor="t-editor")
    r = _wait(run["id"], "waiting", celery_home)
    first_pid = celery_home.proc.pid
    celery_home.stop()
    celery_home.start()  # a new worker process
    assert celery_home.proc.pid != first_pid
    decide_approval(r["steps"][1]["approval_id"], "approve", actor="alice", edits={"text": "晚安"})
    r = _wait(run["id"], "succeeded", celery_home)
    assert r["steps"][2]["outputs"]["value"] == ["晚安 1", "晚安 2"]
    with read_scope() as s:
        workers = dict(s.execute(select(Job.input_hash, Job.worker).where(Job.stage == "workflow.step")).all())
    assert f":{first_pid}:" in workers[f"run:{run['id']}:step:hello:1"]
    assert f":{celery_home.proc.pid}:" in workers[f"run:{run['id']}:step:out:1"]
