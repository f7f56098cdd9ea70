"""API tokens: only their sha256 is stored; each carries one role (viewer < reviewer < editor < admin)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from zhimei.store.db import session_scope
from zhimei.store.models import ROLES, ApiToken

__all__ = ["create_token", "verify_token", "role_allows", "revoke_token", "ROLES"]


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(name: str, role: str) -> str:
    """Make a token for `name` with `role`; the secret is returned once and never stored."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if not name or len(name) > 100:
        raise ValueError("a token needs a name of 1-100 characters")
    secret = "zm_" + secrets.token_urlsafe(32)
    with session_scope() as session:
        if session.scalars(select(ApiToken).where(ApiToken.name == name)).first():
            raise ValueError(f"a token named {name!r} exists already")
        session.add(ApiToken(name=name, role=role, token_sha=_sha(secret)))
    return secret


def verify_token(token: str | None) -> tuple[str, str] | None:
    """(name, role) for a valid, unrevoked token; None otherwise."""
    if not token or len(token) > 200:
        return None
    with session_scope() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.token_sha == _sha(token))).first()
        if row is None or row.revoked:
            return None
        return row.name, row.role


def revoke_token(name: str) -> bool:
    """Revoke a token by name."""
    with session_scope() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if row is None:
            return False
        row.revoked = True
        return True


def role_allows(role: str, needed: str) -> bool:
    """Whether `role` is at least `needed` in viewer < reviewer < editor < admin."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)
