"""Hand-written bulk statements for the ingest hot path, on the session's own DBAPI connection (same transaction).

SQLAlchemy's per-parameter processing costs more than the database work for tens of thousands of small rows, so
the few statements the ingest runs per chunk are plain SQL that reads the same on SQLite and PostgreSQL (INSERT …
ON CONFLICT …, RETURNING), with rows sorted by key so concurrent ingests lock rows in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

__all__ = ["Bulk"]

_RETURNING_ROWS = 1000


class Bulk:
    """Bulk writes through the session's DBAPI connection; `ts` turns epoch seconds into the stored form."""

    def __init__(self, session: Session):
        conn = session.connection()
        self.dialect = conn.dialect.name
        self.pg = self.dialect == "postgresql"
        self.p = "%s" if self.pg else "?"
        self.raw = conn.connection.driver_connection
        self._hours: dict[int, str] = {}
        if not self.pg:
            # dedupe keys and pseudonyms are random, so their index pages are touched all over: give SQLite's page
            # cache room for them (32 MiB on this connection; the default is 2 MiB)
            self.raw.execute("PRAGMA cache_size = -32768")

    def ts(self, epoch: float) -> Any:
        """A UTC time as the column stores it: an aware datetime on PostgreSQL, SQLAlchemy's text form
        (``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC) on SQLite — built from a per-hour prefix, as it is hot."""
        if self.pg:
            return datetime.fromtimestamp(epoch, UTC)
        us = int(round(epoch * 1_000_000))
        hour, rem = divmod(us, 3_600_000_000)
        minute, rem = divmod(rem, 60_000_000)
        sec, micro = divmod(rem, 1_000_000)
        prefix = self._hours.get(hour)
        if prefix is None:
            prefix = self._hours[hour] = datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%d %H:")
        return f"{prefix}{minute:02d}:{sec:02d}.{micro:06d}"

    def now(self, dt: datetime) -> Any:
        """An aware datetime as the column stores it."""
        return dt if self.pg else dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.pg else f"max({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.pg else f"min({a}, {b})"

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        if rows:
            cur = self.raw.cursor()
            try:
                cur.executemany(sql, rows)
            finally:
                cur.close()

    def insert_returning(self, head: str, tail: str, rows: Sequence[Sequence[Any]]) -> list[tuple]:
        """``head VALUES (…), (…) tail`` in batches of multi-row VALUES; the rows RETURNING gives back."""
        out: list[tuple] = []
        if not rows:
            return out
        width = len(rows[0])
        one = "(" + ", ".join([self.p] * width) + ")"
        cur = self.raw.cursor()
        try:
            for i in range(0, len(rows), _RETURNING_ROWS):
                part = rows[i:i + _RETURNING_ROWS]
                params = [v for r in part for v in r]
                cur.execute(f"{head} VALUES {', '.join([one] * len(part))} {tail}", params)
                out.extend(tuple(r) for r in cur.fetchall())
        finally:
            cur.close()
        return out
