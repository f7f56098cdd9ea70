"""Content-addressed blob store: sha256 keys, atomic writes, local disk or S3-compatible storage."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from zhimei.settings import Settings, get_settings

__all__ = ["BlobStore", "LocalBlobStore", "S3BlobStore", "get_blob_store", "sha256_file", "BlobNotFound"]

_CHUNK = 1024 * 1024


class BlobNotFound(KeyError):
    """No blob with that sha256."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _check_sha(sha: str) -> str:
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise BlobNotFound(f"not a sha256 key: {sha[:80]!r}")
    return sha


class BlobStore(ABC):
    """Where blob bytes live. Keys are the sha256 of the content, so a retry never duplicates."""

    @abstractmethod
    def put_file(self, path: str | os.PathLike[str], sha: str | None = None) -> str:
        """Store a file's bytes; returns its sha256. Idempotent."""

    @abstractmethod
    def exists(self, sha: str) -> bool:
        """Whether a blob is stored."""

    @abstractmethod
    def size(self, sha: str) -> int:
        """Size in bytes."""

    @abstractmethod
    def read_range(self, sha: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end] inclusive, in chunks (for HTTP Range)."""

    @abstractmethod
    def delete(self, sha: str) -> None:
        """Remove a blob (no error if absent)."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every stored sha256."""

    @abstractmethod
    def age_seconds(self, sha: str) -> float:
        """Seconds since the blob was written."""

    @contextmanager
    def local_path(self, sha: str) -> Iterator[Path]:
        """A local file path with the blob's bytes for tools such as ffmpeg."""
        fd, tmp = tempfile.mkstemp(prefix="zhimei-blob-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.read_range(sha, 0, self.size(sha) - 1):
                    out.write(chunk)
            yield Path(tmp)
        finally:
            os.unlink(tmp)

    def put_bytes(self, data: bytes) -> str:
        """Store bytes; returns their sha256."""
        fd, tmp = tempfile.mkstemp(prefix="zhimei-put-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            return self.put_file(tmp)
        finally:
            os.unlink(tmp)

    def read_bytes(self, sha: str) -> bytes:
        """The whole blob (for small blobs)."""
        size = self.size(sha)
        return b"".join(self.read_range(sha, 0, size - 1)) if size else b""


class LocalBlobStore(BlobStore):
    """Blobs under ``root/ab/cd/<sha>``; written to a temp file, fsynced, then renamed into place."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.tmp = self.root / ".tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha: str) -> Path:
        """Where a blob lives on disk."""
        _check_sha(sha)
        return self.root / sha[:2] / sha[2:4] / sha

    def put_file(self, path, sha=None):
        sha = sha or sha256_file(path)
        dest = self.path(sha)
        if dest.exists():
            return sha
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.tmp, prefix=sha[:12] + "-")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
            dir_fd = os.open(dest.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return sha

    def exists(self, sha):
        try:
            return self.path(sha).exists()
        except BlobNotFound:
            return False

    def size(self, sha):
        try:
            return self.path(sha).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(sha) from exc

    def read_range(self, sha, start, end):
        p = self.path(sha)
        if not p.exists():
            raise BlobNotFound(sha)
        with p.open("rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = fh.read(min(_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

    def delete(self, sha):
        try:
            self.path(sha).unlink(missing_ok=True)
        except BlobNotFound:
            pass

    def keys(self):
        for p in self.root.glob("??/??/*"):
            if p.is_file() and len(p.name) == 64:
                yield p.name

    def age_seconds(self, sha):
        return time.time() - self.path(sha).stat().st_mtime

    def temp_files(self) -> list[Path]:
        """Leftover partial writes (a crash mid-put); `gc` removes them."""
        return [p for p in self.tmp.iterdir() if p.is_file()]

    @contextmanager
    def local_path(self, sha):
        p = self.path(sha)
        if not p.exists():
            raise BlobNotFound(sha)
        yield p


class S3BlobStore(BlobStore):
    """Blobs as objects ``<prefix><sha>`` in an S3-compatible bucket (uploads are atomic there)."""

    def __init__(self, settings: Settings):
        import boto3
        from botocore.config import Config

        kwargs: dict = {"region_name": settings.s3_region,
                        "config": Config(retries={"mode": "standard", "max_attempts": 10})}
        if settings.s3_endpoint_url:
            kwargs["endpoint_url"] = settings.s3_endpoint_url
        if settings.s3_access_key:
            kwargs["aws_access_key_id"] = settings.s3_access_key
            kwargs["aws_secret_access_key"] = settings.s3_secret_key
        self.client = boto3.client("s3", **kwargs)
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        self._ensure_bucket()

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def _key(self, sha: str) -> str:
        return self.prefix + _check_sha(sha)

    def put_file(self, path, sha=None):
        sha = sha or sha256_file(path)
        if not self.exists(sha):
            self.client.upload_file(str(path), self.bucket, self._key(sha))
        return sha

    def exists(self, sha):
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha))
            return True
        except (ClientError, BlobNotFound):
            return False

    def size(self, sha):
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(sha))["ContentLength"])
        except ClientError as exc:
            raise BlobNotFound(sha) from exc

    def read_range(self, sha, start, end):
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(sha), Range=f"bytes={start}-{end}")
        except ClientError as exc:
            raise BlobNotFound(sha) from exc
        body: BinaryIO = obj["Body"]
        while chunk := body.read(_CHUNK):
            yield chunk

    def delete(self, sha):
        self.client.delete_object(Bucket=self.bucket, Key=self._key(sha))

    def age_seconds(self, sha):
        from datetime import UTC, datetime

        head = self.client.head_object(Bucket=self.bucket, Key=self._key(sha))
        return (datetime.now(UTC) - head["LastModified"]).total_seconds()

    def keys(self):
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix):]


_stores: dict[tuple, BlobStore] = {}


def get_blob_store(settings: Settings | None = None) -> BlobStore:
    """The blob store chosen by settings (one instance per configuration)."""
    s = settings or get_settings()
    if s.blob_backend == "s3":
        key: tuple = ("s3", s.s3_endpoint_url, s.s3_bucket, s.s3_prefix)
    else:
        key = ("local", str(s.blob_path))
    if key not in _stores:
        _stores[key] = S3BlobStore(s) if s.blob_backend == "s3" else LocalBlobStore(s.blob_path)
    return _stores[key]
