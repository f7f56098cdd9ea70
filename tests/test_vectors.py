"""Vector indexes (usearch, exact, pgvector) and their catch-up with the embedding table."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import _pg_reachable, need_service
from pgvector_fixture import pg_vector_home_fixture, pgserver_url_fixture  # noqa: F401 - fixtures

from zhimei.store.vectors import (
    EmbeddingVectors,
    ExactIndex,
    PgVectorIndex,
    UsearchIndex,
    VectorIndexError,
    asset_vectors,
    open_vector_index,
    pgvector_available,
    segment_vectors,
)

DIM = 32
MODEL = "test-model"


def clustered(n: int, dim: int = DIM, clusters: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around a shared direction and cluster centres (like text embeddings), not uniform."""
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=dim)
    centres = rng.normal(size=(clusters, dim)) + 1.5 * mean / np.linalg.norm(mean) * np.sqrt(dim) / 4
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def file_index(kind: str, path=None, dim: int = DIM):
    return UsearchIndex(dim, path=path) if kind == "usearch" else ExactIndex(dim, path=path)


# ------------------------------------------------------------------------------------------- index basics
@pytest.mark.parametrize("kind", ["usearch", "exact"])
def test_add_search_remove_save_reload(kind, tmp_path):
    vecs = clustered(500)
    keys = np.arange(1000, 1500, dtype=np.int64)
    path = tmp_path / f"ix.{kind}"
    ix = file_index(kind, path)
    assert len(ix) == 0 and ix.search(vecs[0], 5) == []
    ix.add(keys, vecs)
    assert len(ix) == 500
    hits = ix.search(vecs[7], 5)
    assert hits[0][0] == 1007 and hits[0][1] == pytest.approx(1.0, abs=0.02)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    batch = ix.search_many(vecs[:3], 4)
    assert [b[0][0] for b in batch] == [1000, 1001, 1002]

    assert ix.remove([1007, 999_999]) == 1
    assert len(ix) == 499 and 1007 not in [k for k, _ in ix.search(vecs[7], 10)]
    assert list(ix.contains([1007, 1008])) == [False, True]

    # add is an upsert: key 1008 now carries vector 0's direction
    ix.add([1008], vecs[:1])
    assert len(ix) == 499
    assert {k for k, _ in ix.search(vecs[0], 2)} == {1000, 1008}

    ix.high_water, ix.marker = 1499, "2026-01-01 00:00:00"
    assert ix.save()
    again = file_index(kind, path)
    assert len(again) == 499 and again.high_water == 1499 and again.marker == "2026-01-01 00:00:00"
    assert again.search(vecs[42], 1)[0][0] == 1042
    assert not list(path.parent.glob(".*tmp*")), "temporary files left behind"


@pytest.mark.parametrize("kind", ["usearch", "exact"])
def test_bad_input_is_a_clear_error(kind):
    ix = file_index(kind)
    ix.add([1], clustered(1))
    with pytest.raises(VectorIndexError, match="32-dimensional"):
        ix.add([2], np.ones((1, 8), np.float32))
    with pytest.raises(VectorIndexError, match="NaN"):
        ix.search(np.full(DIM, np.nan), 3)
    with pytest.raises(VectorIndexError, match="all-zero"):
        ix.search(np.zeros(DIM), 3)
    with pytest.raises(VectorIndexError, match="k must be"):
        ix.search(np.ones(DIM), 0)
    with pytest.raises(VectorIndexError, match="keys for"):
        ix.add([3, 4], clustered(1))
    with pytest.raises(VectorIndexError, match="non-negative"):
        ix.add([-3], clustered(1))
    with pytest.raises(VectorIndexError, match="duplicate"):
        ix.add([5, 5], clustered(2))
    assert ix.search(np.ones(DIM), 50) == ix.search(np.ones(DIM), 1)  # k above the size: what there is


def test_newer_file_wins_and_readers_see_it(tmp_path):
    path = tmp_path / "shared.usearch"
    a, b = UsearchIndex(DIM, path=path), UsearchIndex(DIM, path=path)
    vecs = clustered(20)
    a.add(np.arange(1, 21), vecs)
    a.high_water = 20
    assert a.save()
    assert b.changed_on_disk() and b.disk_is_newer()
    b.add([1], vecs[:1])
    b.high_water = 1
    assert not b.save(), "an older state must not overwrite a newer file"
    b.reload()
    assert len(b) == 20 and b.high_water == 20 and not b.changed_on_disk()


