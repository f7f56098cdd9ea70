"""Who is calling: bearer tokens for the API, an HttpOnly cookie for pages, roles, and CSRF for cookie posts.

Every endpoint and page (except the public allow-list) depends on ``require(role)``; it is the one place
where a request is authenticated, authorised, and (when it rides on the cookie) checked for CSRF.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from zhimei.store.tokens import ROLES, role_allows, verify_token

__all__ = [
    "COOKIE_NAME", "CSRF_HEADER", "CSRF_FIELD", "PUBLIC_PATHS", "AuthError", "Principal", "require",
    "csrf_token_for", "check_same_origin", "safe_next", "is_api_path", "iter_routes", "route_role",
]

COOKIE_NAME = "zhimei_token"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = frozenset({"/login", "/logout", "/api/health",  # plus /static/*
                          "/pub/{channel}/{filename}", "/pub/{channel}/media/{asset_id}"})  # published feeds


class AuthError(Exception):
    """Refused: 401 (no or bad credentials) or 403 (wrong role, or a cross-site/CSRF-less cookie post)."""

    def __init__(self, status: int, detail: str, needed_role: str | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.needed_role = needed_role


@dataclass(frozen=True)
class Principal:
    """The caller: token name, role, how it authenticated, and its CSRF token for forms and fetch calls."""

    name: str
    role: str
    via: str  # "bearer" | "cookie"
    csrf: str

    def allows(self, needed: str) -> bool:
        """Whether this caller has at least the `needed` role."""
        return role_allows(self.role, needed)


def csrf_token_for(token: str) -> str:
    """The CSRF token bound to a session token (an HMAC keyed by the secret, so only its holder knows it)."""
    return hmac.new(token.encode("utf-8"), b"zhimei-csrf-v1", hashlib.sha256).hexdigest()


def is_api_path(path: str) -> bool:
    """API paths answer JSON; every other path is a page."""
    return path.startswith("/api/") or path == "/openapi.json"


def _credentials(request: Request) -> tuple[str | None, str]:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError(401, "the Authorization header must be 'Bearer <token>'")
        return value.strip(), "bearer"
    return request.cookies.get(COOKIE_NAME), "cookie"


def check_same_origin(request: Request) -> None:
    """Refuse a browser request that another site sent (Origin or Sec-Fetch-Site says so)."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        raise AuthError(403, "cross-site request refused")
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
            raise AuthError(403, "cross-origin request refused (Origin does not match this site)")


async def _check_csrf(request: Request, principal: Principal, body_csrf: bool) -> None:
    check_same_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        ctype = request.headers.get("content-type", "").lower()
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        elif ctype.startswith("multipart/form-data") and body_csrf:
            request.state.csrf_expected = principal.csrf  # the streaming parser checks the field
            return
    if sent is None or not hmac.compare_digest(sent.encode("utf-8", "replace"), principal.csrf.encode()):
        raise AuthError(403, f"missing or wrong CSRF token: send the {CSRF_HEADER} header or the "
                             f"{CSRF_FIELD} form field with a request signed in by cookie")


def require(role: str, *, body_csrf: bool = False):
    """A dependency that admits callers with at least `role` and returns their Principal.

    Unauthenticated: 401; wrong role: 403 naming the role needed. Cookie-authenticated unsafe requests
    must come from this site and carry the CSRF token (header, urlencoded field, or with `body_csrf` a
    multipart field that the upload parser checks before it writes any file bytes).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")

    async def dependency(request: Request) -> Principal:
        token, via = _credentials(request)
        if not token:
            raise AuthError(401, "sign in first: send 'Authorization: Bearer <token>' (pages: /login)")
        found = await run_in_threadpool(verify_token, token)
        if found is None:
            raise AuthError(401, "the token is not valid or has been revoked")
        name, have = found
        principal = Principal(name=name, role=have, via=via, csrf=csrf_token_for(token))
        request.state.principal = principal
        if not role_allows(have, role):
            raise AuthError(403, f"this needs the {role} role; your token {name!r} has the {have} role",
                            needed_role=role)
        if via == "cookie" and request.method in UNSAFE_METHODS:
            await _check_csrf(request, principal, body_csrf)
        return principal

    dependency.zhimei_role = role  # type: ignore[attr-defined]  # read by the route-walk test
    dependency.__name__ = f"require_{role}"
    return dependency


def safe_next(target: str | None, default: str = "/") -> str:
    """A local redirect target only (no scheme, no host, no protocol-relative '//' or backslashes)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 32 for c in target) or urlsplit(target).netloc:
        return default
    return target


def iter_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every concrete route, descending into included routers (FastAPI keeps them lazily in newer versions)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from iter_routes(inner.routes)
        else:
            yield route


def route_role(route: Any) -> str | None:
    """The role that a route's `require` dependency demands (None: no such dependency, i.e. public)."""
    dependant = getattr(route, "dependant", None)
    todo = list(dependant.dependencies) if dependant is not None else []
    while todo:
        dep = todo.pop()
        role = getattr(dep.call, "zhimei_role", None)
        if role:
            return role
        todo.extend(dep.dependencies)
    return None
