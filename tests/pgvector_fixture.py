"""PostgreSQL 16 + pgvector for tests, from the `pgserver` wheel (Debian 12's PostgreSQL has no pgvector).

`pgserver_url` starts one server per test session in a temporary folder (unix socket only, no TCP port);
`pg_vector_home` gives each test a fresh ZHIMEI_HOME whose database is a new, migrated database there.
Use them from a test module: ``from pgvector_fixture import pg_vector_home_fixture, pgserver_url_fixture`` (tests/ is
on sys.path); the fixtures are registered under the names above.
"""

from __future__ import annotations

import os
import uuid

import pytest

__all__ = ["pgserver_url_fixture", "pg_vector_home_fixture"]


@pytest.fixture(scope="session", name="pgserver_url")
def pgserver_url_fixture(tmp_path_factory) -> str:
    """SQLAlchemy URL of the session's pgserver (PostgreSQL 16 with the pgvector extension)."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("xdg-runtime")))  # pgserver's lock
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pgserver"), cleanup_mode="delete")
    uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/socket/dir
    assert uri.startswith("postgresql://"), uri
    yield uri.replace("postgresql://", "postgresql+psycopg://", 1)
    server._cleanup()  # stop it now rather than at interpreter exit


@pytest.fixture(name="pg_vector_home")
def pg_vector_home_fixture(tmp_path, monkeypatch, pgserver_url):
    """A fresh ZHIMEI_HOME with a migrated, empty database on the pgserver; returns the home path."""
    import psycopg

    from zhimei.settings import reset_settings
    from zhimei.store import migrate

    name = f"zv_{uuid.uuid4().hex[:10]}"
    admin = pgserver_url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pgserver_url.replace("/postgres?", f"/{name}?", 1)
    home = tmp_path / "zhimei-home"
    monkeypatch.setenv("ZHIMEI_HOME", str(home))
    for var in list(os.environ):
        if var.startswith("ZHIMEI_") and var not in ("ZHIMEI_HOME",) and not var.startswith("ZHIMEI_TEST_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("ZHIMEI_DATABASE_URL", url)
    reset_settings()
    migrate()
    yield home
    reset_settings()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

