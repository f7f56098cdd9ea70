"""Workflows (智能体): validation before running (cycles, unknown steps, missing inputs, bad references, all listed
with paths), runs as jobs with approvals that pause and resume with edits, loops and conditions, step timeouts,
retrying a failed step alone, stuck steps surfaced by their heartbeat, approval escalation and expiry, two people
approving at once, triggers, and the shipped templates."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from zhimei.jobs import drain
from zhimei.settings import reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Job, utcnow
from zhimei.workflow import (
    WorkflowError,
    approval_inbox,
    cancel_run,
    decide_approval,
    fire_triggers,
    get_run,
    install_template,
    list_runs,
    list_templates,
    list_workflows,
    parse_workflow,
    retry_step,
    save_workflow,
    start_run,
    step_types,
    sweep,
)

ME = "t-editor"

APPROVE_FLOW = """
name: greet
title: Greeting with approval
inputs:
  who: {type: str, required: true}
  n: {type: int, default: 2}
steps:
  - key: hello
    type: set
    with: {value: "你好, ${inputs.who}"}
  - key: ok
    type: approval
    title: Check the greeting
    show: {text: "${steps.hello.outputs.value}"}
    edit:
      - {name: text, type: text, label: Greeting, value: "${steps.hello.outputs.value}"}
  - key: repeat
    type: set
    foreach: [1, 2, 3]
    when: ${inputs.n} >= 2
    with: {value: "${steps.ok.outputs.text} #${item}"}
  - key: never
    type: set
    when: ${steps.ok.outputs.decided_by} == 'nobody'
    with: {value: x}
"""


@pytest.fixture
def flows(zhome, monkeypatch):
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.workflow.tasks"]')
    reset_settings()
    return zhome


def _problems(text: str) -> dict[str, str]:
    with pytest.raises(WorkflowError) as ei:
        parse_workflow(text)
    assert ei.value.status == 422
    return {p["path"]: p["message"] for p in ei.value.problems}


def test_validation_lists_every_problem_with_its_path(flows):
    probs = _problems("""
name: broken
inputs: {asset_id: {type: int}}
triggers: [manual, {schedule: "25:00 daily"}, {telepathy: {}}]
steps:
  - {key: a, type: set, after: c, with: {value: "${steps.c.outputs.value}"}}
  - {key: b, type: studio.telepathy}
  - {key: c, type: set, after: a, with: {value: 1}}
  - {key: d, type: publish, with: {asset_id: "${inputs.nope}"}}
  - {key: e, type: set, with: {value: "${steps.a.outputs.colour}", extra: 1}}
  - {key: f, type: set, with: {value: "${item}"}, timeout: soon}
