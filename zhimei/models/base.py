"""Backend base class: declared metadata, a readiness check and thread-safe lazy loading."""

from __future__ import annotations

import importlib.util
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from zhimei.models.types import Readiness

__all__ = ["Backend", "NotReady", "ModelError", "CAPABILITIES", "build_once", "model_cache_dir", "offline_env"]

CAPABILITIES = ("asr", "ocr", "embedder", "faces", "image_safety", "entities", "keywords", "llm", "tts",
                "translator")


class NotReady(RuntimeError):
    """The backend cannot run here (package missing, weights absent, remote not configured)."""


class ModelError(RuntimeError):
    """A backend failed on this input or the remote service answered with an error."""


_build_lock = threading.RLock()


def build_once(target: Path, marker_suffix: str, stamp: str, write: Callable[[Path], None]) -> Path:
    """``target``, built by ``write(temp_path)`` unless it is already there with a marker (``target.name +
    marker_suffix``) that records ``stamp`` and the size it was built at, so a changed input (a new stamp) or a
    damaged file (another size) is rebuilt. The temp file sits beside ``target`` and is renamed over it atomically;
    if ``write`` raises, nothing is left behind. For files assembled or derived once into the model cache."""
    target = Path(target)
    marker = target.with_name(target.name + marker_suffix)

    def current() -> bool:
        return (target.is_file() and marker.is_file()
                and marker.read_text().split() == [*stamp.split(), str(target.stat().st_size)])

    if current():
        return target
    with _build_lock:
        if current():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            write(Path(tmp))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        marker_tmp = marker.with_name(marker.name + ".tmp")
        marker_tmp.write_text(f"{stamp} {target.stat().st_size}\n")
        os.replace(marker_tmp, marker)
    return target


def offline_env() -> None:
    """Make sure no library fetches weights from a model hub at run time."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def model_cache_dir(settings: Any) -> Path:
    """Folder for model files assembled at first use: the setting, else the user cache
    (``$XDG_CACHE_HOME/zhimei/models``, shared by every zhimei home on the machine)."""
    if settings.model_cache_dir:
        return Path(settings.model_cache_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "zhimei" / "models"


class Backend(ABC):
    """One implementation of a capability. Subclasses set the class attributes and `_load`."""

    name: ClassVar[str]
    capability: ClassVar[str]
    licence: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    """Python modules that must be importable."""
    remote: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init__(self, settings: Any = None) -> None:
        if settings is None:
            from zhimei.settings import get_settings

            settings = get_settings()
        self.settings = settings
        self._lock = threading.RLock()
        self._model: Any = None

    def ready(self) -> Readiness:
        """Can this backend run here? Checks packages, then weights/configuration (cheap: no loading)."""
        for mod in self.requires:
            try:
                found = importlib.util.find_spec(mod) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return Readiness(False, f"python package providing '{mod}' is not installed")
        reason = self._check()
        if reason is not None:
            return Readiness(False, reason)
        return Readiness(True, "", self._degraded() or "")

    def _check(self) -> str | None:
        """Return why the weights/configuration are not usable, or None when they are."""
        return None

    def _degraded(self) -> str | None:
        """Return what optional parts the settings ask for are missing (the backend runs, less well), or None."""
        return None

    def model(self) -> Any:
        """The loaded model, loaded once per instance (thread-safe)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    state = self.ready()
                    if not state:
                        raise NotReady(f"{self.capability} backend '{self.name}' is not ready: {state.reason}")
                    offline_env()
                    self._model = self._load()
        return self._model

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._model is not None

    @abstractmethod
    def _load(self) -> Any:
        """Load and return the model object."""
