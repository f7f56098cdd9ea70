"""The no-op background task bench/flows.py uses as its baseline (listed in stage_modules by the bench)."""

from __future__ import annotations

from zhimei.jobs.context import StageContext
from zhimei.jobs.tasks import task


@task("bench.noop")
def noop(ctx: StageContext) -> None:
    """Does nothing: the job system's own cost per job."""
