"""Background tasks of distribute.engagement (see zhimei.jobs.tasks): the hourly roll-up and pruning, and the
automatic promotion of experiment winners every five minutes."""

from __future__ import annotations

from zhimei.jobs.context import StageContext
from zhimei.jobs.tasks import task

__all__ = ["rollup_task", "promote_task"]


@task("engagement.rollup", every=3600)
def rollup_task(ctx: StageContext) -> None:
    """Roll hourly counters up into days; forget old event ids; prune stale reader feedback (batches commit as
    they go, and a rerun finds nothing left to do, so a retried job never counts twice)."""
    from zhimei.distribute.engagement.rollup import rollup

    result = rollup()
    with ctx.outputs(result):
        pass


@task("engagement.experiments", every=300)
def promote_task(ctx: StageContext) -> None:
    """Promote experiment winners that are sure enough (P(best) and minimum impressions)."""
    from zhimei.distribute.engagement.experiments import auto_promote_due

    promoted = auto_promote_due()
    with ctx.outputs({"promoted": promoted}):
        pass
