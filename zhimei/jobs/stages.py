"""The stage registry: pipeline stages register by name (duplicates refused) with their dependencies."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zhimei.jobs.context import StageContext

__all__ = ["Stage", "StageRegistry", "registry", "stage", "load_stage_modules", "PermanentError"]


class PermanentError(Exception):
    """A failure that retrying cannot fix (corrupt media, unsupported input): fail at once."""


@dataclass(frozen=True)
class Stage:
    """A named unit of work on one asset; runs after the stages in `after` that apply to its kind."""

    name: str
    run: Callable[[StageContext], None]
    kinds: frozenset[str]
    after: tuple[str, ...] = ()
    version: str = "1"
    description: str = ""
    priority: int = 100
    max_attempts: int | None = None
    optional_after: tuple[str, ...] = ()
    """Dependencies honoured only when a stage of that name is loaded (e.g. `review` waits for `asr` if present)."""
    module: str = ""
    """The module that defines the stage (set by `stage`); `load_stage_modules` selects stages by it."""


@dataclass
class StageRegistry:
    """Stages by name. Later issues add stages here without touching the runner."""

    _stages: dict[str, Stage] = field(default_factory=dict)

    def register(self, st: Stage) -> Stage:
        """Add a stage; a second stage of the same name is refused."""
        if st.name in self._stages:
            raise ValueError(f"a stage named {st.name!r} is already registered")
        self._stages[st.name] = st
        return st

    def unregister(self, name: str) -> None:
        """Remove a stage (tests and plugins replacing one)."""
        self._stages.pop(name, None)

    def get(self, name: str) -> Stage:
        """The stage of that name."""
        try:
            return self._stages[name]
        except KeyError:
            raise KeyError(f"no stage named {name!r}; known: {sorted(self._stages)}") from None

    def names(self) -> list[str]:
        """Every registered stage name."""
        return sorted(self._stages)

    def graph_for(self, kind: str) -> list[Stage]:
        """Stages that apply to an asset kind, in dependency order; unknown dependencies are refused."""
        applicable = {n: s for n, s in self._stages.items() if kind in s.kinds}
        order: list[Stage] = []
        state: dict[str, int] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise ValueError(f"stage dependency cycle: {' -> '.join(path + (name,))}")
            state[name] = 1
            st = applicable[name]
            for dep in st.after:
                if dep not in self._stages:
                    raise ValueError(f"stage {name!r} depends on unknown stage {dep!r}")
            for dep in (*st.after, *st.optional_after):
                if dep in applicable:
                    visit(dep, path + (name,))
            state[name] = 2
            order.append(applicable[name])

        for name in sorted(applicable, key=lambda n: (applicable[n].priority, n)):
            visit(name, ())
        return order

    def deps_for(self, st: Stage, kind: str) -> list[str]:
        """The dependencies of `st` that apply to `kind`."""
        deps = dict.fromkeys((*st.after, *st.optional_after))
        return [d for d in deps if d in self._stages and kind in self._stages[d].kinds]


registry = StageRegistry()
_loaded: set[str] = set()


def stage(name: str, *, kinds: tuple[str, ...] | frozenset[str], after: tuple[str, ...] = (),
          optional_after: tuple[str, ...] = (), version: str = "1", priority: int = 100,
          max_attempts: int | None = None):
    """Decorator: register a function as a pipeline stage."""

    def deco(fn: Callable[[StageContext], None]) -> Callable[[StageContext], None]:
        registry.register(Stage(name=name, run=fn, kinds=frozenset(kinds), after=tuple(after),
                                optional_after=tuple(optional_after), version=version,
                                description=(fn.__doc__ or "").strip().split("\n")[0],
                                priority=priority, max_attempts=max_attempts, module=fn.__module__))
        return fn

    return deco


def _stage_modules_of(mod: ModuleType, defining: set[str], seen: set[str]) -> None:
    """`mod` and, recursively, the stage-defining modules it binds by name (``from pkg import stages_mod``)."""
    if mod.__name__ in seen:
        return
    seen.add(mod.__name__)
    for value in vars(mod).values():
        if isinstance(value, ModuleType) and value.__name__ in defining:
            _stage_modules_of(value, defining, seen)


def load_stage_modules(modules: list[str]) -> StageRegistry:
    """Import the modules that register stages (each once) and return the stages they provide: those defined in a
    listed module or in a stage module it imports, plus stages registered directly (without `stage`). Stages other
    modules registered earlier in the process are left out, so the pipeline is what the settings name."""
    for mod in modules:
        if mod not in _loaded:
            importlib.import_module(mod)
            _loaded.add(mod)
    defining = {st.module for st in registry._stages.values() if st.module}
    wanted: set[str] = set()
    for mod in modules:
        _stage_modules_of(sys.modules[mod], defining, wanted)
    return StageRegistry({n: st for n, st in registry._stages.items() if not st.module or st.module in wanted})
