"""Triggers checked by the periodic ``workflow.tick`` task: schedules ("07:00 daily", "every 15m"), new items in
the library (from a feed or watched folder), and hot-topic alerts of insight watchlists. Each firing has a key
(the schedule slot, the asset, the alert), so a run starts once per firing however often the check runs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset, utcnow
from zhimei.store.models_workflow import Workflow
from zhimei.workflow.errors import WorkflowError

__all__ = ["fire_triggers", "schedule_slot"]

log = logging.getLogger("zhimei.workflow")


def schedule_slot(trigger: dict[str, Any], now: datetime) -> datetime:
    """The latest slot of a schedule at or before `now` (UTC)."""
    if "every" in trigger:
        every = float(trigger["every"])
        return datetime.fromtimestamp((now.timestamp() // every) * every, UTC)
    tz = ZoneInfo(trigger.get("tz", "UTC"))
    hh, mm = (int(x) for x in trigger["at"].split(":"))
    local = now.astimezone(tz)
    slot = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if slot > local:
        slot -= timedelta(days=1)
    while trigger.get("days") == "weekdays" and slot.weekday() >= 5:
        slot -= timedelta(days=1)
    return slot.astimezone(UTC)


def _start(name: str, inputs: dict[str, Any], trigger: str, key: str, fired: list[int]) -> None:
    from zhimei.workflow.engine import start_run

    try:
        fired.append(start_run(name, inputs, actor=f"trigger:{trigger}", trigger=trigger, trigger_key=key)["id"])
    except WorkflowError as exc:
        log.warning("workflow %s: %s trigger %s could not start a run: %s", name, trigger, key, exc)


def fire_triggers(now: datetime | None = None) -> list[int]:
    """Start the runs that enabled workflows' triggers call for now; returns the run ids started (or found)."""
    now = now or utcnow()
    fired: list[int] = []
    with read_scope() as s:
        flows = [(w.name, w.created_at, (w.definition or {}).get("triggers", []), dict(w.trigger_state or {}))
                 for w in s.scalars(select(Workflow).where(Workflow.enabled.is_(True)))]
        max_asset = s.scalar(select(func.max(Asset.id))) or 0
    for name, created, triggers, state in flows:
        new_state = dict(state)
        for i, t in enumerate(triggers):
            kind = t.get("type")
            if kind == "schedule":
                slot = schedule_slot(t, now)
                if slot >= created:
                    _start(name, {}, "schedule", f"schedule:{i}:{slot.isoformat()}", fired)
            elif kind == "new_asset":
                new_state[f"{i}"] = _new_assets(name, t, int(state.get(f"{i}", max_asset)), fired)
            elif kind == "hot_topic":
                new_state[f"{i}"] = _alerts(name, t, state.get(f"{i}"), fired)
        if new_state != state:
            with session_scope() as s:
                w = s.scalars(select(Workflow).where(Workflow.name == name)).first()
                if w is not None:
                    w.trigger_state = new_state
    return fired


def _new_assets(name: str, t: dict[str, Any], last: int, fired: list[int]) -> int:
    """Fire for processed originals (not derived outputs) after `last`; stop at the first still processing."""
    q = select(Asset.id, Asset.status, Asset.kind, Asset.source, Asset.parent_id).where(Asset.id > last)
    with read_scope() as s:
        rows = list(s.execute(q.order_by(Asset.id).limit(200)))
    for aid, status, kind, source, parent in rows:
        if status in ("pending", "processing"):
            break
        last = aid
        if status != "ready" or parent is not None:
            continue
        if (t.get("kind") and kind != t["kind"]) or (t.get("source") and source != t["source"]):
            continue
        _start(name, {t["input"]: aid}, "new_asset", f"asset:{aid}", fired)
    return last


def _alerts(name: str, t: dict[str, Any], last: int | None, fired: list[int]) -> int:
    from zhimei.insight import list_alerts

    with read_scope() as s:
        items = list_alerts(s, limit=200)["items"]
    newest = max((a["id"] for a in items), default=0)
    if last is None:  # first look: only alerts from now on
        return newest
    for a in sorted(items, key=lambda a: a["id"]):
        if a["id"] <= last or (t.get("watchlist") and a["watchlist"] != t["watchlist"]):
            continue
        _start(name, {t["input"]: a["id"]}, "hot_topic", f"alert:{a['id']}", fired)
    return max(last, newest)
