"""Taking content in by the batch: files, folders (walked), http(s) URLs, and watched drop folders.

Every target yields one IngestOutcome; a failing target never stops the others. Exact duplicates come back
with created=False and the existing asset's id.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import stat
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from zhimei.library.assets import IngestError, ingest_file, safe_filename
from zhimei.settings import get_settings

__all__ = ["IngestOutcome", "ingest_targets", "ingest_url", "ingest_path", "watch_folders", "walk_folder",
           "UnsafeURL", "check_url"]

_SKIP_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".swp")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_USER_AGENT = "zhimei/0.1 (+https://github.com/zhimei; newsroom asset library)"


@dataclass
class IngestOutcome:
    """The result for one ingest target: the asset (new or an existing duplicate) or the reason it was refused."""

    name: str
    asset_id: int | None = None
    created: bool = False
    kind: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON lines output, API responses)."""
        return asdict(self)


class UnsafeURL(ValueError):
    """A URL zhimei will not fetch (not http/https, no host, too long)."""


def _display(name: str, limit: int = 300) -> str:
    """A target name safe to print: control characters replaced, very long names shortened."""
    clean = "".join("?" if unicodedata.category(c)[0] == "C" else c for c in str(name))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def check_url(url: str) -> str:
    """The URL if it is an http(s) URL with a host; UnsafeURL naming the problem otherwise."""
    url = (url or "").strip()
    if len(url) > 2000:
        raise UnsafeURL("the URL is longer than 2,000 characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = scheme or "none"
        raise UnsafeURL(f"unsupported URL scheme '{shown}:' (only http and https URLs are fetched)")
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in url):
        raise UnsafeURL("the URL contains spaces or control characters")
    return url


def check_public_host(host: str, port: int | None = None, *, doing: str = "fetch") -> None:
    """Raise UnsafeURL when `host` resolves to a loopback, private, link-local or multicast address, unless the
    fetch_private_urls setting allows internal hosts (the SSRF guard of every outgoing request: URL ingest,
    webhooks, alerts, workflow notifications). `doing` words the refusal ("fetch", "deliver to", "post to")."""
    if get_settings().fetch_private_urls:
        return
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeURL(f"cannot resolve host {host!r}: {exc.strerror}") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if not addr.is_global or addr.is_multicast:
            raise UnsafeURL(f"refusing to {doing} {host!r}: it resolves to a non-public address ({addr}); "
                            "set ZHIMEI_FETCH_PRIVATE_URLS=1 to allow internal hosts")


def guard_public_request(request) -> None:
    """httpx request hook: `check_public_host` on every request, so every redirect hop is checked too."""
    check_public_host(request.url.host, request.url.port)


_guard_address = guard_public_request


def http_client(**kwargs: Any):
    """An httpx client for fetching untrusted URLs: redirects ≤5, timeout from settings, SSRF guard."""
    import httpx

    s = get_settings()
    return httpx.Client(follow_redirects=True, max_redirects=5, timeout=s.http_timeout_seconds,
                        event_hooks={"request": [_guard_address]}, **kwargs)


def _hidden_or_partial(name: str) -> bool:
    return name.startswith((".", "~$")) or name.lower().endswith(_SKIP_SUFFIXES)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, (IngestError, UnsafeURL)):
        return str(exc)
    if isinstance(exc, PermissionError):
        return "cannot read the file: permission denied"
    if isinstance(exc, OSError):
        return f"cannot read the file: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def ingest_path(path: str | os.PathLike[str], source: str = "", **kwargs: Any) -> IngestOutcome:
    """Ingest one local file; problems come back as the outcome's error, never raised."""
    name = _display(os.fspath(path))
    try:
        res = ingest_file(path, source=source, **kwargs)
    except Exception as exc:  # one bad file never stops a batch
        return IngestOutcome(name, error=_error_text(exc))
    return IngestOutcome(name, res.asset_id, res.created, res.kind)


def walk_folder(folder: str | os.PathLike[str], recursive: bool = True) -> Iterator[tuple[Path, str | None]]:
    """(path, reason-to-refuse-or-None) for every candidate file under a folder, sorted, depth-first.

    Hidden and partial files/folders are left out; symbolic links are followed only when they resolve
    inside the folder (directory links are never descended, so there are no loops).
    """
    root = Path(folder)
    real_root = root.resolve()

    def walk(d: Path) -> Iterator[tuple[Path, str | None]]:
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            yield d, _error_text(exc)
            return
        for entry in entries:
            if _hidden_or_partial(entry.name):
                continue
            p = Path(entry.path)
            try:
                if entry.is_symlink():
                    target = p.resolve()
                    if not target.is_relative_to(real_root):
                        yield p, "skipped: symbolic link pointing outside the folder"
                        continue
                    if target.is_dir():
                        continue  # its contents are reached through the real folder
                    st = target.stat()
                else:
                    st = entry.stat(follow_symlinks=False)
            except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop
                yield p, _error_text(exc) if isinstance(exc, OSError) else "skipped: symbolic link loop"
                continue
            if stat.S_ISDIR(st.st_mode):
                if recursive:
                    yield from walk(p)
            elif stat.S_ISREG(st.st_mode):
                yield p, None
            else:
                yield p, "skipped: not a regular file (device, socket or pipe)"

    yield from walk(root)


