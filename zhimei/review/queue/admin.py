"""Moderation administration: admin word lists (category, severity, allow-list) and channel policies
(thresholds, the strict-mode switch). Every edit is written atomically and audited.

Admin word lists are TSV files in ``$ZHIMEI_HOME/review/wordlists`` (the lexicon reloads them within a second);
the shipped list is read-only. Policy edits go to ``$ZHIMEI_HOME/review/policies.toml``: a channel written there
replaces the shipped one of that name, so the whole channel table is copied there first. ``strict_mode = true``
in a channel's table is the strict switch that the review queue applies when it opens cases.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from zhimei.review.moderation.lexicon import (
    SEVERITIES,
    LexiconError,
    admin_wordlist_dir,
    default_lexicon,
    load_terms,
    package_wordlist_dir,
)
from zhimei.review.moderation.normalize import skeleton
from zhimei.review.moderation.policy import CATEGORY_LABELS, PolicyError, _parse, load_policies, policy_files
from zhimei.review.queue.audit import append_audit
from zhimei.review.queue.cases import ReviewError
from zhimei.store.db import session_scope
from zhimei.store.files import write_atomic

__all__ = ["DEFAULT_LIST", "list_wordlists", "add_word", "remove_word", "delete_wordlist", "policies_view",
           "strict_mode", "set_strict", "set_threshold", "admin_policy_file"]

DEFAULT_LIST = "admin.tsv"
_FILE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}\.tsv$")
_CAT_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_HEADER = ("# zhimei admin word list (edited in the web app / CLI; every change is in the audit log)\n"
           "# term<TAB>category<TAB>severity (1 low, 2 medium, 3 high); category allow = allowed phrase\n")


def _atomic_write(path: Path, data: str) -> str:
    """Replace ``path`` with ``data`` atomically; the new content's sha256 (what the audit log records)."""
    write_atomic(path, data)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _audit(actor: str, action: str, subject: str, payload: dict[str, Any]) -> None:
    with session_scope() as s:
        append_audit(s, actor, action, subject, payload)


def _recheck_lexicon() -> None:
    """This process's lexicon looks at the files again on its next use (others notice within a second)."""
    default_lexicon()._checked = 0.0


# ---- word lists -------------------------------------------------------------------------------------

def _written(t) -> str:
    return ("*" if t.prefix else "") + t.word + ("*" if t.suffix else "")


def _entries(path: Path) -> list[dict[str, Any]]:
    return [{"word": _written(t), "category": t.category, "severity": t.severity} for t in load_terms(path)]


def list_wordlists() -> dict[str, Any]:
    """Every list file in force: shipped (read-only) and admin (editable .tsv), with entries and file errors."""
    files: list[dict[str, Any]] = []
    errors: list[str] = []
    for folder, editable in ((package_wordlist_dir(), False), (admin_wordlist_dir(), True)):
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.suffix not in (".tsv", ".txt", ".yaml", ".yml") or not p.is_file():
                continue
            try:
                entries = _entries(p)
            except LexiconError as exc:
                errors.append(str(exc))
                entries = []
            files.append({"name": p.name, "folder": "admin" if editable else "shipped",
                          "editable": editable and bool(_FILE_RE.match(p.name)),
                          "words": [e for e in entries if e["category"] != "allow"],
                          "allow": [e for e in entries if e["category"] == "allow"]})
    return {"admin_folder": str(admin_wordlist_dir()), "files": files, "errors": errors,
            "categories": sorted(set(CATEGORY_LABELS) | {"allow"}), "default_file": DEFAULT_LIST}


def _admin_file(name: str) -> Path:
    if not isinstance(name, str) or not _FILE_RE.match(name):
        raise ReviewError(f"word list file {name!r} must be a name like admin.tsv (letters, digits, _ or -, "
                          "ending .tsv)")
    return admin_wordlist_dir() / name


def _check_word(word: Any) -> str:
    if not isinstance(word, str) or not word.strip():
        raise ReviewError("the word must be non-empty text")
    w = word.strip()
    if len(w) > 100 or any(c in w for c in "\t\r\n"):
        raise ReviewError("the word must be at most 100 characters on one line, without tabs")
    if w.startswith("#"):
        raise ReviewError("a word cannot start with # (that marks a comment in the list file)")
    if not skeleton(w.strip("*")).text:
        raise ReviewError(f"the word {w!r} has no letters or digits to match")
    return w


