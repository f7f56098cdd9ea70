"""insight (舆情监测 / 传播力): hot terms and stories with heat, sentiment, watchlists with webhook alerts, reach.

Other areas use these names, not the submodules. The sentiment and clustering models live in
`zhimei.insight.sentiment` and `zhimei.insight.clustering`."""

from __future__ import annotations

from zhimei.insight.items import refresh_items, score_texts
from zhimei.insight.reach import reach
from zhimei.insight.sentiment_trend import sentiment_trend
from zhimei.insight.stories import Story, detect_stories, hot_topics, story_detail
from zhimei.insight.trends import InsightError, TermBurst, term_bursts
from zhimei.insight.watchlists import (
    check_watchlists,
    create_watchlist,
    delete_watchlist,
    deliver_alert,
    list_alerts,
    list_watchlists,
    update_watchlist,
    verify_signature,
)

__all__ = [
    "hot_topics", "reach", "Story", "TermBurst", "InsightError", "term_bursts", "detect_stories", "story_detail",
    "refresh_items", "score_texts", "sentiment_trend", "create_watchlist", "list_watchlists", "update_watchlist",
    "delete_watchlist", "list_alerts", "check_watchlists", "deliver_alert", "verify_signature",
]
