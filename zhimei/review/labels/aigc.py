"""The GB 45438-2025 implicit label (附录 E): the ``AIGC`` metadata object and its seven elements.

- ``Label`` (生成合成标签): "1" the content *is* AI-generated/synthesised, "2" it *may be*, "3" it is *suspected*.
- ``ContentProducer`` (生成合成服务提供者): the name or code of the service that generated it.
- ``ProduceID`` (内容制作编号): that producer's unique number for this content.
- ``ReservedCode1`` (预留字段1): optional; the producer's own integrity protection of content and label.
- ``ContentPropagator`` (内容传播服务提供者): the name or code of the platform that disseminates it.
- ``PropagateID`` (内容传播编号): that platform's unique number for this content.
- ``ReservedCode2`` (预留字段2): optional; the propagator's own integrity protection.

Producer fields are written at generation, propagator fields at publication. Every value is a string made
mainly of GB18030 single-byte printable characters 0x21, 0x23–0x5B, 0x5D–0x7E (no space, quote or
backslash); zhimei refuses anything else so that every reader can parse what it writes.

zhimei fills ReservedCode1/2 with ``ed25519:<key fingerprint, 16 hex>:<base64 signature>`` over the canonical
JSON of the fields before it (producer: Label, ContentProducer, ProduceID; propagator: all six), so an
altered label is detected by whoever holds the public key.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from zhimei.review.labels import keys

__all__ = ["AIGC_FIELDS", "LABEL_MEANINGS", "AigcLabel", "LabelError", "check_value", "parse_aigc_json",
           "XMP_NS", "XMP_PREFIX"]

AIGC_FIELDS = ("Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID",
               "ReservedCode2")
LABEL_MEANINGS = {
    "1": "属于人工智能生成合成内容 AI-generated",
    "2": "可能为人工智能生成合成内容 possibly AI-generated",
    "3": "疑似为人工智能生成合成内容 suspected AI-generated",
}
XMP_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
XMP_PREFIX = "TC260"
_ALLOWED = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]*$")
MAX_VALUE = 1024


class LabelError(ValueError):
    """A label value, file or signing setting is wrong; the message names the problem."""


def check_value(name: str, value: str, *, required: bool = False) -> str:
    """A field value as GB 45438 wants it, or LabelError naming the field and the offending character."""
    if not isinstance(value, str):
        raise LabelError(f"{name} must be a string")
    if required and not value:
        raise LabelError(f"{name} is required")
    if len(value) > MAX_VALUE:
        raise LabelError(f"{name} is {len(value)} characters long; the limit is {MAX_VALUE}")
    if not _ALLOWED.match(value):
        bad = next(ch for ch in value if not _ALLOWED.match(ch))
        raise LabelError(f"{name} may hold only printable ASCII without spaces, quotes or backslashes "
                         f"(GB 45438 附录 E); found {bad!r} — use a code such as a unified social credit code")
    return value


def _canonical(d: dict[str, str]) -> bytes:
    return json.dumps(d, ensure_ascii=True, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class AigcLabel:
    """The seven elements, in the standard's order and spelling."""

    Label: str = "1"  # noqa: N815 (the standard's spelling)
    ContentProducer: str = ""  # noqa: N815
    ProduceID: str = ""  # noqa: N815
    ReservedCode1: str = ""  # noqa: N815
    ContentPropagator: str = ""  # noqa: N815
    PropagateID: str = ""  # noqa: N815
    ReservedCode2: str = ""  # noqa: N815

    def __post_init__(self) -> None:
        if self.Label not in LABEL_MEANINGS:
            raise LabelError(f"Label must be \"1\", \"2\" or \"3\" (is, may be, suspected AI-generated), not "
                             f"{self.Label!r}")
        for f in fields(self)[1:]:
            check_value(f.name, getattr(self, f.name))

    def to_dict(self) -> dict[str, str]:
        """The object, keys in the standard's order."""
        return {k: v for k, v in asdict(self).items()}

    def to_json(self) -> str:
        """Compact JSON, the value written into every metadata field named AIGC."""
        return json.dumps(self.to_dict(), ensure_ascii=True, separators=(",", ":"))

    @property
    def meaning(self) -> str:
        """What the Label value means."""
        return LABEL_MEANINGS[self.Label]

    # ---- zhimei's integrity codes -------------------------------------------------------------
    def _producer_part(self) -> dict[str, str]:
        return {"Label": self.Label, "ContentProducer": self.ContentProducer, "ProduceID": self.ProduceID}

    def _propagator_part(self) -> dict[str, str]:
        d = self.to_dict()
        d.pop("ReservedCode2")
        return d

    def signed_by_producer(self, key=None) -> AigcLabel:
        """A copy with ReservedCode1 = zhimei's signature over Label, ContentProducer and ProduceID."""
        key = key or keys.signing_key()
        return replace(self, ReservedCode1=_code(self._producer_part(), key))

    def signed_by_propagator(self, key=None) -> AigcLabel:
        """A copy with ReservedCode2 = zhimei's signature over the six other fields."""
        key = key or keys.signing_key()
        return replace(self, ReservedCode2=_code(self._propagator_part(), key))

    def check_codes(self, public=None) -> dict[str, str]:
        """For ReservedCode1/2: 'valid', 'invalid' (the label was altered), 'unknown-key', 'absent' or
        'foreign' (someone else's format). `public` defaults to zhimei's own key."""
        if public is None:
            try:
                public = keys.signing_key().public_key()
            except keys.KeyError_:
                public = None
        return {"ReservedCode1": _check(self.ReservedCode1, self._producer_part(), public),
                "ReservedCode2": _check(self.ReservedCode2, self._propagator_part(), public)}


