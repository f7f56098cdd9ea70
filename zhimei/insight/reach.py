"""传播力 reach analytics: impressions, clicks, CTR, plays, watch time, shares and dwell per asset, channel and story,
over time, from the engagement counters (`zhimei.distribute.engagement.counters`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhimei.insight.trends import InsightError
from zhimei.store.models_insight import InsightItem, InsightStory

__all__ = ["reach", "METRICS", "BUCKETS", "variant_ctr"]

METRICS = ("impressions", "clicks", "plays", "watch_seconds", "shares", "dwell_seconds")
BUCKETS = ("hour", "day", "week", "month")
MAX_STORY_ASSETS = 5000


def _zero() -> dict[str, float]:
    return dict.fromkeys(METRICS, 0)


def _finish(t: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in t.items()}
    out["ctr"] = round(t["clicks"] / t["impressions"], 6) if t["impressions"] else None
    return out


def _rebucket(start: datetime, bucket: str) -> datetime:
    """The week (Monday) or month start of a day bucket; hours and days unchanged."""
    start = start.astimezone(UTC)
    if bucket == "week":
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start


def _add(t: dict[str, float], row: dict[str, Any]) -> None:
    for k in METRICS:
        t[k] += row.get(k) or 0


def reach(session: Session, *, asset_id: int | None = None, channel: str | None = None,
          story_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
          bucket: str = "day") -> dict[str, Any]:
    """Reach of one asset, one story's assets, or everything (optionally in one channel) since/until a time:
    totals, a series per time bucket, and breakdowns per channel and per asset (CTR = clicks / impressions)."""
    if bucket not in BUCKETS:
        raise InsightError(f"bucket must be one of {', '.join(BUCKETS)}, not {bucket!r}")
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.tzinfo is None:
            raise InsightError(f"{name} must carry a time zone (e.g. 2026-12-01T00:00:00Z)")
    if since and until and since >= until:
        raise InsightError("since must be before until")
    if asset_id is not None and story_id is not None:
        raise InsightError("give asset_id or story_id, not both")
    asset_ids: list[int] | None = None
    if asset_id is not None:
        asset_ids = [asset_id]
    if story_id is not None:
        if session.get(InsightStory, story_id) is None:
            raise InsightError(f"no story {story_id}", status=404)
        asset_ids = list(session.scalars(select(InsightItem.asset_id).where(InsightItem.story_id == story_id)
                                         .limit(MAX_STORY_ASSETS)))
    try:
        from zhimei.distribute.engagement import counters
    except ImportError:
        raise InsightError("engagement counters are not available (zhimei.distribute.engagement)", 503) from None
    rows = counters(session, asset_ids=asset_ids, channel=channel, since=since, until=until,
                    bucket="hour" if bucket == "hour" else "day") if asset_ids != [] else []
    total = _zero()
    series: dict[str, dict[str, float]] = {}
    channels: dict[str, dict[str, float]] = {}
    assets: dict[int, dict[str, float]] = {}
    for r in rows:
        _add(total, r)
        key = _rebucket(r["bucket_start"], bucket).isoformat()
        _add(series.setdefault(key, _zero()), r)
        _add(channels.setdefault(str(r.get("channel") or ""), _zero()), r)
        _add(assets.setdefault(int(r["asset_id"]), _zero()), r)
    by_asset = sorted(({"asset_id": a, **_finish(t)} for a, t in assets.items()),
                      key=lambda d: (-d["impressions"], -d["clicks"], d["asset_id"]))
    return {"scope": {"asset_id": asset_id, "story_id": story_id, "channel": channel,
                      "since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
                      "bucket": bucket},
            "totals": _finish(total),
            "series": [{"bucket_start": k, **_finish(series[k])} for k in sorted(series)],
            "by_channel": [{"channel": c, **_finish(t)} for c, t in sorted(channels.items())],
            "by_asset": by_asset[:100]}


def variant_ctr(session: Session | None = None, *, limit: int = 10) -> dict[str, Any] | None:
    """CTR (with its 95 % interval) per title/cover variant of the newest experiments, from the engagement area's
    `list_experiments`; None when that area is not installed."""
    try:
        from zhimei.distribute.engagement import list_experiments
    except ImportError:
        return None
    data = list_experiments(limit=limit)
    return {"experiments": [
        {"id": e["id"], "name": e.get("name") or e.get("asset_title") or f"#{e['id']}", "kind": e.get("kind"),
         "status": e.get("status"), "asset_id": e.get("asset_id"),
         "variants": [{"id": v["id"], "label": v.get("label") or str(v["id"]), "text": v.get("text") or "",
                       "impressions": v["impressions"],
                       "clicks": v["clicks"], "ctr": v["ctr"], "ci_low": v.get("ci_low"), "ci_high": v.get("ci_high"),
                       "winner": bool(v.get("winner"))} for v in e.get("variants", [])]}
        for e in data["items"]]}
