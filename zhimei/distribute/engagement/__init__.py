"""Engagement (互动数据), experiments and privacy: pseudonymous readers, batched idempotent event ingest rolled up
into bounded counters, title/cover experiments served by Thompson sampling, export/delete/consent per user.

Contract for the other areas: `reader_id_for`, `personalisation_allowed`, `load_interactions` → `Interactions`,
`counters`, `popular_asset_ids`.
"""

from __future__ import annotations

from zhimei.distribute.engagement.errors import EngagementError
from zhimei.distribute.engagement.events import (
    EVENT_TYPES,
    MAX_BATCH,
    IngestReport,
    event_weight,
    ingest_events,
    ingest_jsonl,
    read_jsonl,
)
from zhimei.distribute.engagement.experiments import (
    auto_promote_due,
    create_experiment,
    get_experiment,
    list_experiments,
    prob_best,
    promote,
    serve_variant,
    stop_experiment,
    thompson_pick,
    wilson_interval,
)
from zhimei.distribute.engagement.readers import (
    delete_reader,
    export_reader,
    get_consent,
    personalisation_allowed,
    pseudonym,
    reader_id_for,
    set_consent,
)
from zhimei.distribute.engagement.rollup import (
    Interactions,
    counters,
    load_interactions,
    popular_asset_ids,
    popularity,
    rollup,
)

__all__ = [
    "EngagementError", "EVENT_TYPES", "MAX_BATCH", "IngestReport", "event_weight", "ingest_events", "ingest_jsonl",
    "read_jsonl", "auto_promote_due", "create_experiment", "get_experiment", "list_experiments", "prob_best",
    "promote", "serve_variant", "stop_experiment", "thompson_pick", "wilson_interval", "delete_reader",
    "export_reader", "get_consent", "personalisation_allowed", "pseudonym", "reader_id_for", "set_consent",
    "Interactions", "counters", "load_interactions", "popular_asset_ids", "popularity", "rollup",
]