def _code(part: dict[str, str], key) -> str:
    sig = keys.sign_bytes(_canonical(part), key)
    return f"ed25519:{keys.fingerprint(key)[:16]}:{base64.b64encode(sig).decode()}"


def _check(code: str, part: dict[str, str], public) -> str:
    if not code:
        return "absent"
    m = re.fullmatch(r"ed25519:([0-9a-f]{16}):([A-Za-z0-9+/=]+)", code)
    if not m:
        return "foreign"
    if public is None or keys.fingerprint(public)[:16] != m.group(1):
        return "unknown-key"
    try:
        sig = base64.b64decode(m.group(2), validate=True)
    except ValueError:
        return "invalid"
    return "valid" if keys.verify_bytes(_canonical(part), sig, public) else "invalid"


def parse_aigc_json(text: str | bytes) -> tuple[AigcLabel | None, dict[str, Any], list[str]]:
    """Parse a stored AIGC value (the object itself or ``{"AIGC": {...}}``): (label or None, raw dict, problems).

    Foreign values that break the character rules are still returned raw, with the problem named."""
    problems: list[str] = []
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.strip().strip("\x00")
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return None, {}, [f"the AIGC value is not JSON ({exc.msg} at character {exc.pos})"]
    if isinstance(obj, dict) and isinstance(obj.get("AIGC"), dict | str):
        obj = obj["AIGC"]
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except ValueError:
                return None, {}, ["the AIGC value is not a JSON object"]
    if not isinstance(obj, dict):
        return None, {}, ["the AIGC value is not a JSON object"]
    raw = {str(k): ("" if v is None else str(v)) for k, v in obj.items()}
    unknown = sorted(set(raw) - set(AIGC_FIELDS))
    if unknown:
        problems.append(f"unknown AIGC elements: {', '.join(unknown)}")
    missing = [k for k in ("Label", "ContentProducer", "ProduceID") if not raw.get(k)]
    if missing:
        problems.append(f"missing AIGC elements: {', '.join(missing)}")
    try:
        label = AigcLabel(**{k: raw.get(k, "") for k in AIGC_FIELDS})
    except LabelError as exc:
        problems.append(str(exc))
        label = None
    return label, raw, problems
