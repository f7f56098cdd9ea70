"""Reading inbound labels: the AIGC implicit label, the C2PA manifest, and signs that a label was removed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zhimei.review.labels.aigc import XMP_NS, LabelError
from zhimei.review.labels.c2pa_manifest import C2PA_MIMES, read_c2pa
from zhimei.review.labels.implicit import detect_format, read_aigc

__all__ = ["read_inbound_labels", "STATUSES"]

STATUSES = ("none", "labelled", "label-removed", "tampered", "inconsistent")
"""none: no label; labelled: labels present and consistent; label-removed: a trace says a label was there;
tampered: a signature or hash fails; inconsistent: the labels disagree with each other."""

_PRODUCER_KEYS = ("Label", "ContentProducer", "ProduceID")


def read_inbound_labels(path: str | os.PathLike[str], *, check_c2pa: bool = True) -> dict[str, Any]:
    """What labels a file carries: AIGC implicit labels, the C2PA manifest with its validation state, notes.

    Notes name what is wrong (a manifest that fails validation, a C2PA manifest or XMP trace saying AI-made
    while the AIGC metadata is gone, a label whose zhimei signature no longer matches). ``status`` sums it up
    (one of STATUSES)."""
    p = Path(path)
    if not p.is_file():
        raise LabelError(f"not a file: {p.name}")
    if p.stat().st_size == 0:
        raise LabelError("the file is empty (0 bytes)")
    notes: list[str] = []
    try:
        fmt: str | None = detect_format(p)
    except LabelError:
        fmt = None
    findings = read_aigc(p)
    aigc = [f.to_dict() for f in findings if f.container != "file"]
    for f in findings:
        for prob in f.problems:
            notes.append(f"AIGC ({f.container}): {prob}")
    valid = [f for f in findings if f.label is not None]
    primary = valid[0].label if valid else None
    codes = primary.check_codes() if primary else {}
    status = "labelled" if primary else "none"
    for name, state in codes.items():
        if state == "invalid":
            notes.append(f"the AIGC label was altered after zhimei signed it ({name} does not match the fields)")
            status = "tampered"
    distinct = {f.label.to_json() for f in valid}
    if len(distinct) > 1:
        notes.append(f"the file carries {len(distinct)} different AIGC values in "
                     f"{', '.join(sorted({f.container for f in valid}))}")
        status = "inconsistent" if status == "labelled" else status
    if not valid and XMP_NS.encode() in _head_and_tail(p):
        notes.append("the file keeps the TC260 AIGC namespace but no readable AIGC value: the implicit label "
                     "was removed or damaged")
        status = "label-removed"

    c2pa: dict[str, Any] = {"present": False, "state": None, "tampered": False, "failures": []}
    if check_c2pa and fmt in C2PA_MIMES:
        c2pa = read_c2pa(p)
    elif fmt not in C2PA_MIMES:
        c2pa["unsupported"] = True
    if c2pa.get("present"):
        if c2pa.get("tampered"):
            codes_ = [f["code"] for f in c2pa.get("failures", []) if f["code"] != "signingCredential.untrusted"]
            why = ", ".join(codes_) or c2pa.get("error") or c2pa.get("state")
            notes.append(f"the C2PA manifest fails validation ({why}): the file was changed after it was signed")
            status = "tampered"
        manifest_aigc = c2pa.get("aigc")
        if not valid and (manifest_aigc or c2pa.get("ai_generated")):
            notes.append("the C2PA manifest says the content is AI-generated, but the file carries no AIGC "
                         "metadata: the implicit label was removed")
            if status != "tampered":
                status = "label-removed"
        elif primary and isinstance(manifest_aigc, dict):
            signed = {k: str(manifest_aigc.get(k, "")) for k in _PRODUCER_KEYS}
            now = {k: getattr(primary, k) for k in _PRODUCER_KEYS}
            if signed != now:
                notes.append("the AIGC metadata differs from the AIGC assertion in the signed C2PA manifest "
                             f"(signed {signed}, found {now})")
                if status == "labelled":
                    status = "inconsistent"
        if status == "none":
            status = "labelled" if (manifest_aigc or c2pa.get("ai_generated")) else "none"
    elif c2pa.get("error"):
        notes.append(f"C2PA: {c2pa['error']}")
    return {"format": fmt, "status": status, "aigc": aigc, "aigc_fields": primary.to_dict() if primary else None,
            "meaning": primary.meaning if primary else None, "codes": codes, "c2pa": c2pa, "notes": notes,
            "read_at": datetime.now(UTC).isoformat(timespec="seconds")}


def _head_and_tail(p: Path, n: int = 4 * 1024 * 1024) -> bytes:
    size = p.stat().st_size
    with open(p, "rb") as fh:
        head = fh.read(n)
        if size > 2 * n:
            fh.seek(size - n)
            return head + fh.read(n)
        return head + fh.read()
