"""RSS/Atom feeds served from a local HTTP server: new entries once, ETag 304s, errors recorded on the feed."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from zhimei.jobs import drain
from zhimei.library.feeds import FeedError, add_feed, list_feeds, poll_due_feeds, poll_feed, remove_feed
from zhimei.settings import reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Feed, Segment


def rss(items: list[tuple[str, str, str, str]], title: str = "城市晚报 本地新闻") -> bytes:
    """items: (guid, title, html description, RFC 822 date)."""
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>https://news.example.org/{g}</link>"
        f"<author>desk@news.example.org (本地新闻部)</author>"
        f"<description><![CDATA[{d}]]></description><pubDate>{p}</pubDate></item>"
        for g, t, d, p in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://news.example.org/</link><description>本地新闻</description><language>zh-cn</language>"
            f"{body}</channel></rss>").encode()


ITEMS = [
    ("local-101", "老城区启动雨污分流改造",
     "<p>老城区雨污分流改造工程今天启动，预计年底完工。</p><p>施工期间部分道路将临时封闭。</p>",
     "Tue, 23 Apr 2024 08:00:00 +0800"),
    ("local-102", "Night market returns to the riverside",
     "<p>The riverside night market reopens on Friday with sixty stalls.</p>", "Tue, 23 Apr 2024 09:15:00 +0800"),
]

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Example Harbour News</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-05-02T10:00:00Z</updated>
  <entry>
    <title>Harbour tunnel closes for night works</title>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <link href="https://harbour.example.org/tunnel"/>
    <published>2024-05-02T09:30:00Z</published>
    <updated>2024-05-02T09:45:00Z</updated>
    <author><name>Jo Chan</name></author>
    <content type="html">&lt;p&gt;The harbour tunnel will close from midnight to 5 am for three nights.&lt;/p&gt;
      &lt;p&gt;Buses will divert over the bridge.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</content>
  </entry>
</feed>
"""


