"""Background tasks of workflows (listed in the ``stage_modules`` setting so that workers load them):
``workflow.step`` runs one step attempt; ``workflow.tick`` (every 30 s) checks triggers, stuck steps, timeouts
and approvals."""

from __future__ import annotations

from zhimei.jobs.context import StageContext
from zhimei.jobs.tasks import task

__all__ = ["run_step", "tick"]


@task("workflow.step", max_attempts=3, priority=50)
def run_step(ctx: StageContext) -> None:
    """Run one attempt of a workflow step and advance its run."""
    from zhimei.workflow.engine import execute_step

    execute_step(ctx)


@task("workflow.tick", every=30, max_attempts=1, priority=40)
def tick(ctx: StageContext) -> None:
    """Fire due triggers; surface stuck steps; escalate and expire approvals."""
    from zhimei.workflow.sweep import sweep
    from zhimei.workflow.triggers import fire_triggers

    sweep()
    fire_triggers()
