"""Engine and sessions: SQLite (WAL) by default, PostgreSQL by URL; schema via Alembic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from zhimei.settings import get_settings

__all__ = ["get_engine", "session_scope", "read_scope", "reset_engine", "migrate", "SessionLocal"]

_lock = threading.Lock()
_engine: Engine | None = None
_factory: sessionmaker[Session] | None = None


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Take transactions into our own hands (pysqlite's implicit BEGIN is deferred and late).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute(f"PRAGMA mmap_size={int(get_settings().sqlite_mmap_mb) * 2**20}")
    cur.close()


def _sqlite_begin(conn) -> None:
    # IMMEDIATE takes the write lock up front, so a read-then-write transaction never fails with
    # SQLITE_BUSY when another connection committed in between (busy_timeout then simply waits).
    # Keep sessions short: never hold one open while streaming or running a tool.
    # Read-only scopes (`read_scope`) begin a deferred transaction: a WAL snapshot that never waits for writers.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("zhimei_read_only") else "BEGIN IMMEDIATE")


def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    global _engine, _factory
    with _lock:
        if _engine is None:
            s = get_settings()
            url = s.sqlalchemy_url
            if url.startswith("sqlite"):
                s.home.mkdir(parents=True, exist_ok=True)
                _engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
                event.listen(_engine, "connect", _sqlite_pragmas)
                event.listen(_engine, "begin", _sqlite_begin)
            else:
                _engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            _factory = sessionmaker(_engine, expire_on_commit=False)
        return _engine


def SessionLocal() -> Session:  # noqa: N802 - reads like the class it makes
    """A new session bound to the engine."""
    get_engine()
    assert _factory is not None
    return _factory()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = SessionLocal()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_scope() -> Iterator[Session]:
    """A session for reading only (searches, pages): on SQLite it neither takes nor waits for the write lock.
    It is rolled back at the end, so nothing written through it is kept."""
    engine = get_engine()
    session = Session(bind=engine.execution_options(zhimei_read_only=True), expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def reset_engine() -> None:
    """Dispose the engine (settings changed, or after fork)."""
    global _engine, _factory
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine, _factory = None, None


def migrate(revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic (the same migrations on SQLite and PostgreSQL)."""
    from alembic import command
    from alembic.config import Config

    here = Path(__file__).parent
    cfg = Config()
    cfg.set_main_option("script_location", str(here / "migrations"))
    cfg.attributes["engine"] = get_engine()
    command.upgrade(cfg, revision)
