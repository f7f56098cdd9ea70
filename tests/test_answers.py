"""Cited answers (问答): the right asset and paragraph cited, "not in the archive" said plainly, hostile
questions answered or refused clearly — with the real models over articles ingested through the pipeline."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from zhimei.jobs import worker
from zhimei.library.assets import ingest_bytes
from zhimei.library.search import SearchError, ask
from zhimei.library.search.answers import MAX_QUESTION_CHARS, NOT_FOUND
from zhimei.store.db import session_scope
from zhimei.store.models import Segment

ARTICLES = {
    "port.md": "# 上海港集装箱吞吐量创新高\n\n上海港位于长江入海口，是中国最大的港口之一。\n\n"
               "上海港今年集装箱吞吐量突破四千万标准箱，港口运营保持平稳。洋山港区的自动化码头贡献最大。\n",
    "olympics.md": "# 北京冬奥会开幕\n\n2022年2月4日，北京冬奥会在国家体育场开幕。\n\n"
                   "开幕式由张艺谋担任总导演，数万名观众在现场观看。\n",
    "floods.md": "# Floods hit river towns\n\nHeavy rain fell across the valley for three days.\n\n"
                 "On Monday the river burst its banks. Rescue teams from the fire brigade evacuated 300 residents "
                 "by boat while reporters sent updates from the scene.\n",
    "library.md": "# City library reopens\n\nThe central library reopened on Saturday after a two-year renovation. "
                  "The new building holds 400,000 books and a children's wing.\n",
}


def _ingest() -> dict[str, int]:
    ids = {name: ingest_bytes(body.encode(), name, source="wire").asset_id for name, body in ARTICLES.items()}
    worker.drain()
    return ids


def _segment_with(asset_id: int, words: str) -> int:
    with session_scope() as s:
        for seg in s.scalars(select(Segment).where(Segment.asset_id == asset_id)):
            if words in seg.text:
                return seg.id
    raise AssertionError(f"no segment of asset {asset_id} holds {words!r}")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_answers_cite_the_asset_and_paragraph_that_hold_them_and_say_when_the_archive_has_none(zhome):
    ids = _ingest()

    a = ask("上海港今年的集装箱吞吐量突破了多少？")
    assert a.found and a.mode_used == "extractive"
    assert "四千万标准箱" in a.text and "[1]" in a.text
    src = a.sources[a.sentences[0].citations[0]]
    assert src.asset_id == ids["port.md"] and src.n == 1
    assert src.segment_id == _segment_with(ids["port.md"], "四千万标准箱")
    assert src.url == f"/assets/{ids['port.md']}#seg-{src.segment_id}"
    assert "四千万" in src.excerpt and src.kind == "paragraph" and src.credibility == 3
    assert a.short == "四千万标准箱"
    json.dumps(a.to_dict(), ensure_ascii=False)  # JSON-ready for the API

    a = ask("谁担任了冬奥会开幕式的总导演？")
    assert a.found and a.short == "张艺谋"
    assert a.sources[0].asset_id == ids["olympics.md"]

    a = ask("How many residents did the rescue teams evacuate?")
    assert a.found
    src = a.sources[a.sentences[0].citations[0]]
    assert src.asset_id == ids["floods.md"]
    assert src.segment_id == _segment_with(ids["floods.md"], "evacuated 300 residents")
    assert "evacuated 300 residents" in a.sentences[0].text and a.short.startswith("300")
    # every sentence cites a listed source
    assert all(s.citations and all(0 <= c < len(a.sources) for c in s.citations) for s in a.sentences)

    # a topic the archive does not hold: said plainly, in the question's language, nearest sources listed
    a = ask("火星探测器是哪一年着陆的？")
    assert not a.found and a.text == NOT_FOUND["zh"] and a.sentences[0].citations == []
    assert len(a.sources) <= 3
    a = ask("What was the score of the cricket final?")
    assert not a.found and a.text == NOT_FOUND["en"]

    # filters narrow what is read: the port answer is not in the English assets
    a = ask("上海港今年的集装箱吞吐量突破了多少？", filters={"language": "en"})
    assert not a.found or all(s.asset_id != ids["port.md"] for s in a.sources)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_hostile_questions_never_crash(zhome):
    ingest_bytes(ARTICLES["port.md"].encode(), "port.md")
    worker.drain()
    for bad in ("", "   \n\t", "\x00"):
        with pytest.raises(SearchError, match="empty"):
            ask(bad)
    with pytest.raises(SearchError, match="text"):
        ask(None)  # type: ignore[arg-type]
    with pytest.raises(SearchError, match="mode"):
        ask("上海港", mode="oracle")
    with pytest.raises(SearchError, match="k "):
        ask("上海港", k=0)
    with pytest.raises(SearchError, match="filter"):
        ask("上海港", filters={"colour": "red"})
    long = ask("上海港集装箱吞吐量" * 1200)  # 10,800 characters: cut, not refused
    assert len(long.question) == MAX_QUESTION_CHARS
    for q in ('"上海港" AND (NOT 吞吐量*) OR NEAR(a b) ^col: "unclosed', "🚢🚢🚢？", "上海港 port 🚢 吞吐量?",
              "'; DROP TABLE asset; --"):
        a = ask(q)
        assert isinstance(a.found, bool) and a.text
        json.dumps(a.to_dict(), ensure_ascii=False)
