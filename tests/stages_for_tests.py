"""Test-only pipeline stages, registered for the asset kind ``jobtest`` (no real asset has that kind).

Tests point ``ZHIMEI_STAGE_MODULES`` at this module. What a stage does is driven by the asset's ``meta``
so that the same behaviour holds in another process (a Celery or embedded worker subprocess):

- ``fail``: ``{stage: n}`` — raise a retryable error on attempts 1..n of that stage.
- ``permanent``: stage name — raise PermanentError (input problem) on every attempt until meta changes.
- ``slow``: ``{stage: seconds}`` — report progress every 50 ms for that long before finishing.
- every stage writes a small output file through ``stage_blobs`` and records it as a rendition
  ``t:<stage>`` (replaced, never duplicated, on a retry).

Graph: jt_fetch → jt_parse → jt_index, and jt_fetch → jt_side.
"""

from __future__ import annotations

import time

from sqlalchemy import delete

from zhimei.jobs import PermanentError, StageContext, stage
from zhimei.store.db import session_scope
from zhimei.store.models import Rendition

KIND = "jobtest"
STAGES = ("jt_fetch", "jt_parse", "jt_side", "jt_index")
RUN_LOG: list[tuple[str, int, int]] = []  # (stage, asset_id, attempt) for every start, in this process
FINISH_LOG: list[tuple[str, int, int]] = []  # (stage, asset_id, attempt) when the stage ran to its end


def _work(ctx: StageContext) -> None:
    RUN_LOG.append((ctx.stage, ctx.asset_id, ctx.attempt))
    meta = _meta(ctx)
    if meta.get("permanent") == ctx.stage:
        raise PermanentError(f"{ctx.stage}: the input cannot be read (test)")
    if ctx.attempt <= int(meta.get("fail", {}).get(ctx.stage, 0)):
        raise RuntimeError(f"{ctx.stage}: transient failure on attempt {ctx.attempt} (test)")
    seconds = float(meta.get("slow", {}).get(ctx.stage, 0))
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        ctx.progress(min(99.0, 100.0 * (time.monotonic() - start) / seconds), "working")
        time.sleep(0.05)
    out = ctx.scratch / f"{ctx.stage}.txt"
    out.write_text(f"{ctx.stage} output for asset {ctx.asset_id}\n")
    (sha,) = ctx.stage_blobs([out])
    with ctx.outputs({"stage": ctx.stage, "attempt": ctx.attempt}) as session:
        kind = f"t:{ctx.stage}"
        session.execute(delete(Rendition).where(Rendition.asset_id == ctx.asset_id, Rendition.kind == kind))
        session.add(Rendition(asset_id=ctx.asset_id, kind=kind, blob_sha=sha, mime="text/plain",
                              size_bytes=out.stat().st_size))
    FINISH_LOG.append((ctx.stage, ctx.asset_id, ctx.attempt))


def _meta(ctx: StageContext) -> dict:
    """The asset's meta, read in a short session of its own."""
    with session_scope() as session:
        return dict(ctx.asset(session).meta or {})


@stage("jt_fetch", kinds=(KIND,))
def jt_fetch(ctx: StageContext) -> None:
    """Test stage: the root of the graph."""
    _work(ctx)


@stage("jt_parse", kinds=(KIND,), after=("jt_fetch",))
def jt_parse(ctx: StageContext) -> None:
    """Test stage: after jt_fetch."""
    _work(ctx)


@stage("jt_side", kinds=(KIND,), after=("jt_fetch",))
def jt_side(ctx: StageContext) -> None:
    """Test stage: a sibling branch after jt_fetch."""
    _work(ctx)


@stage("jt_index", kinds=(KIND,), after=("jt_parse",))
def jt_index(ctx: StageContext) -> None:
    """Test stage: after jt_parse."""
    _work(ctx)
