"""Durability: a worker SIGKILLed in the middle of `normalize` loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT, run_ffmpeg
from sqlalchemy import select

from zhimei.settings import reset_settings
from zhimei.store import get_blob_store, referenced_blobs, session_scope
from zhimei.store.models import Asset, Job, Rendition, Shot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _start_worker(log: Path) -> subprocess.Popen:
    """`zhimei worker` in its own process group (so a kill takes its ffmpeg children too)."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "zhimei.cli", "worker"], env=dict(os.environ), cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def _stop(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def _jobs(asset_id: int) -> dict[str, Job]:
    with session_scope() as session:
        return {j.stage: j for j in session.scalars(select(Job).where(Job.asset_id == asset_id))}


def test_sigkill_mid_normalize_then_a_new_worker_finishes_cleanly(zhome, monkeypatch, tmp_path):
    from zhimei.library.assets import ingest_file

    monkeypatch.setenv("ZHIMEI_JOB_LEASE_SECONDS", "3")
    reset_settings()
    clip = tmp_path / "long-report.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=30",
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=30",
               "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-b:a", "96k", "-shortest", str(clip))
    result = ingest_file(clip, source="durability-test")
    assert result.created and result.kind == "video"
    aid = result.asset_id
    assert "normalize" in _jobs(aid), "the video pipeline has a normalize stage"
    log = tmp_path / "workers.log"

    first = _start_worker(log)
    try:
        deadline = time.monotonic() + 180
        while True:
            norm = _jobs(aid)["normalize"]
            if norm.status == "running" and (norm.progress > 0 or (
                    norm.started_at and time.time() - norm.started_at.timestamp() > 4)):
                break
            assert norm.status in ("blocked", "queued", "running"), (norm.status, norm.last_error, log.read_text())
            assert first.poll() is None, f"worker exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"normalize never started:\n{log.read_text()}"
            time.sleep(0.1)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        for _ in range(50):  # the killed worker's ffmpeg goes with it
            if _group_gone(first.pid):
                break
            time.sleep(0.1)
        assert _group_gone(first.pid), "a child of the killed worker survived"
    finally:
        _stop(first)

    norm = _jobs(aid)["normalize"]
    assert norm.status == "running" and norm.attempts == 1  # held by a dead worker until its lease expires

    second = _start_worker(log)
    try:
        deadline = time.monotonic() + 600
        while True:
            jobs = _jobs(aid)
            if all(j.status in ("done", "failed", "cancelled") for j in jobs.values()):
                break
            assert second.poll() is None, f"worker exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"jobs unfinished: {[(j.stage, j.status) for j in jobs.values()]}"
            time.sleep(0.25)
    finally:
        _stop(second)

    jobs = _jobs(aid)
    problems = {j.stage: (j.status, j.last_error) for j in jobs.values() if j.status != "done"}
    assert not problems, f"{problems}\n{log.read_text()[-4000:]}"
    assert jobs["normalize"].attempts == 2
    assert jobs["normalize"].worker != norm.worker
    assert all(j.attempts == 1 for name, j in jobs.items() if name != "normalize")

    with session_scope() as session:
        asset = session.get(Asset, aid)
        assert asset.status == "ready", asset.failure_reason
        kinds = Counter(session.scalars(select(Rendition.kind).where(Rendition.asset_id == aid)))
        seqs = list(session.scalars(select(Shot.seq).where(Shot.asset_id == aid).order_by(Shot.seq)))
        refs = referenced_blobs(session)
    assert kinds["original"] == 1 and kinds["proxy"] == 1 and kinds["audio16k"] == 1, kinds
    assert all(n == 1 for n in kinds.values()), kinds
    assert seqs and seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # one set of shots, no repeats

    store = get_blob_store()
    keys = set(store.keys())
    assert keys <= refs, f"orphan blobs: {keys - refs}"
    assert store.temp_files() == []
    scratch = zhome / "scratch"
    assert not scratch.exists() or not any(scratch.iterdir()), list(scratch.iterdir())
