"""Security of the API and web app: every route authenticated, cookie sign-in, CSRF, origin checks,
body limits, security headers, escaping, and open-redirect protection."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.routing import Mount

from zhimei.api.app import create_app
from zhimei.api.auth import COOKIE_NAME, PUBLIC_PATHS, is_api_path, iter_routes, route_role
from zhimei.settings import get_settings
from zhimei.store import session_scope
from zhimei.store.models import Asset

SAMPLE_PARAMS = {"sha": "0" * 64, "rendition_kind": "proxy", "name": "someone"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def article(title: str = "") -> bytes:
    tag = uuid.uuid4().hex
    return (f"<html><head><title>{title or tag}</title></head><body>"
            + "".join(f"<p>Line {i} {tag}.</p>" for i in range(10)) + "</body></html>").encode()


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE_PARAMS.get(m.group(1), "1"), path)


def anonymous_leaks(app: FastAPI, client: TestClient) -> list[str]:
    """Routes that answer an anonymous request with anything but 401 (API) or a redirect to /login (pages),
    or that lack a `require(role)` dependency; the public allow-list is exempt."""
    leaks = []
    for route in iter_routes(app.routes):
        if isinstance(route, Mount) and route.path == "/static":
            continue
        path = getattr(route, "path", "")
        if path in PUBLIC_PATHS:
            continue
        if route_role(route) is None:
            leaks.append(f"{path}: no require(role) dependency")
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            r = client.request(method, _concrete(path), follow_redirects=False)
            if is_api_path(path):
                ok = r.status_code == 401
            else:
                ok = r.status_code in (303, 307) and r.headers.get("location", "").startswith("/login")
            if not ok:
                leaks.append(f"{method} {path}: {r.status_code}")
    return leaks


def test_every_route_except_the_public_ones_rejects_anonymous_requests(zhome):
    app = create_app(workers=0)
    with TestClient(app) as c:
        assert anonymous_leaks(app, c) == []
        assert c.get("/api/health").status_code == 200
        assert c.get("/login").status_code == 200
        assert c.get("/static/app.css").status_code == 200 and c.get("/static/app.js").status_code == 200
        assert c.get("/docs", follow_redirects=False).status_code == 303
        assert c.get("/openapi.json").status_code == 401


def test_the_route_walk_catches_an_endpoint_without_auth(zhome):
    app = create_app(workers=0)

    @app.get("/api/oops")
    def oops() -> dict:
        return {"secret": True}

    with TestClient(app) as c:
        leaks = anonymous_leaks(app, c)
    assert any("/api/oops: no require" in x for x in leaks) and any("GET /api/oops: 200" in x for x in leaks)


def test_pages_redirect_to_login_and_name_the_role_when_forbidden(client, tokens):
    r = client.get("/jobs?status=failed", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fjobs%3Fstatus%3Dfailed"
    r = client.get("/feeds", headers=bearer(tokens["editor"]))
    assert r.status_code == 403 and "admin" in r.text and "text/html" in r.headers["content-type"]
    assert client.get("/feeds", headers=bearer(tokens["admin"])).status_code == 200


# ---- cookie sign-in ---------------------------------------------------------------------------------

def _csrf_from(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', html)
    assert m, "the page carries no CSRF token"
    return m.group(1)


def _sign_in(client: TestClient, token: str) -> str:
    r = client.get(f"/login?token={token}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    return _csrf_from(client.get("/").text)


def test_login_link_sets_an_httponly_lax_cookie_and_logout_clears_it(client, tokens):
    r = client.get(f"/login?token={tokens['viewer']}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and r.headers["referrer-policy"] == "no-referrer"
    page = client.get("/")
    assert page.status_code == 200 and 'data-testid="sign-out"' in page.text and "t-viewer" in page.text
    assert client.get("/api/me").json() == {"name": "t-viewer", "role": "viewer", "via": "cookie",
                                            "roles": ["viewer"]}
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303
    bad = client.get("/login?token=zm_wrong", follow_redirects=False)
    assert bad.status_code == 401 and COOKIE_NAME not in bad.headers.get("set-cookie", "")


def test_login_form_and_open_redirects(client, tokens):
    r = client.post("/login", data={"token": tokens["viewer"], "next": "/jobs"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/jobs"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        r = client.post("/login", data={"token": tokens["viewer"], "next": evil}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/", evil
    assert client.post("/login", data={"token": "zm_nope"}, follow_redirects=False).status_code == 401
    r = client.post("/login", data={"token": tokens["viewer"]}, headers={"Origin": "https://evil.example"},
                    follow_redirects=False)
    assert r.status_code == 403


# ---- CSRF for cookie-authenticated requests ---------------------------------------------------------

def test_cookie_posts_need_the_csrf_token_and_our_origin(client, tokens):
    csrf = _sign_in(client, tokens["editor"])
    url = "/api/jobs/424242/retry"  # a job that does not exist: 404 means auth and CSRF passed
    r = client.post(url)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert client.post(url, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    assert client.post(url, headers={"X-CSRF-Token": csrf}).status_code == 404
    assert client.post(url, headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"}).status_code == 404
    assert client.post(url, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}).status_code == 403
    assert client.post(url, headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    # form actions carry the token as a field
    assert client.post("/jobs/424242/retry", data={"next": "/jobs"}, follow_redirects=False).status_code == 403
    r = client.post("/jobs/424242/retry", data={"csrf_token": csrf, "next": "/jobs"}, follow_redirects=False)
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    # a token (bearer) request needs no CSRF token: browsers cannot forge the header
    fresh = TestClient(client.app)
    assert fresh.post(url, headers=bearer(tokens["editor"])).status_code == 404


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    boundary = "b" + uuid.uuid4().hex
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _asset_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(Asset.id))) or 0


def test_upload_form_checks_the_csrf_field_before_any_file_byte(client, tokens):
    csrf = _sign_in(client, tokens["editor"])
    body, ctype = _multipart([("csrf_token", None, csrf.encode()), ("source", None, b"desk"),
                              ("file", "story.html", article())])
    r = client.post("/upload", content=body, headers={"Content-Type": ctype}, follow_redirects=False)
    assert r.status_code == 303 and re.fullmatch(r"/assets/\d+\?notice=uploaded", r.headers["location"])
    assert _asset_count() == 1
    for parts in ([("file", "a.html", article()), ("csrf_token", None, csrf.encode())],  # file first
                  [("file", "b.html", article())],  # no token
                  [("csrf_token", None, b"f" * 64), ("file", "c.html", article())]):  # wrong token
        body, ctype = _multipart(parts)
        r = client.post("/upload", content=body, headers={"Content-Type": ctype}, follow_redirects=False)
        assert r.status_code == 403
    # the JSON endpoint, as the page's script calls it (header token)
    body, ctype = _multipart([("file", "d.html", article())])
    assert client.post("/api/assets", content=body, headers={"Content-Type": ctype}).status_code == 403
    r = client.post("/api/assets", content=body, headers={"Content-Type": ctype, "X-CSRF-Token": csrf})
    assert r.status_code == 201
    assert _asset_count() == 2
    assert not list((get_settings().scratch_path / "uploads").iterdir())
    # a viewer's cookie cannot upload at all
    viewer = TestClient(client.app)
    v_csrf = _sign_in(viewer, tokens["viewer"])
    body, ctype = _multipart([("csrf_token", None, v_csrf.encode()), ("file", "e.html", article())])
    r = viewer.post("/upload", content=body, headers={"Content-Type": ctype}, follow_redirects=False)
    assert r.status_code == 403 and "editor" in r.text


# ---- limits, headers, escaping ----------------------------------------------------------------------

def test_small_endpoints_refuse_big_bodies(client, tokens):
    admin = bearer(tokens["admin"])
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'", "role": "viewer"}'
    r = client.post("/api/tokens", content=big, headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 413 and "1,048,576 bytes" in r.json()["detail"]

    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    r = client.post("/api/tokens", content=chunks(), headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 413


def test_security_headers_and_no_inline_script_or_style(client, tokens):
    client.put("/api/assets/upload", params={"filename": "s.html"}, content=article(),
               headers=bearer(tokens["editor"]))
    _sign_in(client, tokens["admin"])
    for path in ("/", "/assets/1", "/jobs", "/feeds", "/docs", "/login"):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), f"inline script on {path}"
        assert not re.search(r"\sstyle=\"", r.text) and "<style" not in r.text, f"inline style on {path}"
        assert "//cdn" not in r.text and "https://" not in r.text.split("<main", 1)[0]
    api = client.get("/api/me")
    assert api.headers["x-content-type-options"] == "nosniff"


def test_titles_and_names_are_escaped_in_pages(client, tokens):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = client.put("/api/assets/upload", params={"filename": evil + ".html", "title": evil}, content=article(),
                   headers=bearer(tokens["editor"]))
    assert r.status_code == 201
    asset_id = r.json()["items"][0]["asset_id"]
    _sign_in(client, tokens["viewer"])
    for path in ("/", f"/assets/{asset_id}", "/?q=" + evil):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html
