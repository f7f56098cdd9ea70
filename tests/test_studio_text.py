"""Studio text tasks with real models: the embedded gemma-3-270m (few-shot headlines, streaming, usage per
call, cache), the real local OpenAI-compatible server (llama_cpp.server with SmolLM2; same fixture as
tests/test_llm_remote.py), and bad backends: one that times out and one that answers garbage."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest
from test_llm_remote import API_KEY, llama_server  # noqa: F401  (module-scoped server fixture)

from zhimei.jobs import drain
from zhimei.library.assets import ingest_bytes
from zhimei.models import reset_backends
from zhimei.settings import reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Asset
from zhimei.studio.text import draft, headlines, summary, translate

pytestmark = pytest.mark.slow

ZH = ("记者从市交通委获悉，本市将于下月起新增20条夜间公交线路，覆盖主要商圈和地铁站，方便市民夜间出行。"
      "首批线路将于7月1日开通，票价与日间线路相同。")
EN = ("The city council approved a plan on Tuesday to add forty electric buses to the public transport fleet. "
      "Student fares will be cut by half from September, the council said.")


@pytest.fixture
def lib(zhome, monkeypatch):
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    reset_backends()
    yield zhome
    reset_backends()


def article(text: str, name: str = "story.txt") -> int:
    res = ingest_bytes(text.encode("utf-8"), name)
    drain()
    return res.asset_id


def test_gemma_headlines_stream_record_usage_and_cache(lib):
    src = article(ZH)
    # auto with the embedded model: keyword extraction, which the benchmark found better than gemma3
    auto = headlines([src], n=2)
    assert auto.method == "extractive" and len(auto.variants) == 2 and not auto.calls
    events: list[dict] = []
    res = headlines([src], n=2, method="hybrid", emit=events.append)
    assert res.backend == "gemma3" and res.method in ("hybrid", "hybrid→extractive")
    assert len(res.variants) == 2 and all(v.text for v in res.variants)
    assert all(v.method in ("llm", "extractive") for v in res.variants)
    # each kept LLM headline is supported by the source
    assert all(v.support is None or v.support >= 0.7 for v in res.variants if v.method == "llm")
    assert len(res.calls) == 2 and all(c["tokens_in"] > 50 and c["tokens_out"] >= 1 and c["seconds"] > 0
                                       for c in res.calls)
    assert any(e["type"] == "token" for e in events) and events[-1]["type"] == "progress"
    again = headlines([src], n=2, method="hybrid")
    assert again.cached and [v.text for v in again.variants] == [v.text for v in res.variants]
    aid = res.save()
    with session_scope() as s:
        a = s.get(Asset, aid)
        st = a.meta["studio"]
        assert a.parent_id == src and a.meta["ai_generated"] and st["backend"] == "gemma3"
        assert st["model"].startswith("gemma-3-270m") and len(st["prompt_sha256"]) == 64
        assert st["calls"][0]["tokens_in"] > 50


def test_gemma_llm_summary_and_translation_note(lib):
    src = article(ZH)
    s = summary([src], length="one-line", method="llm")
    assert s.backend == "gemma3" and s.method in ("llm", "llm→textrank") and s.text and s.calls
    t = translate(text="本市将于下月起新增20条夜间公交线路。", target="en")
    assert t.backend == "gemma3" and t.language == "en" and t.text.strip()
    assert any("translates poorly" in n for n in t.notes)


@pytest.fixture
def remote(lib, llama_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ZHIMEI_OPENAI_BASE_URL", llama_server)
    monkeypatch.setenv("ZHIMEI_OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("ZHIMEI_LLM_REMOTE_MODEL", "smollm2")
    reset_settings()
    reset_backends()
    return llama_server


def test_remote_server_tasks(remote):
    src = article(EN)
    s = summary([src], length="one-line", backend="openai")  # auto → the LLM with a remote backend
    assert s.backend == "openai" and s.method in ("llm", "llm→textrank") and s.text
    assert s.calls[0]["backend"] == "openai" and s.calls[0]["tokens_in"] > 20
    h = headlines([src], n=1, backend="openai")
    assert h.backend == "openai" and h.variants[0].text
    d = draft([src], backend="openai")
    [para] = d.extra["paragraphs"]
    assert para["citation"].startswith(f"[#{src}:") and para["sentences"]
    assert all("supported" in x for x in para["sentences"])
    t = translate(text=EN, target="zh")  # routed to the configured remote model
    assert t.backend == "openai" and t.text and not any("translates poorly" in n for n in t.notes)


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "garbage"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.mode == "slow":
            time.sleep(3)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for piece in ("@@@@ ", "#### ", "$$$$ ", "%%%% "):
            ev = {"choices": [{"delta": {"content": piece}, "text": piece}], "model": "junk"}
            self.wfile.write(f"data: {json.dumps(ev)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # the client hung up (timeout): expected
        pass


@pytest.fixture
def bad_server(lib, monkeypatch) -> Iterator[type[_Handler]]:
    handler = type("H", (_Handler,), {})
    srv = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("ZHIMEI_OPENAI_BASE_URL", f"http://127.0.0.1:{srv.server_address[1]}/v1")
    monkeypatch.setenv("ZHIMEI_REMOTE_TIMEOUT_SECONDS", "1")
    reset_settings()
    reset_backends()
    yield handler
    srv.shutdown()


def test_garbage_backend_falls_back_with_a_note(bad_server):
    src = article(ZH)
    h = headlines([src], n=2, backend="openai")
    assert h.variants and all(v.method == "extractive" and "fallback" in v.note for v in h.variants)
    assert "symbols" in h.variants[0].note
    s = summary([src], method="llm", backend="openai")
    assert s.method == "llm→textrank" and s.text and any("symbols" in n for n in s.notes)


def test_timeout_keeps_partial_results(bad_server):
    bad_server.mode = "slow"
    src = article(ZH)
    h = headlines([src], n=3, backend="openai")
    assert h.variants and h.variants[0].method == "extractive"
    assert any("timed out" in n for n in h.notes)
    assert any("error" in c for c in h.calls)
    again = headlines([src], n=3, backend="openai")
    assert not again.cached  # a failed run is never reused: a retry runs again
