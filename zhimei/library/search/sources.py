"""Source credibility: an admin sets how far each source is trusted (1–5); search ranks and shows it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from zhimei.library.search.filters import SearchError
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, SourceCredibility

__all__ = ["LEVELS", "set_credibility", "credibility_levels"]

LEVELS = {1: "unreliable", 2: "doubtful", 3: "unrated", 4: "reliable", 5: "authoritative"}


def set_credibility(source: str, level: int, note: str = "", who: str = "") -> dict[str, Any]:
    """Set a source's credibility level (1–5); level 3 is the default for unrated sources."""
    source = (source or "").strip()
    if not source or len(source) > 500:
        raise SearchError("a source name of 1 to 500 characters is needed")
    if not isinstance(level, int) or level not in LEVELS:
        raise SearchError("credibility level must be 1, 2, 3, 4 or 5")
    with session_scope() as session:
        row = session.get(SourceCredibility, source)
        if row is None:
            row = SourceCredibility(source=source)
            session.add(row)
        row.level, row.note, row.updated_by = level, (note or "")[:500], who[:100]
    return {"source": source, "level": level, "label": LEVELS[level], "note": note}


def credibility_levels() -> list[dict[str, Any]]:
    """Every source seen in the library or rated by an admin, with its level and asset count."""
    with session_scope() as session:
        counts = dict(session.execute(select(Asset.source, func.count()).group_by(Asset.source)).all())
        rated = {r.source: r for r in session.scalars(select(SourceCredibility))}
        out = []
        for src in sorted(set(counts) | set(rated)):
            if not src:
                continue
            r = rated.get(src)
            level = r.level if r else 3
            out.append({"source": src, "level": level, "label": LEVELS[level], "note": r.note if r else "",
                        "updated_by": r.updated_by if r else "", "assets": counts.get(src, 0)})
        return out
