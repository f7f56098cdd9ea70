"""Evidence packets (取证): a flagged asset's media, keyframes, transcript and OCR excerpts, hashes, UTC times,
reviewer and decision, zipped with a manifest signed by Ed25519 and verifiable offline.

Layout of the zip::

    manifest.json        what is in the packet: asset, decision, times, every file with its sha256 and size,
                         the signer's public key and its fingerprint
    manifest.sig         base64 Ed25519 signature over the exact bytes of manifest.json
    media/…              the original (or the requested clip of a video/audio)
    frames/…             the asset's keyframes (video) as stored
    text/transcript.txt  time-coded transcript excerpts;  text/ocr.txt  on-screen text;  text/segments.json
    provenance.json      inbound labels / C2PA state / labelled versions known to zhimei
    README.txt           how to check it (zhimei evidence verify, or sha256sum + any Ed25519 tool)

``verify_evidence`` checks the zip structure, refuses hostile member names (absolute paths, ``..``,
backslashes, links, duplicates), verifies the signature (and the key against a pinned one when given),
and every member's CRC, sha256 and size, with no member missing or extra. Each problem is reported with a code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select

from zhimei.review.labels import keys
from zhimei.settings import get_settings
from zhimei.store.blobs import get_blob_store
from zhimei.store.db import read_scope
from zhimei.store.models import Asset, Keyframe, Segment

__all__ = ["EvidenceError", "EvidenceReport", "Problem", "export_evidence", "verify_evidence", "FORMAT",
           "MAX_TOTAL_BYTES"]

FORMAT = "zhimei-evidence/1"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
MAX_TOTAL_BYTES = 16 * 1024**3
MAX_MANIFEST_BYTES = 32 * 1024**2
MAX_RATIO = 2000
MAX_SEGMENTS = 5000
_CHUNK = 1024 * 1024
_MEDIA_EXT = {"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "video/x-matroska": ".mkv",
              "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
              "audio/mpeg": ".mp3", "audio/wav": ".wav", "audio/flac": ".flac", "audio/mp4": ".m4a",
              "audio/ogg": ".ogg", "text/html": ".html", "text/plain": ".txt", "text/markdown": ".md",
              "application/pdf": ".pdf"}


class EvidenceError(ValueError):
    """The packet cannot be made (unknown asset, bad clip range, unwritable output); the message says why."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a packet: a code, the member it concerns (if any) and a sentence for a person."""

    code: str
    message: str
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "path": self.path, "message": self.message}


@dataclass
class EvidenceReport:
    """The outcome of verify_evidence."""

    valid: bool
    problems: list[Problem] = field(default_factory=list)
    fingerprint: str | None = None
    key_pinned: bool = False
    files_checked: int = 0
    manifest: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest or {}
        return {"valid": self.valid, "problems": [p.to_dict() for p in self.problems],
                "fingerprint": self.fingerprint, "key_pinned": self.key_pinned, "files_checked": self.files_checked,
                "asset": m.get("asset"), "decision": m.get("decision"), "exported_at": m.get("exported_at"),
                "format": m.get("format")}


