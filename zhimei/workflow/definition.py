"""Workflow files (YAML or TOML) → a validated definition; every problem is reported at once with its path.

    name: clips-to-social
    title: Long video → clips → review → publish
    triggers: [manual, {new_asset: {kind: video}}]
    inputs: {asset_id: {type: int, required: true}, channel: {type: str, default: social}}
    steps:
      - key: clips
        type: studio.clips
        with: {asset_id: "${inputs.asset_id}"}
      - key: pick
        type: approval
        show: {clips: "${steps.clips.outputs.clips}"}
        edit: [{name: clips, type: list, value: "${steps.clips.outputs.clips}"}]
        timeout: 8h
        escalate_after: 1h
      - key: export
        type: studio.export_clip
        foreach: "${steps.pick.outputs.clips}"
        with: {asset_id: "${inputs.asset_id}", start: "${item.start}", end: "${item.end}"}

Steps run in file order unless ``after`` names their predecessors; a step also waits for every step it references.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from zhimei.workflow.errors import WorkflowError
from zhimei.workflow.expr import ROOTS, ResolveError, check_condition, refs_in
from zhimei.workflow.steps import APPROVAL, PARAM_TYPES, check_type, get_step_type

__all__ = ["parse_workflow", "parse_duration", "parse_schedule", "NAME_RE", "TRIGGER_TYPES", "EDIT_TYPES",
           "MAX_SOURCE_CHARS"]

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TRIGGER_TYPES = ("manual", "schedule", "new_asset", "hot_topic")
EDIT_TYPES = ("text", "textarea", "list", "bool", "number")
MAX_SOURCE_CHARS = 200_000
_STEP_KEYS = {"key", "id", "type", "uses", "title", "with", "after", "when", "foreach", "timeout", "retries"}
_APPROVAL_KEYS = {"show", "edit", "instructions", "escalate_after", "on_timeout", "on_reject", "notify_url"}
_TOP_KEYS = {"name", "title", "description", "triggers", "inputs", "steps", "enabled"}
_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$")
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAYS = ("daily", "weekdays")


def parse_duration(value: Any) -> float:
    """Seconds from 90, "90", "30s", "15m", "2h", "1d"; ValueError otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _DUR.match(str(value)) if isinstance(value, str) else None
        if not m:
            raise ValueError(f"{value!r} is not a duration (write e.g. 90, 30s, 15m, 2h or 1d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, not {value!r}")
    return seconds


def parse_schedule(value: Any) -> dict[str, Any]:
    """A schedule from "07:00 daily", "07:00 weekdays", "every 15m" or {at, days, tz} / {every}."""
    if isinstance(value, str):
        words = value.split()
        if len(words) == 2 and words[0] == "every":
            value = {"every": words[1]}
        elif words and re.match(r"^\d{1,2}:\d{2}$", words[0]) and len(words) <= 3:
            value = {"at": words[0], **({"days": words[1]} if len(words) > 1 else {}),
                     **({"tz": words[2]} if len(words) > 2 else {})}
        else:
            raise ValueError(f"cannot read the schedule {value!r} (write e.g. \"07:00 daily\" or \"every 15m\")")
    if not isinstance(value, dict):
        raise ValueError("a schedule is a text like \"07:00 daily\" or a table with at/days/tz or every")
    if "every" in value:
        seconds = parse_duration(value["every"])
        if seconds < 60:
            raise ValueError("a schedule runs at most once a minute (every ≥ 1m)")
        return {"type": "schedule", "every": seconds}
    at = str(value.get("at", ""))
    if not _AT.match(at):
        raise ValueError(f"schedule time {at!r} is not HH:MM")
    days = value.get("days", "daily")
    if days not in _DAYS:
        raise ValueError(f"schedule days {days!r}: pick {' or '.join(_DAYS)}")
    tz = value.get("tz", "UTC")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None
    return {"type": "schedule", "at": at, "days": days, "tz": str(tz)}


