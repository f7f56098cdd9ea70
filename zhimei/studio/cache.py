"""Result cache keyed by (task, inputs, model, prompt): sha256 of canonical JSON, one JSON file per key.

Files live under ``$ZHIMEI_HOME/studio-cache/<first two hex>/<key>.json`` and are written atomically
(temp file + rename), so a crash never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from zhimei.settings import get_settings
from zhimei.store.files import write_atomic

__all__ = ["cache_key", "cached", "store", "cache_dir"]


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def cache_key(task: str, inputs: object, model: str, prompt: str) -> str:
    """sha256 (hex) of the canonical JSON of ``{task, inputs, model, prompt}``."""
    payload = _canonical({"task": task, "inputs": inputs, "model": model, "prompt": prompt})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def cache_dir() -> Path:
    """The cache folder in effect ($ZHIMEI_HOME/studio-cache)."""
    return get_settings().home / "studio-cache"


def _path(key: str) -> Path:
    if len(key) < 3 or not all(c in "0123456789abcdef" for c in key):
        raise ValueError(f"not a cache key: {key[:80]!r}")
    return cache_dir() / key[:2] / f"{key}.json"


def cached(key: str) -> dict | None:
    """The stored value for ``key``, or None (also when the entry is unreadable)."""
    path = _path(key)
    try:
        with path.open(encoding="utf-8") as fh:
            value = json.load(fh)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def store(key: str, value: dict) -> None:
    """Write ``value`` (JSON-serialisable dict) for ``key`` atomically."""
    write_atomic(_path(key), json.dumps(value, ensure_ascii=False, default=str), durable=False)  # a cache
