"""Run the zhimei app with uvicorn in a background thread on a free 127.0.0.1 port (browser tests)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from zhimei.api.app import create_app


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving create_app(workers, scheduler) until stop(); `url` is its base URL."""

    def __init__(self, workers: int = 0, scheduler: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(workers=workers, scheduler=scheduler), host="127.0.0.1",
                                port=self.port, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="zhimei-test-server", daemon=True)

    def start(self, timeout: float = 30.0) -> LiveServer:
        """Start and wait until the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the test server stopped during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the test server did not start within {timeout} s")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask uvicorn to exit (runs the app's shutdown: workers stop) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)


@contextmanager
def live_server(workers: int = 0, scheduler: bool = False) -> Iterator[LiveServer]:
    """A running LiveServer for the duration of the block."""
    server = LiveServer(workers=workers, scheduler=scheduler).start()
    try:
        yield server
    finally:
        server.stop()


def watched_page(browser, server: LiveServer, token: str, height: int = 1000) -> tuple[Any, list[str]]:
    """A new page signed in with `token`, and the list that collects its script errors, console errors and
    HTTP responses >= 400 (a browser test asserts it stays empty)."""
    page = browser.new_page(viewport={"width": 1280, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{server.url}/login?token={token}")
    return page, errors
