"""Background tasks of distribute.publish (see zhimei.jobs.tasks).

- ``publish.deliver`` — one attempt at a webhook delivery (payload ``delivery_id``); a failed attempt queues the
  next one with backoff, the last one puts the delivery on the dead-letter list. The job itself ends done either
  way: the delivery row, not the job, carries the outcome.
- ``publish.go_live`` — every 30 s: scheduled publications whose time and embargo have passed go live (feeds show
  them from that moment anyway; this flips their status, retires older versions and queues webhook pushes).
"""

from __future__ import annotations

from zhimei.distribute.publish.errors import PublishError
from zhimei.distribute.publish.schedule import make_due_live
from zhimei.distribute.publish.webhooks import DELIVER_TASK, deliver_once
from zhimei.jobs import PermanentError, StageContext
from zhimei.jobs.tasks import task

__all__ = ["deliver", "go_live", "GO_LIVE_TASK"]

GO_LIVE_TASK = "publish.go_live"


@task(DELIVER_TASK, max_attempts=3, priority=50)
def deliver(ctx: StageContext) -> None:
    """One webhook delivery attempt."""
    delivery_id = ctx.payload.get("delivery_id")
    if isinstance(delivery_id, bool) or not isinstance(delivery_id, int):
        raise PermanentError(f"publish.deliver needs an integer delivery_id, got {delivery_id!r}")
    try:
        out = deliver_once(delivery_id)
    except PublishError as exc:
        if exc.status != 404:
            raise
        out = {"status": "gone"}  # its publication was deleted with its asset: nothing to send
    with ctx.outputs(result={"delivery_id": delivery_id, "status": out.get("status"),
                             "attempts": out.get("attempts")}):
        pass


@task(GO_LIVE_TASK, every=30, priority=40)
def go_live(ctx: StageContext) -> None:
    """Make due scheduled publications live."""
    done = make_due_live()
    with ctx.outputs(result={"went_live": len(done), "publications": done[:100]}):
        pass
