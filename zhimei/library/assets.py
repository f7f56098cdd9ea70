"""Assets in: sniff the type, store the original blob, detect exact duplicates, queue the stage graph."""

from __future__ import annotations

import os
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from zhimei.jobs import dispatch_ready, enqueue_pipeline
from zhimei.settings import get_settings
from zhimei.store.blobs import get_blob_store, sha256_file
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Rendition
from zhimei.store.refs import referenced_blobs

__all__ = ["IngestError", "IngestResult", "ingest_file", "ingest_bytes", "sniff", "safe_filename",
           "ARTICLE_MIMES"]

ARTICLE_MIMES_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ARTICLE_MIMES = {
    "text/html", "text/plain", "text/markdown", "application/pdf",
    ARTICLE_MIMES_DOCX, "application/ninjs+json", "application/vnd.iptc.g2.newsitem+xml",
}


class IngestError(ValueError):
    """The input was refused; the message names the problem for a person."""


@dataclass(frozen=True)
class IngestResult:
    """What ingest did: the asset id, and whether it is new or an exact duplicate of an earlier one."""

    asset_id: int
    created: bool
    kind: str
    duplicate_of: int | None = None


def safe_filename(name: str | None, fallback: str = "upload") -> str:
    """A display name from an untrusted one: no path parts, no control characters, ≤255 UTF-8 bytes.

    The name is only ever shown; blobs are stored under their sha256.
    """
    if not name:
        return fallback
    name = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if not name:
        return fallback
    encoded = name.encode("utf-8")
    if len(encoded) > 255:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext) <= 10 else ""
        budget = 255 - len(ext.encode()) - (1 if ext else 0)
        stem_bytes = (stem if ext else name).encode("utf-8")[:budget]
        name = stem_bytes.decode("utf-8", "ignore") + (("." + ext) if ext else "")
    return name


_EXT_MIME = {
    ".md": "text/markdown", ".markdown": "text/markdown", ".txt": "text/plain", ".text": "text/plain",
    ".html": "text/html", ".htm": "text/html", ".xhtml": "text/html",
}