""")
    assert "cycle: a -> c -> a" in probs["steps.a.after"] or "cycle: c -> a -> c" in probs["steps.c.after"]
    assert "unknown step type 'studio.telepathy'" in probs["steps.b.type"]
    assert "missing input 'channel'" in probs["steps.d.with.channel"]
    assert "no input 'nope'" in probs["steps.d.with"]
    assert "has no output 'colour'" in probs["steps.e.with"]
    assert "set has no input 'extra'" in probs["steps.e.with.extra"]
    assert "only inside a step with foreach" in probs["steps.f.with"]
    assert "not a duration" in probs["steps.f.timeout"]
    assert "HH:MM" in probs["triggers.1"]
    assert "unknown trigger 'telepathy'" in probs["triggers.2.type"]
    # a broken file is a clear error, never a crash; TOML works as well as YAML
    assert "cannot read the YAML" in _problems("name: [unclosed")[""]
    d = parse_workflow('name = "t"\n[[steps]]\nkey = "one"\ntype = "set"\nwith = {value = 1}\n')
    assert d["format"] == "toml" and d["steps"][0]["deps"] == []


def test_step_types_declare_inputs_and_outputs(flows):
    types = {t["name"]: t for t in step_types()}
    assert {"approval", "studio.clips", "studio.export_clip", "publish", "review.decide", "notify", "search",
            "proofread", "moderate", "studio.summary", "studio.headlines", "ingest"} <= set(types)
    first = types["studio.clips"]["inputs"][0]
    assert (first["name"], first["type"], first["required"]) == ("asset_id", "int", True)
    from zhimei.workflow import StepType, register_step

    with pytest.raises(ValueError, match="already registered"):
        register_step(StepType(name="set", title="again", run=lambda c: {}))


def test_a_run_waits_for_approval_and_resumes_with_the_edits(flows):
    save_workflow(APPROVE_FLOW, actor=ME)
    with pytest.raises(WorkflowError, match="missing input 'who'"):
        start_run("greet", {}, actor=ME)
    with pytest.raises(WorkflowError, match="must be a int"):
        start_run("greet", {"who": "编辑部", "n": "many"}, actor=ME)
    run = start_run("greet", {"who": "编辑部", "n": "3"}, actor=ME)
    assert run["inputs"] == {"who": "编辑部", "n": 3}
    drain()
    r = get_run(run["id"])
    assert r["status"] == "waiting"
    steps = {s["key"]: s for s in r["steps"]}
    assert steps["hello"]["outputs"] == {"value": "你好, 编辑部"} and steps["hello"]["seconds"] is not None
    assert steps["ok"]["status"] == "waiting" and steps["ok"]["approval_id"]
    # nothing holds a job while the run waits
    with session_scope() as s:
        assert not s.scalars(select(Job).where(Job.status.in_(("queued", "running")))).all()
    inbox = approval_inbox()
    assert [a["id"] for a in inbox] == [steps["ok"]["approval_id"]]
    a = inbox[0]
    assert a["show"] == {"text": "你好, 编辑部"} and a["editable"][0]["value"] == "你好, 编辑部"
    with pytest.raises(WorkflowError, match="'colour' is not editable"):
        decide_approval(a["id"], "approve", actor="alice", edits={"colour": "red"})
    with pytest.raises(WorkflowError, match="text must be text"):
        decide_approval(a["id"], "approve", actor="alice", edits={"text": 5})
    done = decide_approval(a["id"], "approve", actor="alice", edits={"text": "早上好"}, comment="shorter")
    assert done["status"] == "approved" and done["decided_by"] == "alice"
    with pytest.raises(WorkflowError, match="already approved by alice") as ei:
        decide_approval(a["id"], "reject", actor="bob")
    assert ei.value.status == 409
    drain()
    r = get_run(run["id"])
    assert r["status"] == "succeeded", r
    steps = {s["key"]: s for s in r["steps"]}
    assert steps["repeat"]["outputs"]["value"] == ["早上好 #1", "早上好 #2", "早上好 #3"]
    assert steps["never"]["status"] == "skipped"
    assert list_runs(workflow="greet")[0]["status"] == "succeeded"
    assert list_workflows()[0]["last_run"]["id"] == run["id"]


def test_rejection_fails_the_run_and_retry_asks_again(flows):
    save_workflow(APPROVE_FLOW, actor=ME)
    run = start_run("greet", {"who": "x"}, actor=ME)
    drain()
    aid = get_run(run["id"])["steps"][1]["approval_id"]
    decide_approval(aid, "reject", actor="bob", comment="wrong tone")
    r = get_run(run["id"])
    assert r["status"] == "failed" and "rejected by bob: wrong tone" in r["error"]
    assert [s["status"] for s in r["steps"]] == ["succeeded", "failed", "cancelled", "cancelled"]
    r = retry_step(run["id"], "ok", actor=ME)
    assert r["status"] == "waiting"
    again = r["steps"][1]
    assert again["attempt"] == 2 and again["approval_id"] != aid
    decide_approval(again["approval_id"], "approve", actor="bob")
    drain()
    assert get_run(run["id"])["status"] == "succeeded"


def test_two_people_approving_at_once_one_wins(flows):
    save_workflow(APPROVE_FLOW, actor=ME)
    run = start_run("greet", {"who": "x"}, actor=ME)
    drain()
    aid = get_run(run["id"])["steps"][1]["approval_id"]
    results: dict[str, object] = {}
    go = threading.Barrier(2)

    def decide(who: str) -> None:
        go.wait()
        try:
            results[who] = decide_approval(aid, "approve", actor=who)["decided_by"]
        except WorkflowError as exc:
            results[who] = exc

    threads = [threading.Thread(target=decide, args=(w,)) for w in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [v for v in results.values() if isinstance(v, WorkflowError)]
    winners = [v for v in results.values() if isinstance(v, str)]
    assert len(errors) == 1 and len(winners) == 1
    assert errors[0].status == 409 and f"already approved by {winners[0]}" in str(errors[0])
    drain()
    r = get_run(run["id"])
    assert r["status"] == "succeeded"
    with session_scope() as s:  # one job per step attempt: the advance happened once
        keys = [j.input_hash for j in s.scalars(select(Job).where(Job.stage == "workflow.step"))]
    assert sorted(keys) == [f"run:{run['id']}:step:hello:1", f"run:{run['id']}:step:repeat:1"]


def test_a_failed_step_is_retried_alone(flows, tmp_path):
    story = tmp_path / "story.md"
    save_workflow(f"""
