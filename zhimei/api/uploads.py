"""Uploads: stream request bodies to temp files under the size limits, then ingest them.

An upload's name is only ever a display name (``safe_filename``); the bytes go to a temp file in
``settings.scratch_path/uploads`` named by ``tempfile`` and are removed whatever happens.
"""

from __future__ import annotations

import hmac
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import CSRF_FIELD, AuthError
from zhimei.library.assets import IngestError, ingest_file, safe_filename
from zhimei.settings import get_settings

__all__ = ["ReceivedFile", "UploadOutcome", "receive_raw", "receive_multipart", "ingest_received",
           "ingest_error_status", "discard"]

MAX_FILES = 100
MAX_FIELDS = 50
MAX_FIELD_BYTES = 64 * 1024
_FLUSH = 1024 * 1024


@dataclass
class ReceivedFile:
    """One uploaded file on local disk, with the name the person gave it (display only)."""

    path: Path
    display_name: str
    size: int = 0


@dataclass
class UploadOutcome:
    """What happened to one uploaded file."""

    name: str
    asset_id: int | None = None
    created: bool = False
    kind: str | None = None
    duplicate_of: int | None = None
    error: str | None = None
    status_code: int = 201

    def as_dict(self) -> dict:
        """JSON-ready fields."""
        return {"name": self.name, "asset_id": self.asset_id, "created": self.created, "kind": self.kind,
                "duplicate_of": self.duplicate_of, "error": self.error}


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def too_large(what: str, limit: int) -> HTTPException:
    """413 naming the limit."""
    return HTTPException(413, f"{what} is larger than the limit of {limit:,} bytes ({_human(limit)})")


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, "the Content-Length header is not a number") from None
    if value < 0:
        raise HTTPException(400, "the Content-Length header is negative")
    return value


def _upload_dir() -> Path:
    d = get_settings().scratch_path / "uploads"
    d.mkdir(parents=True, exist_ok=True)
    return d


class _Sink:
    """A temp file written in batches from a thread, so the event loop never blocks on disk."""

    def __init__(self, display_name: str):
        fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=_upload_dir())
        self.fh = os.fdopen(fd, "wb")
        self.file = ReceivedFile(Path(tmp), display_name)
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    def add(self, data: bytes) -> None:
        self.pending.append(data)
        self.pending_bytes += len(data)
        self.file.size += len(data)

    async def flush(self, force: bool = False) -> None:
        if self.pending and (force or self.pending_bytes >= _FLUSH):
            data, self.pending, self.pending_bytes = b"".join(self.pending), [], 0
            await run_in_threadpool(self.fh.write, data)

    async def close(self) -> ReceivedFile:
        await self.flush(force=True)
        self.fh.close()
        return self.file

    def abort(self) -> None:
        self.fh.close()
        self.file.path.unlink(missing_ok=True)


def discard(files: list[ReceivedFile]) -> None:
    """Delete received temp files."""
    for f in files:
        f.path.unlink(missing_ok=True)


async def receive_raw(request: Request, filename: str | None) -> ReceivedFile:
    """Stream a raw request body (PUT) to a temp file, refusing it past max_upload_bytes/max_request_bytes."""
    s = get_settings()
    limit = min(s.max_upload_bytes, s.max_request_bytes)
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise too_large(f"the upload ({declared:,} bytes)", limit)
    sink = _Sink(safe_filename(filename))
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            if sink.file.size + len(chunk) > limit:
                raise too_large("the upload", limit)
            sink.add(chunk)
            await sink.flush()
        return await sink.close()
    except BaseException:
        sink.abort()
        raise


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    disposition: bytes = b""
    data: bytearray = field(default_factory=bytearray)
    sink: _Sink | None = None