def sniff(path: Path, filename: str = "") -> tuple[str, str]:
    """(kind, mime) from the file's first bytes (the name only breaks ties for plain text)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head:
        raise IngestError("the file is empty (0 bytes)")
    ext = Path(filename or path.name).suffix.lower()
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return "audio", "audio/mp4"
        if brand in (b"heic", b"heix", b"mif1", b"avif"):
            return "image", "image/heic" if brand != b"avif" else "image/avif"
        return "video", "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video", "video/x-msvideo"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio", "audio/wav"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "image/webp"
    if head[:1] == b"\x47" and len(head) > 376 and head[188:189] == b"\x47" and head[376:377] == b"\x47":
        return "video", "video/mp2t"
    if head.startswith(b"\x00\x00\x01\xba") or head.startswith(b"\x00\x00\x01\xb3"):
        return "video", "video/mpeg"
    if head.startswith(b"FLV"):
        return "video", "video/x-flv"
    if head.startswith(b"ID3") and len(head) >= 10:
        # an ID3v2 tag may sit in front of FLAC too (C2PA-signed FLAC): look at what follows the tag
        tag_size = 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | head[9] & 0x7F)
        with open(path, "rb") as fh:
            fh.seek(tag_size)
            if fh.read(4) == b"fLaC":
                return "audio", "audio/flac"
        return "audio", "audio/mpeg"
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xfa"):
        return "audio", "audio/mpeg"
    if head.startswith(b"fLaC"):
        return "audio", "audio/flac"
    if head.startswith(b"OggS"):
        return ("video", "video/ogg") if b"theora" in head[:512] else ("audio", "audio/ogg")
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return "audio", "audio/aac"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image", "image/gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image", "image/tiff"
    if head.startswith(b"BM") and len(head) > 14:
        return "image", "image/bmp"
    if head.startswith(b"%PDF-"):
        return "article", "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                if "word/document.xml" in zf.namelist():
                    return "article", ARTICLE_MIMES_DOCX
        except zipfile.BadZipFile:
            raise IngestError("the file looks like a ZIP/DOCX archive but is corrupt") from None
        raise IngestError("ZIP archives are not ingested as one asset; unpack it and ingest the folder")
    return _sniff_text(head, ext)


def _sniff_text(head: bytes, ext: str) -> tuple[str, str]:
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError("unsupported file type: binary data that is not a known media or document format")
    text = head.decode("utf-8", "ignore").lstrip("\ufeff \t\r\n").lower()
    if text.startswith("{") and ('"uri"' in text or '"headline"' in text or "ninjs" in text):
        return "article", "application/ninjs+json"
    if text.startswith("<?xml") or text.startswith("<"):
        if "<newsitem" in text or "<newsmessage" in text or "iptc.org/std/nar" in text:
            return "article", "application/vnd.iptc.g2.newsitem+xml"
        if "<html" in text or "<!doctype html" in text or "<body" in text or "<p>" in text:
            return "article", "text/html"
        if "<rss" in text or "<feed" in text:
            raise IngestError("this is an RSS/Atom feed: add it with `zhimei feeds add URL` instead")
    if ext in _EXT_MIME:
        return "article", _EXT_MIME[ext]
    if ext in ("", ".csv", ".log", ".json", ".xml") and _looks_textual(head):
        return "article", "text/plain"
    raise IngestError(f"unsupported file type{f' ({ext})' if ext else ''}: not a known media or document format")


def _looks_textual(head: bytes) -> bool:
    for enc in ("utf-8", "gb18030", "utf-16"):
        try:
            head.decode(enc)
            return True
        except UnicodeDecodeError:
            continue
    return False


def ingest_file(path: str | os.PathLike[str], *, filename: str | None = None, source: str = "",
                title: str | None = None, language: str | None = None, rights: str = "",
                licence: str = "", created_by: str = "", parent_id: int | None = None,
                external_id: str | None = None, meta: dict[str, Any] | None = None,
                published_at: datetime | None = None) -> IngestResult:
    """Take one file into the library and queue its stage graph. Raises IngestError when refused."""
    s = get_settings()
    p = Path(path)
    if not p.is_file():
        raise IngestError(f"not a regular file: {safe_filename(str(path))}")
    size = p.stat().st_size
    if size == 0:
        raise IngestError("the file is empty (0 bytes)")
    if size > s.max_upload_bytes:
        raise IngestError(f"the file is {size:,} bytes; the limit is {s.max_upload_bytes:,}")
    display = safe_filename(filename or p.name)
    kind, mime = sniff(p, display)
    if kind == "article" and size > s.max_text_bytes:
        raise IngestError(f"the document is {size:,} bytes; the limit for text is {s.max_text_bytes:,}")
    sha = sha256_file(p)
    with session_scope() as session:
        existing = session.scalars(
            select(Asset).where(Asset.sha256 == sha, Asset.status != "failed").order_by(Asset.id)
        ).first()
        if existing is not None:
            return IngestResult(existing.id, False, existing.kind, duplicate_of=existing.id)
    store = get_blob_store(s)
    store.put_file(p, sha)
    try:
        with session_scope() as session:
            asset = Asset(kind=kind, mime=mime, sha256=sha, size_bytes=size, filename=display,
                          title=(title or Path(display).stem)[:1000], language=language, source=source,
                          rights=rights, licence=licence, created_by=created_by, parent_id=parent_id,
                          external_id=external_id, meta=meta or {}, published_at=published_at)
            session.add(asset)
            session.flush()
            session.add(Rendition(asset_id=asset.id, kind="original", blob_sha=sha, mime=mime, size_bytes=size))
            enqueue_pipeline(session, asset)
            asset_id = asset.id
    except BaseException:
        with session_scope() as session:
            if sha not in referenced_blobs(session):
                store.delete(sha)
        raise
    dispatch_ready(asset_id=asset_id)
    return IngestResult(asset_id, True, kind)


def ingest_bytes(data: bytes, filename: str, **kwargs: Any) -> IngestResult:
    """Ingest in-memory content (feed items, news documents) through the same path as files."""
    suffix = Path(safe_filename(filename)).suffix[:10]
    fd, tmp = tempfile.mkstemp(prefix="zhimei-in-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return ingest_file(tmp, filename=filename, **kwargs)
    finally:
        os.unlink(tmp)
