"""References and conditions inside workflow files.

A value may hold references ``${inputs.asset_id}``, ``${steps.clips.outputs.clips}``, ``${item.start}`` (inside a
``foreach`` step), ``${run.id}``. A string that is exactly one reference becomes the referenced value (a list stays a
list); references inside longer text are written into it. ``when`` conditions are one expression over references
and literals: ``==  !=  <  <=  >  >=  in  not in  and  or  not``, e.g. ``${steps.check.outputs.tier} != 'block'``.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

__all__ = ["REF", "refs_in", "resolve", "evaluate", "check_condition", "ResolveError", "MISSING"]

REF = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*)\s*\}")
_WHOLE = re.compile(r"^\s*\$\{\s*([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\s*$")
ROOTS = ("inputs", "steps", "item", "run")


class ResolveError(ValueError):
    """A reference that points at nothing."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def refs_in(value: Any) -> list[str]:
    """Every reference path inside a value (strings, lists, dicts, nested)."""
    out: list[str] = []
    if isinstance(value, str):
        out += [m.group(1) for m in REF.finditer(value)]
    elif isinstance(value, list):
        for v in value:
            out += refs_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            out += refs_in(v)
    return out


def _lookup(path: str, scope: dict[str, Any]) -> Any:
    parts = path.split(".")
    if parts[0] not in scope:
        raise ResolveError(f"${{{path}}}: nothing called {parts[0]!r} here")
    cur = scope[parts[0]]
    for i, p in enumerate(parts[1:], 1):
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        elif cur is None:
            return None  # outputs of a skipped step
        else:
            have = sorted(cur) if isinstance(cur, dict) else f"a {type(cur).__name__}"
            raise ResolveError(f"${{{path}}}: {'.'.join(parts[:i])} has no {p!r} (it has {have})")
    return cur


def resolve(value: Any, scope: dict[str, Any], *, keep: tuple[str, ...] = ()) -> Any:
    """The value with its references replaced from `scope` ({"inputs":…, "steps": {key: {"outputs":…}}, …}).
    References whose root is in `keep` are left as they are (``item`` before a loop runs)."""
    if isinstance(value, str):
        m = _WHOLE.match(value)
        if m:
            if m.group(1).split(".")[0] in keep:
                return value
            return _lookup(m.group(1), scope)

        def sub(mm: re.Match) -> str:
            if mm.group(1).split(".")[0] in keep:
                return mm.group(0)
            v = _lookup(mm.group(1), scope)
            return v if isinstance(v, str) else ("" if v is None else json.dumps(v, ensure_ascii=False))

        return REF.sub(sub, value)
    if isinstance(value, list):
        return [resolve(v, scope, keep=keep) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, scope, keep=keep) for k, v in value.items()}
    return value


_OPS = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
        ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
        ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


def _parse(text: str) -> tuple[ast.Expression, list[str]]:
    names: list[str] = []

    def sub(m: re.Match) -> str:
        names.append(m.group(1))
        return f"_ref{len(names) - 1}"

    src = REF.sub(sub, text.strip()).replace("&&", " and ").replace("||", " or ")
    src = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", src)))
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as exc:
        raise ResolveError(f"cannot read the condition {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not node.id.startswith("_ref"):
            raise ResolveError(f"condition {text!r}: {node.id!r} is not a reference; write ${{...}} or quote text")
        if not isinstance(node, ast.Expression | ast.Compare | ast.BoolOp | ast.UnaryOp | ast.Constant | ast.Name
                          | ast.List | ast.Tuple | ast.Load | ast.And | ast.Or | ast.Not | ast.USub | ast.cmpop):
            raise ResolveError(f"condition {text!r}: {type(node).__name__} is not allowed (compare references "
                               "with ==, !=, <, >, in, and combine with and/or/not)")
    return tree, names


def check_condition(text: str) -> list[str]:
    """The references a condition uses; ResolveError when it cannot be read."""
    if not isinstance(text, str) or not text.strip():
        raise ResolveError("a condition must be a non-empty text")
    return _parse(text)[1]


def evaluate(text: str, scope: dict[str, Any]) -> bool:
    """The truth of a condition with its references looked up in `scope`."""
    tree, names = _parse(text)
    values = {f"_ref{i}": _lookup(n, scope) for i, n in enumerate(names)}

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.List | ast.Tuple):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return (not v) if isinstance(node.op, ast.Not) else -v
        if isinstance(node, ast.BoolOp):
            vals = (ev(v) for v in node.values)
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = ev(right_node)
                try:
                    if not _OPS[type(op)](left, right):
                        return False
                except TypeError as exc:
                    raise ResolveError(f"condition {text!r}: cannot compare {left!r} with {right!r} ({exc})") from None
                left = right
            return True
        raise ResolveError(f"condition {text!r}: {type(node).__name__} is not allowed")

    return bool(ev(tree))
