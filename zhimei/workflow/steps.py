"""The step-type registry: each type has a name (duplicates refused), declared inputs and outputs, and a run
function that calls only other areas' public functions. ``approval`` is built into the engine."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zhimei.workflow.errors import StepFailed

__all__ = ["Param", "StepType", "StepCall", "register_step", "step_type", "get_step_type", "step_types",
           "unregister_step", "APPROVAL", "PARAM_TYPES", "check_type"]

APPROVAL = "approval"
PARAM_TYPES = ("str", "int", "float", "bool", "list", "dict", "any")


@dataclass(frozen=True)
class Param:
    """One input or output of a step type."""

    name: str
    type: str = "any"
    required: bool = False
    default: Any = None
    doc: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "required": self.required, "default": self.default,
                "doc": self.doc}


@dataclass
class StepCall:
    """What a step's run function gets: its resolved inputs, where it runs, and ways to report."""

    inputs: dict[str, Any]
    run_id: int
    step_key: str
    actor: str
    on_progress: Callable[[float, str], None] | None = None
    tokens: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress; raises StepFailed once the step was stopped (timeout, cancel)."""
        self.check()
        if self.on_progress:
            self.on_progress(percent, message)

    def check(self) -> None:
        """Raise StepFailed when the step has been told to stop."""
        if self.stop.is_set():
            raise StepFailed("the step was stopped")

    def add_tokens(self, n: int) -> None:
        """Count model tokens spent by this step."""
        self.tokens += max(0, int(n or 0))


@dataclass(frozen=True)
class StepType:
    """A capability a workflow step can call."""

    name: str
    title: str
    run: Callable[[StepCall], dict[str, Any]]
    inputs: tuple[Param, ...] = ()
    outputs: tuple[Param, ...] = ()
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "inputs": [p.to_dict() for p in self.inputs], "outputs": [p.to_dict() for p in self.outputs]}


_types: dict[str, StepType] = {}


def register_step(st: StepType) -> StepType:
    """Add a step type; a second type of the same name is refused."""
    if st.name in _types or st.name == APPROVAL:
        raise ValueError(f"a workflow step type named {st.name!r} is already registered")
    _types[st.name] = st
    return st


def unregister_step(name: str) -> None:
    """Remove a step type (tests, plugins replacing one)."""
    _types.pop(name, None)


def step_type(name: str, title: str, *, inputs: tuple[Param, ...] = (), outputs: tuple[Param, ...] = ()):
    """Decorator: register `fn(call) -> outputs` as step type `name` (its docstring's first line describes it)."""

    def deco(fn: Callable[[StepCall], dict[str, Any]]) -> Callable[[StepCall], dict[str, Any]]:
        register_step(StepType(name=name, title=title, run=fn, inputs=tuple(inputs), outputs=tuple(outputs),
                               description=(fn.__doc__ or "").strip().split("\n")[0]))
        return fn

    return deco


def _load() -> None:
    from zhimei.workflow import builtin  # noqa: F401  (registers the built-in step types)


def get_step_type(name: str) -> StepType | None:
    """The step type of that name, or None."""
    _load()
    return _types.get(name)


APPROVAL_TYPE = {
    "name": APPROVAL, "title": "Approval (a person decides)",
    "description": "Pause the run and show a person what to approve or edit; resume with their decision and edits.",
    "inputs": [{"name": "show", "type": "dict", "required": False, "default": None,
                "doc": "what the person looks at (values may reference earlier outputs)"},
               {"name": "edit", "type": "list", "required": False, "default": None,
                "doc": "editable fields: [{name, type: text|textarea|list|bool|number, label, value}]"},
               {"name": "instructions", "type": "str", "required": False, "default": "", "doc": "what to check"},
               {"name": "timeout", "type": "str", "required": False, "default": None,
                "doc": "e.g. 2h: then on_timeout decides (reject, the default, or approve)"},
               {"name": "escalate_after", "type": "str", "required": False, "default": None,
                "doc": "e.g. 30m: mark escalated and notify notify_url"}],
    "outputs": [{"name": n, "type": t, "required": False, "default": None, "doc": d} for n, t, d in (
        ("decision", "str", "approve | reject"), ("approved", "bool", "true when approved"),
        ("decided_by", "str", "who decided"), ("comment", "str", "their comment"),
        ("edits", "dict", "the edited fields"), ("<field>", "any", "each editable field, edited or as shown"))],
}


def step_types() -> list[dict[str, Any]]:
    """Every step type with its inputs and outputs (the approval step included)."""
    _load()
    return [APPROVAL_TYPE, *[_types[n].to_dict() for n in sorted(_types)]]


def check_type(value: Any, kind: str) -> bool:
    """Whether a literal value fits a declared parameter type."""
    if kind == "any" or value is None:
        return True
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"str": str, "bool": bool, "list": list, "dict": dict}[kind])