def test_usearch_recall_against_exact(monkeypatch):
    """HNSW with the shipped parameters finds >= 95% of the exact top 10 on clustered 384-d data."""
    monkeypatch.setattr("zhimei.store.vectors.EXACT_BELOW", 0)  # walk the graph, as past 20k vectors
    data = clustered(5000, dim=384, clusters=60, seed=1)
    queries = clustered(200, dim=384, clusters=60, seed=1)[:200] + 0.05 * np.random.default_rng(2).normal(
        size=(200, 384)).astype(np.float32)
    keys = np.arange(1, 5001)
    ann, exact = UsearchIndex(384), ExactIndex(384)
    ann.add(keys, data)
    exact.add(keys, data)
    truth = exact.search_many(queries, 10)
    got = ann.search_many(queries, 10)
    recall = np.mean([len({k for k, _ in g} & {k for k, _ in t}) / 10 for g, t in zip(got, truth, strict=True)])
    assert recall >= 0.95, recall
    # similarities agree with exact ones (i8/f16 storage is approximate)
    assert abs(got[0][0][1] - truth[0][0][1]) < 0.02


def test_small_usearch_index_is_scanned_exactly_and_every_build_agrees():
    """Below EXACT_BELOW vectors the top 100 is the exact one (up to f16 rounding), the same for every build."""
    from zhimei.store.vectors import EXACT_BELOW

    data = clustered(3000, dim=384, clusters=30, seed=4)
    queries = data[:40] + 0.05 * np.random.default_rng(5).normal(size=(40, 384)).astype(np.float32)
    keys = np.arange(1, 3001)
    builds = []
    for _ in range(2):
        ix = UsearchIndex(384)
        ix.add(keys, data)
        builds.append(ix.search_many(queries, 100))
    assert len(data) <= EXACT_BELOW and builds[0] == builds[1]
    exact = ExactIndex(384)
    exact.add(keys, data)
    truth = exact.search_many(queries, 100)
    overlap = np.mean([len({k for k, _ in g} & {k for k, _ in t}) / 100 for g, t in zip(builds[0], truth, strict=True)])
    assert overlap >= 0.98, overlap


# ------------------------------------------------------------------------------------------- catch-up with SQL
def _add_rows(vecs: np.ndarray, *, model: str = MODEL, owner_kind: str = "segment") -> list[int]:
    """Real assets, segments and embedding rows; returns the embedding ids."""
    from zhimei.library.understand.common import pack_vector
    from zhimei.store.db import session_scope
    from zhimei.store.models import Asset, Embedding, Segment

    with session_scope() as s:
        asset = Asset(kind="article", title="vectors")
        s.add(asset)
        s.flush()
        rows = []
        for i, v in enumerate(vecs):
            if owner_kind == "segment":
                seg = Segment(asset_id=asset.id, kind="paragraph", seq=i, text=f"p{i}")
                s.add(seg)
                s.flush()
                owner, seg_id = seg.id, seg.id
            else:  # one embedding per asset and model
                if i:
                    asset = Asset(kind="article", title=f"vectors {i}")
                    s.add(asset)
                    s.flush()
                owner, seg_id = asset.id, None
            rows.append(Embedding(owner_kind=owner_kind, owner_id=owner, asset_id=asset.id, segment_id=seg_id,
                                  model=model, dim=int(v.size), vector=pack_vector(v)))
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def _delete_rows(ids: list[int]) -> None:
    from sqlalchemy import delete

    from zhimei.store.db import session_scope
    from zhimei.store.models import Embedding

    with session_scope() as s:
        s.execute(delete(Embedding).where(Embedding.id.in_(ids)))


