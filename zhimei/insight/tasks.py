"""Background tasks of insight, loaded by the workers (this module is in the `stage_modules` setting):

insight.stories (every 5 minutes): analyse new and changed items (terms, entities, sentiment), regroup the window's
    items into stories with their heat, then check the watchlists and queue webhooks for new alerts.
insight.deliver_alert: POST one alert to its watchlist's webhook (signed); failures are retried by the job system.
"""

from __future__ import annotations

from zhimei.insight.watchlists import ALERT_ATTEMPTS
from zhimei.jobs import PermanentError, StageContext
from zhimei.jobs.tasks import task

__all__ = ["STORY_TASK", "DELIVER_TASK", "STORY_EVERY_SECONDS", "stories_task", "deliver_alert_task", "run_stories"]

STORY_TASK = "insight.stories"
DELIVER_TASK = "insight.deliver_alert"
STORY_EVERY_SECONDS = 300.0


def run_stories(tick=None) -> dict:
    """One story run in this process: items, stories, watchlist alerts. Returns what it did."""
    from zhimei.insight.items import refresh_items
    from zhimei.insight.stories import detect_stories
    from zhimei.insight.watchlists import check_watchlists

    items = refresh_items(tick=(lambda f: tick(60.0 * f, "analysing items")) if tick else None)
    if tick:
        tick(65.0, "grouping stories")
    stories = detect_stories()
    if tick:
        tick(90.0, "checking watchlists")
    alerts = check_watchlists()
    return {"items": items, "stories": stories["stories"], "method": stories["method"],
            "bursts": stories["bursts"], "alerts": alerts}


@task(STORY_TASK, every=STORY_EVERY_SECONDS, priority=150)
def stories_task(ctx: StageContext) -> None:
    """Analyse items, recompute stories and heat, check watchlists."""
    result = run_stories(tick=ctx.progress)
    with ctx.outputs(result):
        pass


@task(DELIVER_TASK, max_attempts=ALERT_ATTEMPTS, priority=60)
def deliver_alert_task(ctx: StageContext) -> None:
    """Deliver one watchlist alert by webhook (payload: alert_id)."""
    from zhimei.insight.watchlists import DeliveryFailed, deliver_alert

    alert_id = ctx.payload.get("alert_id")
    if not isinstance(alert_id, int):
        raise PermanentError("payload.alert_id must be an alert id")
    try:
        result = deliver_alert(alert_id, attempt=ctx.attempt, max_attempts=ALERT_ATTEMPTS)
    except DeliveryFailed as exc:
        if exc.permanent:
            raise PermanentError(str(exc)) from None
        raise
    with ctx.outputs(result):
        pass
