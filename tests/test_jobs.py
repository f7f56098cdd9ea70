"""The embedded job queue: dependency order, retries, permanent errors, leases, fencing, cancel, orphans."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import stages_for_tests as st
from sqlalchemy import func, select, update

from zhimei.jobs import (
    Cancelled,
    LeaseLost,
    Stage,
    StageContext,
    StageRegistry,
    Worker,
    cancel,
    claim,
    drain,
    enqueue_pipeline,
    load_stage_modules,
    registry,
    retry,
    run_job,
    stage,
)
from zhimei.jobs.queue import heartbeat
from zhimei.library.assets import ingest_bytes
from zhimei.settings import get_settings, reset_settings
from zhimei.store import get_blob_store, referenced_blobs, session_scope
from zhimei.store.models import Asset, Job, Rendition, utcnow


def _configure(monkeypatch, **env: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(f"ZHIMEI_{key.upper()}", value)
    reset_settings()


@pytest.fixture
def jt(zhome, monkeypatch):
    """A fresh home whose pipeline is the test stages of tests/stages_for_tests.py."""
    _configure(monkeypatch, stage_modules='["stages_for_tests"]', job_lease_seconds="5")
    st.RUN_LOG.clear()  # asset ids restart with every fresh database
    st.FINISH_LOG.clear()
    return zhome


def _new_asset(meta: dict | None = None) -> int:
    with session_scope() as session:
        asset = Asset(kind=st.KIND, title="test asset", meta=meta or {})
        session.add(asset)
        session.flush()
        enqueue_pipeline(session, asset)
        return asset.id


def _jobs(asset_id: int) -> dict[str, Job]:
    with session_scope() as session:
        return {j.stage: j for j in session.scalars(select(Job).where(Job.asset_id == asset_id))}


def _asset(asset_id: int) -> Asset:
    with session_scope() as session:
        return session.get(Asset, asset_id)


def _runs(asset_id: int, log=None) -> list[tuple[str, int]]:
    return [(name, attempt) for name, aid, attempt in (log if log is not None else st.RUN_LOG) if aid == asset_id]


def _set_meta(asset_id: int, meta: dict) -> None:
    with session_scope() as session:
        session.get(Asset, asset_id).meta = meta


def _make_due(job_id: int) -> None:
    """Stand in for the passing of the backoff delay."""
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == job_id).values(not_before=utcnow() - timedelta(seconds=1)))


def _wait(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_graph_runs_in_dependency_order(jt):
    aid = _new_asset()
    jobs = _jobs(aid)
    assert {s: j.status for s, j in jobs.items()} == {
        "jt_fetch": "queued", "jt_parse": "blocked", "jt_side": "blocked", "jt_index": "blocked"}
    assert jobs["jt_index"].depends_on == ["jt_parse"]
    assert _asset(aid).status == "processing"

    assert drain() == 4
    order = [name for name, _ in _runs(aid)]
    assert order[0] == "jt_fetch"
    assert order.index("jt_parse") < order.index("jt_index")
    jobs = _jobs(aid)
    assert all(j.status == "done" and j.attempts == 1 for j in jobs.values())
    for j in jobs.values():
        for dep in j.depends_on:
            assert jobs[dep].finished_at <= j.started_at
    assert _asset(aid).status == "ready"
    with session_scope() as session:
        kinds = sorted(session.scalars(select(Rendition.kind).where(Rendition.asset_id == aid)))
    assert kinds == ["t:jt_fetch", "t:jt_index", "t:jt_parse", "t:jt_side"]


def test_retry_with_backoff_records_last_error(jt, monkeypatch):
    _configure(monkeypatch, job_backoff_seconds="10")
    aid = _new_asset({"fail": {"jt_parse": 2}})
    drain()
    parse = _jobs(aid)["jt_parse"]
    assert parse.status == "queued" and parse.attempts == 1
    assert "transient failure on attempt 1" in parse.last_error
    wait = (parse.not_before - utcnow()).total_seconds()
    assert 7 < wait <= 10.5, wait  # backoff base
    assert _jobs(aid)["jt_index"].status == "blocked"
    assert _jobs(aid)["jt_side"].status == "done"

    assert drain() == 0  # not due yet
    _make_due(parse.id)
    drain()
    parse = _jobs(aid)["jt_parse"]
    assert parse.status == "queued" and parse.attempts == 2
    assert "attempt 2" in parse.last_error
    wait = (parse.not_before - utcnow()).total_seconds()
    assert 17 < wait <= 20.5, wait  # doubled

    _make_due(parse.id)
    drain()
    jobs = _jobs(aid)
    assert jobs["jt_parse"].status == "done" and jobs["jt_parse"].attempts == 3
    assert jobs["jt_parse"].last_error is None
    assert jobs["jt_index"].status == "done"
    assert _asset(aid).status == "ready"
    with session_scope() as session:
        n = session.scalar(select(func.count()).select_from(Rendition).where(
            Rendition.asset_id == aid, Rendition.kind == "t:jt_parse"))
    assert n == 1


def test_exhausted_attempts_fail_the_job_and_cancel_dependents(jt, monkeypatch):
    _configure(monkeypatch, job_max_attempts="2")
    aid = _new_asset({"fail": {"jt_fetch": 5}})
    drain()
    jobs = _jobs(aid)
    assert jobs["jt_fetch"].status == "failed" and jobs["jt_fetch"].attempts == 2
    assert "attempt 2" in jobs["jt_fetch"].last_error
    for name in ("jt_parse", "jt_side", "jt_index"):
        assert jobs[name].status == "cancelled"
        assert "jt_fetch" in jobs[name].last_error
    asset = _asset(aid)
    assert asset.status == "failed" and asset.failure_reason.startswith("jt_fetch:")
    assert _runs(aid) == [("jt_fetch", 1), ("jt_fetch", 2)]


def test_permanent_error_fails_at_once(jt):
    aid = _new_asset({"permanent": "jt_parse"})
    drain()
    jobs = _jobs(aid)
    assert jobs["jt_parse"].status == "failed" and jobs["jt_parse"].attempts == 1
    assert "cannot be read" in jobs["jt_parse"].last_error
    assert jobs["jt_index"].status == "cancelled"
    assert jobs["jt_side"].status == "done"  # another branch is not affected
    assert [r for r in _runs(aid) if r[0] == "jt_parse"] == [("jt_parse", 1)]
    asset = _asset(aid)
    assert asset.status == "failed" and "cannot be read" in asset.failure_reason


def test_retry_of_failed_job_reblocks_dependents(jt):
    aid = _new_asset({"permanent": "jt_fetch"})
    drain()
    jobs = _jobs(aid)
    assert jobs["jt_fetch"].status == "failed"
    assert {jobs[n].status for n in ("jt_parse", "jt_side", "jt_index")} == {"cancelled"}

    _set_meta(aid, {})  # the input was fixed
    assert retry(jobs["jt_fetch"].id)
    jobs = _jobs(aid)
    assert jobs["jt_fetch"].status == "queued" and jobs["jt_fetch"].attempts == 0
    assert {jobs[n].status for n in ("jt_parse", "jt_side", "jt_index")} == {"blocked"}
    assert _asset(aid).status == "processing" and _asset(aid).failure_reason is None
    assert not retry(jobs["jt_parse"].id)  # only failed or cancelled jobs

    assert drain() == 4
    jobs = _jobs(aid)
    assert all(j.status == "done" for j in jobs.values())
    assert _asset(aid).status == "ready"


def test_lease_expiry_lets_another_worker_reclaim_and_fences_the_first(jt, monkeypatch):
    _configure(monkeypatch, job_lease_seconds="1")
    aid = _new_asset()
    first = claim("worker-a")
    assert first.stage == "jt_fetch" and first.attempts == 1 and first.worker == "worker-a"
    assert claim("worker-b") is None  # leased
    time.sleep(1.2)  # worker-a went silent past its lease
    second = claim("worker-b")
    assert second.id == first.id and second.attempts == 2 and second.worker == "worker-b"

    # worker-a comes back: it can neither heartbeat, nor stage blobs, nor complete
    with pytest.raises(LeaseLost):
        heartbeat(first.id, first.attempts, 50.0)
    ctx = StageContext(job_id=first.id, attempt=first.attempts, asset_id=aid, stage=first.stage,
                       settings=get_settings(), blobs=get_blob_store())
    out = ctx.scratch / "late.txt"
    out.write_text("late output\n")
    with pytest.raises(Cancelled):
        ctx.stage_blobs([out])
    with pytest.raises(LeaseLost), ctx.outputs() as session:
        session.add(Rendition(asset_id=aid, kind="t:late", blob_sha="0" * 64))
    with session_scope() as session:
        assert session.scalar(select(Rendition).where(Rendition.kind == "t:late")) is None
    assert run_job(first) == "cancelled"  # the whole stage, run by the stale owner, completes nothing
    job = _jobs(aid)["jt_fetch"]
    assert job.status == "running" and job.attempts == 2 and job.worker == "worker-b"

    _configure(monkeypatch, job_lease_seconds="5")
    assert run_job(second) == "done"
    assert _jobs(aid)["jt_fetch"].status == "done"
    assert drain() == 3
    assert _asset(aid).status == "ready"


def test_heartbeat_extends_the_lease(jt, monkeypatch):
    _configure(monkeypatch, job_lease_seconds="2")
    aid = _new_asset({"slow": {"jt_fetch": 4.0}})
    worker = Worker("worker-a")
    t = threading.Thread(target=worker.run_once)
    t.start()
    leases, progress = [], []
    try:
        _wait(lambda: _jobs(aid)["jt_fetch"].status == "running", what="worker-a to claim the job")
        while (job := _jobs(aid)["jt_fetch"]).status == "running":
            leases.append(job.lease_until)
            progress.append(job.progress)
            assert claim("worker-b", ["jt_fetch"]) is None, "a job with a live heartbeat was taken over"
            time.sleep(0.1)
    finally:
        t.join(timeout=30)
    job = _jobs(aid)["jt_fetch"]
    assert job.status == "done" and job.attempts == 1 and job.worker == "worker-a"
    assert len(set(leases)) >= 3 and max(leases) - min(leases) > timedelta(seconds=1)
    assert max(progress) > 0


def test_cancel_while_running_stops_at_next_progress(jt, monkeypatch):
    _configure(monkeypatch, job_lease_seconds="1")
    aid = _new_asset({"slow": {"jt_fetch": 60.0}})
    t = threading.Thread(target=Worker("worker-a").run_once)
    t.start()
    try:
        job = _wait(lambda: (j := _jobs(aid)["jt_fetch"]).status == "running" and j.progress > 0 and j,
                    what="the job to report progress")
        assert cancel(job.id)
    finally:
        t.join(timeout=15)
    assert not t.is_alive(), "the stage kept running after cancel"
    jobs = _jobs(aid)
    assert jobs["jt_fetch"].status == "cancelled"
    assert {jobs[n].status for n in ("jt_parse", "jt_side", "jt_index")} == {"cancelled"}
    assert ("jt_fetch", 1) in _runs(aid)
    assert _runs(aid, st.FINISH_LOG) == []
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Rendition).where(Rendition.asset_id == aid)) == 0
    assert not cancel(job.id)  # already finished
    assert drain() == 0


def test_duplicate_stage_names_are_refused(jt):
    load_stage_modules(get_settings().stage_modules)
    original = registry.get("jt_fetch")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Stage(name="jt_fetch", run=lambda ctx: None, kinds=frozenset({st.KIND})))
    with pytest.raises(ValueError, match="already registered"):
        stage("jt_parse", kinds=(st.KIND,))(lambda ctx: None)
    assert registry.get("jt_fetch") is original


def test_dependency_cycles_and_unknown_dependencies_are_refused():
    reg = StageRegistry()
    for name, dep in (("a", "c"), ("b", "a"), ("c", "b")):
        reg.register(Stage(name=name, run=lambda ctx: None, kinds=frozenset({"video"}), after=(dep,)))
    with pytest.raises(ValueError, match="cycle"):
        reg.graph_for("video")
    reg = StageRegistry()
    reg.register(Stage(name="x", run=lambda ctx: None, kinds=frozenset({"video"}), after=("nope",)))
    with pytest.raises(ValueError, match="unknown stage 'nope'"):
        reg.graph_for("video")
    assert reg.graph_for("article") == []


def test_exact_duplicate_ingest_returns_existing_asset(jt):
    data = "市议会深夜通过2025年预算。Council approves the 2025 budget after a late-night session.\n".encode()
    first = ingest_bytes(data, "budget.txt", source="desk")
    assert first.created and first.kind == "article"
    again = ingest_bytes(data, "budget-copy.txt", source="wire")
    assert not again.created and again.asset_id == first.asset_id and again.duplicate_of == first.asset_id
    with session_scope() as session:
        sha = session.get(Asset, first.asset_id).sha256
        assert session.scalar(select(func.count()).select_from(Asset).where(Asset.sha256 == sha)) == 1
        assert session.scalar(select(func.count()).select_from(Rendition).where(Rendition.blob_sha == sha)) == 1
    assert get_blob_store().exists(sha)


def test_staged_orphans_are_discarded_on_reclaim(jt, monkeypatch):
    blobs = get_blob_store()
    other = _new_asset()
    drain()
    with session_scope() as session:
        kept_sha = session.scalar(select(Rendition.blob_sha).where(Rendition.asset_id == other,
                                                                   Rendition.kind == "t:jt_fetch"))
    _configure(monkeypatch, job_lease_seconds="1")
    aid = _new_asset()
    job = claim("worker-a")
    assert job.asset_id == aid
    ctx = StageContext(job_id=job.id, attempt=job.attempts, asset_id=aid, stage=job.stage,
                       settings=get_settings(), blobs=blobs)
    partial = ctx.scratch / "partial.txt"
    partial.write_text("half-written output of an attempt that crashed\n")
    shared = ctx.scratch / "shared.txt"
    shared.write_text(f"jt_fetch output for asset {other}\n")  # same bytes as a blob another asset uses
    orphan_sha, shared_sha = ctx.stage_blobs([partial, shared])
    assert shared_sha == kept_sha
    assert blobs.exists(orphan_sha)
    with session_scope() as session:
        assert orphan_sha in referenced_blobs(session)  # protected from gc while the job runs
    # worker-a dies here, before its outputs transaction
    time.sleep(1.2)
    _configure(monkeypatch, job_lease_seconds="5")
    assert drain() == 4
    job = _jobs(aid)["jt_fetch"]
    assert job.status == "done" and job.attempts == 2 and job.staged_blobs == []
    assert not blobs.exists(orphan_sha)
    assert blobs.exists(kept_sha)
    with session_scope() as session:
        refs = referenced_blobs(session)
    assert set(blobs.keys()) <= refs



def test_the_pipeline_is_what_the_settings_name_whatever_was_imported_before():
    full = load_stage_modules(["zhimei.library.pipeline", "zhimei.review.stages"])
    assert {"extract_text", "asr", "index", "provenance", "review"} <= set(full.names())
    text_only = load_stage_modules(["zhimei.library.text_stages"])
    assert text_only.names() == ["extract_text"]
    # `review` waits for the stages it reads only when they are loaded
    with_review = load_stage_modules(["zhimei.library.text_stages", "zhimei.review.queue.stage"])
    review = with_review.get("review")
    assert with_review.deps_for(review, "article") == ["extract_text"]
    assert set(full.deps_for(full.get("review"), "video")) == {"asr", "ocr", "image_safety", "index"}
    assert [st.name for st in with_review.graph_for("article")] == ["extract_text", "review"]