def _load_text(text: str, fmt: str | None) -> tuple[Any, str]:
    if not isinstance(text, str) or not text.strip():
        raise WorkflowError("the workflow file is empty", 422, [{"path": "", "message": "the workflow file is empty"}])
    if len(text) > MAX_SOURCE_CHARS:
        msg = f"the workflow file has {len(text):,} characters; at most {MAX_SOURCE_CHARS:,} are accepted"
        raise WorkflowError(msg, 422, [{"path": "", "message": msg}])
    if fmt not in (None, "yaml", "yml", "toml"):
        raise WorkflowError(f"format must be yaml or toml, not {fmt!r}", 422,
                            [{"path": "format", "message": f"format must be yaml or toml, not {fmt!r}"}])
    fmt = "yaml" if fmt == "yml" else fmt
    if fmt is None:  # TOML has `key = value` lines and [tables]; YAML has `key: value`
        fmt = "toml" if re.search(r"^\s*(\[\[?[\w.-]+\]\]?|[\w-]+\s*=)", text, re.M) and not re.search(
            r"^[\w-]+\s*:", text, re.M) else "yaml"
    try:
        if fmt == "toml":
            return tomllib.loads(text), fmt
        import yaml

        return yaml.safe_load(text), fmt
    except Exception as exc:  # noqa: BLE001 - the parser's own message names the line
        msg = f"cannot read the {fmt.upper()} file: {exc}"
        raise WorkflowError(msg, 422, [{"path": "", "message": msg}]) from None


class _V:
    def __init__(self) -> None:
        self.problems: list[dict[str, Any]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})


def _inputs(raw: Any, v: _V) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        v.add("inputs", "inputs must be a table of name: {type, required, default, doc}")
        return out
    for name, spec in raw.items():
        path = f"inputs.{name}"
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", name):
            v.add(path, "an input name is letters, digits and _ (starting with a letter)")
            continue
        if not isinstance(spec, dict):
            spec = {"default": spec}
        unknown = set(spec) - {"type", "required", "default", "doc", "label"}
        if unknown:
            v.add(path, f"unknown field(s) {', '.join(sorted(unknown))} (use type, required, default, doc)")
        kind = spec.get("type") or _infer(spec.get("default"))
        if kind not in PARAM_TYPES:
            v.add(f"{path}.type", f"type {kind!r} is not one of {', '.join(PARAM_TYPES)}")
            kind = "any"
        default = spec.get("default")
        if default is not None and not check_type(default, kind):
            v.add(f"{path}.default", f"the default {default!r} is not a {kind}")
        out[name] = {"type": kind, "required": bool(spec.get("required", False)),
                     "default": default, "doc": str(spec.get("doc") or spec.get("label") or "")}
    return out


def _infer(value: Any) -> str:
    for kind in ("bool", "int", "float", "str", "list", "dict"):
        if value is not None and check_type(value, kind):
            return kind
    return "any"


def _triggers(raw: Any, inputs: dict[str, Any], v: _V) -> list[dict[str, Any]]:
    if raw is None:
        return [{"type": "manual"}]
    if isinstance(raw, str | dict):
        raw = [raw]
    if not isinstance(raw, list):
        v.add("triggers", "triggers must be a list")
        return []
    out: list[dict[str, Any]] = []
    for i, t in enumerate(raw):
        path = f"triggers.{i}"
        if isinstance(t, str):
            t = {"type": t}
        if not isinstance(t, dict) or not t:
            v.add(path, "a trigger is manual, {schedule: ...}, {new_asset: {...}} or {hot_topic: {...}}")
            continue
        if "type" not in t and len(t) == 1:
            (kind, body), = t.items()
            t = {"type": kind, **(body if isinstance(body, dict) else {"value": body})}
        kind = t.get("type")
        if kind not in TRIGGER_TYPES:
            v.add(f"{path}.type", f"unknown trigger {kind!r}; triggers are {', '.join(TRIGGER_TYPES)}")
            continue
        try:
            if kind == "manual":
                out.append({"type": "manual"})
            elif kind == "schedule":
                body = t.get("value", {k: x for k, x in t.items() if k != "type"})
                out.append(parse_schedule(body))
            else:
                default_input = "asset_id" if kind == "new_asset" else "alert_id"
                name = str(t.get("input", default_input))
                if name not in inputs:
                    v.add(f"{path}.input", f"the {kind} trigger fills input {name!r}, which inputs does not declare")
                trig = {"type": kind, "input": name}
                if kind == "new_asset":
                    kinds = t.get("kind")
                    if kinds is not None and kinds not in ("article", "image", "audio", "video"):
                        v.add(f"{path}.kind", f"kind {kinds!r} is not article, image, audio or video")
                    trig.update(kind=kinds, source=t.get("source"))
                else:
                    trig.update(watchlist=t.get("watchlist"))
                out.append(trig)
        except ValueError as exc:
            v.add(path, str(exc))
    return out


