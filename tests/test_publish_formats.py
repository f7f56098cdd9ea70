"""Every feed and export format parsed back by an independent parser: feedparser (RSS 2.0, Atom), json (JSON
Feed 1.1, ninjs 2.1), lxml (NewsML-G2, well-formedness and key elements) — with hostile text escaped."""

from __future__ import annotations

import json

import feedparser
import pytest
from lxml import etree
from publish_helpers import reviewed_article, use_stages

from zhimei.distribute.publish import create_channel, export_item, feed_document, publish
from zhimei.library.text.newsml import extract_newsml
from zhimei.store.db import session_scope

NAR = "{http://iptc.org/std/nar/2006-10-01/}"
HOSTILE = "a < b && c > \"d\" 'e' ]]> 测试"


@pytest.fixture
def items(zhome, monkeypatch):
    use_stages(monkeypatch)
    with session_scope() as s:
        create_channel(s, "web", "rss", title="网站 <Web> & Co", description="要闻 & more",
                       config={"language": "zh-CN", "link": "https://news.example.org"})
    body = "第一段：市政府发布了新的交通政策 & 规定。\n\n第二段 x < y 与 1 > 0 ]]> 结束。"
    a = reviewed_article(HOSTILE, body, "a.md")
    b = reviewed_article("天气预报", "明天多云转晴，气温十到十八度。", "b.md")
    publish(a, "web")
    publish(b, "web")
    return {"hostile": a, "plain": b}


def test_rss_parses_with_feedparser(items):
    doc, mime = feed_document("web", "rss", base_url="http://news.test")
    assert mime.startswith("application/rss+xml")
    etree.fromstring(doc)  # well-formed
    f = feedparser.parse(doc)
    assert not f.bozo, f.bozo_exception
    assert f.version == "rss20" and f.feed.title == "网站 <Web> & Co" and f.feed.language == "zh-CN"
    assert [e.id for e in f.entries] == [f"urn:zhimei:web:asset:{items['plain']}",
                                         f"urn:zhimei:web:asset:{items['hostile']}"]
    hostile = f.entries[1]
    assert hostile.title == HOSTILE
    assert hostile.link == f"https://news.example.org/{items['hostile']}"
    assert "第一段" in hostile.summary and hostile.published_parsed is not None
    assert "x &lt; y" in hostile.content[0].value  # text stays text inside the HTML body
    assert b"a &lt; b &amp;&amp; c &gt;" in doc


def test_atom_parses_with_feedparser(items):
    doc, mime = feed_document("web", "atom", base_url="http://news.test")
    assert mime.startswith("application/atom+xml")
    f = feedparser.parse(doc)
    assert not f.bozo, f.bozo_exception
    assert f.version == "atom10" and f.feed.id == "urn:zhimei:channel:web"
    assert any(link.rel == "self" and link.href == "http://news.test/pub/web/atom.xml" for link in f.feed.links)
    e = {x.id: x for x in f.entries}[f"urn:zhimei:web:asset:{items['hostile']}"]
    assert e.title == HOSTILE and e.updated_parsed and e.published_parsed
    assert "第二段" in e.content[0].value


def test_json_feed_1_1(items):
    doc, mime = feed_document("web", "jsonfeed", base_url="http://news.test")
    assert mime.startswith("application/feed+json")
    f = json.loads(doc)
    assert f["version"] == "https://jsonfeed.org/version/1.1" and f["feed_url"] == "http://news.test/pub/web/feed.json"
    assert [i["id"] for i in f["items"]] == [f"urn:zhimei:web:asset:{items['plain']}",
                                            f"urn:zhimei:web:asset:{items['hostile']}"]
    item = f["items"][1]
    assert item["title"] == HOSTILE and "]]>" in item["content_text"] and item["date_published"].endswith("Z")
    assert "_aigc" not in item  # not AI-generated


def test_ninjs_2_1_export(items):
    d = json.loads(export_item(items["hostile"], "ninjs", base_url="http://news.test"))
    assert d["uri"] == f"urn:zhimei:asset:{items['hostile']}" and d["standard"]["version"] == "2.1"
    assert d["type"] == "text" and d["pubstatus"] == "usable" and d["language"] == "zh"
    assert d["headlines"] == [{"role": "main", "value": HOSTILE}]
    assert "第二段" in d["bodies"][0]["value"] and d["bodies"][0]["charcount"] == len(d["bodies"][0]["value"])
    allowed = {"uri", "type", "representationtype", "profile", "version", "firstcreated", "versioncreated",
               "contentcreated", "embargoed", "pubstatus", "urgency", "copyrightholder", "copyrightnotice",
               "usageterms", "ednote", "language", "descriptions", "bodies", "headlines", "people", "organisations",
               "places", "subjects", "events", "objects", "infosources", "title", "by", "slugline", "located",
               "renditions", "associations", "altids", "trustindicators", "standard", "genres", "expires",
               "rightsinfo"}
    assert set(d) <= allowed, set(d) - allowed  # only ninjs 2.1 properties


def test_newsml_g2_export_parses_with_lxml(items):
    xml = export_item(items["hostile"], "newsml", base_url="http://news.test")
    root = etree.fromstring(xml)
    assert root.tag == f"{NAR}newsItem" and root.get("standard") == "NewsML-G2"
    assert root.get("guid") == f"urn:zhimei:asset:{items['hostile']}" and root.get("conformance") == "power"
    assert root.find(f"{NAR}itemMeta/{NAR}itemClass").get("qcode") == "ninat:text"
    assert root.find(f"{NAR}itemMeta/{NAR}pubStatus").get("qcode") == "stat:usable"
    assert root.find(f"{NAR}itemMeta/{NAR}versionCreated").text.endswith("Z")
    assert root.find(f"{NAR}contentMeta/{NAR}headline").text == HOSTILE
    assert "第二段" in root.find(f"{NAR}contentSet/{NAR}inlineData").text
    # zhimei's own NewsML-G2 reader (defusedxml) takes it back in
    doc = extract_newsml(xml)
    assert doc.title == HOSTILE and any("第二段" in p.text for p in doc.paragraphs)


def test_unpublished_items_are_not_exported(items, monkeypatch):
    from zhimei.distribute.publish import PublishError, withdraw

    withdraw(items["plain"], "web")
    with pytest.raises(PublishError, match="not live") as exc:
        export_item(items["plain"], "ninjs")
    assert exc.value.status == 409
    with pytest.raises(PublishError, match="unknown export format"):
        export_item(items["hostile"], "pdf")
