"""Bulk upserts that read the same on SQLite and PostgreSQL (INSERT … ON CONFLICT), run as executemany."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

__all__ = ["upsert", "greatest", "least", "dialect"]


def dialect(session: Session) -> str:
    """The database dialect name of the session ("sqlite" or "postgresql")."""
    return session.get_bind().dialect.name


def _insert(session: Session, table: Table):
    return (postgresql.insert if dialect(session) == "postgresql" else sqlite.insert)(table)


def upsert(session: Session, table: Table, keys: list[str],
           update: dict[str, Any] | Callable[[Any], dict[str, Any]] | None = None):
    """An INSERT … ON CONFLICT (keys) statement: DO NOTHING without `update`, else DO UPDATE SET `update` (a dict,
    or a function of the `excluded` row that returns one). Execute it with a list of parameter dicts."""
    stmt = _insert(session, table)
    if update is None:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    values = update(stmt.excluded) if callable(update) else update
    return stmt.on_conflict_do_update(index_elements=keys, set_=values)


def greatest(session: Session, a, b):
    """The larger of two values (max() on SQLite, GREATEST on PostgreSQL)."""
    return func.greatest(a, b) if dialect(session) == "postgresql" else func.max(a, b)


def least(session: Session, a, b):
    """The smaller of two values (min() on SQLite, LEAST on PostgreSQL)."""
    return func.least(a, b) if dialect(session) == "postgresql" else func.min(a, b)