def _utc(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tc(sec: float | None) -> str:
    if sec is None:
        return "--:--:--.---"
    ms = int(round(sec * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _latest_decision(asset_id: int) -> dict[str, Any] | None:
    """The newest decision on the asset in the review queue, when the queue is installed."""
    try:
        from zhimei.review.queue import get_case, list_cases

        items = list_cases(status=None, asset_id=asset_id, limit=1)["items"]
        if not items:
            return None
        decisions = get_case(items[0]["id"]).get("decisions") or []
        return {**decisions[-1], "case": items[0]["id"]} if decisions else None
    except Exception:  # noqa: BLE001  (the queue is optional here; a missing table must not stop an export)
        return None


def _gather(asset_id: int, clip: tuple[float, float] | None) -> dict[str, Any]:
    with read_scope() as s:
        a = s.get(Asset, asset_id)
        if a is None:
            raise EvidenceError(f"no asset {asset_id}")
        original = next((r for r in a.renditions if r.kind == "original"), None)
        kfs = [(k.shot_seq, k.time, k.blob_sha, k.width, k.height) for k in s.scalars(
            select(Keyframe).where(Keyframe.asset_id == asset_id).order_by(Keyframe.shot_seq))]
        segs = [{"id": g.id, "kind": g.kind, "seq": g.seq, "start": g.start, "end": g.end, "text": g.text,
                 "language": g.language} for g in s.scalars(
            select(Segment).where(Segment.asset_id == asset_id, Segment.kind.in_(("transcript", "ocr", "paragraph",
                                                                                  "caption")))
            .order_by(Segment.kind, Segment.seq).limit(MAX_SEGMENTS))]
        info = {"id": a.id, "kind": a.kind, "title": a.title, "source": a.source, "filename": a.filename,
                "mime": a.mime, "sha256": original.blob_sha if original else a.sha256,
                "size_bytes": original.size_bytes if original else a.size_bytes, "duration": a.duration,
                "width": a.width, "height": a.height, "created_at": _utc(a.created_at),
                "published_at": _utc(a.published_at), "parent_id": a.parent_id,
                "review_status": (a.meta or {}).get("review_status"), "provenance": (a.meta or {}).get("provenance")}
    if clip is not None:
        start, end = clip
        if info["kind"] not in ("video", "audio"):
            raise EvidenceError("a clip range applies to video and audio assets only")
        if not (0 <= start < end) or (info["duration"] and start >= info["duration"]):
            raise EvidenceError(f"the clip range {start:g}–{end:g} s is not inside the asset"
                                + (f" (0–{info['duration']:g} s)" if info["duration"] else ""))
        segs = [g for g in segs if g["start"] is None or g["end"] is None or (g["end"] > start and g["start"] < end)]
        kfs = [k for k in kfs if start <= k[1] < end]
    return {"asset": info, "keyframes": kfs, "segments": segs}


def _cut_clip(src: Path, dst: Path, start: float, end: float, kind: str) -> None:
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{start:.3f}", "-to", f"{end:.3f}",
            "-i", str(src)]
    if kind == "video":
        args += ["-map", "0:v:0", "-map", "0:a?", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
                 "-c:a", "aac", "-movflags", "+faststart", str(dst)]
    else:
        args += ["-map", "0:a:0", "-c:a", "flac", str(dst)]
    proc = subprocess.run(args, capture_output=True, timeout=1800)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise EvidenceError(f"ffmpeg could not cut the clip: {lines[-1] if lines else 'failed'}")


def _sha_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


README = """zhimei evidence packet ({format})

manifest.json lists every file in this zip with its sha256 and size; manifest.sig is the base64 Ed25519
signature over the exact bytes of manifest.json, by the key whose raw public key (base64) and sha256
fingerprint are in manifest.json["signature"].

Check it offline:  zhimei evidence verify THIS.zip [--public-key KEY]
or by hand: sha256sum each file and compare; verify manifest.sig against manifest.json with any Ed25519 tool.
Signer fingerprint: {fingerprint}
"""


def export_evidence(asset_id: int, out_path: str | os.PathLike[str], *, reviewer: str | None = None,
                    decision: str | None = None, note: str = "", clip: tuple[float, float] | None = None,
                    exported_by: str = "", key_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Write the evidence zip for an asset to out_path (atomic) and return its manifest.

    reviewer/decision default to the newest decision in the review queue (when there is one)."""
    out = Path(out_path)
    if out.exists() and out.is_dir():
        raise EvidenceError(f"{out} is a folder; give a .zip file path")
    if not out.parent.exists():
        raise EvidenceError(f"the folder {out.parent} does not exist")
    data = _gather(asset_id, clip)
    asset = data["asset"]
    queued = _latest_decision(asset_id) if not (reviewer and decision) else None
    decision_rec = {"decision": decision or (queued or {}).get("decision"),
                    "reviewer": reviewer or (queued or {}).get("reviewer"), "note": note or (queued or {}).get("note"),
                    "reasons": (queued or {}).get("reasons") or [],
                    "decided_at": _utc(datetime.fromisoformat(queued["at"])) if queued and queued.get("at") else None,
                    "case": (queued or {}).get("case"), "from_queue": queued is not None}
    key = keys.signing_key(key_path)
    exported_at = datetime.now(UTC)
    store = get_blob_store()
    entries: list[tuple[str, Path, str]] = []  # (name in zip, file, role)
    s = get_settings()
    s.scratch_path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evidence-", dir=s.scratch_path) as td:
        work = Path(td)
        ext = _MEDIA_EXT.get(asset["mime"], Path(asset["filename"] or "").suffix[:8] or ".bin")
        media = work / f"original{ext}"
        if not asset["sha256"] or not store.exists(asset["sha256"]):
            raise EvidenceError(f"asset {asset_id} has no stored original to put in the packet")
        with open(media, "wb") as fh:
            for chunk in store.read_range(asset["sha256"], 0, store.size(asset["sha256"]) - 1):
                fh.write(chunk)
        if clip is not None:
            clip_path = work / ("clip.mp4" if asset["kind"] == "video" else "clip.flac")
            _cut_clip(media, clip_path, clip[0], clip[1], asset["kind"])
            entries.append((f"media/{clip_path.name}", clip_path, "clip"))
        else:
            entries.append((f"media/original{ext}", media, "original"))
        for seq, t, sha, _w, _h in data["keyframes"]:
            if not store.exists(sha):
                continue
            p = work / f"kf-{seq:04d}.jpg"
            p.write_bytes(store.read_bytes(sha))
            entries.append((f"frames/keyframe-{seq:04d}-{_tc(t).replace(':', '')}.jpg", p, "keyframe"))
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for g in data["segments"]:
            by_kind.setdefault(g["kind"], []).append(g)
        for kind in ("transcript", "ocr"):
            if by_kind.get(kind):
                p = work / f"{kind}.txt"
                p.write_text("".join(f"[{_tc(g['start'])} – {_tc(g['end'])}] {g['text']}\n" for g in by_kind[kind]),
                             "utf-8")
                entries.append((f"text/{kind}.txt", p, f"{kind} excerpts"))
        if data["segments"]:
            p = work / "segments.json"
            p.write_text(json.dumps(data["segments"], ensure_ascii=False, indent=1), "utf-8")
            entries.append(("text/segments.json", p, "segments"))
        prov = work / "provenance.json"
        prov.write_text(json.dumps(asset.get("provenance") or {}, ensure_ascii=False, indent=1, default=str), "utf-8")
        entries.append(("provenance.json", prov, "provenance"))
        readme = work / "README.txt"
        readme.write_text(README.format(format=FORMAT, fingerprint=keys.fingerprint(key)), "utf-8")
        entries.append(("README.txt", readme, "readme"))

        files = [{"path": name, "sha256": _sha_file(p), "size": p.stat().st_size, "role": role}
                 for name, p, role in entries]
        manifest = {
            "format": FORMAT,
            "asset": {k: v for k, v in asset.items() if k != "provenance"},
            "decision": decision_rec,
            "clip": {"start": clip[0], "end": clip[1]} if clip else None,
            "exported_at": _utc(exported_at), "exported_by": exported_by,
            "counts": {"keyframes": sum(1 for f in files if f["role"] == "keyframe"),
                       **{k: len(v) for k, v in by_kind.items()}},
            "files": files,
            "signature": {"alg": "Ed25519", "public_key": keys.public_key_b64(key),
                          "fingerprint": keys.fingerprint(key), "signed_file": MANIFEST, "signature_file": SIGNATURE},
        }
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        sig = base64.b64encode(keys.sign_bytes(manifest_bytes, key)) + b"\n"
        stamp = exported_at.timetuple()[:6]
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".zip", dir=out.parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp_name, "w") as zf:
                for name, payload in ((MANIFEST, manifest_bytes), (SIGNATURE, sig)):
                    zi = zipfile.ZipInfo(name, stamp)
                    zi.compress_type = zipfile.ZIP_DEFLATED
                    zi.external_attr = 0o644 << 16
                    zf.writestr(zi, payload)
                for name, p, role in entries:
                    zi = zipfile.ZipInfo(name, stamp)
                    zi.compress_type = zipfile.ZIP_STORED if role in ("original", "clip", "keyframe") \
                        else zipfile.ZIP_DEFLATED
                    zi.external_attr = 0o644 << 16
                    with zf.open(zi, "w", force_zip64=p.stat().st_size > 2**31) as dest, open(p, "rb") as src:
                        while chunk := src.read(_CHUNK):
                            dest.write(chunk)
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, out)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
    return manifest


# ---- verification ------------------------------------------------------------------------------------

def _hostile(name: str) -> str | None:
    if not name:
        return "an empty member name"
    if "\\" in name:
        return "a backslash in the name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "control characters in the name"
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in name.split("/")) or not parts:
        return "a '..' or '.' path component (zip-slip)"
    if "" in name.rstrip("/").split("/"):
        return "an empty path component"
    if len(name) > 512:
        return "a name longer than 512 characters"
    return None


def verify_evidence(zip_path: str | os.PathLike[str], public_key: str | os.PathLike[str] | None = None
                    ) -> EvidenceReport:
    """Check a packet offline: structure, member names, signature (and the pinned key), every hash and size."""
    p = Path(zip_path)
    rep = EvidenceReport(valid=False)
    problems = rep.problems
    if not p.is_file():
        problems.append(Problem("not-found", f"{p.name}: no such file"))
        return rep
    pinned = None
    if public_key:
        try:
            pinned = keys.load_public_key(public_key)
        except keys.KeyError_ as exc:
            problems.append(Problem("bad-public-key", f"the public key to check against is unusable: {exc}"))
            return rep
        rep.key_pinned = True
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile as exc:
        problems.append(Problem("not-a-zip", f"not a readable zip archive — truncated or corrupted ({exc})"))
        return rep
    except OSError as exc:
        problems.append(Problem("unreadable", f"cannot read the file: {exc}"))
        return rep
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        seen: set[str] = set()
        hostile = False
        total = 0
        for i in infos:
            why = _hostile(i.filename)
            if why is None and stat.S_ISLNK(i.external_attr >> 16):
                why = "a symbolic link"
            if why is None and i.is_dir():
                why = "a folder entry (packets hold files only)"
            if why:
                problems.append(Problem("hostile-name", f"member {i.filename!r} is refused: {why}", i.filename))
                hostile = True
            if i.filename in seen:
                problems.append(Problem("duplicate-member", f"member {i.filename!r} appears more than once",
                                        i.filename))
                hostile = True
            seen.add(i.filename)
            total += i.file_size
            if i.compress_size and i.file_size / max(i.compress_size, 1) > MAX_RATIO and i.file_size > 10 * _CHUNK:
                problems.append(Problem("too-large", f"member {i.filename!r} expands {i.file_size:,} bytes from "
                                        f"{i.compress_size:,} (a zip bomb?)", i.filename))
                hostile = True
        if total > MAX_TOTAL_BYTES:
            problems.append(Problem("too-large", f"the packet expands to {total:,} bytes (limit {MAX_TOTAL_BYTES:,})"))
            hostile = True
        if hostile:
            return rep
        if MANIFEST not in seen:
            problems.append(Problem("missing-manifest", "manifest.json is missing: this is not an evidence packet "
                                    "or it was stripped", MANIFEST))
            return rep
        try:
            if zf.getinfo(MANIFEST).file_size > MAX_MANIFEST_BYTES:
                raise ValueError("manifest.json is larger than 32 MB")
            manifest_bytes = zf.read(MANIFEST)
        except (zipfile.BadZipFile, zlib.error, ValueError, OSError) as exc:
            problems.append(Problem("corrupted-member", f"manifest.json cannot be read: {exc}", MANIFEST))
            return rep
        try:
            manifest = json.loads(manifest_bytes)
            if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
                raise ValueError("it has no file list")
        except ValueError as exc:
            problems.append(Problem("bad-manifest", f"manifest.json is not a valid manifest: {exc}", MANIFEST))
            return rep
        rep.manifest = manifest
        sig_info = manifest.get("signature") or {}
        try:
            embedded = keys.load_public_key(str(sig_info.get("public_key", "")))
            rep.fingerprint = keys.fingerprint(embedded)
        except keys.KeyError_ as exc:
            problems.append(Problem("bad-manifest", f"manifest.json has no usable public key: {exc}", MANIFEST))
            embedded = None
        if embedded is not None and sig_info.get("fingerprint") not in (None, rep.fingerprint):
            problems.append(Problem("bad-manifest", "the fingerprint in manifest.json does not match its public key",
                                    MANIFEST))
        if pinned is not None and embedded is not None and keys.fingerprint(pinned) != rep.fingerprint:
            problems.append(Problem("key-mismatch", f"signed by key {rep.fingerprint[:16]}…, not by the expected key "
                                    f"{keys.fingerprint(pinned)[:16]}…"))
        if SIGNATURE not in seen:
            problems.append(Problem("missing-signature", "manifest.sig is missing: the manifest is unsigned",
                                    SIGNATURE))
        else:
            try:
                sig = base64.b64decode(zf.read(SIGNATURE).strip(), validate=True)
                if len(sig) != 64:
                    raise ValueError(f"{len(sig)} bytes instead of 64")
            except (ValueError, zipfile.BadZipFile, zlib.error) as exc:
                problems.append(Problem("bad-signature-file", f"manifest.sig is malformed: {exc}", SIGNATURE))
                sig = None
            if sig is not None and embedded is not None:
                check_key = pinned or embedded
                if not keys.verify_bytes(manifest_bytes, sig, check_key):
                    problems.append(Problem("signature-mismatch", "the signature does not match manifest.json: the "
                                            "manifest was altered after it was signed (or signed by another key)",
                                            MANIFEST))
        listed: dict[str, dict[str, Any]] = {}
        for f in manifest["files"]:
            if not isinstance(f, dict) or not isinstance(f.get("path"), str):
                problems.append(Problem("bad-manifest", "manifest.json lists a file without a path", MANIFEST))
                continue
            if _hostile(f["path"]) or f["path"] in (MANIFEST, SIGNATURE):
                problems.append(Problem("hostile-name", f"manifest.json lists a refused path {f['path']!r}",
                                        f["path"]))
                continue
            listed[f["path"]] = f
        for name in names:
            if name not in listed and name not in (MANIFEST, SIGNATURE):
                problems.append(Problem("extra-member", f"{name} is in the zip but not in the signed manifest",
                                        name))
        for path, f in listed.items():
            if path not in seen:
                problems.append(Problem("missing-member", f"{path} is listed in the manifest but missing from the zip",
                                        path))
                continue
            h = hashlib.sha256()
            size = 0
            try:
                with zf.open(path) as fh:
                    while chunk := fh.read(_CHUNK):
                        h.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                problems.append(Problem("corrupted-member", f"{path} is corrupted in the zip ({exc})", path))
                continue
            rep.files_checked += 1
            if h.hexdigest() != f.get("sha256"):
                problems.append(Problem("altered-member", f"{path} was altered: sha256 {h.hexdigest()[:16]}… does not "
                                        f"match the signed {str(f.get('sha256'))[:16]}…", path))
            elif size != f.get("size"):
                problems.append(Problem("altered-member", f"{path} has {size} bytes, the manifest says {f.get('size')}",
                                        path))
    rep.valid = not problems
    return rep