def _step_outputs(step: dict[str, Any]) -> set[str] | None:
    """Output names a step provides (None: anything)."""
    if step["type"] == APPROVAL:
        return {"decision", "approved", "decided_by", "comment", "edits", *[e["name"] for e in step.get("edit", [])]}
    st = get_step_type(step["type"])
    if st is None:
        return None
    names = {p.name for p in st.outputs}
    if step.get("foreach") is not None:
        names.add("items")
    return names


def _check_refs(value: Any, path: str, step: dict[str, Any] | None, steps: dict[str, dict[str, Any]],
                inputs: dict[str, Any], v: _V, deps: set[str]) -> None:
    for ref in refs_in(value):
        parts = ref.split(".")
        root = parts[0]
        if root not in ROOTS:
            v.add(path, f"${{{ref}}}: references start with {', '.join(ROOTS)}")
        elif root == "inputs":
            if len(parts) < 2 or parts[1] not in inputs:
                v.add(path, f"${{{ref}}}: the workflow has no input {parts[1] if len(parts) > 1 else ''!r} "
                            f"(declared: {', '.join(inputs) or 'none'})")
        elif root == "item":
            if step is None or step.get("foreach") is None:
                v.add(path, f"${{{ref}}}: item exists only inside a step with foreach")
        elif root == "steps":
            if len(parts) < 3 or parts[2] not in ("outputs", "status"):
                v.add(path, f"${{{ref}}}: write steps.KEY.outputs.NAME")
                continue
            other = steps.get(parts[1])
            if other is None:
                v.add(path, f"${{{ref}}}: there is no step {parts[1]!r}")
                continue
            if step is not None and other["key"] == step["key"]:
                v.add(path, f"${{{ref}}}: a step cannot use its own outputs")
                continue
            deps.add(other["key"])
            names = _step_outputs(other)
            if parts[2] == "outputs" and len(parts) > 3 and names is not None and parts[3] not in names:
                v.add(path, f"${{{ref}}}: step {other['key']!r} ({other['type']}) has no output {parts[3]!r} "
                            f"(it has {', '.join(sorted(names))})")


