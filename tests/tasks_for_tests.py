"""Background tasks used by tests/test_tasks.py (listed in stage_modules by the test)."""

from __future__ import annotations

from zhimei.jobs import StageContext
from zhimei.jobs.tasks import task

RUNS: list[dict] = []


@task("test.echo")
def echo(ctx: StageContext) -> None:
    """Record the payload; fail while the payload asks for more failures than attempts made."""
    if ctx.attempt <= int(ctx.payload.get("fail_times", 0)):
        raise RuntimeError(f"planned failure {ctx.attempt}")
    RUNS.append(dict(ctx.payload))
    with ctx.outputs(result={"echo": ctx.payload.get("text", "")}):
        pass


@task("test.tick", every=3600)
def tick(ctx: StageContext) -> None:
    """A periodic task."""
    RUNS.append({"tick": True})
