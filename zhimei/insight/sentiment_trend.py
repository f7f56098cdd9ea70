"""Sentiment over time: per time bucket, how many items, their mean positive probability and the negative share,
for the whole stream, one story, or the items naming a term."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.insight.stories import NEGATIVE_BELOW
from zhimei.insight.trends import InsightError
from zhimei.store.models import utcnow
from zhimei.store.models_insight import InsightItem, InsightStory

__all__ = ["sentiment_trend", "TREND_BUCKETS"]

TREND_BUCKETS = {"hour": 3600, "day": 86400, "week": 7 * 86400}
MAX_ROWS = 200_000


def _bucket(at: datetime, size: int) -> datetime:
    start = (at.timestamp() // size) * size
    return datetime.fromtimestamp(start, UTC)


def sentiment_trend(session: Session, *, since: datetime | None = None, until: datetime | None = None,
                    bucket: str = "day", story_id: int | None = None, term: str | None = None) -> dict[str, Any]:
    """Mean sentiment (probability positive) and negative share per bucket; default: the last 30 days."""
    if bucket not in TREND_BUCKETS:
        raise InsightError(f"bucket must be one of {', '.join(TREND_BUCKETS)}, not {bucket!r}")
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.tzinfo is None:
            raise InsightError(f"{name} must carry a time zone (e.g. 2026-12-01T00:00:00Z)")
    until = until or utcnow()
    since = since or until - timedelta(days=30)
    if since >= until:
        raise InsightError("since must be before until")
    if term is not None and not 1 <= len(term.strip()) <= 100:
        raise InsightError("term must be 1 to 100 characters")
    q = select(InsightItem.at, InsightItem.sentiment).where(
        InsightItem.at >= since, InsightItem.at < until, InsightItem.sentiment.is_not(None))
    if story_id is not None:
        if session.get(InsightStory, story_id) is None:
            raise InsightError(f"no story {story_id}", status=404)
        q = q.where(InsightItem.story_id == story_id)
    if term:
        q = q.where(func.lower(InsightItem.text).contains(term.strip().lower(), autoescape=True))
    size = TREND_BUCKETS[bucket]
    agg: dict[datetime, list[float]] = {}
    for at, s in session.execute(q.order_by(InsightItem.at.desc()).limit(MAX_ROWS)):
        agg.setdefault(_bucket(at, size), []).append(float(s))
    points = []
    total: list[float] = []
    for b in sorted(agg):
        vals = agg[b]
        total += vals
        points.append({"bucket_start": b.isoformat(), "items": len(vals),
                       "sentiment": round(sum(vals) / len(vals), 4),
                       "negative_share": round(sum(1 for v in vals if v < NEGATIVE_BELOW) / len(vals), 4)})
    return {"scope": {"since": since.isoformat(), "until": until.isoformat(), "bucket": bucket, "story_id": story_id,
                      "term": term},
            "items": len(total),
            "sentiment": round(sum(total) / len(total), 4) if total else None,
            "negative_share": round(sum(1 for v in total if v < NEGATIVE_BELOW) / len(total), 4) if total else None,
            "series": points}
