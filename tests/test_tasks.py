"""Background tasks: asset-less jobs with payloads, idempotent keys, retries, periodic scheduling."""

from __future__ import annotations

from datetime import timedelta

import pytest
import tasks_for_tests as tt
from sqlalchemy import select

from zhimei.jobs import drain
from zhimei.jobs.tasks import enqueue_task, periodic_tasks, run_periodic
from zhimei.settings import reset_settings
from zhimei.store import session_scope
from zhimei.store.models import Job, utcnow


@pytest.fixture
def tasks_home(zhome, monkeypatch):
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["tasks_for_tests"]')
    reset_settings()
    tt.RUNS.clear()
    return zhome


def test_a_task_runs_with_its_payload_and_records_its_result(tasks_home):
    job_id = enqueue_task("test.echo", {"text": "早安"})
    assert drain() == 1
    assert tt.RUNS == [{"text": "早安"}]
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert (job.status, job.asset_id, job.result) == ("done", None, {"echo": "早安"})


def test_the_same_key_reuses_the_queued_job(tasks_home):
    first = enqueue_task("test.echo", {"text": "a"}, key="delivery:1")
    again = enqueue_task("test.echo", {"text": "a"}, key="delivery:1")
    other = enqueue_task("test.echo", {"text": "b"}, key="delivery:2")
    assert first == again != other
    drain()
    assert sorted(r["text"] for r in tt.RUNS) == ["a", "b"]


def test_a_failing_task_is_retried_then_succeeds(tasks_home):
    job_id = enqueue_task("test.echo", {"text": "x", "fail_times": 2})
    drain()
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert (job.status, job.attempts) == ("done", 3)


def test_pipeline_stages_are_not_tasks_and_unknown_names_are_refused(tasks_home, monkeypatch):
    with pytest.raises(KeyError, match="no stage named 'nope'"):
        enqueue_task("nope")
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["stages_for_tests"]')
    reset_settings()
    with pytest.raises(ValueError, match="not a background task"):
        enqueue_task("jt_fetch")


def test_periodic_tasks_are_queued_once_per_interval(tasks_home):
    assert periodic_tasks() == {"test.tick": 3600.0}
    first = run_periodic()
    assert len(first) == 1
    assert run_periodic() == []  # still queued
    drain()
    assert run_periodic() == []  # ran just now
    later = run_periodic(now=utcnow() + timedelta(hours=2))
    assert len(later) == 1
    with session_scope() as session:
        assert len(session.scalars(select(Job).where(Job.stage == "test.tick")).all()) == 2
