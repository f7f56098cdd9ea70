"""Workflow engine overhead: cost per step and runs per minute with trivial steps, on the embedded job runner and
on a real Celery worker over Redis, against the bare job system running the same number of no-op tasks.

    .venv/bin/python bench/flows.py [--runs 20] [--steps 10] [--modes embedded,celery] [--redis URL]

Each run is a workflow of --steps `set` steps in a chain (each step reads the previous one's output). Embedded:
the runs are started, then one job runner drains them in this process (no polling delay). Celery: one worker
process (solo pool) runs the jobs; the bench waits for every run to finish. Baseline, in the same run and mode:
runs × steps no-op background tasks through the same job table (enqueue, claim, complete). Overhead per step =
step time − no-op job time. Then --sequential runs one at a time (and as many no-op jobs one at a time): the
latency of a step when nothing else is queued. Figures are wall-clock on a shared machine: compare within one run.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

MODULES = '["zhimei.workflow.tasks", "_flows_tasks"]'


def _flow(steps: int) -> str:
    lines = ["name: bench-chain", "steps:", '  - {key: s0, type: set, with: {value: 0}}']
    lines += [f'  - {{key: s{i}, type: set, with: {{value: "${{steps.s{i - 1}.outputs.value}}"}}}}'
              for i in range(1, steps)]
    return "\n".join(lines) + "\n"


def _setup(home: Path, backend: str, redis: str, queue: str) -> None:
    os.environ.update(ZHIMEI_HOME=str(home), ZHIMEI_STAGE_MODULES=MODULES, ZHIMEI_JOB_BACKEND=backend,
                      ZHIMEI_CELERY_BROKER_URL=redis, ZHIMEI_CELERY_QUEUE=queue, ZHIMEI_JOB_BACKOFF_SECONDS="0")
    from zhimei.settings import reset_settings
    from zhimei.store import migrate
    from zhimei.store.db import reset_engine

    reset_settings()
    reset_engine()
    migrate()


def _all_done(ids: list[int], timeout: float, proc: subprocess.Popen | None = None) -> None:
    from sqlalchemy import func, select

    from zhimei.store.db import read_scope
    from zhimei.store.models_workflow import WorkflowRun

    deadline = time.monotonic() + timeout
    while True:
        with read_scope() as s:
            left = s.scalar(select(func.count()).select_from(WorkflowRun).where(
                WorkflowRun.id.in_(ids), WorkflowRun.status.not_in(("succeeded", "failed", "cancelled"))))
            failed = s.scalar(select(func.count()).select_from(WorkflowRun).where(
                WorkflowRun.id.in_(ids), WorkflowRun.status != "succeeded"))
        if not left:
            if failed:
                raise SystemExit(f"{failed} run(s) did not succeed")
            return
        if proc is not None and proc.poll() is not None:
            raise SystemExit("the celery worker exited")
        if time.monotonic() > deadline:
            raise SystemExit(f"{left} run(s) unfinished after {timeout:.0f}s")
        time.sleep(0.02)


def _jobs_done(ids: list[int], timeout: float) -> None:
    from sqlalchemy import func, select

    from zhimei.store.db import read_scope
    from zhimei.store.models import Job

    deadline = time.monotonic() + timeout
    while True:
        with read_scope() as s:
            left = s.scalar(select(func.count()).select_from(Job).where(Job.id.in_(ids), Job.status != "done"))
        if not left:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{left} no-op job(s) unfinished after {timeout:.0f}s")
        time.sleep(0.02)


def _measure(mode: str, runs: int, steps: int, redis: str, seq: int) -> dict:
    from zhimei.jobs import drain
    from zhimei.jobs.tasks import enqueue_task
    from zhimei.workflow import save_workflow, start_run

    queue = f"zhimei-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="zhimei-bench-flows-") as tmp:
        _setup(Path(tmp) / "home", mode, redis, queue)
        save_workflow(_flow(steps), actor="bench")
        proc = None
        if mode == "celery":
            import importlib

            import zhimei.jobs.celery_app as capp

            importlib.reload(capp)
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(BENCH), str(ROOT)]))
            log = open(Path(tmp) / "worker.log", "wb")  # noqa: SIM115 - closed below
            proc = subprocess.Popen([str(Path(sys.executable).with_name("celery")), "-A", "zhimei.jobs.celery_app",
                                     "worker", "-Q", queue, "--pool", "solo", "--concurrency", "1", "-n",
                                     f"bench-{queue}@%h", "--loglevel", "WARNING", "--without-gossip",
                                     "--without-mingle", "--without-heartbeat"], env=env, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=str(ROOT), start_new_session=True)
            warm = enqueue_task("bench.noop", {})
            _jobs_done([warm], 120)
        try:
            # baseline: the same number of no-op jobs through the same job table
            t0 = time.perf_counter()
            ids = [enqueue_task("bench.noop", {"i": i}) for i in range(runs * steps)]
            if mode == "embedded":
                drain()
            _jobs_done(ids, 600)
            base = time.perf_counter() - t0
            # the workflow runs
            t0 = time.perf_counter()
            run_ids = [start_run("bench-chain", actor="bench")["id"] for _ in range(runs)]
            if mode == "embedded":
                drain()
            _all_done(run_ids, 1200, proc)
            wall = time.perf_counter() - t0
            # one at a time: the latency of a step when nothing else is queued
            t0 = time.perf_counter()
            for i in range(seq):
                jid = enqueue_task("bench.noop", {"seq": i})
                if mode == "embedded":
                    drain()
                _jobs_done([jid], 120)
            seq_base = (time.perf_counter() - t0) / seq
            t0 = time.perf_counter()
            for _ in range(seq):
                rid = start_run("bench-chain", actor="bench")["id"]
                if mode == "embedded":
                    drain()
                _all_done([rid], 300, proc)
            seq_run = (time.perf_counter() - t0) / seq
        finally:
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                log.close()
    n = runs * steps
    step_ms, job_ms = 1000 * wall / n, 1000 * base / n
    return {"mode": mode, "runs": runs, "steps_per_run": steps, "wall_s": round(wall, 3),
            "runs_per_minute": round(60 * runs / wall, 1), "ms_per_step": round(step_ms, 2),
            "baseline_ms_per_noop_job": round(job_ms, 2), "overhead_ms_per_step": round(step_ms - job_ms, 2),
            "one_at_a_time": {"runs": seq, "seconds_per_run": round(seq_run, 3),
                              "ms_per_step": round(1000 * seq_run / steps, 2),
                              "baseline_ms_per_noop_job": round(1000 * seq_base, 2),
                              "overhead_ms_per_step": round(1000 * seq_run / steps - 1000 * seq_base, 2)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--modes", default="embedded,celery")
    ap.add_argument("--sequential", type=int, default=5, help="runs (and no-op jobs) timed one at a time")
    ap.add_argument("--redis", default=os.environ.get("ZHIMEI_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
    a = ap.parse_args()
    results = {}
    for mode in a.modes.split(","):
        r = _measure(mode.strip(), a.runs, a.steps, a.redis, a.sequential)
        results[r["mode"]] = r
        print(f"{r['mode']:>9}: {r['runs']} runs x {r['steps_per_run']} steps in {r['wall_s']:.2f}s -> "
              f"{r['runs_per_minute']} runs/min, {r['ms_per_step']} ms/step; baseline no-op job "
              f"{r['baseline_ms_per_noop_job']} ms -> overhead {r['overhead_ms_per_step']} ms/step", flush=True)
        one = r["one_at_a_time"]
        print(f"{'':>9}  one run at a time: {one['seconds_per_run']}s/run, {one['ms_per_step']} ms/step; no-op job "
              f"alone {one['baseline_ms_per_noop_job']} ms -> overhead {one['overhead_ms_per_step']} ms/step",
              flush=True)
    print(json.dumps({"bench": "flows", "database": "sqlite", **results}))


if __name__ == "__main__":
    main()