class _MultipartReceiver:
    """python-multipart callbacks: files stream to temp files, small fields stay in memory."""

    def __init__(self, csrf_expected: str | None):
        s = get_settings()
        self.file_limit = s.max_upload_bytes
        self.csrf_expected = csrf_expected
        self.csrf_ok = csrf_expected is None
        self.fields: dict[str, str] = {}
        self.files: list[ReceivedFile] = []
        self.open_sinks: list[_Sink] = []
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.n_fields = 0
        self.ended: list[_Sink] = []

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.part.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.disposition)
        if b"name" not in options:
            raise HTTPException(400, "a multipart part has no name in its Content-Disposition header")
        self.part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            if not self.csrf_ok:
                raise AuthError(403, f"the {CSRF_FIELD} field must come before the files in the form")
            if len(self.files) + len(self.open_sinks) >= MAX_FILES:
                raise HTTPException(413, f"too many files in one request (the limit is {MAX_FILES})")
            self.part.filename = options[b"filename"].decode("utf-8", "replace")
            self.part.sink = _Sink(safe_filename(self.part.filename))
            self.open_sinks.append(self.part.sink)
        else:
            self.n_fields += 1
            if self.n_fields > MAX_FIELDS:
                raise HTTPException(413, f"too many form fields (the limit is {MAX_FIELDS})")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.part.sink is not None:
            if self.part.sink.file.size + len(chunk) > self.file_limit:
                raise too_large(f"the file {self.part.sink.file.display_name!r}", self.file_limit)
            self.part.sink.add(chunk)
        else:
            if len(self.part.data) + len(chunk) > MAX_FIELD_BYTES:
                raise HTTPException(413, f"the form field {self.part.name!r} is longer than {MAX_FIELD_BYTES:,} bytes")
            self.part.data.extend(chunk)

    def on_part_end(self) -> None:
        if self.part.sink is None:
            value = self.part.data.decode("utf-8", "replace")
            self.fields[self.part.name] = value
            if self.part.name == CSRF_FIELD and self.csrf_expected is not None:
                self.csrf_ok = hmac.compare_digest(value.encode(), self.csrf_expected.encode())
        else:
            self.ended.append(self.part.sink)

    async def settle(self) -> None:
        """Write what the last chunk produced, and close the files whose part has ended."""
        for sink in self.open_sinks:
            await sink.flush(force=sink in self.ended)
        for sink in self.ended:
            self.files.append(await sink.close())
            self.open_sinks.remove(sink)
        self.ended.clear()

    async def finish(self, complete: bool) -> None:
        """After the last chunk: every file part must have ended with its boundary."""
        await self.settle()
        if self.open_sinks or not complete:
            raise HTTPException(400, "the multipart body ended early (no closing boundary); nothing was kept")

    def abort(self) -> None:
        for sink in self.open_sinks:
            sink.abort()
        self.open_sinks.clear()
        discard(self.files)
        self.files.clear()


async def receive_multipart(request: Request) -> tuple[list[ReceivedFile], dict[str, str]]:
    """Stream a multipart/form-data body: every file part to its own temp file, under the limits.

    When the caller signed in by cookie and sent no CSRF header, the ``csrf_token`` field must precede
    the files (browsers send fields in form order); no file byte is written before it checks out.
    """
    s = get_settings()
    declared = _declared_length(request)
    if declared is not None and declared > s.max_request_bytes:
        raise too_large(f"the request ({declared:,} bytes)", s.max_request_bytes)
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise HTTPException(415, "send the files as multipart/form-data (or PUT /api/assets/upload with a raw body)")
    rx = _MultipartReceiver(getattr(request.state, "csrf_expected", None))
    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": rx.on_part_begin, "on_part_data": rx.on_part_data, "on_part_end": rx.on_part_end,
        "on_header_field": rx.on_header_field, "on_header_value": rx.on_header_value,
        "on_header_end": rx.on_header_end, "on_headers_finished": rx.on_headers_finished,
    })
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > s.max_request_bytes:
                raise too_large("the request", s.max_request_bytes)
            parser.write(chunk)
            await rx.settle()
        parser.finalize()
        await rx.finish(parser.state == MultipartState.END)
    except FormParserError as exc:
        rx.abort()
        raise HTTPException(400, f"malformed multipart body: {exc}") from None
    except BaseException:
        rx.abort()
        raise
    if not rx.csrf_ok:
        discard(rx.files)
        raise AuthError(403, f"missing or wrong {CSRF_FIELD} form field")
    return rx.files, rx.fields


def ingest_error_status(message: str) -> int:
    """415 for content we do not take at all, 422 for input that is wrong or broken."""
    m = message.lower()
    return 415 if ("unsupported file type" in m or "zip archive" in m or "rss/atom feed" in m) else 422


async def ingest_received(files: list[ReceivedFile], *, created_by: str, source: str = "",
                          title: str | None = None, language: str | None = None) -> list[UploadOutcome]:
    """Ingest each received file (temp files are deleted afterwards, whatever happens)."""
    outcomes: list[UploadOutcome] = []
    try:
        for f in files:
            try:
                r = await run_in_threadpool(
                    ingest_file, f.path, filename=f.display_name, source=source[:500],
                    title=(title or None) if len(files) == 1 else None, language=language or None,
                    created_by=created_by)
                outcomes.append(UploadOutcome(f.display_name, r.asset_id, r.created, r.kind, r.duplicate_of,
                                              status_code=201 if r.created else 200))
            except IngestError as exc:
                outcomes.append(UploadOutcome(f.display_name, error=str(exc),
                                              status_code=ingest_error_status(str(exc))))
    finally:
        discard(files)
    return outcomes
