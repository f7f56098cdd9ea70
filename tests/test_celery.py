"""Scale mode: jobs run by a real Celery worker process over Redis, against the test's own database."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import REDIS_URL, ROOT, SAMPLES, need_service
from sqlalchemy import select

from zhimei.settings import get_settings, reset_settings
from zhimei.store import session_scope
from zhimei.store.models import Asset, Job

pytestmark = pytest.mark.redis

TESTS = Path(__file__).resolve().parent


def _redis_ok() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:
        return False


def _flush() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()


def _point_dispatch_at_broker() -> None:
    """The Celery app reads the broker from settings when first imported: make this process's match."""
    name = "zhimei.jobs.celery_app"
    if name in sys.modules:
        mod = sys.modules[name]
        if mod.app.conf.broker_url != get_settings().celery_broker_url:
            importlib.reload(mod)
    else:
        importlib.import_module(name)


class CeleryWorker:
    """A `celery worker` subprocess on its own queue, always terminated."""

    def __init__(self, log: Path):
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        s = get_settings()
        env = dict(os.environ)  # the test's ZHIMEI_* settings: same home, database, broker and queue
        env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        exe = Path(sys.executable).with_name("celery")
        cmd = [str(exe), "-A", "zhimei.jobs.celery_app", "worker", "-Q", s.celery_queue, "--pool", "solo",
               "--concurrency", "1", "-n", f"zt-{uuid.uuid4().hex[:8]}@%h", "--loglevel", "INFO",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                         start_new_session=True, stdin=subprocess.DEVNULL)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def celery_home(zhome, monkeypatch, tmp_path):
    """zhome in Celery mode on a fresh queue of Redis DB 15, with a real worker process started by `start`."""
    need_service(_redis_ok(), "Redis at 127.0.0.1:6379")
    _flush()
    monkeypatch.setenv("ZHIMEI_JOB_BACKEND", "celery")
    monkeypatch.setenv("ZHIMEI_CELERY_BROKER_URL", REDIS_URL)
    monkeypatch.setenv("ZHIMEI_CELERY_QUEUE", f"zhimei-test-{uuid.uuid4().hex[:8]}")
    reset_settings()
    _point_dispatch_at_broker()
    worker = CeleryWorker(tmp_path / "celery-worker.log")
    try:
        yield worker
    finally:
        worker.stop()
        _flush()


def _wait_all_done(asset_ids: list[int], worker: CeleryWorker, timeout: float) -> dict[int, list[Job]]:
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as session:
            jobs = list(session.scalars(select(Job).where(Job.asset_id.in_(asset_ids)).order_by(Job.id)))
        if jobs and all(j.status in ("done", "failed", "cancelled") for j in jobs):
            break
        if worker.proc.poll() is not None:
            pytest.fail(f"the celery worker exited ({worker.proc.returncode}):\n{worker.tail()}")
        if time.monotonic() > deadline:
            state = [(j.stage, j.status, j.attempts, j.last_error) for j in jobs]
            pytest.fail(f"jobs not finished after {timeout:.0f}s: {state}\nworker log:\n{worker.tail()}")
        time.sleep(0.25)
    out: dict[int, list[Job]] = {}
    for j in jobs:
        out.setdefault(j.asset_id, []).append(j)
    return out


def _assert_ran_on_worker(jobs: list[Job], worker: CeleryWorker) -> None:
    for j in jobs:
        assert j.status == "done", (j.stage, j.status, j.last_error, worker.tail())
        assert j.worker and j.worker.startswith("celery:"), j.worker
        assert f":{worker.proc.pid}:" in j.worker, (j.worker, worker.proc.pid)


def test_celery_worker_runs_the_graph_and_retries(celery_home, monkeypatch):
    from zhimei.jobs import dispatch_ready, enqueue_pipeline

    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["stages_for_tests"]')
    monkeypatch.setenv("ZHIMEI_JOB_BACKOFF_SECONDS", "1")
    reset_settings()
    celery_home.start()
    with session_scope() as session:
        asset = Asset(kind="jobtest", title="celery", meta={"fail": {"jt_parse": 1}})
        session.add(asset)
        session.flush()
        enqueue_pipeline(session, asset)
        aid = asset.id
    assert dispatch_ready(asset_id=aid)
    jobs = _wait_all_done([aid], celery_home, timeout=120)[aid]
    _assert_ran_on_worker(jobs, celery_home)
    by_stage = {j.stage: j for j in jobs}
    assert by_stage["jt_parse"].attempts == 2 and by_stage["jt_fetch"].attempts == 1
    for j in jobs:
        for dep in j.depends_on:
            assert by_stage[dep].finished_at <= j.started_at
    with session_scope() as session:
        assert session.get(Asset, aid).status == "ready"


def test_celery_worker_processes_ingested_article(celery_home):
    from zhimei.library.assets import ingest_bytes
    from zhimei.library.catalog import asset_detail

    celery_home.start()
    html = (
        "<html><head><title>台风“海燕”逼近沿海</title></head><body><article><h1>台风“海燕”逼近沿海</h1>"
        "<p>气象台周四发布台风红色预警，沿海渔船全部回港避风。</p>"
        "<p>The weather bureau issued its highest typhoon alert on Thursday; fishing boats returned to port.</p>"
        "<p>学校停课一天，航班大面积取消。</p></article></body></html>"
    ).encode()
    result = ingest_bytes(html, "typhoon.html", source="wire")
    assert result.created and result.kind == "article"
    jobs = _wait_all_done([result.asset_id], celery_home, timeout=120)[result.asset_id]
    assert jobs, "an article gets at least one stage"
    _assert_ran_on_worker(jobs, celery_home)
    with session_scope() as session:
        detail = asset_detail(session, result.asset_id)
    assert detail["status"] == "ready", detail["failure_reason"]
    assert any("海燕" in seg["text"] or "台风" in seg["text"] for seg in detail["segments"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_celery_worker_processes_sample_video(celery_home):
    from zhimei.library.assets import ingest_file
    from zhimei.library.catalog import asset_detail

    sample = SAMPLES / "newsroom-sample.mp4"
    assert sample.exists(), "samples/newsroom-sample.mp4 is missing; run scripts/make_samples.py"
    celery_home.start()
    result = ingest_file(sample, source="desk")
    assert result.kind == "video"
    jobs = _wait_all_done([result.asset_id], celery_home, timeout=600)[result.asset_id]
    _assert_ran_on_worker(jobs, celery_home)
    with session_scope() as session:
        detail = asset_detail(session, result.asset_id)
    assert detail["status"] == "ready", detail["failure_reason"]
    kinds = {r["kind"] for r in detail["renditions"]}
    assert {"original", "proxy"} <= kinds
    assert detail["shots"]