@pytest.mark.parametrize("kind", ["usearch", "exact"])
def test_catch_up_from_embedding_table(zhome, monkeypatch, kind):
    monkeypatch.setenv("ZHIMEI_VECTOR_INDEX", kind)
    from zhimei.settings import reset_settings

    reset_settings()
    vecs = clustered(300)
    ids = _add_rows(vecs[:200])
    sv = segment_vectors(MODEL, DIM)
    assert isinstance(sv, EmbeddingVectors) and sv is segment_vectors(MODEL, DIM)
    assert sv.search(vecs[5], 3)[0][0] == ids[5]
    assert len(sv) == 200 and sv.index.high_water == ids[-1]

    more = _add_rows(vecs[200:])  # new rows are found by the next search
    assert sv.search(vecs[250], 1)[0][0] == more[50]
    assert len(sv) == 300

    # asset embeddings live in their own index
    aid = _add_rows(vecs[:1] * -1, owner_kind="asset")
    assert asset_vectors(MODEL, DIM).search(-vecs[0], 1)[0][0] == aid[0]
    assert aid[0] not in [k for k, _ in sv.search(-vecs[0], 300)]

    # deleted rows stay until discarded or rebuilt; the caller filters them
    _delete_rows(ids[:10])
    assert sv.search(vecs[3], 1)[0][0] == ids[3]
    assert sv.discard(ids[:5]) == 5
    assert ids[3] not in [k for k, _ in sv.search(vecs[3], 5)]
    assert sv.rebuild() == 290
    assert ids[7] not in [k for k, _ in sv.search(vecs[7], 5)]
    assert not sv.needs_rebuild()

    # another process opening the saved file starts where this one stopped
    sv.save()
    other = EmbeddingVectors(open_vector_index("segment", MODEL, DIM))
    assert len(other) == 290 and other.index.high_water == sv.index.high_water
    assert other.sync() == 0


def test_reused_sqlite_ids_get_their_new_vectors(zhome, monkeypatch):
    """SQLite gives a deleted top id to the next row: the index must not keep the old vector under it.
    (SQLite-only behaviour: on a --db postgres run this test still uses SQLite.)"""
    from zhimei.settings import reset_settings
    from zhimei.store import migrate, reset_engine
    from zhimei.store.vectors import vector_catalog

    monkeypatch.delenv("ZHIMEI_DATABASE_URL", raising=False)
    reset_settings()
    reset_engine()
    vector_catalog().clear()
    migrate()
    vecs = clustered(60)
    ids = _add_rows(vecs[:50])
    sv = segment_vectors(MODEL, DIM)
    sv.sync()
    _delete_rows(ids[40:])  # the top ten ...
    new = _add_rows(vecs[50:60])  # ... and their ids come back for other vectors
    assert set(new) & set(ids[40:]), "expected SQLite to reuse ids (no AUTOINCREMENT on embedding)"
    for i, key in enumerate(new):
        assert sv.search(vecs[50 + i], 1)[0][0] == key
    assert len(sv) == 50


def test_stale_index_is_rebuilt(zhome):
    vecs = clustered(40)
    ids = _add_rows(vecs)
    sv = segment_vectors(MODEL, DIM)
    sv.sync()
    sv.stale_check_seconds, sv.stale_slack = 0, 0
    _delete_rows(ids[:30])
    assert sv.needs_rebuild()
    sv.sync()  # notices and rebuilds (small: at once)
    assert len(sv) == 10 and sv.index.generation == 1


def test_rebuild_reports_progress(zhome):
    from zhimei.store.vectors import rebuild_all

    _add_rows(clustered(30))
    _add_rows(clustered(3), owner_kind="asset")
    seen = []
    assert rebuild_all(lambda done, total: seen.append((done, total))) == 33
    assert (3, 3) in seen and (30, 30) in seen and seen[0][0] == 0


def test_bad_owner_kind(zhome):
    from zhimei.store.vectors import vector_catalog

    with pytest.raises(VectorIndexError, match="owner_kind"):
        vector_catalog().get("shot", MODEL, DIM)


# ------------------------------------------------------------------------------------------- PostgreSQL
def test_pgvector_index_for_real(pg_vector_home):
    assert pgvector_available()
    sv = segment_vectors(MODEL, DIM)  # auto: pgvector on PostgreSQL with the extension
    assert isinstance(sv.index, PgVectorIndex)
    vecs = clustered(300)
    ids = _add_rows(vecs[:200])
    hits = sv.search(vecs[9], 5)
    assert hits[0][0] == ids[9] and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert len(sv) == 200
    more = _add_rows(vecs[200:])
    assert [h[0][0] for h in sv.search_many(vecs[250:252], 3)] == more[50:52]

    ix = sv.index
    assert ix.remove([ids[0]]) == 1 and not ix.contains([ids[0]])[0]
    ix.add([ids[0]], vecs[1:2])  # upsert
    assert {k for k, _ in ix.search(vecs[1], 2)} == {ids[0], ids[1]}
    with pytest.raises(VectorIndexError, match="existing embedding"):
        ix.add([9_999_999], vecs[:1])

    _delete_rows(ids[:10])  # ON DELETE CASCADE: gone from the index at once
    assert len(ix) == 290 and ids[3] not in [k for k, _ in sv.search(vecs[3], 5)]
    assert sv.rebuild() == 290
    assert sv.search(vecs[150], 1)[0][0] == ids[150]


