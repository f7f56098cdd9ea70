"""Search filters: declared once, validated from query parameters, pushed into SQL where cheap and checked
on candidate assets otherwise."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from zhimei.store.models import ASSET_KINDS

__all__ = ["SearchFilters", "SearchError", "REVIEW_STATUSES", "review_status"]

REVIEW_STATUSES = ("unreviewed", "pending", "passed", "needs_review", "blocked", "rejected")


class SearchError(ValueError):
    """A query or filter the search cannot take; the message names the problem."""


def review_status(meta: dict[str, Any] | None) -> str:
    """An asset's review status as the search shows and filters it (set by the review desk)."""
    value = (meta or {}).get("review_status")
    return value if isinstance(value, str) and value else "unreviewed"


def _listify(value: Any, name: str) -> list[str]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    out = [str(v).strip() for v in items if str(v).strip()]
    if len(out) > 50:
        raise SearchError(f"too many values for filter {name!r} (at most 50)")
    return out


def _when(value: Any, name: str, end: bool) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.max if end else time.min, tzinfo=UTC)
    text = str(value).strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime.combine(d, time.max if end else time.min, tzinfo=UTC)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"filter {name!r} is not a date (use YYYY-MM-DD): {text[:40]!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class SearchFilters:
    """What to narrow a search to. Every list means "any of" except tags and people ("all of")."""

    kind: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    people: list[int] = field(default_factory=list)
    review_status: list[str] = field(default_factory=list)
    date_from: datetime | None = None
    date_to: datetime | None = None
    asset_id: int | None = None
    min_credibility: int | None = None

    @classmethod
    def parse(cls, params: dict[str, Any] | None) -> SearchFilters:
        """Filters from query parameters or a dict; SearchError naming the bad one."""
        p = dict(params or {})
        known = set(cls.__dataclass_fields__)
        unknown = set(p) - known
        if unknown:
            raise SearchError(f"unknown filter(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        f = cls(kind=_listify(p.get("kind"), "kind"), language=_listify(p.get("language"), "language"),
                source=_listify(p.get("source"), "source"), tags=_listify(p.get("tags"), "tags"),
                review_status=_listify(p.get("review_status"), "review_status"),
                date_from=_when(p.get("date_from"), "date_from", end=False),
                date_to=_when(p.get("date_to"), "date_to", end=True))
        bad = [k for k in f.kind if k not in ASSET_KINDS]
        if bad:
            raise SearchError(f"unknown kind {bad[0]!r}; kinds: {', '.join(ASSET_KINDS)}")
        bad = [s for s in f.review_status if s not in REVIEW_STATUSES]
        if bad:
            raise SearchError(f"unknown review status {bad[0]!r}; statuses: {', '.join(REVIEW_STATUSES)}")
        try:
            f.people = [int(x) for x in _listify(p.get("people"), "people")]
            f.asset_id = int(p["asset_id"]) if p.get("asset_id") not in (None, "") else None
            mc = p.get("min_credibility")
            f.min_credibility = int(mc) if mc not in (None, "") else None
        except (TypeError, ValueError):
            raise SearchError("filters people, asset_id and min_credibility take whole numbers") from None
        if f.min_credibility is not None and not 1 <= f.min_credibility <= 5:
            raise SearchError("min_credibility is a level from 1 to 5")
        if f.date_from and f.date_to and f.date_from > f.date_to:
            raise SearchError("date_from is after date_to")
        return f

    def sql(self, alias: str = "a") -> tuple[str, dict[str, Any]]:
        """A WHERE fragment on the asset table (`alias`) for the filters SQL can check cheaply."""
        parts, params = [], {}
        for name in ("kind", "language", "source"):
            values = getattr(self, name)
            if values:
                keys = [f"f_{name}_{i}" for i in range(len(values))]
                parts.append(f"{alias}.{name} IN ({', '.join(':' + k for k in keys)})")
                params.update(zip(keys, values, strict=True))
        if self.asset_id is not None:
            parts.append(f"{alias}.id = :f_asset_id")
            params["f_asset_id"] = self.asset_id
        if self.date_from is not None:
            parts.append(f"COALESCE({alias}.published_at, {alias}.created_at) >= :f_date_from")
            params["f_date_from"] = self.date_from
        if self.date_to is not None:
            parts.append(f"COALESCE({alias}.published_at, {alias}.created_at) <= :f_date_to")
            params["f_date_to"] = self.date_to
        return " AND ".join(parts), params

    def active(self) -> bool:
        """Whether any filter is set."""
        return any(v not in (None, [], "") for v in asdict(self).values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        d = asdict(self)
        for k in ("date_from", "date_to"):
            if d[k] is not None:
                d[k] = d[k].isoformat()
        return {k: v for k, v in d.items() if v not in (None, [])}
