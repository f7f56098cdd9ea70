"""Private key files under ``$ZHIMEI_HOME/keys``: written once, atomically, readable only by their owner."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_private_once"]


def write_private_once(dest: Path, data: bytes) -> None:
    """Write `data` to `dest` (mode 0600, folder 0700) unless the file exists: a key another process wrote first is
    never replaced, so every process ends up using the same key."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(dest.parent, 0o700)
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=dest.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, dest)  # atomic, and refuses to replace
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
