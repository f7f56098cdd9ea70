"""智搜: hybrid, time-coded search over the archive (keyword + vector, fused), cited answers and timelines."""

from zhimei.library.search.answers import Answer, AnswerSentence, Citation, ask
from zhimei.library.search.filters import REVIEW_STATUSES, SearchError, SearchFilters, review_status
from zhimei.library.search.indexing import index_asset, reindex
from zhimei.library.search.query import MODES, Hit, SearchResults, more_like_this, search
from zhimei.library.search.sources import credibility_levels, set_credibility
from zhimei.library.search.timeline import Event, Timeline, timeline
from zhimei.library.search.warmup import warm_up

__all__ = ["search", "more_like_this", "Hit", "SearchResults", "SearchFilters", "SearchError", "MODES",
           "REVIEW_STATUSES", "review_status", "index_asset", "reindex", "credibility_levels", "set_credibility",
           "ask", "Answer", "AnswerSentence", "Citation", "timeline", "Timeline", "Event", "warm_up"]
