"""library: assets, ingest, the understanding pipeline and search.

Other areas use these names (not the library's submodules). The media, text and embedding helpers are loaded on
first use, so importing the package stays cheap and free of import cycles."""

from __future__ import annotations

import importlib
from typing import Any

from zhimei.library.assets import IngestError, IngestResult, ingest_bytes, ingest_file, safe_filename, sniff

_LAZY = {
    "FFmpegError": "zhimei.library.media.ffmpeg",
    "run_ffmpeg": "zhimei.library.media.ffmpeg",
    "ffprobe_json": "zhimei.library.media.ffmpeg",
    "detect_language": "zhimei.library.text.encoding",
    "embed_texts": "zhimei.library.understand.embed",
    "UnsafeURL": "zhimei.library.ingest",
    "check_public_host": "zhimei.library.ingest",
    "guard_public_request": "zhimei.library.ingest",
}

__all__ = ["IngestError", "IngestResult", "ingest_bytes", "ingest_file", "safe_filename", "sniff", *_LAZY]


def __getattr__(name: str) -> Any:
    """The lazily loaded public names (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zhimei.library' has no attribute {name!r}")
