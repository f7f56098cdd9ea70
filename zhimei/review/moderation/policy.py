"""Channel policies: category thresholds → risk tier (pass / needs_review / block), strict mode."""

from __future__ import annotations

import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Policy", "PolicyError", "TIERS", "load_policies", "get_policy", "policy_files", "CATEGORY_LABELS",
           "tier_max"]

TIERS = ("pass", "needs_review", "block")
CATEGORY_LABELS = {
    "offensive": ("冒犯性言论", "offensive language"), "abuse": ("辱骂", "abuse"), "profanity": ("粗口", "profanity"),
    "slur": ("歧视性称呼", "slur"), "threat": ("威胁", "threat"), "test": ("测试词", "test word"),
    "sexual": ("色情/裸露", "sexual / nudity"), "other": ("其他", "other"),
}
TIER_LABELS = {"pass": ("通过", "pass"), "needs_review": ("需人工审核", "needs review"), "block": ("拦截", "block")}


class PolicyError(ValueError):
    """A policy file or channel that cannot be used; the message names it."""


def tier_max(a: str, b: str) -> str:
    """The stricter of two tiers."""
    return a if TIERS.index(a) >= TIERS.index(b) else b


@dataclass(frozen=True)
class Policy:
    """Thresholds per category ([review_at, block_at]) for one channel."""

    channel: str
    thresholds: dict[str, tuple[float, float]]
    strict_factor: float = 0.7
    strict_thresholds: dict[str, tuple[float, float]] = field(default_factory=dict)
    description: str = ""

    def limits(self, category: str, strict: bool = False) -> tuple[float, float]:
        """(review_at, block_at) for a category, lowered in strict mode."""
        if strict and category in self.strict_thresholds:
            return self.strict_thresholds[category]
        review, block = self.thresholds.get(category) or self.thresholds.get("other") or (0.5, 0.9)
        if strict:
            return review * self.strict_factor, block * self.strict_factor
        return review, block

    def tier(self, category: str, score: float, strict: bool = False) -> str:
        """The tier a score of this category falls in."""
        review, block = self.limits(category, strict)
        if score >= block:
            return "block"
        if score >= review:
            return "needs_review"
        return "pass"

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "description": self.description, "strict_factor": self.strict_factor,
                "thresholds": {k: list(v) for k, v in self.thresholds.items()},
                "strict_thresholds": {k: list(v) for k, v in self.strict_thresholds.items()}}


def _pairs(d: Any, where: str) -> dict[str, tuple[float, float]]:
    if not isinstance(d, dict):
        raise PolicyError(f"{where}: thresholds must be a table of category = [review_at, block_at]")
    out = {}
    for k, v in d.items():
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int | float) for x in v)):
            raise PolicyError(f"{where}.{k}: expected [review_at, block_at], got {v!r}")
        r, b = float(v[0]), float(v[1])
        if not 0 <= r <= b:
            raise PolicyError(f"{where}.{k}: need 0 <= review_at <= block_at, got {v!r}")
        out[str(k).lower()] = (r, b)
    return out


def policy_files() -> list[Path]:
    """The shipped policies and the admin override file (if any)."""
    from zhimei.settings import get_settings

    files = [Path(__file__).parent / "data" / "policies.toml"]
    admin = get_settings().home / "review" / "policies.toml"
    return files + ([admin] if admin.is_file() else [])


def _parse(files: list[Path]) -> dict[str, Policy]:
    raw: dict[str, dict] = {}
    for f in files:
        try:
            doc = tomllib.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"policy file {f.name} cannot be read: {exc}") from exc
        for name, body in doc.items():
            if not isinstance(body, dict):
                raise PolicyError(f"{f.name}: [{name}] must be a table")
            raw[name] = body
    out: dict[str, Policy] = {}

    def build(name: str, seen: tuple[str, ...] = ()) -> Policy:
        if name in out:
            return out[name]
        if name in seen:
            raise PolicyError(f"policy [{name}] inherits from itself")
        body = raw[name]
        base = body.get("inherits")
        parent = None
        if base is not None:
            if base not in raw:
                raise PolicyError(f"policy [{name}] inherits from unknown channel {base!r}")
            parent = build(base, seen + (name,))
        th = dict(parent.thresholds) if parent else {}
        th.update(_pairs(body.get("thresholds", {}), name))
        sth = dict(parent.strict_thresholds) if parent else {}
        sth.update(_pairs(body.get("strict", {}), f"{name}.strict"))
        factor = float(body.get("strict_factor", parent.strict_factor if parent else 0.7))
        if not 0 < factor <= 1:
            raise PolicyError(f"policy [{name}]: strict_factor must be in (0, 1], got {factor}")
        out[name] = Policy(name, th, factor, sth, str(body.get("description", "")))
        return out[name]

    for name in raw:
        build(name)
    if "default" not in out:
        raise PolicyError("no [default] policy")
    return out


_cache: tuple[tuple, dict[str, Policy], str] | None = None
_lock = threading.Lock()


_checked = 0.0
CHECK_EVERY = 1.0
"""Seconds between checks of the policy files for changes."""


def load_policies() -> dict[str, Policy]:
    """All channel policies (reloaded when a policy file changes; checked at most every CHECK_EVERY s)."""
    global _cache, _checked
    now = time.monotonic()
    cached = _cache
    if cached is not None and now - _checked < CHECK_EVERY and cached[2] == _home():
        return cached[1]
    files = policy_files()
    sig = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    with _lock:
        if _cache is None or _cache[0] != sig:
            _cache = (sig, _parse(files), _home())
        _checked = now
        return _cache[1]


def _home() -> str:
    from zhimei.settings import get_settings

    return str(get_settings().home)


def get_policy(channel: str = "default") -> Policy:
    """The policy of a channel; PolicyError lists the known channels for an unknown one."""
    policies = load_policies()
    if channel not in policies:
        raise PolicyError(f"unknown channel {channel!r}; known: {', '.join(sorted(policies))}")
    return policies[channel]