name: ingest-then-set
steps:
  - key: take
    type: ingest
    with: {{path: "{story}", title: 早间稿}}
  - key: after
    type: set
    with: {{value: "${{steps.take.outputs.asset_id}}"}}
""", actor=ME)
    run = start_run("ingest-then-set", actor=ME)
    drain()
    r = get_run(run["id"])
    assert r["status"] == "failed" and r["steps"][0]["status"] == "failed"
    assert "story.md" in r["steps"][0]["error"] and r["steps"][1]["status"] == "cancelled"
    story.write_text("# 早间稿\n\n今天早上市区有雾。\n", encoding="utf-8")
    r = retry_step(run["id"], "take", actor=ME)
    assert r["steps"][0]["attempt"] == 2 and r["status"] in ("queued", "running")
    drain()
    r = get_run(run["id"])
    assert r["status"] == "succeeded", r
    assert r["steps"][1]["outputs"]["value"] == r["steps"][0]["outputs"]["asset_id"]
    with pytest.raises(WorkflowError, match="is succeeded; only a failed") as ei:
        retry_step(run["id"], "take", actor=ME)
    assert ei.value.status == 409
    with pytest.raises(WorkflowError, match="has no step 'nope'"):
        retry_step(run["id"], "nope", actor=ME)


def test_a_step_that_runs_too_long_times_out(flows):
    save_workflow("""
name: slow
steps:
  - {key: wait, type: delay, with: {seconds: 30}, timeout: 1}
  - {key: next, type: set, with: {value: 1}}
""", actor=ME)
    run = start_run("slow", actor=ME)
    drain()
    r = get_run(run["id"])
    assert r["status"] == "failed"
    assert r["steps"][0]["status"] == "failed" and "timed out after 1 s" in r["steps"][0]["error"]
    assert r["steps"][1]["status"] == "cancelled"


def test_a_stuck_step_is_surfaced_and_can_be_retried(flows):
    from zhimei.jobs import claim

    save_workflow("name: beat\nsteps:\n  - {key: one, type: set, with: {value: 1}}\n", actor=ME)
    run = start_run("beat", actor=ME)
    job = claim("a-worker-that-dies")  # the worker takes the job and is never heard of again
    assert job is not None
    assert get_run(run["id"])["steps"][0]["stuck"] is False
    later = utcnow() + timedelta(seconds=600)
    with session_scope() as s:
        s.execute(update(Job).where(Job.id == job.id).values(heartbeat_at=utcnow() - timedelta(seconds=600)))
    report = sweep(now=later)
    assert report["stuck"] and report["stuck"][0]["step"] == "one"
    step = get_run(run["id"])["steps"][0]
    assert step["stuck"] is True and "no heartbeat" in step["error"]
    r = retry_step(run["id"], "one", actor=ME)
    assert r["steps"][0]["attempt"] == 2 and r["steps"][0]["stuck"] is False
    with session_scope() as s:
        assert s.get(Job, job.id).status == "cancelled"
    drain()
    assert get_run(run["id"])["status"] == "succeeded"


def test_a_queued_step_no_worker_takes_is_stuck_not_silently_queued(flows):
    save_workflow("name: lonely\nsteps:\n  - {key: one, type: set, with: {value: 1}}\n", actor=ME)
    run = start_run("lonely", actor=ME)
    report = sweep(now=utcnow() + timedelta(seconds=600))
    assert "no worker took it" in report["stuck"][0]["error"]
    assert get_run(run["id"])["steps"][0]["stuck"] is True


def test_an_approval_that_never_comes_escalates_then_expires(flows):
    hits: list[dict] = []
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            import json

            hits.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        save_workflow(f"""
