"""Backends registered by (capability, name); the one in use per capability is chosen in settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, TypeVar

from zhimei.models.base import CAPABILITIES, Backend, NotReady
from zhimei.models.types import Readiness

__all__ = ["register", "backend_classes", "get_backend", "list_backends", "reset_backends", "BackendInfo",
           "DuplicateBackend", "selected_name"]

B = TypeVar("B", bound=type[Backend])

_CLASSES: dict[tuple[str, str], type[Backend]] = {}
_INSTANCES: dict[tuple[str, str], Backend] = {}
_lock = threading.Lock()


class DuplicateBackend(ValueError):
    """A second backend tried to register under a taken (capability, name)."""


def register(cls: B) -> B:
    """Class decorator: register a backend. Refuses a second backend with the same capability and name."""
    cap = getattr(cls, "capability", None)
    name = getattr(cls, "name", None)
    if cap not in CAPABILITIES:
        raise ValueError(f"backend {cls.__qualname__} declares unknown capability {cap!r}")
    if not name or not isinstance(name, str):
        raise ValueError(f"backend {cls.__qualname__} declares no name")
    if not getattr(cls, "licence", None):
        raise ValueError(f"backend {cls.__qualname__} declares no licence")
    with _lock:
        if (cap, name) in _CLASSES:
            raise DuplicateBackend(f"a {cap} backend named {name!r} is registered already "
                                   f"({_CLASSES[(cap, name)].__module__}.{_CLASSES[(cap, name)].__qualname__})")
        _CLASSES[(cap, name)] = cls
    return cls


def unregister(capability: str, name: str) -> None:
    """Remove a registration (for tests and plug-ins)."""
    with _lock:
        _CLASSES.pop((capability, name), None)
        _INSTANCES.pop((capability, name), None)


def backend_classes(capability: str | None = None) -> list[type[Backend]]:
    """Registered backend classes, optionally for one capability."""
    return [c for (cap, _), c in sorted(_CLASSES.items()) if capability in (None, cap)]


def selected_name(capability: str, settings: Any = None) -> str:
    """The backend name chosen in settings for a capability (setting ``<capability>_backend``)."""
    if settings is None:
        from zhimei.settings import get_settings

        settings = get_settings()
    return getattr(settings, f"{capability}_backend")


def backend_id(b: Any) -> str:
    """A short, stable name for what produced a result (backend name, and the remote model if remote)."""
    name = getattr(b, "name", type(b).__name__)
    if getattr(b, "remote", False):
        model = getattr(b, "model_name", None) or ""
        return f"{name}:{model}" if model else name
    return name


def get_backend(capability: str, name: str | None = None) -> Any:
    """The (shared, lazily loaded) backend instance for a capability; raises NotReady with the reason."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}")
    name = name or selected_name(capability)
    key = (capability, name)
    with _lock:
        inst = _INSTANCES.get(key)
        if inst is None:
            cls = _CLASSES.get(key)
            if cls is None:
                known = ", ".join(n for (c, n) in _CLASSES if c == capability) or "none"
                raise NotReady(f"no {capability} backend named {name!r} (registered: {known})")
            inst = cls()
            _INSTANCES[key] = inst
    state = inst.ready()
    if not state:
        raise NotReady(f"{capability} backend {name!r} is not ready: {state.reason}")
    return inst


def reset_backends() -> None:
    """Drop shared instances (and their loaded models); the next `get_backend` makes new ones."""
    with _lock:
        _INSTANCES.clear()


@dataclass(frozen=True)
class BackendInfo:
    """One row of `zhimei models`."""

    capability: str
    name: str
    ready: bool
    reason: str
    licence: str
    remote: bool
    selected: bool
    description: str
    degraded: str = ""
    """What a ready backend runs without (see `Readiness.degraded`)."""


def list_backends(settings: Any = None) -> list[BackendInfo]:
    """Every registered backend with its readiness (cheap: nothing is loaded)."""
    if settings is None:
        from zhimei.settings import get_settings

        settings = get_settings()
    rows = []
    for (cap, name), cls in sorted(_CLASSES.items(), key=lambda kv: (CAPABILITIES.index(kv[0][0]), kv[0][1])):
        try:
            state = cls(settings).ready()
        except Exception as exc:  # a broken install must not break the listing
            state = Readiness(False, f"{type(exc).__name__}: {exc}")
        rows.append(BackendInfo(cap, name, state.ok, state.reason, cls.licence, cls.remote,
                                selected_name(cap, settings) == name, cls.description, state.degraded))
    return rows
