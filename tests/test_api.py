"""REST API: identity, assets list/detail, uploads (raw and multipart, hostile names, limits), media Range
requests, jobs retry/cancel, reprocess, URL ingest, feeds and tokens — through FastAPI's TestClient."""

from __future__ import annotations

import http.server
import threading
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from zhimei.api.app import create_app
from zhimei.jobs import drain, enqueue_pipeline
from zhimei.settings import get_settings, reset_settings
from zhimei.store import get_blob_store, session_scope
from zhimei.store.models import ROLES, Asset, Job


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def article(words: str = "") -> bytes:
    """A small, unique HTML article (unique so that uploads never collapse into duplicates)."""
    tag = uuid.uuid4().hex
    body = "".join(f"<p>Paragraph {i} of the council budget story {tag} {words}.</p>" for i in range(40))
    return f"<!doctype html><html><head><title>Budget {tag}</title></head><body>{body}</body></html>".encode()


def _set_env(monkeypatch, **env: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(f"ZHIMEI_{key.upper()}", value)
    reset_settings()


def multipart_body(files: list[tuple[str, bytes]], fields: dict[str, str] | None = None) -> tuple[bytes, str]:
    """A multipart/form-data body built by hand, so that file names reach the server byte for byte."""
    boundary = "zhimeiTestBoundary" + uuid.uuid4().hex
    out = b""
    for name, value in (fields or {}).items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
    for filename, data in files:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def _upload(client, token: str, data: bytes, filename: str, **params: str):
    return client.put("/api/assets/upload", params={"filename": filename, **params}, content=data,
                      headers=bearer(token))


# ---- identity ---------------------------------------------------------------------------------------

def test_health_is_public_and_me_names_the_caller(client, tokens):
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["database"] == "ok"
    for role in ROLES:
        me = client.get("/api/me", headers=bearer(tokens[role])).json()
        assert me["name"] == f"t-{role}" and me["role"] == role and me["via"] == "bearer"
        assert me["roles"][-1] == role


def test_each_role_gets_401_or_403_where_it_should(client, tokens):
    assert client.get("/api/assets").status_code == 401
    assert client.get("/api/assets", headers=bearer("zm_not-a-real-token")).status_code == 401
    assert client.get("/api/assets", headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401
    for role in ROLES:
        assert client.get("/api/assets", headers=bearer(tokens[role])).status_code == 200
    for role in ("viewer", "reviewer"):
        r = _upload(client, tokens[role], article(), "a.html")
        assert r.status_code == 403 and r.json()["needed_role"] == "editor"
        assert "editor" in r.json()["detail"]
        assert client.post("/api/jobs/1/retry", headers=bearer(tokens[role])).status_code == 403
    assert _upload(client, tokens["editor"], article(), "a.html").status_code == 201
    r = client.post("/api/tokens", json={"name": "x", "role": "viewer"}, headers=bearer(tokens["editor"]))
    assert r.status_code == 403 and r.json()["needed_role"] == "admin"
    assert client.get("/api/feeds", headers=bearer(tokens["editor"])).status_code == 403


# ---- list and detail --------------------------------------------------------------------------------

def test_list_filters_and_detail(client, tokens):
    ed = tokens["editor"]
    a = _upload(client, ed, article("alpha"), "alpha.html", source="wire", title="Alpha budget").json()
    b = _upload(client, ed, article("beta"), "beta.html", source="desk", title="Beta floods").json()
    ida, idb = a["items"][0]["asset_id"], b["items"][0]["asset_id"]
    view = bearer(tokens["viewer"])
    r = client.get("/api/assets", headers=view).json()
    assert r["total"] == 2 and [i["id"] for i in r["items"]] == [idb, ida]  # newest first
    assert client.get("/api/assets", params={"source": "wire"}, headers=view).json()["total"] == 1
    assert client.get("/api/assets", params={"q": "floods"}, headers=view).json()["items"][0]["id"] == idb
    assert client.get("/api/assets", params={"kind": "video"}, headers=view).json()["total"] == 0
    page = client.get("/api/assets", params={"limit": 1, "offset": 1}, headers=view).json()
    assert page["total"] == 2 and [i["id"] for i in page["items"]] == [ida]
    d = client.get(f"/api/assets/{ida}", headers=view).json()
    assert d["title"] == "Alpha budget" and d["kind"] == "article" and d["source"] == "wire"
    assert [r["kind"] for r in d["renditions"]] == ["original"]
    assert {j["stage"] for j in d["jobs"]}  # the article's stage graph was queued
    assert client.get("/api/assets/999999", headers=view).status_code == 404
    assert client.get("/api/assets", params={"limit": 0}, headers=view).status_code == 422


# ---- uploads ----------------------------------------------------------------------------------------

def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_hostile_filenames_become_safe_display_names(client, tokens, zhome, tmp_path):
    before = _files_under(tmp_path)
    ed = tokens["editor"]
    long_name = "新闻" * 1000 + "x" * 2000 + ".html"  # 4,005 characters, ~8 KB of UTF-8
    cases = {"../../etc/passwd": "passwd", "..\\..\\windows\\win.ini": "win.ini", "evil\x00name.html": "evilname.html",
             "/abs/path/story.html": "story.html"}
    for raw, expected in cases.items():
        r = _upload(client, ed, article(), raw)
        assert r.status_code == 201, r.text
        item = r.json()["items"][0]
        assert item["name"] == expected
        with session_scope() as session:
            assert session.get(Asset, item["asset_id"]).filename == expected
    r = _upload(client, ed, article(), long_name)
    assert r.status_code == 201
    name = r.json()["items"][0]["name"]
    assert len(name.encode()) <= 255 and name.endswith(".html") and "/" not in name
    # the same names through the multipart path
    body, ctype = multipart_body([("../../etc/passwd", article()), ("a/b/c\x01d.html", article())])
    r = client.post("/api/assets", headers={**bearer(ed), "Content-Type": ctype}, content=body)
    assert r.status_code == 201, r.text
    assert [i["name"] for i in r.json()["items"]] == ["passwd", "cd.html"]
    # nothing was written anywhere but the blob store and the database
    new = _files_under(tmp_path) - before
    home = zhome.resolve()
    blobs = get_settings().blob_path.resolve()
    for p in new:
        p = p.resolve()
        assert p.is_relative_to(blobs) or p.parent == home and p.name.startswith("zhimei.db"), p
    assert not any(p.name == "passwd" for p in new)
    assert not list((get_settings().scratch_path / "uploads").iterdir())


def test_multipart_upload_takes_several_files_with_fields(client, tokens):
    r = client.post("/api/assets", headers=bearer(tokens["editor"]), data={"source": "reader-upload"},
                    files=[("file", ("one.html", article(), "text/html")),
                           ("file", ("two.md", b"# Two\n\nA markdown story about rain.\n", "text/markdown"))])
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert [i["kind"] for i in items] == ["article", "article"] and all(i["created"] for i in items)
    with session_scope() as session:
        assert {session.get(Asset, i["asset_id"]).source for i in items} == {"reader-upload"}
    # the same bytes again: 200, flagged as a duplicate of the first asset
    again = client.post("/api/assets", headers=bearer(tokens["editor"]),
                        files=[("file", ("copy.md", b"# Two\n\nA markdown story about rain.\n", "text/markdown"))])
    assert again.status_code == 200
    assert again.json()["items"][0]["duplicate_of"] == items[1]["asset_id"]


def test_over_limit_uploads_get_413_and_leave_nothing(client, tokens, monkeypatch):
    _set_env(monkeypatch, max_upload_bytes="1000", max_request_bytes="5000")
    ed = bearer(tokens["editor"])
    big = b"<html><body><p>" + b"x" * 3000 + b"</p></body></html>"
    r = client.put("/api/assets/upload", params={"filename": "big.html"}, content=big, headers=ed)
    assert r.status_code == 413 and "1,000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(8):
            yield b"<p>" + b"y" * 500 + b"</p>"

    r = client.put("/api/assets/upload", params={"filename": "stream.html"}, content=chunks(), headers=ed)
    assert r.status_code == 413 and "1,000 bytes" in r.json()["detail"]
    r = client.post("/api/assets", headers=ed, files=[("file", ("big.html", big, "text/html"))])
    assert r.status_code == 413 and "1,000 bytes" in r.json()["detail"]
    r = client.post("/api/assets", headers=ed, files=[("file", (f"f{i}.html", big[:900], "text/html"))
                                                      for i in range(7)])
    assert r.status_code == 413 and "5,000 bytes" in r.json()["detail"]
    assert not list((get_settings().scratch_path / "uploads").iterdir())
    with session_scope() as session:
        assert session.scalars(select(Asset)).first() is None


def test_empty_and_unsupported_uploads_are_refused_with_the_reason(client, tokens):
    ed = tokens["editor"]
    r = _upload(client, ed, b"", "empty.html")
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    r = _upload(client, ed, b"\x00\x01\x02\x03binary junk\x00" * 50, "junk.bin")
    assert r.status_code == 415 and "unsupported" in r.json()["detail"]
    r = client.post("/api/assets", headers=bearer(ed), files=[("file", ("nothing.txt", b"", "text/plain"))])
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    r = client.post("/api/assets", headers=bearer(ed), content=b"just bytes",
                    params={"x": 1})  # not multipart at all
    assert r.status_code == 415
    assert not list((get_settings().scratch_path / "uploads").iterdir())


# ---- media and Range --------------------------------------------------------------------------------

@pytest.fixture
def stored(client, tokens):
    data = article("range")
    item = _upload(client, tokens["editor"], data, "range.html").json()["items"][0]
    with session_scope() as session:
        sha = session.get(Asset, item["asset_id"]).sha256
    return item["asset_id"], sha, data


def test_range_requests(client, tokens, stored):
    asset_id, sha, data = stored
    view = bearer(tokens["viewer"])
    size = len(data)
    for url in (f"/api/blobs/{sha}", f"/api/assets/{asset_id}/media/original"):
        full = client.get(url, headers=view)
        assert full.status_code == 200 and full.content == data
        assert full.headers["accept-ranges"] == "bytes" and full.headers["etag"] == f'"{sha}"'
        assert int(full.headers["content-length"]) == size and "max-age=31536000" in full.headers["cache-control"]
        assert full.headers["content-type"].startswith("text/html")
        # user-supplied HTML never renders in our origin
        assert full.headers["content-disposition"] == "attachment"
        assert "sandbox" in full.headers["content-security-policy"]
        first = client.get(url, headers={**view, "Range": "bytes=0-99"})
        assert first.status_code == 206 and first.content == data[:100]
        assert first.headers["content-range"] == f"bytes 0-99/{size}" and first.headers["content-length"] == "100"
        suffix = client.get(url, headers={**view, "Range": "bytes=-100"})
        assert suffix.status_code == 206 and suffix.content == data[-100:]
        assert suffix.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"
        open_range = client.get(url, headers={**view, "Range": "bytes=1000-"})
        assert open_range.status_code == 206 and open_range.content == data[1000:]
        past_end = client.get(url, headers={**view, "Range": f"bytes=10-{size * 2}"})
        assert past_end.status_code == 206 and past_end.content == data[10:]
        bad = client.get(url, headers={**view, "Range": f"bytes={size}-"})
        assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{size}"
        assert client.get(url, headers={**view, "Range": "bytes=-0"}).status_code == 416
        multi = client.get(url, headers={**view, "Range": "bytes=0-1,5-6"})  # ignored: whole blob
        assert multi.status_code == 200 and multi.content == data
        cached = client.get(url, headers={**view, "If-None-Match": f'"{sha}"'})
        assert cached.status_code == 304 and not cached.content
        head = client.head(url, headers={**view, "Range": "bytes=0-9"})
        assert head.status_code == 206 and head.headers["content-length"] == "10" and not head.content


def test_only_referenced_blobs_are_served(client, tokens, stored):
    view = bearer(tokens["viewer"])
    loose = get_blob_store().put_bytes(b"a blob that no row points at")
    assert client.get(f"/api/blobs/{loose}", headers=view).status_code == 404
    assert client.get("/api/blobs/../../etc/passwd", headers=view).status_code == 404
    assert client.get("/api/blobs/" + "A" * 64, headers=view).status_code == 404
    assert client.get("/api/blobs/xyz", headers=view).status_code == 404
    asset_id = stored[0]
    r = client.get(f"/api/assets/{asset_id}/media/proxy", headers=view)
    assert r.status_code == 404 and "proxy" in r.json()["detail"]
    assert client.get(f"/api/assets/{asset_id}/media/..%2f..", headers=view).status_code in (404, 422)
    assert client.get("/api/assets/424242/media/original", headers=view).status_code == 404
    assert client.get(f"/api/blobs/{stored[1]}").status_code == 401


# ---- jobs -------------------------------------------------------------------------------------------

@pytest.fixture
def test_stages(zhome, monkeypatch):
    """The pipeline of tests/stages_for_tests.py (asset kind 'jobtest')."""
    import stages_for_tests as st

    _set_env(monkeypatch, stage_modules='["stages_for_tests"]')
    return st


def _jobtest_asset(st, meta: dict) -> int:
    with session_scope() as session:
        asset = Asset(kind=st.KIND, title="job test", meta=meta)
        session.add(asset)
        session.flush()
        enqueue_pipeline(session, asset)
        return asset.id


def test_jobs_list_retry_and_cancel(client, tokens, test_stages):
    st = test_stages
    ed, view = bearer(tokens["editor"]), bearer(tokens["viewer"])
    asset_id = _jobtest_asset(st, {"permanent": "jt_fetch"})
    drain()
    jobs = client.get("/api/jobs", params={"asset": asset_id}, headers=view).json()
    assert jobs["total"] == 4 and jobs["active"] == 0
    by_stage = {j["stage"]: j for j in jobs["items"]}
    assert by_stage["jt_fetch"]["status"] == "failed" and "cannot be read" in by_stage["jt_fetch"]["last_error"]
    assert by_stage["jt_parse"]["status"] == "cancelled"
    fetch_id = by_stage["jt_fetch"]["id"]
    assert client.get(f"/api/jobs/{fetch_id}", headers=view).json()["asset_title"] == "job test"
    assert client.get("/api/jobs/999999", headers=view).status_code == 404
    assert client.get("/api/jobs", params={"status": "failed"}, headers=view).json()["total"] == 1

    with session_scope() as session:
        session.execute(update(Asset).where(Asset.id == asset_id).values(meta={}))
    assert client.post(f"/api/jobs/{fetch_id}/retry", headers=view).status_code == 403
    r = client.post(f"/api/jobs/{fetch_id}/retry", headers=ed)
    assert r.status_code == 200 and r.json()["status"] == "queued" and r.json()["last_error"] is None
    drain()
    done = client.get("/api/jobs", params={"asset": asset_id}, headers=view).json()["items"]
    assert {j["status"] for j in done} == {"done"}
    assert client.get(f"/api/assets/{asset_id}", headers=view).json()["status"] == "ready"
    r = client.post(f"/api/jobs/{fetch_id}/retry", headers=ed)
    assert r.status_code == 409 and "done" in r.json()["detail"]

    other = _jobtest_asset(st, {})
    queued = client.get("/api/jobs", params={"asset": other}, headers=view).json()
    assert queued["active"] == 4
    root = next(j for j in queued["items"] if j["stage"] == "jt_fetch")
    r = client.post(f"/api/jobs/{root['id']}/cancel", headers=ed)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    after = client.get("/api/jobs", params={"asset": other}, headers=view).json()
    assert after["active"] == 0 and {j["status"] for j in after["items"]} == {"cancelled"}
    assert client.post(f"/api/jobs/{root['id']}/cancel", headers=ed).status_code == 409
    assert client.post("/api/jobs/999999/cancel", headers=ed).status_code == 404


def test_reprocess_restarts_the_stage_graph(client, tokens, test_stages):
    asset_id = _jobtest_asset(test_stages, {})
    drain()
    ed = bearer(tokens["editor"])
    assert client.post(f"/api/assets/{asset_id}/reprocess", headers=bearer(tokens["viewer"])).status_code == 403
    r = client.post(f"/api/assets/{asset_id}/reprocess", headers=ed)
    assert r.status_code == 200 and r.json()["status"] == "processing" and len(r.json()["jobs"]) == 4
    with session_scope() as session:
        statuses = set(session.scalars(select(Job.status).where(Job.asset_id == asset_id)))
    assert statuses == {"queued", "blocked"}
    assert drain() == 4
    assert client.post("/api/assets/31337/reprocess", headers=ed).status_code == 404


# ---- URL ingest and feeds (a real HTTP server on 127.0.0.1) -----------------------------------------

@pytest.fixture
def web_site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "story.html").write_bytes(article("web"))
    items = "".join(
        f"<item><title>Feed story {i}</title><link>http://example.org/s{i}</link><guid>s{i}</guid>"
        f"<description>Body of feed story {i} about the harbour.</description></item>" for i in range(3))
    (root / "feed.xml").write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour news</title>'
                                   f"{items}</channel></rss>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_ingest_url(client, tokens, web_site):
    r = client.post("/api/ingest/url", json={"url": f"{web_site}/story.html", "source": "web"},
                    headers=bearer(tokens["editor"]))
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "article" and r.json()["created"]
    r = client.post("/api/ingest/url", json={"url": f"{web_site}/missing.html"}, headers=bearer(tokens["editor"]))
    assert r.status_code == 422 and "404" in r.json()["detail"]
    r = client.post("/api/ingest/url", json={"url": "file:///etc/passwd"}, headers=bearer(tokens["editor"]))
    assert r.status_code == 422 and "scheme" in r.json()["detail"]
    assert client.post("/api/ingest/url", json={"url": f"{web_site}/story.html"},
                       headers=bearer(tokens["viewer"])).status_code == 403


def test_feeds_admin(client, tokens, web_site):
    admin = bearer(tokens["admin"])
    r = client.post("/api/feeds", json={"url": f"{web_site}/feed.xml", "interval_seconds": 600}, headers=admin)
    assert r.status_code == 201, r.text
    feed_id = r.json()["id"]
    listed = client.get("/api/feeds", headers=admin).json()
    assert listed["total"] == 1 and listed["items"][0]["interval_seconds"] == 600
    polled = client.post(f"/api/feeds/{feed_id}/poll", headers=admin).json()
    assert polled["new_items"] == 3 and polled["error"] is None
    assert client.get("/api/assets", params={"source": "Harbour news"}, headers=admin).json()["total"] == 3
    assert client.post("/api/feeds/999/poll", headers=admin).status_code == 404
    assert client.post("/api/feeds", json={"url": "ftp://x.org/feed"}, headers=admin).status_code == 422


# ---- tokens -----------------------------------------------------------------------------------------

def test_token_create_and_revoke(client, tokens):
    admin = bearer(tokens["admin"])
    r = client.post("/api/tokens", json={"name": "desk-editor", "role": "editor"}, headers=admin)
    assert r.status_code == 201 and r.json()["token"].startswith("zm_")
    new = r.json()["token"]
    assert client.get("/api/me", headers=bearer(new)).json()["role"] == "editor"
    assert client.post("/api/tokens", json={"name": "desk-editor", "role": "viewer"}, headers=admin).status_code == 409
    assert client.post("/api/tokens", json={"name": "x", "role": "overlord"}, headers=admin).status_code == 422
    names = {t["name"] for t in client.get("/api/tokens", headers=admin).json()["items"]}
    assert "desk-editor" in names
    assert client.delete("/api/tokens/desk-editor", headers=admin).status_code == 204
    assert client.get("/api/me", headers=bearer(new)).status_code == 401
    assert client.delete("/api/tokens/nobody", headers=admin).status_code == 404


def test_openapi_document_needs_a_token(client, tokens):
    assert client.get("/openapi.json").status_code == 401
    spec = client.get("/openapi.json", headers=bearer(tokens["viewer"])).json()
    assert "/api/assets/upload" in spec["paths"] and "/api/blobs/{sha}" in spec["paths"]
    page = client.get("/docs", headers=bearer(tokens["viewer"]))
    assert page.status_code == 200 and "/api/assets/upload" in page.text


# ---- the app's own workers and scheduler ------------------------------------------------------------

def test_embedded_workers_and_feed_scheduler_run_with_the_app(zhome, web_site, monkeypatch):
    import time

    import zhimei.api.app as app_module
    from zhimei.library.feeds import add_feed

    monkeypatch.setattr(app_module, "SCHEDULER_SECONDS", 0.2)
    add_feed(f"{web_site}/feed.xml", interval_seconds=3600)
    app = create_app(workers=1, scheduler=True)
    with TestClient(app):
        bg = app.state.background
        assert len(bg.workers) == 1 and all(t.is_alive() for t in bg.threads)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with session_scope() as session:
                statuses = list(session.scalars(select(Asset.status).where(Asset.source == "Harbour news")))
            if len(statuses) == 3 and set(statuses) == {"ready"}:
                break
            time.sleep(0.2)
        assert statuses == ["ready"] * 3  # polled by the scheduler, processed by the embedded worker
    assert not any(t.is_alive() for t in bg.threads)
