"""The store: migrations on SQLite (WAL) and PostgreSQL, blob stores (local disk and a real S3 server), gc."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import PG_ADMIN_URL, _pg_reachable, need_service
from sqlalchemy import inspect, select, text

from zhimei.settings import Settings, reset_settings
from zhimei.store import BlobNotFound, collect_garbage, get_engine, migrate, referenced_blobs, session_scope
from zhimei.store.blobs import LocalBlobStore, S3BlobStore, get_blob_store
from zhimei.store.models import Asset, Base, Job, Keyframe, Rendition


def _schema_problems(engine) -> list:
    """Differences between the migrated schema and the models (empty when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        from zhimei.store.models import include_name

        return compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata)


def _check_migrated(engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == _latest_revision()


def _alembic_config():
    from alembic.config import Config

    import zhimei.store.db as db

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    cfg.attributes["engine"] = get_engine()
    return cfg


def _downgrade_to_base() -> None:
    from alembic import command

    command.downgrade(_alembic_config(), "base")


def _latest_revision() -> str:
    from alembic.script import ScriptDirectory

    import zhimei.store.db as db

    return ScriptDirectory(str(Path(db.__file__).parent / "migrations")).get_current_head()


def test_migrations_on_sqlite_use_wal(tmp_path, monkeypatch):
    home = tmp_path / "home"
    for var in [v for v in os.environ if v.startswith("ZHIMEI_") and not v.startswith("ZHIMEI_TEST_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("ZHIMEI_HOME", str(home))
    reset_settings()
    try:
        migrate()
        migrate()  # a second run is a no-op
        engine = get_engine()
        assert engine.dialect.name == "sqlite"
        assert (home / "zhimei.db").exists()
        _check_migrated(engine)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert _schema_problems(engine) == []
    finally:
        reset_settings()


@pytest.mark.postgres
def test_migrations_on_postgresql(tmp_path, monkeypatch):
    need_service(_pg_reachable(), "PostgreSQL")
    import psycopg

    name = f"zhimei_mig_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        monkeypatch.setenv("ZHIMEI_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("ZHIMEI_DATABASE_URL", PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        reset_settings()
        migrate()
        engine = get_engine()
        assert engine.dialect.name == "postgresql"
        _check_migrated(engine)
        assert _schema_problems(engine) == []
        _downgrade_to_base()  # the downgrade works too
        assert "asset" not in inspect(get_engine()).get_table_names()
        migrate()
        _check_migrated(get_engine())
    finally:
        reset_settings()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrated_schema_matches_models(zhome):
    """On whichever database the suite runs (SQLite, or PostgreSQL with --db postgres)."""
    _check_migrated(get_engine())
    assert _schema_problems(get_engine()) == []


# ---------------------------------------------------------------- blob store contract (local and S3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (moto in server mode) on a free loopback port."""
    exe = Path(sys.executable).with_name("moto_server")
    assert exe.exists(), f"{exe} is missing: pip install 'moto[server]'"
    port = _free_port()
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _s3_settings(url: str, bucket: str) -> Settings:
    return Settings(blob_backend="s3", s3_endpoint_url=url, s3_bucket=bucket, s3_access_key="testing",
                    s3_secret_key="testing", s3_region="us-east-1")


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, monkeypatch):
    """Each blob backend, empty."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    url = request.getfixturevalue("s3_server")
    # moto's in-memory server answers 500 now and then when the same key is written concurrently (it
    # closes the old value while another request reads it); retry as one would against a busy S3.
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "10")
    return S3BlobStore(_s3_settings(url, f"zhimei-{uuid.uuid4().hex[:10]}"))


def _content(n: int, seed: int = 0) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (n // 32) + b"x" * (n % 32)


def test_blob_contract_put_read_delete(store, tmp_path):
    data = _content(3 * 1024 * 1024 + 17)  # more than one read chunk
    src = tmp_path / "clip.bin"
    src.write_bytes(data)
    sha = store.put_file(src)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.put_file(src) == sha  # idempotent
    assert store.put_bytes(data) == sha
    assert store.exists(sha) and store.size(sha) == len(data)
    assert store.read_bytes(sha) == data
    start, end = 1024 * 1024 - 5, 2 * 1024 * 1024 + 10  # spans chunk boundaries, end inclusive
    assert b"".join(store.read_range(sha, start, end)) == data[start:end + 1]
    assert b"".join(store.read_range(sha, len(data) - 1, len(data) - 1)) == data[-1:]
    with store.local_path(sha) as p:
        assert Path(p).read_bytes() == data
    if isinstance(store, S3BlobStore):
        assert not Path(p).exists()  # the temporary download is removed

    small = store.put_bytes("简讯：快讯正文".encode())
    assert sorted(store.keys()) == sorted([sha, small])
    store.delete(sha)
    store.delete(sha)  # absent: no error
    assert not store.exists(sha)
    assert list(store.keys()) == [small]


@pytest.mark.parametrize("bad", ["", "abc", "../../etc/passwd", "G" * 64, "A" * 64, "0" * 63 + "/"])
def test_blob_contract_refuses_malformed_keys(store, bad):
    assert not store.exists(bad)
    with pytest.raises(BlobNotFound):
        store.size(bad)
    with pytest.raises(BlobNotFound):
        b"".join(store.read_range(bad, 0, 10))


def test_blob_contract_missing_keys(store):
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(missing)
    with pytest.raises(BlobNotFound):
        store.size(missing)
    with pytest.raises(BlobNotFound):
        store.read_bytes(missing)
    with pytest.raises(BlobNotFound):
        b"".join(store.read_range(missing, 0, 10))
    with pytest.raises(BlobNotFound), store.local_path(missing):
        pass
    store.delete(missing)


def test_blob_contract_concurrent_puts_of_same_content(store, tmp_path):
    data = _content(2 * 1024 * 1024, seed=7)
    paths = []
    for i in range(8):
        p = tmp_path / f"copy{i}.bin"
        p.write_bytes(data)
        paths.append(p)
    results, errors = [], []

    def put(p: Path) -> None:
        try:
            results.append(store.put_file(p))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(results) == {hashlib.sha256(data).hexdigest()}
    assert list(store.keys()) == results[:1]
    assert store.read_bytes(results[0]) == data
    if isinstance(store, LocalBlobStore):
        assert store.temp_files() == []


def test_local_put_is_atomic(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    src = tmp_path / "a.bin"
    src.write_bytes(b"final bytes")
    sha = store.put_file(src)
    assert store.path(sha).read_bytes() == b"final bytes"
    assert store.temp_files() == []
    # a put that fails half-way (the source vanishes, or is not a file) leaves nothing behind
    with pytest.raises(OSError):
        store.put_file(tmp_path / "missing.bin", hashlib.sha256(b"x").hexdigest())
    with pytest.raises(OSError):
        store.put_file(tmp_path, hashlib.sha256(b"y").hexdigest())
    assert store.temp_files() == []
    assert list(store.keys()) == [sha]
    # a partial write left by a crash is not a blob and is not listed
    (store.tmp / f"{sha[:12]}-crashed").write_bytes(b"half")
    assert list(store.keys()) == [sha]


# ---------------------------------------------------------------- garbage collection


def test_collect_garbage_keeps_what_rows_refer_to(zhome):
    store = get_blob_store()
    assert isinstance(store, LocalBlobStore)
    original = store.put_bytes(b"original video bytes")
    frame, thumb = store.put_bytes(b"keyframe"), store.put_bytes(b"thumb")
    staged = store.put_bytes(b"staged by a running job")
    staged_failed = store.put_bytes(b"staged by a failed job")
    orphan = store.put_bytes(b"nobody refers to me")
    with session_scope() as session:
        asset = Asset(kind="video", title="gc", sha256=original)
        session.add(asset)
        session.flush()
        session.add(Rendition(asset_id=asset.id, kind="original", blob_sha=original))
        session.add(Keyframe(asset_id=asset.id, shot_seq=0, time=0.0, blob_sha=frame, thumb_sha=thumb,
                             width=1, height=1))
        session.add(Job(asset_id=asset.id, stage="normalize", status="running", staged_blobs=[staged]))
        session.add(Job(asset_id=asset.id, stage="shots", status="failed", staged_blobs=[staged_failed]))
    fresh_tmp = store.tmp / "abc-fresh"
    fresh_tmp.write_bytes(b"partial, being written now")

    with session_scope() as session:
        assert collect_garbage(session, store) == []  # everything younger than the grace period
        refs = referenced_blobs(session)
    assert {original, frame, thumb, staged} <= refs and orphan not in refs and staged_failed not in refs

    old_tmp = store.tmp / "abc-old"
    old_tmp.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    for p in (old_tmp, *(store.path(sha) for sha in (original, frame, thumb, staged, orphan, staged_failed))):
        os.utime(p, (two_hours_ago, two_hours_ago))
    with session_scope() as session:
        deleted = collect_garbage(session, store)
    assert sorted(deleted) == sorted([orphan, staged_failed, "abc-old"])
    assert set(store.keys()) == {original, frame, thumb, staged}
    assert store.temp_files() == [fresh_tmp]
    with session_scope() as session:
        assert session.scalar(select(Rendition.blob_sha)) == original


# ---------------------------------------------------------------- a full ingest with blobs on S3


def test_ingest_with_blobs_on_s3(zhome, monkeypatch, s3_server):
    import boto3

    bucket = f"zhimei-ingest-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ZHIMEI_BLOB_BACKEND", "s3")
    monkeypatch.setenv("ZHIMEI_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("ZHIMEI_S3_BUCKET", bucket)
    monkeypatch.setenv("ZHIMEI_S3_ACCESS_KEY", "testing")
    monkeypatch.setenv("ZHIMEI_S3_SECRET_KEY", "testing")
    reset_settings()
    from zhimei.jobs import drain
    from zhimei.library.assets import ingest_bytes
    from zhimei.library.catalog import asset_detail

    data = (
        "<html><head><title>港口罢工进入第三天</title></head><body><h1>港口罢工进入第三天</h1>"
        "<p>码头工人周三继续罢工，集装箱在港区堆积。</p>"
        "<p>Dockworkers stayed out for a third day on Wednesday as containers piled up.</p></body></html>"
    ).encode()
    result = ingest_bytes(data, "strike.html", source="desk")
    assert result.created and result.kind == "article"
    sha = hashlib.sha256(data).hexdigest()
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    obj = client.get_object(Bucket=bucket, Key=f"blobs/{sha}")
    assert obj["Body"].read() == data
    assert not (zhome / "blobs").exists() or not any((zhome / "blobs").glob("??/??/*"))

    drain()
    with session_scope() as session:
        detail = asset_detail(session, result.asset_id)
    assert detail["status"] == "ready", detail
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    for r in detail["renditions"]:
        assert f"blobs/{r['sha256']}" in keys


def test_atomic_writes_replace_whole_files_and_leave_nothing_behind(tmp_path):
    """`store.files`: the new content or the old, never a temp file, also when the writer fails."""
    from zhimei.store.files import replace_atomic, write_atomic

    path = tmp_path / "lists" / "words.tsv"
    write_atomic(path, "甲\t1\n")  # the folder is made
    assert path.read_text(encoding="utf-8") == "甲\t1\n"
    assert path.stat().st_mode & 0o777 == 0o600  # a new file is its owner's
    path.chmod(0o644)
    write_atomic(path, b"\x00\x01", durable=False)
    assert path.read_bytes() == b"\x00\x01" and path.stat().st_mode & 0o777 == 0o644  # a replaced one keeps its mode

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomic(path, half_then_fail)
    assert path.read_bytes() == b"\x00\x01" and sorted(p.name for p in path.parent.iterdir()) == ["words.tsv"]
    with pytest.raises(TypeError):
        write_atomic(path, 12)  # type: ignore[arg-type]
    assert path.read_bytes() == b"\x00\x01" and len(list(path.parent.iterdir())) == 1


def test_numpy_files_are_written_whole_under_their_own_name(tmp_path):
    """`store.files.write_npz` / `write_npy`: NumPy adds no suffix of its own, and a failed save keeps the old file."""
    import numpy as np

    from zhimei.store.files import write_npy, write_npz

    model = tmp_path / "classifier-2.npz"
    write_npz(model, {"weights": np.arange(3, dtype=np.float32), "vocab": np.asarray("甲\x00乙")})
    with np.load(model) as z:
        assert z["weights"].tolist() == [0, 1, 2] and str(z["vocab"]) == "甲\x00乙"
    class Broken:
        def __array__(self, *args, **kwargs):
            raise ValueError("cannot be an array")

    with pytest.raises(ValueError, match="cannot be an array"):
        write_npz(model, {"weights": np.zeros(2), "bad": Broken()}, compressed=False)
    with np.load(model) as z:
        assert z["weights"].tolist() == [0, 1, 2]
    write_npy(tmp_path / "e5-abc.npy", np.ones((2, 4), np.float32))
    assert np.load(tmp_path / "e5-abc.npy").shape == (2, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classifier-2.npz", "e5-abc.npy"]