def test_pgvector_recall(pg_vector_home):
    data = clustered(3000, dim=64, clusters=50, seed=3)
    ids = np.array(_add_rows(data))
    sv = segment_vectors(MODEL, 64)
    q = data[:100] + 0.05 * np.random.default_rng(4).normal(size=(100, 64)).astype(np.float32)
    exact = ExactIndex(64)
    exact.add(ids, data)
    truth, got = exact.search_many(q, 10), sv.search_many(q, 10)
    recall = np.mean([len({k for k, _ in g} & {k for k, _ in t}) / 10 for g, t in zip(got, truth, strict=True)])
    assert recall >= 0.95, recall


def test_usearch_on_postgres_catches_out_of_order_commits(pg_vector_home, monkeypatch):
    """On PostgreSQL a lower id can commit after a higher one was indexed: the look-back finds it."""
    monkeypatch.setenv("ZHIMEI_VECTOR_INDEX", "usearch")
    from zhimei.library.understand.common import pack_vector
    from zhimei.settings import reset_settings
    from zhimei.store.db import session_scope
    from zhimei.store.models import Embedding

    reset_settings()
    vecs = clustered(30)
    ids = _add_rows(vecs[:20])
    sv = segment_vectors(MODEL, DIM)
    assert isinstance(sv.index, UsearchIndex)
    with session_scope() as s:  # a transaction that drew a later id from the sequence commits first
        s.add(Embedding(id=ids[-1] + 50, owner_kind="segment", owner_id=10_000, asset_id=1, segment_id=None,
                        model=MODEL, dim=DIM, vector=pack_vector(vecs[20])))
    assert sv.search(vecs[20], 1)[0][0] == ids[-1] + 50
    assert sv.index.high_water == ids[-1] + 50
    late = _add_rows(vecs[21:30])  # ... and the earlier ones after it
    assert max(late) < ids[-1] + 50
    assert [h[0][0] for h in sv.search_many(vecs[21:30], 1)] == late


def test_missing_pgvector_is_a_clear_error(monkeypatch, tmp_path):
    """Debian 12's PostgreSQL has no pgvector: auto falls back to usearch; forcing pgvector says why."""
    from conftest import PG_ADMIN_URL

    need_service(_pg_reachable(), "PostgreSQL")
    import psycopg

    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin) as conn:
        has = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    if has:
        pytest.skip("this PostgreSQL has pgvector")
    from sqlalchemy import create_engine

    engine = create_engine(PG_ADMIN_URL)
    try:
        assert not pgvector_available(engine)
        ix = PgVectorIndex(DIM, engine=engine, model=MODEL)
        with pytest.raises(VectorIndexError, match="no pgvector extension"):
            len(ix)
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["usearch", "exact"])
def test_unreadable_index_file_starts_again(kind, tmp_path):
    path = tmp_path / f"ix.{kind}"
    ix = file_index(kind, path)
    ix.add([1, 2], clustered(2))
    ix.high_water = 2
    ix.save()
    path.write_bytes(b"not an index")
    again = file_index(kind, path)  # a cache: set aside, rebuilt from SQL by the catch-up
    assert len(again) == 0 and again.high_water == 0
    assert path.with_name(path.name + ".bad").exists()
    again.add([3], clustered(1))
    assert again.save() and len(file_index(kind, path)) == 1


def test_concurrent_searches_while_rows_arrive(zhome):
    import threading

    vecs = clustered(400)
    _add_rows(vecs[:100])
    sv = segment_vectors(MODEL, DIM)
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                assert sv.search(vecs[0], 5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for s in range(100, 400, 50):
            _add_rows(vecs[s:s + 50])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert sv.search(vecs[399], 1) and len(sv) == 400


def test_usearch_and_onnxruntime_load_together_in_either_order():
    """usearch 2.26 imported before onnxruntime 1.31 crashes the process; the store imports them safely."""
    import subprocess
    import sys

    code = ("from zhimei.store.vectors import UsearchIndex; UsearchIndex(4); "
            "import onnxruntime; print(onnxruntime.__version__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
