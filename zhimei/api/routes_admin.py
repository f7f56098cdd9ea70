"""Health, the caller's identity, API tokens (admin), and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select, text
from starlette.concurrency import run_in_threadpool

import zhimei
from zhimei.api.auth import Principal, require
from zhimei.settings import get_settings
from zhimei.store.db import session_scope
from zhimei.store.models import ROLES, ApiToken
from zhimei.store.tokens import create_token, revoke_token

__all__ = ["router", "TokenIn", "TokenOut", "Me", "Health"]

router = APIRouter(tags=["system"])


class Health(BaseModel):
    """Liveness: the process answers and the database is reachable."""

    status: str
    version: str
    database: str
    job_backend: str


class Me(BaseModel):
    """The caller."""

    name: str
    role: str
    via: str
    roles: list[str] = Field(description="roles this caller holds, from viewer up")


class TokenIn(BaseModel):
    """A token to create."""

    name: str = Field(..., min_length=1, max_length=100)
    role: str = Field("viewer", description=" | ".join(ROLES))


class TokenOut(BaseModel):
    """A new token; the secret is shown this once and never stored."""

    name: str
    role: str
    token: str


def _health() -> dict[str, Any]:
    s = get_settings()
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:  # noqa: BLE001 - report, do not crash the probe
        db = f"error: {type(exc).__name__}"
    return {"status": "ok" if db == "ok" else "degraded", "version": getattr(zhimei, "__version__", "0"),
            "database": db, "job_backend": s.job_backend}


@router.get("/api/health", response_model=Health, summary="Liveness and database check (public)")
async def api_health() -> JSONResponse:
    body = await run_in_threadpool(_health)
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


@router.get("/api/me", response_model=Me, summary="Who am I")
def api_me(principal: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return {"name": principal.name, "role": principal.role, "via": principal.via,
            "roles": [r for r in ROLES if principal.allows(r)]}


@router.get("/api/tokens", tags=["tokens"], summary="API tokens (names and roles; never the secrets)")
def api_tokens(_: Principal = Depends(require("admin"))) -> dict[str, Any]:
    with session_scope() as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.id))
        items = [{"name": t.name, "role": t.role, "revoked": t.revoked, "created_at": t.created_at.isoformat()}
                 for t in rows]
    return {"total": len(items), "items": items}


@router.post("/api/tokens", status_code=201, response_model=TokenOut, tags=["tokens"],
             summary="Create a token (the secret is returned once)")
def api_create_token(body: TokenIn, _: Principal = Depends(require("admin"))) -> dict[str, Any]:
    if body.role not in ROLES:
        raise HTTPException(422, f"unknown role {body.role!r}; roles are {', '.join(ROLES)}")
    try:
        secret = create_token(body.name, body.role)
    except ValueError as exc:
        raise HTTPException(409 if "exists" in str(exc) else 422, str(exc)) from None
    return {"name": body.name, "role": body.role, "token": secret}


@router.delete("/api/tokens/{name}", status_code=204, tags=["tokens"], summary="Revoke a token")
def api_revoke_token(name: str, principal: Principal = Depends(require("admin"))) -> Response:
    if not revoke_token(name):
        raise HTTPException(404, f"no token named {name!r}")
    return Response(status_code=204)


@router.get("/openapi.json", include_in_schema=False)
def openapi_document(request: Request, _: Principal = Depends(require("viewer"))) -> JSONResponse:
    return JSONResponse(request.app.openapi())
