"""Background tasks of distribute.recommend: the periodic model retrain (see zhimei.jobs.tasks)."""

from __future__ import annotations

import logging
import os
import tempfile

from zhimei.distribute.recommend.store import prune_versions, record_model
from zhimei.jobs import StageContext
from zhimei.jobs.tasks import task
from zhimei.settings import SettingsError, get_settings
from zhimei.store.db import read_scope

__all__ = ["retrain", "RETRAIN_TASK", "RETRAIN_EVERY"]

log = logging.getLogger("zhimei.recommend")
RETRAIN_TASK = "recommend.retrain"
try:
    RETRAIN_EVERY = float(get_settings().recommend_retrain_seconds)
except SettingsError:  # bad settings are reported where they are used, not at import
    RETRAIN_EVERY = 6 * 3600.0


@task(RETRAIN_TASK, every=RETRAIN_EVERY, max_attempts=2)
def retrain(ctx: StageContext) -> None:
    """Train a new model from the current interactions and catalogue; store it as the next version.

    The model's bytes are staged on the job before they enter the blob store (a crash leaves no orphan) and the
    version row is written in the job's completing transaction, so a retried job never makes two versions."""
    from zhimei.distribute.recommend.service import train_from_database

    with read_scope() as session:
        model, n_inter = train_from_database(session, progress=lambda f, m: ctx.progress(100 * f, m))
    ctx.check()
    data = model.to_bytes()
    fd, tmp = tempfile.mkstemp(prefix="recommend-model-", suffix=".npz", dir=ctx.scratch)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    (sha,) = ctx.stage_blobs([tmp])
    os.unlink(tmp)
    result = {"readers": len(model.user_ids), "items": len(model.item_ids), "interactions": n_inter,
              "neighbours": model.neighbour_kind, "bytes": len(data), "seconds": round(model.train_seconds, 2)}
    with ctx.outputs(result=result) as session:
        row = record_model(session, model, sha, len(data), interactions=n_inter, job_id=ctx.job_id)
        result["version"] = row.version
        stale = prune_versions(session, ctx.settings.recommend_keep_versions)
    for old in stale:
        ctx.blobs.delete(old)
    log.info("recommendation model v%s: %s", result.get("version"), result)