name: slow-desk
steps:
  - key: ok
    type: approval
    timeout: 2h
    escalate_after: 30m
    notify_url: http://127.0.0.1:{server.server_address[1]}/hook
  - {{key: go, type: set, with: {{value: 1}}}}
""", actor=ME)
        run = start_run("slow-desk", actor=ME)
        a = approval_inbox()[0]
        assert a["due_at"] and a["escalated"] is False
        assert sweep(now=utcnow() + timedelta(minutes=10))["escalated"] == []
        rep = sweep(now=utcnow() + timedelta(minutes=31))
        assert rep["escalated"] == [a["id"]] and rep["expired"] == []
        assert hits and hits[0]["event"] == "approval.escalated" and hits[0]["approval"]["id"] == a["id"]
        assert approval_inbox()[0]["escalated"] is True
        assert sweep(now=utcnow() + timedelta(minutes=40))["escalated"] == []  # escalated once
        rep = sweep(now=utcnow() + timedelta(hours=3))
        assert rep["expired"] == [a["id"]]
        r = get_run(run["id"])
        assert r["status"] == "failed" and "approval expired" in r["error"]
        expired = approval_inbox(status="expired")[0]
        assert expired["decided_by"] == "system" and expired["decision"] == "reject"
        with pytest.raises(WorkflowError, match="expired") as ei:
            decide_approval(a["id"], "approve", actor="late")
        assert ei.value.status == 409
    finally:
        server.shutdown()
        server.server_close()


def test_cancel_stops_a_waiting_run(flows):
    save_workflow(APPROVE_FLOW, actor=ME)
    run = start_run("greet", {"who": "x"}, actor=ME)
    drain()
    r = cancel_run(run["id"], actor=ME)
    assert r["status"] == "cancelled" and r["steps"][1]["status"] == "cancelled"
    assert approval_inbox() == []
    with pytest.raises(WorkflowError, match="already cancelled"):
        cancel_run(run["id"], actor=ME)


def test_triggers_fire_once_per_slot_and_per_new_item(flows):
    from zhimei.library.assets import ingest_bytes

    save_workflow("""
name: every-quarter
triggers: [{schedule: "every 15m"}]
steps: [{key: one, type: set, with: {value: 1}}]
""", actor=ME)
    save_workflow("""
