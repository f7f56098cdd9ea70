"""Webhook POSTs of notify steps and approval escalations."""

from __future__ import annotations

import json
from typing import Any

import httpx

from zhimei.settings import get_settings
from zhimei.workflow.errors import StepFailed

__all__ = ["post_json"]


def post_json(url: str, body: dict[str, Any]) -> int:
    """POST `body` as JSON; returns the status code; StepFailed for a non-2xx answer, no answer or an internal host
    (unless the fetch_private_urls setting allows internal receivers)."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise StepFailed(f"the webhook URL must be http(s), not {url!r}")
    from zhimei.library import UnsafeURL, check_public_host

    def guard(request: httpx.Request) -> None:
        try:
            check_public_host(request.url.host, request.url.port, doing="post to")
        except UnsafeURL as exc:
            raise StepFailed(str(exc)) from None

    try:
        with httpx.Client(timeout=get_settings().workflow_notify_timeout_seconds, follow_redirects=False,
                          event_hooks={"request": [guard]}) as client:
            r = client.post(url, content=json.dumps(body, ensure_ascii=False, default=str).encode(),
                            headers={"Content-Type": "application/json", "User-Agent": "zhimei-workflow"})
    except httpx.HTTPError as exc:
        raise StepFailed(f"webhook {url} did not answer: {exc}") from None
    if r.status_code >= 300:
        raise StepFailed(f"webhook {url} answered {r.status_code}")
    return r.status_code
