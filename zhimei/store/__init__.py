"""store: SQL (SQLite or PostgreSQL), content-addressed blobs (local or S3)."""

from zhimei.store import models
from zhimei.store.blobs import BlobNotFound, BlobStore, get_blob_store, sha256_file
from zhimei.store.db import SessionLocal, get_engine, migrate, read_scope, reset_engine, session_scope
from zhimei.store.refs import collect_garbage, referenced_blobs

__all__ = [
    "models", "BlobNotFound", "BlobStore", "get_blob_store", "sha256_file", "SessionLocal", "get_engine",
    "migrate", "read_scope", "reset_engine", "session_scope", "referenced_blobs", "collect_garbage",
]
