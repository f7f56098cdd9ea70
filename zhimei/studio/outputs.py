"""Studio outputs become new assets: lineage to the sources, the backend/model/prompt used, an AI mark.

Every output enters review (``meta.review_status = "pending"``, ``meta.ai_generated = True``) instead of
being publishable. Saving is idempotent: ingest deduplicates by sha256, so the same content saved twice
returns the same asset id.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from zhimei.library import IngestError, ingest_bytes, ingest_file, safe_filename
from zhimei.store.db import read_scope
from zhimei.store.models import Asset
from zhimei.studio.errors import StudioError

__all__ = ["save_output", "check_sources", "STUDIO_SOURCE"]

STUDIO_SOURCE = "zhimei-studio"
"""`Asset.source` of studio outputs."""


def check_sources(sources: list[int]) -> list[int]:
    """The source ids as ints, after checking each exists; StudioError names the unknown ones."""
    try:
        ids = [int(s) for s in sources]
    except (TypeError, ValueError):
        raise StudioError(f"source ids must be integers, got {sources!r}") from None
    if not ids:
        return []
    with read_scope() as session:
        found = set(session.scalars(select(Asset.id).where(Asset.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise StudioError(f"unknown source asset id(s): {', '.join(map(str, missing))}")
    return ids


def save_output(*, kind: str, title: str, sources: list[int], task: str, backend: str, model: str,
                prompt: str | None, params: dict, language: str | None = None, text: str | None = None,
                path: str | Path | None = None, filename: str | None = None, created_by: str = "studio",
                calls: list[dict[str, Any]] | None = None) -> int:
    """Store a studio output as a NEW asset and return its id (the existing id when the content is known).

    Exactly one of ``text`` (saved as a Markdown article) or ``path`` (a media file) is given.
    ``kind`` names the output (e.g. "headlines", "summary", "subtitles", "clip"); ``prompt`` is hashed
    into the lineage (never stored in clear); ``calls`` are per-LLM-call records (tokens in/out, seconds).
    The asset's parent is ``sources[0]``; its meta carries ``ai_generated``, ``review_status="pending"``
    and ``studio = {task, kind, sources, backend, model, prompt_sha256, params, created_at, calls}``.
    """
    if (text is None) == (path is None):
        raise StudioError("give exactly one of text or path for a studio output")
    ids = check_sources(list(sources or []))
    title = (title or "").strip() or f"{task} output"
    studio: dict[str, Any] = {
        "task": task, "kind": kind, "sources": ids, "backend": backend, "model": model,
        "prompt_sha256": hashlib.sha256(prompt.encode("utf-8")).hexdigest() if prompt else None,
        "params": params or {}, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if calls:
        studio["calls"] = calls
    meta = {"ai_generated": True, "review_status": "pending", "studio": studio}
    common: dict[str, Any] = {"title": title[:1000], "language": language, "source": STUDIO_SOURCE,
                              "created_by": created_by, "parent_id": ids[0] if ids else None, "meta": meta}
    try:
        if text is not None:
            body = text.strip()
            if not body:
                raise StudioError(f"the {task} output is empty; nothing to save")
            content = f"# {title.splitlines()[0][:200]}\n\n{body}\n"
            name = safe_filename(filename or f"{task}-{kind}.md", fallback=f"{task}.md")
            if not name.lower().endswith((".md", ".txt")):
                name += ".md"
            result = ingest_bytes(content.encode("utf-8"), name, **common)
        else:
            p = Path(path)  # type: ignore[arg-type]
            if not p.is_file():
                raise StudioError(f"the {task} output file does not exist: {safe_filename(str(path))}")
            result = ingest_file(p, filename=filename or p.name, **common)
    except IngestError as exc:
        raise StudioError(f"could not save the {task} output: {exc}") from None
    return result.asset_id
