"""Shared by the publishing tests: reviewed assets, a webhook receiver on 127.0.0.1 that checks signatures
itself (its own HMAC, not zhimei's), and the stage modules the tests load."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_bytes
from zhimei.review.queue import decide, open_case
from zhimei.settings import reset_settings

STAGES = '["zhimei.library.text_stages", "zhimei.distribute.publish.tasks"]'


def use_stages(monkeypatch) -> None:
    """Text stages plus the publishing tasks (no media models)."""
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", STAGES)
    reset_settings()


def article(title: str, body: str, name: str = "story.md") -> int:
    """An ingested, processed article."""
    aid = ingest_bytes(f"# {title}\n\n{body}\n".encode(), name, source="desk").asset_id
    jobs.drain()
    return aid


def pass_review(asset_id: int, reviewer: str = "t-reviewer") -> int:
    """Open the asset's review case and approve it (twice when it is high-risk); returns the case id."""
    case = open_case(asset_id, actor="desk")
    decide(case["id"], reviewer, "approve", ["approve.no_violation"])
    if case["second_reviewer_required"]:
        decide(case["id"], reviewer + "-2", "approve", ["approve.no_violation"])
    return case["id"]


def reviewed_article(title: str, body: str, name: str = "story.md") -> int:
    """An article that passed review."""
    aid = article(title, body, name)
    pass_review(aid)
    return aid


class Receiver:
    """A webhook endpoint: answers `status` (or hangs for `hang` seconds), checks each request's signature with
    its own HMAC-SHA256 over "<timestamp>.<body>", and records what came."""

    def __init__(self, secret: str = "", status: int = 200, hang: float = 0.0):
        self.secret = secret
        self.status = status
        self.hang = hang
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ts = self.headers.get("X-Zhimei-Timestamp") or ""
                sent = self.headers.get("X-Zhimei-Signature") or ""
                mac = hmac.new(outer.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
                outer.requests.append({"body": body, "headers": dict(self.headers), "json": json.loads(body),
                                       "valid": fresh and hmac.compare_digest(f"sha256={mac}", sent)})
                if outer.hang:
                    outer.release.wait(outer.hang)
                    return
                self.send_response(outer.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if outer.status < 300 else b"boom")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