def _approval(raw: dict[str, Any], step: dict[str, Any], path: str, v: _V) -> None:
    show = raw.get("show", {})
    if not isinstance(show, dict):
        v.add(f"{path}.show", "show must be a table of label: value")
        show = {}
    step["show"] = show
    edits = raw.get("edit", [])
    if not isinstance(edits, list):
        v.add(f"{path}.edit", "edit must be a list of {name, type, label, value}")
        edits = []
    clean = []
    for j, e in enumerate(edits):
        ep = f"{path}.edit.{j}"
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not re.match(
                r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", e.get("name") or ""):
            v.add(ep, "an editable field needs a name (letters, digits, _)")
            continue
        if e["name"] in ("decision", "approved", "decided_by", "comment", "edits"):
            v.add(f"{ep}.name", f"{e['name']!r} is taken by the approval's own outputs")
        kind = e.get("type", "text")
        if kind not in EDIT_TYPES:
            v.add(f"{ep}.type", f"type {kind!r} is not one of {', '.join(EDIT_TYPES)}")
        clean.append({"name": e["name"], "type": kind, "label": str(e.get("label") or e["name"]),
                      "value": e.get("value")})
    names = [e["name"] for e in clean]
    for dup in {n for n in names if names.count(n) > 1}:
        v.add(f"{path}.edit", f"field {dup!r} is listed twice")
    step["edit"] = clean
    step["instructions"] = str(raw.get("instructions") or "")
    for key in ("escalate_after",):
        if raw.get(key) is not None:
            try:
                step[key] = parse_duration(raw[key])
            except ValueError as exc:
                v.add(f"{path}.{key}", str(exc))
    on_timeout = raw.get("on_timeout", "reject")
    if on_timeout not in ("reject", "approve"):
        v.add(f"{path}.on_timeout", f"on_timeout is reject or approve, not {on_timeout!r}")
    on_reject = raw.get("on_reject", "fail")
    if on_reject not in ("fail", "continue"):
        v.add(f"{path}.on_reject", f"on_reject is fail or continue, not {on_reject!r}")
    step.update(on_timeout=on_timeout, on_reject=on_reject)
    url = raw.get("notify_url")
    if url is not None and not (isinstance(url, str) and re.match(r"^https?://", url)):
        v.add(f"{path}.notify_url", "notify_url must be an http(s) URL")
    step["notify_url"] = url
    if step.get("foreach") is not None:
        v.add(f"{path}.foreach", "an approval step cannot loop; approve the whole list at once")


def _steps(raw: Any, inputs: dict[str, Any], v: _V) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        v.add("steps", "a workflow needs a non-empty list of steps")
        return []
    steps: list[dict[str, Any]] = []
    by_key: dict[str, dict[str, Any]] = {}
    raws: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for i, r in enumerate(raw):
        if not isinstance(r, dict):
            v.add(f"steps.{i}", "a step is a table with key, type and with")
            continue
        key = r.get("key", r.get("id"))
        path = f"steps.{key}" if isinstance(key, str) else f"steps.{i}"
        if not isinstance(key, str) or not NAME_RE.match(key):
            v.add(f"{path}.key", "each step needs a key: lowercase letters, digits, - and _")
            continue
        if key in by_key:
            v.add(f"{path}.key", f"two steps have the key {key!r}")
            continue
        kind = r.get("type", r.get("uses"))
        unknown = set(r) - _STEP_KEYS - (_APPROVAL_KEYS if kind == APPROVAL else set())
        if unknown:
            v.add(path, f"unknown field(s) {', '.join(sorted(unknown))}")
        step: dict[str, Any] = {"key": key, "type": kind, "title": str(r.get("title") or key), "position": i}
        if kind != APPROVAL and get_step_type(kind) is None:
            from zhimei.workflow.steps import step_types

            known = ", ".join(t["name"] for t in step_types())
            v.add(f"{path}.type", f"unknown step type {kind!r}; known: {known}")
        w = r.get("with", {})
        if not isinstance(w, dict):
            v.add(f"{path}.with", "with must be a table of input: value")
            w = {}
        step["with"] = w
        after = r.get("after")
        if after is not None:
            after = [after] if isinstance(after, str) else after
            if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
                v.add(f"{path}.after", "after is a step key or a list of them")
                after = []
        step["after"] = after
        step["foreach"] = r.get("foreach")
        if step["foreach"] is not None and not isinstance(step["foreach"], list | str):
            v.add(f"{path}.foreach", "foreach is a reference to a list (e.g. ${steps.clips.outputs.clips}) or a list")
        step["when"] = r.get("when")
        for key2 in ("timeout",):
            step[key2] = None
            if r.get(key2) is not None:
                try:
                    step[key2] = parse_duration(r[key2])
                except ValueError as exc:
                    v.add(f"{path}.{key2}", str(exc))
        retries = r.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 10:
            v.add(f"{path}.retries", "retries is a whole number from 0 to 10")
            retries = 0
        step["retries"] = retries
        if kind == APPROVAL:
            _approval(r, step, path, v)
        by_key[key] = step
        steps.append(step)
        raws.append((r, step))
    prev: str | None = None
    for _r, step in raws:
        path = f"steps.{step['key']}"
        deps: set[str] = set()
        if step["after"] is None:
            if prev is not None:
                deps.add(prev)
        else:
            for a in step["after"]:
                if a not in by_key:
                    v.add(f"{path}.after", f"there is no step {a!r} to wait for")
                elif a == step["key"]:
                    v.add(f"{path}.after", "a step cannot wait for itself")
                else:
                    deps.add(a)
        prev = step["key"]
        _check_refs(step["with"], f"{path}.with", step, by_key, inputs, v, deps)
        if step["foreach"] is not None:
            _check_refs(step["foreach"], f"{path}.foreach", None, by_key, inputs, v, deps)
        if step["when"] is not None:
            try:
                check_condition(step["when"])
            except ResolveError as exc:
                v.add(f"{path}.when", str(exc))
            else:
                _check_refs(step["when"], f"{path}.when", step, by_key, inputs, v, deps)
        if step["type"] == APPROVAL:
            _check_refs(step["show"], f"{path}.show", step, by_key, inputs, v, deps)
            _check_refs([e["value"] for e in step["edit"]], f"{path}.edit", step, by_key, inputs, v, deps)
        step["deps"] = sorted(deps, key=lambda k: by_key[k]["position"])
        st = get_step_type(step["type"]) if step["type"] != APPROVAL else None
        if st is not None:
            declared = {p.name: p for p in st.inputs}
            for name, value in step["with"].items():
                if name not in declared:
                    v.add(f"{path}.with.{name}", f"{st.name} has no input {name!r} (inputs: "
                                                 f"{', '.join(declared) or 'none'})")
                elif not refs_in(value) and not check_type(value, declared[name].type):
                    v.add(f"{path}.with.{name}", f"{name} must be a {declared[name].type}, not {value!r}")
            for p in st.inputs:
                if p.required and step["with"].get(p.name) is None:
                    v.add(f"{path}.with.{p.name}", f"missing input {p.name!r} ({p.doc or p.type}) of {st.name}")
    _cycles(steps, by_key, v)
    return steps


def _cycles(steps: list[dict[str, Any]], by_key: dict[str, dict[str, Any]], v: _V) -> None:
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(key: str, path: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            loop = path[path.index(key):] + [key]
            if frozenset(loop) not in reported:
                reported.add(frozenset(loop))
                v.add(f"steps.{key}.after", f"cycle: {' -> '.join(loop)} (each waits for the next)")
            return
        state[key] = 1
        for d in by_key[key].get("deps", []):
            visit(d, path + [key])
        state[key] = 2

    for s in steps:
        visit(s["key"], [])


def parse_workflow(text: str, *, fmt: str | None = None) -> dict[str, Any]:
    """A workflow file (YAML or TOML) as a validated definition. WorkflowError (422) lists every problem at once
    in ``problems`` ([{path, message}]): unknown step types, missing or unknown inputs, references to nothing,
    cycles, bad triggers, timeouts."""
    data, fmt = _load_text(text, fmt)
    v = _V()
    if not isinstance(data, dict):
        v.add("", "the file must be a table (name, title, triggers, inputs, steps)")
        raise WorkflowError("; ".join(p["message"] for p in v.problems), 422, v.problems)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        v.add("", f"unknown field(s) {', '.join(sorted(unknown))} (use {', '.join(sorted(_TOP_KEYS))})")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        v.add("name", "name is required: lowercase letters, digits, - and _ (at most 64)")
    inputs = _inputs(data.get("inputs"), v)
    triggers = _triggers(data.get("triggers"), inputs, v)
    steps = _steps(data.get("steps"), inputs, v)
    if v.problems:
        first = v.problems[0]
        more = f" (and {len(v.problems) - 1} more)" if len(v.problems) > 1 else ""
        raise WorkflowError(f"{first['path'] or 'file'}: {first['message']}{more}", 422, v.problems)
    definition = {"name": name, "title": str(data.get("title") or name), "description": str(
        data.get("description") or ""), "enabled": bool(data.get("enabled", True)), "format": fmt,
        "inputs": inputs, "triggers": triggers, "steps": steps}
    try:
        json.dumps(definition)  # stored as JSON: fail here, not in the database
    except (TypeError, ValueError) as exc:
        msg = f"values must be text, numbers, true/false, lists or tables (quote dates and times): {exc}"
        raise WorkflowError(msg, 422, [{"path": "", "message": msg}]) from None
    return definition