name: on-article
triggers: [{new_asset: {kind: article}}]
inputs: {asset_id: {type: int, required: true}}
steps: [{key: one, type: set, with: {value: "${inputs.asset_id}"}}]
""", actor=ME)
    fire_triggers()  # first look: remembers where the library is, fires for nothing old
    later = utcnow() + timedelta(minutes=16)
    first = fire_triggers(now=later)
    again = fire_triggers(now=later)
    assert len(list_runs(workflow="every-quarter")) == 1 and first == again
    aid = ingest_bytes("# 快讯\n\n新的稿件。\n".encode(), "flash.md", source="wire").asset_id
    fire_triggers(now=later)
    fire_triggers(now=later)
    runs = list_runs(workflow="on-article")
    assert len(runs) == 1 and runs[0]["inputs"] == {"asset_id": aid} and runs[0]["trigger"] == "new_asset"
    drain()
    assert get_run(runs[0]["id"])["steps"][0]["outputs"] == {"value": aid}
    # the periodic task that checks triggers, stuck steps and approvals runs on the job system
    from zhimei.jobs.tasks import periodic_tasks, run_periodic

    assert periodic_tasks()["workflow.tick"] == 30
    tick = run_periodic()
    assert len(tick) == 1 and drain() == 1
    with session_scope() as s:
        assert s.get(Job, tick[0]).status == "done"


def test_the_shipped_templates_are_valid_and_install(flows):
    names = {t["name"] for t in list_templates()}
    assert names == {"morning-brief", "video-clips", "breaking-news", "daily-sentiment"}
    w = install_template("video-clips", actor=ME)
    assert w["version"] == 1 and {t["type"] for t in w["triggers"]} == {"manual", "new_asset"}
    assert install_template("video-clips", actor=ME)["version"] == 1  # the same text again changes nothing
    with pytest.raises(WorkflowError, match="no template named 'nope'"):
        install_template("nope", actor=ME)


def test_a_plugin_step_type_counts_tokens_per_step_and_run(flows):
    from zhimei.workflow import Param, StepCall, step_type
    from zhimei.workflow.steps import unregister_step

    @step_type("test.words", "Count words", inputs=(Param("text", "str", True),), outputs=(Param("words", "int"),))
    def words(call: StepCall) -> dict:
        n = len(call.inputs["text"].split())
        call.add_tokens(n)  # what a model call reports (studio results carry tokens in/out per call)
        return {"words": n}

    try:
        save_workflow('name = "count"\n[inputs.texts]\ntype = "list"\ndefault = ["a b", "c d e"]\n'
                      '[[steps]]\nkey = "count"\ntype = "test.words"\nforeach = "${inputs.texts}"\n'
                      'with = {text = "${item}"}\n', actor=ME)
        run = start_run("count", {"texts": '["one two three", "four"]'}, actor=ME)
        drain()
        r = get_run(run["id"])
        assert r["status"] == "succeeded"
        step = r["steps"][0]
        assert step["outputs"]["words"] == [3, 1] and step["tokens"] == 4 and r["tokens"] == 4
        assert list_runs(workflow="count")[0]["tokens"] == 4
    finally:
        unregister_step("test.words")


def test_the_daily_sentiment_template_runs_and_sends_its_report(flows, monkeypatch):
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        install_template("daily-sentiment", actor=ME)
        url = f"http://127.0.0.1:{server.server_address[1]}/report"
        monkeypatch.setenv("ZHIMEI_FETCH_PRIVATE_URLS", "0")
        reset_settings()
        run = start_run("daily-sentiment", {"term": "台风", "webhook": url}, actor=ME)
        drain()  # an internal receiver is refused unless the fetch_private_urls setting allows it
        r = get_run(run["id"])
        assert r["status"] == "failed" and "non-public address" in r["steps"][2]["error"] and got == []
        monkeypatch.setenv("ZHIMEI_FETCH_PRIVATE_URLS", "1")
        reset_settings()
        run = start_run("daily-sentiment", {"term": "台风", "webhook": url}, actor=ME)
        drain()
        r = get_run(run["id"])
        assert r["status"] == "succeeded", r
        report = {s["key"]: s for s in r["steps"]}["report"]["outputs"]
        assert report["sent"] is True and report["status_code"] == 200
        assert len(got) == 1 and got[0]["run_id"] == run["id"] and "台风" in got[0]["message"]
        assert got[0]["data"]["stories"] == [] and got[0]["data"]["trend"]["items"] == 0
    finally:
        server.shutdown()
        server.server_close()
    # a webhook that is down fails the step with its reason, and the step can be retried alone
    run = start_run("daily-sentiment", {"webhook": url}, actor=ME)
    drain()
    r = get_run(run["id"])
    assert r["status"] == "failed" and "did not answer" in r["steps"][2]["error"]
    assert [s["status"] for s in r["steps"]] == ["succeeded", "succeeded", "failed"]
