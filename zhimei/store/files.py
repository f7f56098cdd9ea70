"""Atomic file writes for settings-like files (word lists, term dictionaries, caches): a reader sees the old file or
the new one, never half of one, and a failed write leaves the old file and no temp file behind."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["replace_atomic", "write_atomic", "write_npy", "write_npz"]


def replace_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Replace ``path`` with what ``write(temp_path)`` writes: the temp file sits beside ``path`` (same file
    system), takes the replaced file's permissions (a new file is private to its owner), is renamed over it in one
    step, and is removed if ``write`` or the rename fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step (`replace_atomic`); with ``durable``
    the bytes reach the disk before the rename, so a crash cannot leave an empty file in place of the old one."""
    if isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:  # bytes(12) would write twelve NULs
        raise TypeError(f"write_atomic writes str or bytes, not {type(data).__name__}")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(raw)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())

    replace_atomic(path, write)


def write_npz(path: Path, arrays: dict[str, Any], *, compressed: bool = True) -> None:
    """Replace ``path`` with a NumPy ``.npz`` of ``arrays`` in one step (`replace_atomic`): a model file that a
    running service may load is never seen half-written, and a failed save keeps the old one."""
    import numpy as np

    save = np.savez_compressed if compressed else np.savez

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: given a name, NumPy would add its own suffix
            save(fh, **arrays)

    replace_atomic(path, write)


def write_npy(path: Path, array: Any) -> None:
    """Replace ``path`` with a NumPy ``.npy`` of ``array`` in one step (`replace_atomic`)."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, array)

    replace_atomic(path, write)
