"""The shipped "long video → clips → review → publish" template end to end on the sample video: real transcript,
clip suggestions, an editor's pick answered through the API, MP4 rendering, AIGC labels, a review case passed by
the reviewer's approval, publication. The embedded job runner is stopped while the run waits for each approval
and a new one started: the run resumes from the approval, never from the start."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

import zhimei.jobs as jobs
from zhimei.jobs import Worker
from zhimei.library.assets import ingest_file
from zhimei.settings import reset_settings
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset, Job
from zhimei.workflow import get_run

pytestmark = pytest.mark.slow


def _wait(run_id: int, status: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = get_run(run_id)
        if r["status"] == status:
            return r
        if r["status"] in ("failed", "cancelled") or time.monotonic() > deadline:
            pytest.fail(f"run {run_id} is {r['status']} (waited for {status}): "
                        f"{[(s['key'], s['status'], s['error']) for s in r['steps']]}")
        time.sleep(0.2)


def _step_workers(run_id: int, key: str) -> list[str]:
    """The workers that ran the jobs of a step (one per attempt)."""
    with read_scope() as s:
        return list(s.scalars(select(Job.worker).where(Job.stage == "workflow.step",
                                                       Job.input_hash.like(f"run:{run_id}:step:{key}:%"))))


def test_video_clips_template_end_to_end_with_worker_restarts(zhome, sample_video, client, tokens, monkeypatch):
    from zhimei.distribute.publish import create_channel, list_publications

    # the source video is understood first (transcript and shots are what clipping reads)
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.media_stages", "zhimei.library.text_stages", '
                       '"zhimei.library.understand_stages"]')
    reset_settings()
    source = ingest_file(sample_video, source="desk", title="Newsroom sample").asset_id
    jobs.drain()
    # the workflow runs with the media stages only for the clips it makes (light, like the other studio tests)
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.media_stages", "zhimei.workflow.tasks"]')
    reset_settings()
    with session_scope() as s:
        create_channel(s, "social", "jsonfeed", title="Social")
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}

    assert client.post("/api/flows/templates/video-clips/install", headers=editor).status_code == 201
    r = client.post("/api/flows/video-clips/runs", headers=editor,
                    json={"inputs": {"asset_id": str(source), "min_seconds": "3", "max_seconds": "8"}})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]

    first = Worker(name="runner-1")
    t1 = first.start_thread()
    run = _wait(run_id, "waiting")
    first.stop()
    t1.join(timeout=60)
    assert not t1.is_alive()

    steps = {s["key"]: s for s in run["steps"]}
    clips = steps["clips"]["outputs"]["clips"]
    assert clips and all(0 <= c["start"] < c["end"] <= 13.0 and c["title"] for c in clips)
    assert steps["pick"]["status"] == "waiting" and steps["render"]["status"] == "pending"
    clips_done_at = steps["clips"]["finished_at"]

    inbox = client.get("/api/flows/approvals", headers=viewer).json()
    pick = next(a for a in inbox if a["run_id"] == run_id and a["step_key"] == "pick")
    assert pick["show"]["clips"] == clips and pick["editable"][0]["name"] == "clips"
    chosen = [{**clips[0], "title": "Bridge opens to traffic"}]
    r = client.post(f"/api/flows/approvals/{pick['id']}", headers=editor,
                    json={"decision": "approve", "edits": {"clips": chosen}, "comment": "one clip is enough"})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text

    second = Worker(name="runner-2")  # a new job runner after the restart
    t2 = second.start_thread()
    run = _wait(run_id, "waiting")
    second.stop()
    t2.join(timeout=60)
    steps = {s["key"]: s for s in run["steps"]}
    assert steps["render"]["status"] == "succeeded" and steps["label"]["status"] == "succeeded"
    rendered = steps["render"]["outputs"]["asset_id"]
    labelled = steps["label"]["outputs"]["asset_id"]
    assert len(rendered) == len(labelled) == 1 and steps["cases"]["outputs"]["case_id"]

    review = next(a for a in client.get("/api/flows/approvals", headers=viewer).json() if a["step_key"] == "review")
    assert review["show"]["clips"] == labelled
    r = client.post(f"/api/flows/approvals/{review['id']}", headers=editor,
                    json={"decision": "approve", "comment": "labels visible, facts checked"})
    assert r.status_code == 200, r.text

    third = Worker(name="runner-3")
    t3 = third.start_thread()
    try:
        run = _wait(run_id, "succeeded")
    finally:
        third.stop()
        t3.join(timeout=60)

    steps = {s["key"]: s for s in run["steps"]}
    # resumed from the approvals: the steps before them ran once, on the first runner
    assert _step_workers(run_id, "clips") == ["runner-1"] and steps["clips"]["attempt"] == 1
    assert steps["clips"]["finished_at"] == clips_done_at
    assert _step_workers(run_id, "render") == ["runner-2"]
    assert _step_workers(run_id, "publish") == ["runner-3"]
    assert steps["passed"]["outputs"]["passed"] == [True]
    assert all(s["seconds"] is not None and s["error"] is None for s in run["steps"])

    with read_scope() as s:
        clip = s.get(Asset, rendered[0])
        lab = s.get(Asset, labelled[0])
        assert clip.parent_id == source and clip.title == "Bridge opens to traffic" and clip.meta["ai_generated"]
        assert lab.parent_id == clip.id
    pubs = list_publications(channel="social")["items"]
    assert [p["asset_id"] for p in pubs] == labelled and pubs[0]["status"] == "live"
    assert steps["publish"]["outputs"]["publication_id"] == [pubs[0]["id"]]