def _check_severity(severity: Any) -> int:
    if isinstance(severity, int) and not isinstance(severity, bool) and 1 <= severity <= 3:
        return severity
    s = str(severity).strip().lower()
    if s in SEVERITIES:
        return SEVERITIES[s]
    if s in ("1", "2", "3"):
        return int(s)
    raise ReviewError(f"severity must be 1-3 or low/medium/high, got {severity!r}")


def _read_admin(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        return _entries(path)
    except LexiconError as exc:
        raise ReviewError(f"{exc}; fix or delete the file first", 409) from None


def _write_admin(path: Path, entries: list[dict[str, Any]]) -> str:
    lines = [f"{e['word']}\t{e['category']}\t{e['severity']}" for e in entries]
    return _atomic_write(path, _HEADER + "\n".join(lines) + ("\n" if lines else ""))


def add_word(word: str, category: str, severity: int | str = 2, *, file: str = DEFAULT_LIST,
             actor: str = "admin") -> dict[str, Any]:
    """Add (or re-grade) a word in an admin list; category "allow" adds an allow-list phrase. Audited."""
    w = _check_word(word)
    cat = (category or "").strip().lower()
    if not _CAT_RE.match(cat):
        raise ReviewError(f"category {category!r} must be a lower-case name like abuse, profanity or allow")
    sev = 1 if cat == "allow" else _check_severity(severity)
    path = _admin_file(file)
    entries = _read_admin(path)
    before = next((e for e in entries if e["word"] == w and e["category"] == cat), None)
    entries = [e for e in entries if not (e["word"] == w and e["category"] == cat)]
    entries.append({"word": w, "category": cat, "severity": sev})
    sha = _write_admin(path, entries)
    _recheck_lexicon()
    _audit(actor, "wordlist.add", f"wordlist:{path.name}",
           {"file": path.name, "word": w, "category": cat, "severity": sev,
            "before": before, "sha256": sha, "entries": len(entries)})
    return {"file": path.name, "word": w, "category": cat, "severity": sev, "entries": len(entries)}


def remove_word(word: str, *, file: str = DEFAULT_LIST, category: str | None = None,
                actor: str = "admin") -> dict[str, Any]:
    """Remove a word (every category, or one) from an admin list. Audited; 404 when it is not there."""
    w = _check_word(word)
    path = _admin_file(file)
    entries = _read_admin(path)
    gone = [e for e in entries if e["word"] == w and (category is None or e["category"] == category)]
    if not gone:
        raise ReviewError(f"{w!r} is not in the admin word list {path.name}", 404)
    keep = [e for e in entries if e not in gone]
    sha = _write_admin(path, keep)
    _recheck_lexicon()
    _audit(actor, "wordlist.remove", f"wordlist:{path.name}",
           {"file": path.name, "word": w, "removed": gone, "sha256": sha, "entries": len(keep)})
    return {"file": path.name, "word": w, "removed": len(gone), "entries": len(keep)}


def delete_wordlist(file: str, *, actor: str = "admin") -> dict[str, Any]:
    """Delete a whole admin list file. Audited; 404 when there is no such file."""
    path = _admin_file(file)
    if not path.is_file():
        raise ReviewError(f"there is no admin word list {path.name}", 404)
    data = path.read_bytes()
    path.unlink()
    _recheck_lexicon()
    _audit(actor, "wordlist.delete", f"wordlist:{path.name}",
           {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return {"file": path.name, "deleted": True}


# ---- policies ---------------------------------------------------------------------------------------

def admin_policy_file() -> Path:
    """``$ZHIMEI_HOME/review/policies.toml``."""
    return admin_wordlist_dir().parent / "policies.toml"


def _raw_policies(files: list[Path] | None = None) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, Any]] = {}
    for f in files or policy_files():
        try:
            doc = tomllib.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ReviewError(f"policy file {f.name} cannot be read: {exc}", 409) from None
        raw.update({k: v for k, v in doc.items() if isinstance(v, dict)})
    return raw


def strict_mode(channel: str) -> bool:
    """Whether an admin switched strict mode on for the channel (``strict_mode = true`` in its table)."""
    try:
        return bool(_raw_policies().get(channel, {}).get("strict_mode", False))
    except ReviewError:
        return False


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ReviewError(f"cannot write {v!r} to the policy file")


def _toml(doc: dict[str, dict[str, Any]]) -> str:
    out = ["# zhimei admin policy overrides (edited in the web app / CLI; every change is in the audit log)"]
    for name, body in doc.items():
        key = name if re.match(r"^[A-Za-z0-9_-]+$", name) else json.dumps(name)
        out.append(f"\n[{key}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in body.items() if not isinstance(v, dict)]
        for k, v in body.items():
            if isinstance(v, dict):
                out.append(f"[{key}.{k}]")
                out += [f"{kk if re.match(r'^[A-Za-z0-9_-]+$', kk) else json.dumps(kk)} = {_toml_value(vv)}"
                        for kk, vv in v.items()]
    return "\n".join(out) + "\n"


def _edit_channel(channel: str, change, actor: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    raw = _raw_policies()
    if channel not in raw:
        raise ReviewError(f"unknown channel {channel!r}; known: {', '.join(sorted(raw))}", 404)
    path = admin_policy_file()
    admin = _raw_policies([path]) if path.is_file() else {}
    body = copy.deepcopy(admin.get(channel) or raw[channel])
    change(body)
    admin[channel] = body
    text = _toml(admin)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".policies.", suffix=".toml")
    os.close(fd)
    try:
        Path(tmp).write_text(text, encoding="utf-8")
        try:
            _parse([policy_files()[0], Path(tmp)])  # refuse an edit that would not load
        except PolicyError as exc:
            raise ReviewError(str(exc)) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    sha = _atomic_write(path, text)
    _audit(actor, action, f"policy:{channel}", {**payload, "channel": channel, "sha256": sha})
    from zhimei.review.moderation import policy as policy_module

    policy_module._checked = 0.0  # this process reloads at once; others within CHECK_EVERY
    load_policies()
    return next(p for p in policies_view() if p["channel"] == channel)


def set_strict(channel: str, on: bool, *, actor: str = "admin") -> dict[str, Any]:
    """Switch a channel's strict mode on or off (cases opened afterwards use it). Audited."""
    if not isinstance(on, bool):
        raise ReviewError("strict must be true or false")
    before = strict_mode(channel)

    def change(body: dict[str, Any]) -> None:
        body["strict_mode"] = on

    return _edit_channel(channel, change, actor, "policy.strict", {"strict_mode": on, "before": before})


def set_threshold(channel: str, category: str, review_at: float, block_at: float, *,
                  actor: str = "admin") -> dict[str, Any]:
    """Set a channel's [review_at, block_at] for one category (0 <= review_at <= block_at). Audited."""
    cat = (category or "").strip().lower()
    if not _CAT_RE.match(cat) or cat == "allow":
        raise ReviewError(f"category {category!r} must be a lower-case name like abuse or sexual")
    for v, n in ((review_at, "review_at"), (block_at, "block_at")):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1.01:
            raise ReviewError(f"{n} must be a number between 0 and 1.01, got {v!r}")
    if review_at > block_at:
        raise ReviewError(f"review_at ({review_at}) must not be above block_at ({block_at})")
    old = load_policies().get(channel)

    def change(body: dict[str, Any]) -> None:
        body.setdefault("thresholds", {})[cat] = [float(review_at), float(block_at)]

    return _edit_channel(channel, change, actor, "policy.threshold",
                         {"category": cat, "thresholds": [float(review_at), float(block_at)],
                          "before": list(old.limits(cat)) if old else None})


def policies_view() -> list[dict[str, Any]]:
    """Every channel: description, thresholds in force (normal and strict), the strict switch, overridden?"""
    try:
        policies = load_policies()
    except PolicyError as exc:
        raise ReviewError(str(exc), 409) from None
    raw = _raw_policies()
    path = admin_policy_file()
    overridden = set(_raw_policies([path])) if path.is_file() else set()
    out = []
    for name in sorted(policies, key=lambda n: (n != "default", n)):
        p = policies[name]
        cats = sorted(set(p.thresholds) | set(p.strict_thresholds))
        out.append({"channel": name, "description": p.description, "inherits": raw.get(name, {}).get("inherits"),
                    "strict_factor": p.strict_factor, "strict_mode": bool(raw.get(name, {}).get("strict_mode")),
                    "overridden": name in overridden,
                    "thresholds": {c: list(p.limits(c)) for c in cats},
                    "strict_thresholds": {c: [round(x, 4) for x in p.limits(c, True)] for c in cats}})
    return out