class FeedServer:
    """Serves feeds on 127.0.0.1: path → (status, body, etag or None); honours If-None-Match when asked."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, str | None]] = {}
        self.requests: list[dict[str, str]] = []
        self.honour_etag = True
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                srv.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                status, body, etag = srv.routes.get(self.path, (404, b"no such feed", None))
                if status == 200 and etag and srv.honour_etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Last-Modified", "Tue, 23 Apr 2024 01:00:00 GMT")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def lib(zhome, monkeypatch):
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    return zhome


@pytest.fixture
def server():
    s = FeedServer()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def asset_count() -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(Asset))


def feed_row(feed_id: int) -> Feed:
    with session_scope() as s:
        return s.get(Feed, feed_id)


def test_add_list_remove(lib):
    fid = add_feed("https://news.example.org/rss.xml", interval_seconds=600)
    assert add_feed("https://news.example.org/rss.xml") == fid
    assert add_feed("https://news.example.org/rss.xml", interval_seconds=120) == fid
    for bad in ("ftp://news.example.org/rss", "file:///etc/passwd", "not a url", "http://"):
        with pytest.raises(ValueError):
            add_feed(bad)
    feeds = list_feeds()
    assert feeds == [{"id": fid, "url": "https://news.example.org/rss.xml", "title": "", "interval_seconds": 120.0,
                      "last_polled_at": None, "last_error": None, "enabled": True}]
    other = add_feed("https://other.example.org/atom")
    assert list_feeds()[1]["interval_seconds"] == 900.0  # settings.feed_poll_seconds
    assert remove_feed(fid) is True and remove_feed(fid) is False
    assert [f["id"] for f in list_feeds()] == [other]


def test_two_polls_ingest_each_entry_once_and_etag_gives_304(lib, server):
    server.routes["/rss"] = (200, rss(ITEMS), '"v1"')
    fid = add_feed(server.url("/rss"))
    assert poll_feed(fid) == 2
    row = feed_row(fid)
    assert row.title == "城市晚报 本地新闻" and row.etag == '"v1"' and row.last_error is None
    assert row.last_polled_at is not None and row.modified == "Tue, 23 Apr 2024 01:00:00 GMT"

    assert poll_feed(fid) == 0  # If-None-Match → 304
    assert server.requests[-1]["if-none-match"] == '"v1"'
    assert server.requests[-1]["if-modified-since"] == "Tue, 23 Apr 2024 01:00:00 GMT"

    server.honour_etag = False  # the server sends the whole feed again: entries are recognised, not duplicated
    assert poll_feed(fid) == 0
    assert asset_count() == 2

    newer = ("local-103", "图书馆延长开放时间", "<p>市图书馆自下月起每晚延长开放一小时。</p>",
             "Wed, 24 Apr 2024 07:00:00 +0800")
    server.routes["/rss"] = (200, rss([newer, *ITEMS]), '"v2"')
    assert poll_feed(fid) == 1
    assert asset_count() == 3

    drain()
    with session_scope() as s:
        a = s.scalars(select(Asset).where(Asset.external_id == "local-101")).one()
        assert a.source == "城市晚报 本地新闻" and a.kind == "article" and a.status == "ready"
        assert a.title == "老城区启动雨污分流改造"
        assert a.published_at.isoformat().startswith("2024-04-23T00:00:00")
        assert a.meta["url"] == "https://news.example.org/local-101"
        assert a.meta["feed"] == server.url("/rss")
        assert a.meta["author"] == "desk@news.example.org (本地新闻部)"
        assert a.language == "zh-CN"
        texts = [seg.text for seg in s.scalars(select(Segment).where(Segment.asset_id == a.id).order_by(Segment.seq))]
        assert texts == ["老城区启动雨污分流改造", "老城区雨污分流改造工程今天启动，预计年底完工。",
                         "施工期间部分道路将临时封闭。"]
        en = s.scalars(select(Asset).where(Asset.external_id == "local-102")).one()
        assert en.title == "Night market returns to the riverside"


def test_atom_entry_content_author_and_sanitised_html(lib, server):
    server.routes["/atom"] = (200, ATOM, None)
    fid = add_feed(server.url("/atom"))
    assert poll_feed(fid) == 1
    drain()
    with session_scope() as s:
        a = s.scalars(select(Asset)).one()
        assert a.source == "Example Harbour News"
        assert a.external_id == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
        assert a.meta["author"] == "Jo Chan" and a.meta["url"] == "https://harbour.example.org/tunnel"
        assert a.published_at.isoformat().startswith("2024-05-02T09:30:00")
        assert a.language == "en"
        texts = [seg.text for seg in s.scalars(select(Segment).where(Segment.asset_id == a.id).order_by(Segment.seq))]
    assert texts[1:] == ["The harbour tunnel will close from midnight to 5 am for three nights.",
                         "Buses will divert over the bridge."]
    assert not any("alert" in t for t in texts)


def test_http_500_is_recorded_not_raised(lib, server):
    server.routes["/broken"] = (500, b"internal error", None)
    server.routes["/rss"] = (200, rss(ITEMS[:1]), None)
    bad = add_feed(server.url("/broken"))
    good = add_feed(server.url("/rss"))
    results = poll_due_feeds()
    assert results == [(server.url("/broken"), 0, "HTTP 500 Internal Server Error"),
                       (server.url("/rss"), 1, None)]
    assert feed_row(bad).last_error == "HTTP 500 Internal Server Error"
    assert feed_row(bad).last_polled_at is not None
    assert feed_row(good).last_error is None
    with pytest.raises(FeedError, match="HTTP 500"):
        poll_feed(bad)


def test_garbage_and_unreachable_feeds_record_errors(lib, server):
    server.routes["/garbage"] = (200, bytes(range(256)) * 16, None)
    server.routes["/html"] = (200, b"<html><body><p>This is a web page, not a feed.</p></body></html>", None)
    g = add_feed(server.url("/garbage"))
    h = add_feed(server.url("/html"))
    dead = add_feed("http://127.0.0.1:9/feed.xml")  # discard port: connection refused
    results = {url: err for url, _, err in poll_due_feeds()}
    assert all(results.values())
    assert "feed" in feed_row(g).last_error
    assert "feed" in feed_row(h).last_error
    assert feed_row(dead).last_error.startswith("cannot fetch the feed: ConnectError")
    assert asset_count() == 0


def test_bozo_feed_keeps_its_entries(lib, server):
    broken = rss(ITEMS).replace(b"</channel></rss>", b"<item><title>unclosed &nbsp; entity</channel>")
    server.routes["/bozo"] = (200, broken, None)
    fid = add_feed(server.url("/bozo"))
    assert poll_feed(fid) >= 2
    assert feed_row(fid).last_error is None


def test_poll_due_feeds_respects_the_interval(lib, server):
    server.routes["/rss"] = (200, rss(ITEMS), None)
    fid = add_feed(server.url("/rss"), interval_seconds=3600)
    assert poll_due_feeds() == [(server.url("/rss"), 2, None)]
    hits = len(server.requests)
    assert poll_due_feeds() == []  # polled a moment ago: not due
    assert len(server.requests) == hits
    assert poll_due_feeds(force=True) == [(server.url("/rss"), 0, None)]
    with session_scope() as s:
        f = s.get(Feed, fid)
        f.last_polled_at = f.last_polled_at - timedelta(hours=2)
    assert poll_due_feeds() == [(server.url("/rss"), 0, None)]
    with session_scope() as s:
        s.get(Feed, fid).enabled = False
    assert poll_due_feeds(force=True) == []