def ingest_targets(targets: list[str], source: str = "", recursive: bool = True) -> Iterator[IngestOutcome]:
    """Ingest files, folders (walked) and http(s) URLs one by one, yielding an outcome for each file/URL."""
    for target in targets:
        target = str(target)
        try:
            p = Path(target)
            is_local = p.exists() or p.is_symlink()
        except (OSError, ValueError):  # NUL in the name, name too long…
            is_local = False
        if not is_local and _SCHEME.match(target):
            yield ingest_url(target, source=source)
            continue
        if not is_local:
            yield IngestOutcome(_display(target), error="no such file or folder")
            continue
        if p.is_dir():
            for path, refused in walk_folder(p, recursive=recursive):
                if refused:
                    yield IngestOutcome(_display(str(path)), error=refused)
                else:
                    yield ingest_path(path, source=source)
            continue
        yield ingest_path(p, source=source)


def _filename_from_response(resp: Any, url: str) -> str:
    cd = resp.headers.get("content-disposition")
    name = None
    if cd:
        msg = Message()
        msg["content-disposition"] = cd
        try:
            name = msg.get_filename()
        except (ValueError, LookupError, TypeError):
            name = None
    if not name:
        path = urlsplit(url).path
        name = unquote(path.rsplit("/", 1)[-1]) if path else ""
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    host = urlsplit(url).hostname or "download"
    name = safe_filename(name, fallback=host)
    ext_for = {"text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt",
               "text/markdown": ".md", "application/pdf": ".pdf"}
    if not Path(name).suffix and ctype in ext_for:
        name = safe_filename(name + ext_for[ctype])
    return name


def ingest_url(url: str, source: str = "") -> IngestOutcome:
    """Download an http(s) URL (redirects ≤5, size and time capped) and ingest it; the source defaults to the
    host. HTML pages become articles with meta["url"]."""
    import httpx

    name = _display(url)
    try:
        url = check_url(url)
    except UnsafeURL as exc:
        return IngestOutcome(name, error=str(exc))
    s = get_settings()
    limit = s.max_upload_bytes
    scratch = s.scratch_path
    scratch.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="zhimei-url-", dir=scratch)
    try:
        with http_client(headers={"User-Agent": _USER_AGENT}) as client:
            with client.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    return IngestOutcome(name, error=f"HTTP {resp.status_code} {resp.reason_phrase} from "
                                                     f"{urlsplit(str(resp.url)).hostname}")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    return IngestOutcome(name, error=f"the download is {int(declared):,} bytes; "
                                                     f"the limit is {limit:,}")
                size = 0
                with os.fdopen(fd, "wb") as out:
                    fd = -1
                    for chunk in resp.iter_bytes(1024 * 256):
                        size += len(chunk)
                        if size > limit:
                            return IngestOutcome(name, error=f"the download is larger than the limit of "
                                                             f"{limit:,} bytes")
                        out.write(chunk)
                final_url = str(resp.url)
                filename = _filename_from_response(resp, final_url)
        meta: dict[str, Any] = {"url": url}
        if final_url != url:
            meta["final_url"] = final_url
        res = ingest_file(tmp, filename=filename, source=source or (urlsplit(url).hostname or ""),
                          external_id=url[:1000], meta=meta)
        return IngestOutcome(name, res.asset_id, res.created, res.kind)
    except httpx.TooManyRedirects:
        return IngestOutcome(name, error="more than 5 redirects")
    except httpx.TimeoutException:
        return IngestOutcome(name, error=f"timed out after {s.http_timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return IngestOutcome(name, error=f"cannot fetch the URL: {type(exc).__name__}: {exc}")
    except Exception as exc:  # ingest refused it (unsupported type, empty…) or storage trouble
        return IngestOutcome(name, error=_error_text(exc))
    finally:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _signature(st: os.stat_result) -> tuple[int, int]:
    return st.st_size, st.st_mtime_ns


def watch_folders(folders: list[str], source: str = "", poll_seconds: float = 2.0,
                  stop: threading.Event | None = None, include_existing: bool = False) -> Iterator[IngestOutcome]:
    """Drop folders: poll, and ingest each file once its size and mtime held still for one poll.

    Files already there when watching starts are taken as handled unless `include_existing` (they changing
    later makes them new again). What was handled is remembered by path + size + mtime, so nothing is
    ingested twice. Stops when `stop` is set. Works by polling (no inotify needed).
    """
    stop = stop or threading.Event()
    handled: dict[Path, tuple[int, int]] = {}
    pending: dict[Path, tuple[int, int]] = {}
    roots = [Path(f) for f in folders]

    def scan() -> tuple[dict[Path, tuple[int, int]], list[tuple[Path, str]]]:
        found: dict[Path, tuple[int, int]] = {}
        refused: list[tuple[Path, str]] = []
        for root in roots:
            if not root.is_dir():
                refused.append((root, "not a folder (or it does not exist)"))
                continue
            for path, reason in walk_folder(root, recursive=True):
                try:
                    found[path] = _signature(path.stat())
                except OSError:
                    continue
                if reason:
                    refused.append((path, reason))
        return found, refused

    if not include_existing:
        found, refused = scan()
        handled.update(found)
        handled.update({p: (-1, -1) for p, _ in refused if p not in found and p not in roots})
    while not stop.is_set():
        found, refused = scan()
        refused_paths = set()
        for path, reason in refused:
            refused_paths.add(path)
            sig = found.get(path, (-1, -1))
            if handled.get(path) != sig:
                handled[path] = sig
                yield IngestOutcome(_display(str(path)), error=reason)
        for path, sig in found.items():
            if path in refused_paths or handled.get(path) == sig:
                continue
            if pending.get(path) == sig:
                pending.pop(path, None)
                handled[path] = sig
                yield ingest_path(path, source=source)
                if stop.is_set():
                    return
            else:
                pending[path] = sig
        for gone in [p for p in handled if p not in found and p not in refused_paths]:
            del handled[gone]
        for gone in [p for p in pending if p not in found]:
            del pending[gone]
        stop.wait(poll_seconds)
