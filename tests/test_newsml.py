"""NewsML-G2 news items: fields, bodies, and refusal of DTD/entity tricks (parsed only with defusedxml)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import SAMPLES
from sqlalchemy import select

from zhimei.jobs import drain
from zhimei.library.assets import ingest_bytes, ingest_file
from zhimei.library.catalog import asset_detail
from zhimei.library.text import ExtractError
from zhimei.library.text.newsml import extract_newsml
from zhimei.settings import reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Segment

NEWSML_MIME = "application/vnd.iptc.g2.newsitem+xml"
NAR = "http://iptc.org/std/nar/2006-10-01/"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE newsItem [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:test:lol" version="1">
 <contentMeta><headline>&lol9;</headline></contentMeta>
</newsItem>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE newsItem [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:test:xxe" version="1">
 <contentMeta><headline>&secret;</headline></contentMeta>
</newsItem>
"""


def item(body: str, *, lang: str = "zh", headline: str = "标题", extra_meta: str = "", root_attrs: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<newsItem xmlns="{NAR}" guid="urn:test:item" version="1" standard="NewsML-G2" xml:lang="{lang}" {root_attrs}>
  <contentMeta><headline>{headline}</headline>{extra_meta}</contentMeta>
  <contentSet>{body}</contentSet>
</newsItem>
""".encode()


@pytest.fixture
def lib(zhome, monkeypatch):
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    return zhome


def run(data: bytes | Path, filename: str = "item.xml") -> dict:
    res = ingest_file(data) if isinstance(data, Path) else ingest_bytes(data, filename)
    drain()
    with session_scope() as s:
        detail = asset_detail(s, res.asset_id)
        detail["paragraphs"] = [(r.text, r.language, r.char_start, r.char_end) for r in s.scalars(
            select(Segment).where(Segment.asset_id == res.asset_id, Segment.kind == "paragraph")
            .order_by(Segment.seq))]
    return detail


def test_sample_news_item(lib):
    d = run(SAMPLES / "sample-newsml.xml")
    assert d["status"] == "ready", d["failure_reason"]
    assert d["mime"] == NEWSML_MIME
    assert d["title"] == "Harbour gets its first electric ferry"
    assert d["language"] == "en"
    assert d["published_at"].startswith("2024-09-10T02:30:00")  # contentCreated 10:30 +08:00
    assert d["rights"] == "zhimei sample newsroom" and d["licence"] == "CC0 1.0"
    meta = d["meta"]
    assert meta["uri"] == "urn:newsml:zhimei.example:20240910:harbour-ferry" and meta["version"] == "2"
    assert meta["slugline"] == "HK-FERRY-ELECTRIC"
    assert meta["dateline"] == "HONG KONG, Sept 10"
    assert meta["author"] == "By Alex Wong"
    assert meta["description"].startswith("A battery-powered ferry entered service")
    assert meta["located"] == "Hong Kong" and meta["urgency"] == "4"
    assert meta["subjects"] == [{"name": "transport", "code": "medtop:20000750"},
                                {"name": "tourism", "code": "medtop:20000437"}]
    assert meta["usageterms"] == "CC0 1.0" and meta["pubstatus"] == "stat:usable"
    texts = [p[0] for p in d["paragraphs"]]
    assert len(texts) == 3
    assert texts[0] == ("A battery-powered ferry entered service on the cross-harbour route on Tuesday, the first "
                        "of six electric vessels the operator plans to run by 2026.")
    assert "Harbour gets its first electric ferry" not in texts  # the XHTML <head><title> is not body text
    joined = "\n\n".join(texts)
    assert all(joined[s:e] == t for t, _, s, e in d["paragraphs"])


def test_billion_laughs_is_refused_quickly(lib):
    started = time.monotonic()
    d = run(BILLION_LAUGHS, "lol.xml")
    assert d["status"] == "failed"
    assert "DTD" in d["failure_reason"] and "billion laughs" in d["failure_reason"]
    assert d["paragraphs"] == []
    assert time.monotonic() - started < 60  # refused before any expansion (a guard, not a benchmark)
    assert run(SAMPLES / "sample-newsml.xml")["status"] == "ready"


def test_external_entity_is_refused_and_nothing_is_read():
    with pytest.raises(ExtractError, match="DTD"):
        extract_newsml(XXE)
    no_doctype = XXE.replace(b'<!DOCTYPE newsItem [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>', b"")
    with pytest.raises(ExtractError, match="malformed NewsML XML: undefined entity"):
        extract_newsml(no_doctype)


def test_malformed_xml_names_line_and_column():
    with pytest.raises(ExtractError, match=r"malformed NewsML XML: mismatched tag \(line 3, column"):
        extract_newsml(b'<?xml version="1.0"?>\n<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/">\n'
                       b"<contentMeta><headline>x</contentMeta></newsItem>")


def test_not_a_news_item():
    with pytest.raises(ExtractError, match="not a NewsML-G2 news item"):
        extract_newsml(b'<catalog xmlns="http://iptc.org/std/nar/2006-10-01/"><scheme/></catalog>')


def test_inline_data_plain_text_body_in_chinese():
    doc = extract_newsml(item('<inlineData contenttype="text/plain">暴雨预警今晨发布，\n全市中小学停课一天。\n\n'
                              "气象部门提醒市民减少外出。</inlineData>", lang="zh-CN",
                              headline="全市发布暴雨红色预警"))
    assert doc.title == "全市发布暴雨红色预警"
    assert doc.language == "zh-CN"
    assert [p.text for p in doc.paragraphs] == ["暴雨预警今晨发布，全市中小学停课一天。", "气象部门提醒市民减少外出。"]


def test_language_from_xml_lang_when_content_meta_has_none():
    doc = extract_newsml(item('<inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml">'
                              "<body><p>第一段。</p><ul><li>要点一</li><li>要点二</li></ul></body></html></inlineXML>",
                              lang="zh-TW"))
    assert doc.language == "zh-TW"
    assert [p.text for p in doc.paragraphs] == ["第一段。", "要点一", "要点二"]


def test_news_message_takes_its_first_item():
    one = item('<inlineData contenttype="text/plain">First story.</inlineData>', lang="en", headline="One")
    two = item('<inlineData contenttype="text/plain">Second story.</inlineData>', lang="en", headline="Two")
    strip = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    msg = (b'<?xml version="1.0" encoding="UTF-8"?><newsMessage xmlns="' + NAR.encode() + b'"><header/><itemSet>'
           + one.replace(strip, b"") + two.replace(strip, b"") + b"</itemSet></newsMessage>")
    doc = extract_newsml(msg)
    assert doc.title == "One" and [p.text for p in doc.paragraphs] == ["First story."]
    assert doc.meta["items_in_message"] == 2


def test_rights_with_notice_only_and_headline_roles():
    xml = item('<inlineData contenttype="text/plain">Body.</inlineData>', lang="en",
               headline="Main headline</headline><headline role='hld:short'>Short",
               root_attrs="")
    xml = xml.replace(b"<contentMeta>", b"<rightsInfo><copyrightNotice>(c) 2024 Example Wire</copyrightNotice>"
                      b"</rightsInfo><contentMeta>")
    doc = extract_newsml(xml)
    assert doc.title == "Main headline"
    assert doc.rights == "(c) 2024 Example Wire"
    assert doc.licence is None
