"""The keyword query planner: once common words would make FTS5 score too many postings, it scores the rarer words'
documents, the newest documents holding every word and the newest holding any, instead of every match."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import zhimei.library.search.keyword as keyword
from zhimei.library.search.filters import SearchFilters
from zhimei.store.db import read_scope, session_scope


def _fill(rows: list[str]) -> None:
    with session_scope() as s:
        s.execute(text("INSERT INTO asset (id, kind, title, source, rights, licence, filename, mime, size_bytes, "
                       "status, meta, created_at, updated_at, created_by) VALUES (1, 'article', 't', 'wire', '', '', "
                       "'t.md', 'text/markdown', 0, 'ready', '{}', '2026-11-22 00:00:00', '2026-11-22 00:00:00', "
                       "'test')"))
        for i, tokens in enumerate(rows, start=1):
            s.execute(text("INSERT INTO segment (id, asset_id, kind, seq, text, language, meta) "
                           "VALUES (:i, 1, 'paragraph', :i, :t, 'zh', '{}')"), {"i": i, "t": tokens})
            s.execute(text("INSERT INTO search_doc (id, asset_id, segment_id, kind, text, tokens, language) "
                           "VALUES (:i, 1, :i, 'paragraph', :t, :t, 'zh')"), {"i": i, "t": tokens})


def _hits(terms: list[str], limit: int = 10) -> list[int]:
    with read_scope() as s:
        return [h[0] for h in keyword.keyword_hits(s, terms, SearchFilters.parse(None), limit)]


def test_planner_keeps_rare_word_documents_and_newest_common_ones(zhome, monkeypatch):
    if _dialect() != "sqlite":
        pytest.skip("the planner is the SQLite (FTS5) path; PostgreSQL ranks with its own query")
    # 300 documents say the common word; document 7 also holds the rare word; 150 hold both common words
    rows = []
    for i in range(1, 301):
        words = ["中国"]
        if i % 2 == 0:
            words.append("经济")
        if i == 7:
            words.append("冬奥会")
        rows.append(" ".join(words + ["填充"] * (i % 5)))
    _fill(rows)
    exact = _hits(["冬奥会", "中国", "经济"])
    monkeypatch.setattr(keyword, "EXACT_BUDGET", 50)
    monkeypatch.setattr(keyword, "NEWEST", 40)
    planned = _hits(["冬奥会", "中国", "经济"])
    assert planned[0] == exact[0] == 7  # the rare word decides the top hit either way
    assert len(planned) == 10 and len(set(planned)) == 10
    # a single common word: the newest matches, best first by BM25 among them (all hold the word)
    common = _hits(["中国"], limit=5)
    assert len(common) == 5 and all(i > 300 - 40 for i in common)
    # a word absent from the index is dropped, not an error
    assert _hits(["不存在的词"]) == []


def _dialect() -> str:
    with read_scope() as s:
        return s.get_bind().dialect.name


def test_document_counts_are_remembered_until_a_document_is_added(zhome):
    # the planner's per-term counts are cached; a newly indexed document holding a word seen as absent is found
    _fill(["早间 新闻", "晚间 新闻"])
    assert _hits(["午间"]) == []
    with session_scope() as s:
        s.execute(text("INSERT INTO search_doc (id, asset_id, segment_id, kind, text, tokens, language) "
                       "VALUES (3, 1, NULL, 'title', '午间', '午间 新闻', 'zh')"))
    assert _hits(["午间"]) == [3]
    assert sorted(_hits(["新闻"])) == [1, 2, 3]
