"""Shared fixtures: a fresh zhimei home per test, on SQLite by default or PostgreSQL with --db postgres."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT.parent / "shared").resolve()
SAMPLES = ROOT / "samples"
PG_ADMIN_URL = os.environ.get("ZHIMEI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ZHIMEI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = bool(os.environ.get("CI"))


def pytest_addoption(parser):
    parser.addoption("--db", default="sqlite", choices=["sqlite", "postgres"], help="database for the suite")


def need_service(ok: bool, what: str) -> None:
    """Skip when a service is missing, except in CI, where a missing service fails the test."""
    if not ok:
        if IN_CI or os.environ.get("ZHIMEI_TEST_REQUIRE_SERVICES"):
            pytest.fail(f"{what} is required in CI but is not reachable")
        pytest.skip(f"{what} not reachable")


def _pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_database(request):
    """A throwaway PostgreSQL database for this test session (only with --db postgres)."""
    if request.config.getoption("--db") != "postgres":
        yield None
        return
    import psycopg

    need_service(_pg_reachable(), "PostgreSQL")
    name = f"zhimei_test_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    from zhimei.store.db import reset_engine

    reset_engine()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def zhome(tmp_path, monkeypatch, pg_database):
    """A fresh ZHIMEI_HOME with a migrated, empty database; returns the home path."""
    home = tmp_path / "zhimei-home"
    monkeypatch.setenv("ZHIMEI_HOME", str(home))
    for var in list(os.environ):
        if var.startswith("ZHIMEI_") and var not in ("ZHIMEI_HOME", "ZHIMEI_DEBUG") and not var.startswith(
            "ZHIMEI_TEST_"
        ):
            monkeypatch.delenv(var)
    monkeypatch.setenv("ZHIMEI_JOB_BACKOFF_SECONDS", "0")
    monkeypatch.setenv("ZHIMEI_FETCH_PRIVATE_URLS", "1")  # tests serve URLs from 127.0.0.1
    if pg_database:
        monkeypatch.setenv("ZHIMEI_DATABASE_URL", pg_database)
    from zhimei.settings import reset_settings
    from zhimei.store import migrate

    reset_settings()
    migrate()
    if pg_database:
        _truncate_all()
    yield home
    reset_settings()


def _truncate_all() -> None:
    from sqlalchemy import text

    from zhimei.store.db import get_engine
    from zhimei.store.models import Base

    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with get_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="module")
def model_home(tmp_path_factory):
    """Settings with a throwaway home and no remote endpoint, for a module of packaged-model tests; the model
    cache stays the shared user cache (split weights assembled once). Backends are reset on entry and exit."""
    from zhimei.models import reset_backends
    from zhimei.settings import get_settings

    old = {k: os.environ.get(k) for k in ("ZHIMEI_HOME", "ZHIMEI_OPENAI_BASE_URL")}
    os.environ["ZHIMEI_HOME"] = str(tmp_path_factory.mktemp("zhome"))
    os.environ.pop("ZHIMEI_OPENAI_BASE_URL", None)
    get_settings.cache_clear()
    reset_backends()
    yield get_settings()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()
    reset_backends()


@pytest.fixture(scope="session")
def sample_video() -> Path:
    """The bundled sample clip (speech + hard cuts)."""
    p = SAMPLES / "newsroom-sample.mp4"
    assert p.exists(), "samples/newsroom-sample.mp4 is missing; run scripts/make_samples.py"
    return p


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    assert path, "ffmpeg is required (apt-get install ffmpeg)"
    return path


def run_ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; raise on error."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


CHROMIUM = os.environ.get("ZHIMEI_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
def client(zhome):
    """An in-process API client (no embedded workers)."""
    from fastapi.testclient import TestClient

    from zhimei.api.app import create_app

    with TestClient(create_app(workers=0)) as c:
        yield c


@pytest.fixture
def tokens(zhome) -> dict[str, str]:
    """One API token per role."""
    from zhimei.store.models import ROLES
    from zhimei.store.tokens import create_token

    return {role: create_token(f"t-{role}", role) for role in ROLES}


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Playwright (fails, not skips, in CI when missing)."""
    need_service(bool(shutil.which(CHROMIUM)), f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
