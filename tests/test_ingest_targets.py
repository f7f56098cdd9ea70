"""Batch ingest: folders walked, URLs fetched from a local server, hostile names, and a polled drop folder."""

from __future__ import annotations

import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import SAMPLES
from sqlalchemy import select

from zhimei.jobs import drain
from zhimei.library.assets import ingest_bytes
from zhimei.library.ingest import IngestOutcome, ingest_targets, ingest_url, watch_folders
from zhimei.settings import get_settings, reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Segment

PAGE = (b"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Ferry timetable changes</title></head>"
        b"<body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article><h1>Ferry timetable changes</h1>"
        b"<p>From Monday the first ferry leaves at 6:10, twenty minutes earlier than now.</p>"
        b"<p>The last sailing moves to 23:40 on Fridays and Saturdays.</p></article>"
        b"<footer>Copyright Example Harbour News</footer></body></html>")


class Server:
    """A local HTTP server (127.0.0.1, random port) whose routes the test sets: path → (status, headers, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: list[str] = []
        routes, hits = self.routes, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                status, headers, body = routes.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if headers.get("Transfer-Encoding") == "chunked":
                    for i in range(0, len(body), 4096):
                        part = body[i:i + 4096]
                        self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def lib(zhome, monkeypatch):
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    return zhome


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def by_name(outcomes: list[IngestOutcome]) -> dict[str, IngestOutcome]:
    return {Path(o.name).name: o for o in outcomes}


# --- folders ------------------------------------------------------------------------------------------------

def make_tree(root: Path, outside: Path) -> None:
    (root / "2024" / "april").mkdir(parents=True)
    (root / ".cache").mkdir()
    shutil.copy(SAMPLES / "sample-article.html", root / "2024" / "april" / "library.html")
    shutil.copy(SAMPLES / "sample-article.md", root / "cleanup.md")
    shutil.copy(SAMPLES / "sample-ninjs.json", root / "bus.json")
    shutil.copy(SAMPLES / "sample-article.md", root / "2024" / "copy-of-cleanup.md")  # exact duplicate
    (root / "notes.txt").write_text("编辑部备忘：明天上午九点开选题会。", encoding="utf-8")
    (root / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (root / ".cache" / "x.txt").write_text("hidden dir", encoding="utf-8")
    (root / "empty.txt").write_bytes(b"")
    (root / "blob.bin").write_bytes(bytes(range(256)) * 8)
    (root / "upload.part").write_text("still downloading", encoding="utf-8")
    outside.write_text("secret outside the drop folder", encoding="utf-8")
    (root / "escape.txt").symlink_to(outside)
    (root / "inside-link.md").symlink_to(root / "cleanup.md")


def test_folder_walk_sorted_skips_hidden_and_reports_refusals(lib, tmp_path):
    root = tmp_path / "drop"
    root.mkdir()
    make_tree(root, tmp_path / "secret.txt")
    outcomes = list(ingest_targets([str(root)], source="desk"))
    names = [os.path.relpath(o.name, root) for o in outcomes]
    assert names == ["2024/april/library.html", "2024/copy-of-cleanup.md", "blob.bin", "bus.json",
                     "cleanup.md", "empty.txt", "escape.txt", "inside-link.md", "notes.txt"]
    got = by_name(outcomes)
    assert got["library.html"].created and got["library.html"].kind == "article" and not got["library.html"].error
    assert got["copy-of-cleanup.md"].created
    assert got["cleanup.md"].created is False and got["cleanup.md"].asset_id == got["copy-of-cleanup.md"].asset_id
    assert got["inside-link.md"].created is False  # a link inside the folder is followed (same content)
    assert "unsupported file type" in got["blob.bin"].error
    assert "empty" in got["empty.txt"].error
    assert got["escape.txt"].error == "skipped: symbolic link pointing outside the folder"
    assert got["escape.txt"].asset_id is None
    with session_scope() as s:
        sources = set(s.scalars(select(Asset.source)))
        filenames = set(s.scalars(select(Asset.filename)))
    assert sources == {"desk"}
    assert not filenames & {".hidden.txt", "x.txt", "upload.part", "escape.txt"}
    drain()
    with session_scope() as s:
        statuses = set(s.scalars(select(Asset.status)))
    assert statuses == {"ready"}


def test_folder_walk_non_recursive(lib, tmp_path):
    root = tmp_path / "drop"
    root.mkdir()
    make_tree(root, tmp_path / "secret.txt")
    names = [Path(o.name).name for o in ingest_targets([str(root)], recursive=False)]
    assert "library.html" not in names and "copy-of-cleanup.md" not in names
    assert "cleanup.md" in names


def test_one_bad_target_never_stops_the_others(lib, tmp_path):
    good = tmp_path / "good.md"
    shutil.copy(SAMPLES / "sample-article.md", good)
    targets = [str(tmp_path / "missing.txt"), "file:///etc/passwd", "ftp://example.org/x.txt",
               "data:text/plain,hello", "javascript:alert(1)", str(good)]
    outcomes = list(ingest_targets(targets))
    assert len(outcomes) == 6
    assert outcomes[0].error == "no such file or folder"
    assert "unsupported URL scheme 'file:'" in outcomes[1].error
    assert "'ftp:'" in outcomes[2].error and "'data:'" in outcomes[3].error and "'javascript:'" in outcomes[4].error
    assert outcomes[5].created and outcomes[5].error is None
    assert outcomes[5].as_dict() == {"name": str(good), "asset_id": outcomes[5].asset_id, "created": True,
                                     "kind": "article", "error": None}


# --- URLs ---------------------------------------------------------------------------------------------------

def test_url_html_page_becomes_an_article(lib, server):
    server.routes["/news/ferry"] = (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE)
    out = ingest_url(server.url("/news/ferry"))
    assert out.error is None and out.created and out.kind == "article"
    drain()
    with session_scope() as s:
        a = s.get(Asset, out.asset_id)
        assert a.source == "127.0.0.1"
        assert a.meta["url"] == server.url("/news/ferry")
        assert a.filename == "ferry.html"
        assert a.title == "Ferry timetable changes" and a.status == "ready"
        texts = [seg.text for seg in s.scalars(select(Segment).where(Segment.asset_id == a.id)
                                               .order_by(Segment.seq))]
    assert "From Monday the first ferry leaves at 6:10, twenty minutes earlier than now." in texts
    assert not any("Copyright" in t or "Home" in t for t in texts)
    again = ingest_url(server.url("/news/ferry"), source="wire")
    assert again.created is False and again.asset_id == out.asset_id


def test_url_content_disposition_name_is_sanitised(lib, server):
    disposition = "attachment; filename*=UTF-8''..%2F..%2Fetc%2F%E6%96%B0%E9%97%BB.txt"  # ../../etc/新闻.txt
    server.routes["/dl"] = (200, {"Content-Type": "text/plain; charset=utf-8", "Content-Disposition": disposition},
                            "新闻稿：市政府发布年度报告。".encode())
    out = ingest_url(server.url("/dl"), source="press")
    assert out.error is None, out.error
    with session_scope() as s:
        a = s.get(Asset, out.asset_id)
        assert a.filename == "新闻.txt" and a.source == "press"


def test_url_redirects_are_followed_up_to_five(lib, server):
    for i in range(3):
        server.routes[f"/r{i}"] = (302, {"Location": f"/r{i + 1}"}, b"")
    server.routes["/r3"] = (200, {"Content-Type": "text/html"}, PAGE)
    out = ingest_url(server.url("/r0"))
    assert out.error is None and out.created
    with session_scope() as s:
        meta = s.get(Asset, out.asset_id).meta
    assert meta["url"] == server.url("/r0") and meta["final_url"] == server.url("/r3")
    for i in range(10):
        server.routes[f"/loop{i}"] = (302, {"Location": f"/loop{i + 1}"}, b"")
    loop = ingest_url(server.url("/loop0"))
    assert loop.error == "more than 5 redirects" and loop.asset_id is None


def test_url_errors(lib, server, monkeypatch):
    assert "HTTP 404" in ingest_url(server.url("/nope")).error
    server.routes["/boom"] = (500, {}, b"oops")
    assert "HTTP 500" in ingest_url(server.url("/boom")).error
    monkeypatch.setenv("ZHIMEI_MAX_UPLOAD_BYTES", "10000")
    reset_settings()
    server.routes["/big"] = (200, {"Content-Type": "text/plain"}, b"word " * 5000)
    assert "25,000 bytes; the limit is 10,000" in ingest_url(server.url("/big")).error
    server.routes["/big-chunked"] = (200, {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"},
                                     b"word " * 5000)
    assert "larger than the limit of 10,000 bytes" in ingest_url(server.url("/big-chunked")).error
    server.routes["/bin"] = (200, {"Content-Type": "application/octet-stream"}, bytes(range(256)) * 4)
    assert "unsupported file type" in ingest_url(server.url("/bin")).error
    closed = server.url("/x").replace(str(server.httpd.server_address[1]), "9")  # discard port: refused
    assert "cannot fetch the URL" in ingest_url(closed).error
    assert not list(get_settings().scratch_path.glob("zhimei-url-*"))  # temp downloads cleaned up


def test_url_mixed_with_files_in_one_batch(lib, server, tmp_path):
    server.routes["/a.html"] = (200, {"Content-Type": "text/html"}, PAGE)
    f = tmp_path / "n.md"
    shutil.copy(SAMPLES / "sample-article.md", f)
    outs = list(ingest_targets([server.url("/a.html"), str(f), server.url("/missing")]))
    assert [o.error is None for o in outs] == [True, True, False]


# --- hostile names ------------------------------------------------------------------------------------------

def _files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


def test_hostile_names_are_sanitised_and_nothing_escapes_the_blob_store(lib, tmp_path):
    home = lib
    before = _files_under(tmp_path)
    traversal = ingest_bytes("路透社电：东京股市收涨。".encode(), "../" * 1000 + "x.txt")
    long_name = "新" * 1300 + "闻" * 10 + ".txt"  # 4,000+ bytes, 1,311 characters
    long_ascii = "a" * 3996 + ".txt"  # 4,000 characters
    weird = "\u202egnp.exe\u200b\u0007報導\ufeff.txt"
    results = [ingest_bytes(f"body {i}".encode(), name) for i, name in enumerate([long_name, long_ascii, weird])]
    with session_scope() as s:
        names = {a.id: a.filename for a in s.scalars(select(Asset))}
    assert names[traversal.asset_id] == "x.txt"
    assert len(names[results[0].asset_id].encode()) <= 255 and names[results[0].asset_id].endswith(".txt")
    assert len(names[results[1].asset_id]) == 255 and names[results[1].asset_id].endswith(".txt")
    assert names[results[2].asset_id] == "gnp.exe報導.txt"
    blob_dir = get_settings().blob_path
    new_files = _files_under(tmp_path) - before
    outside = [p for p in new_files if not p.is_relative_to(home)]
    assert outside == []
    stored = [p for p in new_files if p.is_relative_to(blob_dir)]
    assert len(stored) == 4 and all(len(p.name) == 64 for p in stored)
    assert not any("x.txt" in str(p) or "gnp" in str(p) for p in new_files)
    assert not (tmp_path.parent / "x.txt").exists() and not Path("/x.txt").exists()


# --- drop folder --------------------------------------------------------------------------------------------

def _collect(folder: Path, stop: threading.Event, out: list[IngestOutcome], **kw) -> threading.Thread:
    def run() -> None:
        for o in watch_folders([str(folder)], source="drop", poll_seconds=0.05, stop=stop, **kw):
            out.append(o)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _wait_for(pred, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_watch_folder_ingests_new_files_once_when_stable(lib, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLES / "sample-article.md", drop / "already-here.md")
    stop, out = threading.Event(), []
    t = _collect(drop, stop, out)
    try:
        time.sleep(0.3)
        # a file written in pieces is only taken once it has stopped growing
        growing = drop / "growing.txt"
        with growing.open("w", encoding="utf-8") as fh:
            for i in range(5):
                fh.write(f"第{i}段：记者从现场发回报道。\n\n")
                fh.flush()
                time.sleep(0.03)
        shutil.copy(SAMPLES / "sample-ninjs.json", drop / "bus.json")
        (drop / ".incoming.json").write_text("{}", encoding="utf-8")
        (drop / "junk.bin").write_bytes(bytes(range(256)))
        assert _wait_for(lambda: len(out) >= 3)
        time.sleep(0.4)  # several more polls: nothing is taken twice
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive()
    got = by_name(out)
    assert sorted(got) == ["bus.json", "growing.txt", "junk.bin"]
    assert len(out) == 3
    assert got["growing.txt"].created and got["bus.json"].created and "unsupported" in got["junk.bin"].error
    with session_scope() as s:
        grown = s.get(Asset, got["growing.txt"].asset_id)
        assert grown.size_bytes == growing.stat().st_size and grown.source == "drop"
        assert s.scalars(select(Asset).where(Asset.filename == "already-here.md")).first() is None


def test_watch_folder_takes_changed_files_again_and_existing_on_request(lib, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLES / "sample-article.md", drop / "story.md")
    stop, out = threading.Event(), []
    t = _collect(drop, stop, out, include_existing=True)
    try:
        assert _wait_for(lambda: len(out) >= 1)
        (drop / "story.md").write_text("# Updated\n\nA corrected version of the story.\n", encoding="utf-8")
        assert _wait_for(lambda: len(out) >= 2)
        time.sleep(0.3)
    finally:
        stop.set()
        t.join(timeout=10)
    assert len(out) == 2 and all(o.created for o in out)
    assert out[0].asset_id != out[1].asset_id


def test_watch_missing_folder_reports_once(lib, tmp_path):
    stop, out = threading.Event(), []
    t = _collect(tmp_path / "nowhere", stop, out)
    time.sleep(0.4)
    stop.set()
    t.join(timeout=10)
    assert [o.error for o in out] == ["not a folder (or it does not exist)"]


def test_url_ingest_refuses_private_addresses_by_default(zhome, monkeypatch):
    """SSRF guard: loopback, private and link-local hosts are refused unless explicitly allowed."""
    from zhimei.library.ingest import ingest_url
    from zhimei.settings import reset_settings

    monkeypatch.setenv("ZHIMEI_FETCH_PRIVATE_URLS", "0")
    reset_settings()
    for url in ("http://127.0.0.1:9/x.html", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"):
        outcome = ingest_url(url)
        assert outcome.asset_id is None
        assert "non-public address" in outcome.error
