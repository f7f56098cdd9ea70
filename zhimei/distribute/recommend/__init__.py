"""智能推荐 recommendations: candidate recall from item neighbours (EASE or item-CF), ALS matrix factorisation,
content similarity (asset embeddings), fresh and trending items and editors' picks; a blended ranking; MMR
diversity with a per-channel anti-filter-bubble knob and exploration slots; cold start; a "why this" per item;
per-reader launcher rows; models retrained on a schedule through the job system (task ``recommend.retrain``).

The algorithms (`matrix`, `itemcf`, `ease`, `als`, `content`, `fresh`, `blend`, `diversity`, `engine`) take
numpy/scipy arrays and know no database; `service`, `picks`, `store` and `tasks` connect them to zhimei.
"""

from __future__ import annotations

from zhimei.distribute.recommend.blend import SOURCES, BlendWeights
from zhimei.distribute.recommend.engine import ChannelContext, Engine, Pick
from zhimei.distribute.recommend.model import BoundedCache, RecModel
from zhimei.distribute.recommend.picks import RecommendError, active_picks, add_pick, list_picks, remove_pick
from zhimei.distribute.recommend.service import (
    MAX_N,
    WHY,
    Recommendation,
    channel_knob,
    launcher_rows,
    personalised,
    recommend,
    set_channel_knob,
    train_from_database,
)
from zhimei.distribute.recommend.store import caches, clear_caches, current_version, model_rows
from zhimei.distribute.recommend.trainer import TrainParams, train_model

__all__ = [
    "recommend", "launcher_rows", "personalised", "MAX_N", "Recommendation", "RecommendError", "WHY", "SOURCES",
    "add_pick", "remove_pick", "list_picks", "active_picks", "channel_knob", "set_channel_knob",
    "request_retrain", "train_from_database", "current_version", "model_rows", "caches", "clear_caches",
    "BlendWeights", "Engine", "ChannelContext", "Pick", "RecModel", "BoundedCache", "TrainParams", "train_model",
]


def request_retrain(*, key: str | None = "recommend.retrain") -> int:
    """Queue a model retrain through the job system (an already queued or running one is reused); job id."""
    from zhimei.jobs.tasks import enqueue_task

    return enqueue_task("recommend.retrain", {"requested": True}, key=key)
