"""Labelling stored assets: a labelled derived asset, propagator fields at publication, the provenance record.

What zhimei keeps in ``Asset.meta["provenance"]``:

- ``inbound``: what the original carried when it came in (``read_inbound_labels``) plus ``known_label_removed``
  when an image looks like one zhimei labelled but carries no label;
- ``labelled``: on a labelled asset, how it was made (explicit label, AIGC fields, C2PA summary, source asset);
- ``propagations``: the publication copies (renditions ``aigc_pub_…``) with their propagator fields.

Stripping a label is impossible through zhimei: labelled outputs are new blobs keyed by content hash, the
original blob is never rewritten, every derivative written here starts from a labelled file and keeps both
labels (implicit metadata is merged, never dropped; the earlier C2PA manifest becomes the parent ingredient
of the new one), and no function or endpoint removes a label.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from zhimei.review.labels import explicit
from zhimei.review.labels.aigc import AigcLabel, LabelError, check_value
from zhimei.review.labels.c2pa_manifest import C2PA_MIMES, c2pa_config, read_c2pa, sign_c2pa
from zhimei.review.labels.implicit import detect_format, read_aigc, write_aigc
from zhimei.review.labels.read import read_inbound_labels
from zhimei.settings import get_settings
from zhimei.store.blobs import get_blob_store
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset, Rendition, Segment

__all__ = ["label_asset", "add_propagator", "provenance_of", "record_inbound", "default_producer",
           "AssetNotFound", "LABEL_VERSION"]

LABEL_VERSION = "1"
_EXT = {"jpeg": ".jpg", "png": ".png", "mp4": ".mp4", "mov": ".mov", "mp3": ".mp3", "wav": ".wav",
        "flac": ".flac", "m4a": ".m4a", "html": ".html"}
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "mp4": "video/mp4", "mov": "video/quicktime",
         "mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac", "m4a": "audio/mp4", "html": "text/html"}


class AssetNotFound(LookupError):
    """No asset with that id."""


def default_producer() -> str:
    """The ContentProducer zhimei writes when none is given: setting ``aigc_producer`` / ZHIMEI_AIGC_PRODUCER."""
    return getattr(get_settings(), "aigc_producer", None) or os.environ.get("ZHIMEI_AIGC_PRODUCER") or "zhimei"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load(asset_id: int) -> dict[str, Any]:
    with read_scope() as session:
        a = session.get(Asset, asset_id)
        if a is None:
            raise AssetNotFound(f"no asset {asset_id}")
        original = next((r for r in a.renditions if r.kind == "original"), None)
        paragraphs = []
        if a.kind == "article":
            paragraphs = [s.text for s in session.scalars(
                select(Segment).where(Segment.asset_id == asset_id, Segment.kind == "paragraph")
                .order_by(Segment.seq))]
        return {"id": a.id, "kind": a.kind, "mime": a.mime, "title": a.title, "source": a.source,
                "language": a.language, "filename": a.filename, "meta": dict(a.meta or {}), "parent_id": a.parent_id,
                "original": original.blob_sha if original else a.sha256, "paragraphs": paragraphs,
                "phash": a.phash}


def _existing_label(asset_id: int, key: str) -> int | None:
    with read_scope() as session:
        for child in session.scalars(select(Asset).where(Asset.parent_id == asset_id).order_by(Asset.id)):
            lab = ((child.meta or {}).get("provenance") or {}).get("labelled") or {}
            if lab.get("key") == key and child.status != "failed":
                return child.id
    return None


def _article_html(a: dict[str, Any], src: Path) -> str:
    import html as h

    if a["paragraphs"]:
        body = [p for p in a["paragraphs"] if p.strip()]
    else:
        text = src.read_text("utf-8", errors="replace") if a["mime"].startswith("text/") else ""
        body = [p for p in text.split("\n\n") if p.strip()]
    if not body:
        raise LabelError("the article has no text yet (wait for extract_text, or ingest it again)")
    labelled = explicit.label_text("\n\n".join(body))
    paras = "\n".join(f"<p>{h.escape(p)}</p>" for p in labelled.split("\n\n"))
    return (f"<!doctype html>\n<html lang=\"{h.escape(a['language'] or 'zh')}\"><head><meta charset=\"utf-8\">\n"
            f"<title>{h.escape(a['title'])}</title></head>\n<body>\n{paras}\n</body></html>\n")


def _explicit(a: dict[str, Any], src: Path, work: Path, corner: str | None) -> tuple[Path, str, dict[str, Any]]:
    kind = a["kind"]
    if kind == "article":
        out = work / "labelled.html"
        out.write_text(_article_html(a, src), "utf-8")
        return out, "html", {"kind": "text", "notice": f"{explicit.NOTICE_ZH} {explicit.NOTICE_EN}",
                             "position": "start and end"}
    if kind == "image":
        fmt = detect_format_or(src)
        out_fmt = fmt if fmt in ("jpeg", "png") else "png"
        staged = src
        if fmt not in ("jpeg", "png"):
            from PIL import Image

            staged = work / "converted.png"
            with Image.open(src) as im:
                im.convert("RGBA").save(staged, format="PNG")
        out = work / f"labelled{_EXT[out_fmt]}"
        return out, out_fmt, explicit.label_image(staged, out, corner=corner or "bottom-right")
    if kind == "video":
        out_fmt = "mov" if a["mime"] == "video/quicktime" else "mp4"
        out = work / f"labelled{_EXT[out_fmt]}"
        return out, out_fmt, explicit.label_video(src, out, corner=corner or "top-left")
    if kind == "audio":
        fmt = detect_format_or(src)
        out_fmt = fmt if fmt in ("mp3", "wav", "flac") else "m4a"
        out = work / f"labelled{_EXT[out_fmt]}"
        return out, out_fmt, explicit.label_audio(src, out, fmt=out_fmt)
    raise LabelError(f"cannot label a {kind} asset")


def detect_format_or(p: Path) -> str | None:
    """detect_format, or None for a format zhimei does not write labels into."""
    try:
        return detect_format(p)
    except LabelError:
        return None


def label_asset(asset_id: int, *, producer: str | None = None, produce_id: str | None = None, label: str = "1",
                corner: str | None = None, created_by: str = "", c2pa: bool = True) -> dict[str, Any]:
    """Make the labelled version of an AI-made asset: explicit + implicit (AIGC) + C2PA, as a derived asset.

    Idempotent: the same source, producer, id and label give back the asset made before. An inbound AIGC
    label on the source is kept (its producer fields win over new ones) and an inbound C2PA manifest becomes
    the parent ingredient of the new manifest. Raises AssetNotFound or LabelError."""
    from zhimei.library.assets import IngestError, ingest_file

    producer = check_value("ContentProducer", producer or default_producer(), required=True)
    a = _load(asset_id)
    if ((a["meta"].get("provenance") or {}).get("labelled")):
        raise LabelError(f"asset {asset_id} is already a labelled asset (made from asset "
                         f"{a['meta']['provenance']['labelled'].get('source_asset')}); label its source instead")
    key = hashlib.sha256(f"{a['original']}|{producer}|{produce_id or ''}|{label}|{corner or ''}|"
                         f"{LABEL_VERSION}".encode()).hexdigest()
    done = _existing_label(asset_id, key)
    if done is not None:
        return {**provenance_of(done), "asset_id": done, "created": False}
    produce_id = check_value("ProduceID", produce_id or f"zm-{asset_id}-{key[:16]}", required=True)
    aigc = AigcLabel(Label=label, ContentProducer=producer, ProduceID=produce_id)
    store = get_blob_store()
    s = get_settings()
    s.scratch_path.mkdir(parents=True, exist_ok=True)
    with store.local_path(a["original"]) as src, tempfile.TemporaryDirectory(prefix="label-",
                                                                             dir=s.scratch_path) as td:
        work = Path(td)
        inbound = read_inbound_labels(src)
        kept_from = None
        if inbound.get("aigc_fields") and inbound["aigc_fields"].get("ContentProducer"):
            f = inbound["aigc_fields"]
            aigc = AigcLabel(Label=f["Label"], ContentProducer=f["ContentProducer"], ProduceID=f["ProduceID"],
                             ReservedCode1=f.get("ReservedCode1", ""))
            kept_from = "inbound"
        if kept_from is None:
            aigc = aigc.signed_by_producer()
        shown, fmt, shown_info = _explicit(a, src, work, corner)
        implicit_out = work / f"implicit{_EXT[fmt]}"
        write_aigc(shown, implicit_out, aigc)
        final = implicit_out
        c2pa_info: dict[str, Any] = {"signed": False}
        if c2pa and fmt in C2PA_MIMES:
            signed = work / f"signed{_EXT[fmt]}"
            parent = src if inbound["c2pa"].get("present") and not inbound["c2pa"].get("tampered") else None
            c2pa_info = sign_c2pa(implicit_out, signed, fmt, title=a["title"] or a["filename"], aigc=aigc,
                                  parent=parent, config=c2pa_config())
            final = signed
            c2pa_info["validation"] = _c2pa_brief(read_c2pa(final))
        elif c2pa:
            c2pa_info["reason"] = f"C2PA is not embedded in {fmt} files"
        record = {"key": key, "source_asset": asset_id, "at": _now(), "by": created_by, "format": fmt,
                  "explicit": shown_info, "aigc": aigc.to_dict(), "aigc_kept_from": kept_from, "c2pa": c2pa_info,
                  "version": LABEL_VERSION}
        stem = Path(a["filename"] or f"asset-{asset_id}").stem
        try:
            res = ingest_file(final, filename=f"{stem}.ai-labelled{_EXT[fmt]}", source=a["source"],
                              title=f"{a['title']} [AI生成标识]"[:1000], language=a["language"],
                              created_by=created_by, parent_id=asset_id,
                              meta={"provenance": {"labelled": record}, "aigc_label": aigc.to_dict()})
        except IngestError as exc:
            raise LabelError(f"the labelled file was refused: {exc}") from None
    return {"asset_id": res.asset_id, "created": res.created, "source_asset": asset_id, "labelled": record}


def _c2pa_brief(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r.get(k) for k in ("present", "state", "tampered", "trusted", "untrusted_signer", "manifests")}


def add_propagator(asset_id: int, propagator: str, propagate_id: str, *, created_by: str = "") -> dict[str, Any]:
    """Add the propagator fields (at publication) to a labelled asset: a new rendition ``aigc_pub_<hash>``
    whose AIGC metadata has ContentPropagator/PropagateID/ReservedCode2 and whose C2PA manifest has the
    labelled file as parent ingredient. Idempotent per (propagator, propagate_id)."""
    check_value("ContentPropagator", propagator, required=True)
    check_value("PropagateID", propagate_id, required=True)
    a = _load(asset_id)
    prov = a["meta"].get("provenance") or {}
    kind = "aigc_pub_" + hashlib.sha256(f"{propagator}|{propagate_id}".encode()).hexdigest()[:12]
    for p in prov.get("propagations") or []:
        if p.get("rendition") == kind:
            return {"asset_id": asset_id, "created": False, **p}
    store = get_blob_store()
    s = get_settings()
    s.scratch_path.mkdir(parents=True, exist_ok=True)
    with store.local_path(a["original"]) as src, tempfile.TemporaryDirectory(prefix="prop-",
                                                                             dir=s.scratch_path) as td:
        fmt = detect_format_or(src)
        if fmt is None:
            raise LabelError("propagator fields are written into JPEG, PNG, MP4/MOV, MP3, WAV, FLAC and HTML "
                             "files; this asset's file is none of them")
        found = [f for f in read_aigc(src) if f.label is not None]
        if not found:
            raise LabelError(f"asset {asset_id} carries no AIGC label: label it first (zhimei labels apply)")
        aigc = replace(found[0].label, ContentPropagator=propagator, PropagateID=propagate_id,
                       ReservedCode2="").signed_by_propagator()
        work = Path(td)
        out = work / f"pub{_EXT[fmt]}"
        write_aigc(src, out, aigc)
        c2pa_info: dict[str, Any] = {"signed": False}
        if fmt in C2PA_MIMES:
            inbound_c2pa = read_c2pa(src)
            signed = work / f"pub-signed{_EXT[fmt]}"
            parent = src if inbound_c2pa.get("present") and not inbound_c2pa.get("tampered") else None
            c2pa_info = sign_c2pa(out, signed, fmt, title=a["title"] or a["filename"], aigc=aigc, parent=parent,
                                  action="c2pa.published", config=c2pa_config())
            out = signed
            c2pa_info["validation"] = _c2pa_brief(read_c2pa(out))
        sha = store.put_file(out)
        size = out.stat().st_size
    entry = {"rendition": kind, "sha256": sha, "mime": _MIME.get(fmt, a["mime"]), "size_bytes": size,
             "aigc": aigc.to_dict(), "c2pa": c2pa_info, "at": _now(), "by": created_by,
             "url": f"/api/assets/{asset_id}/media/{kind}"}
    with session_scope() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise AssetNotFound(f"no asset {asset_id}")
        existing = session.scalars(select(Rendition).where(Rendition.asset_id == asset_id,
                                                           Rendition.kind == kind)).first()
        if existing is None:
            session.add(Rendition(asset_id=asset_id, kind=kind, blob_sha=sha, mime=entry["mime"], size_bytes=size))
        meta = dict(asset.meta or {})
        prov = dict(meta.get("provenance") or {})
        prov["propagations"] = [*(prov.get("propagations") or []), entry]
        meta["provenance"] = prov
        asset.meta = meta
    return {"asset_id": asset_id, "created": True, **entry}


def record_inbound(asset_id: int) -> dict[str, Any]:
    """Read the original's inbound labels into ``meta["provenance"]["inbound"]`` (what the provenance stage
    runs); an image that looks like one zhimei labelled but carries no label gets ``known_label_removed``."""
    a = _load(asset_id)
    store = get_blob_store()
    with store.local_path(a["original"]) as src:
        inbound = read_inbound_labels(src)
    if a["kind"] == "image" and a["phash"] and inbound["status"] in ("none", "label-removed"):
        match = _labelled_lookalike(asset_id, a["phash"])
        if match is not None:
            inbound["known_label_removed"] = match
            inbound["notes"].append(f"this image looks like labelled asset {match['asset_id']} (pHash distance "
                                    f"{match['distance']}) but carries no AIGC label: the label was removed")
            inbound["status"] = "label-removed"
    with session_scope() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise AssetNotFound(f"no asset {asset_id}")
        meta = dict(asset.meta or {})
        prov = dict(meta.get("provenance") or {})
        prov["inbound"] = inbound
        meta["provenance"] = prov
        asset.meta = meta
    return inbound


def _labelled_lookalike(asset_id: int, phash: str) -> dict[str, Any] | None:
    limit = get_settings().near_duplicate_distance
    best = None
    with read_scope() as session:
        rows = session.execute(select(Asset.id, Asset.phash, Asset.meta).where(
            Asset.kind == "image", Asset.id != asset_id, Asset.phash.is_not(None))).all()
    for other_id, other_hash, meta in rows:
        if not ((meta or {}).get("provenance") or {}).get("labelled"):
            continue
        try:
            d = bin(int(phash, 16) ^ int(other_hash, 16)).count("1")
        except ValueError:
            continue
        if d <= limit and (best is None or d < best["distance"]):
            best = {"asset_id": other_id, "distance": d}
    return best


def provenance_of(asset_id: int) -> dict[str, Any]:
    """The asset's provenance record, its labelled versions and (for a labelled asset) its source."""
    a = _load(asset_id)
    prov = a["meta"].get("provenance") or {}
    with read_scope() as session:
        children = [{"asset_id": c.id, "title": c.title, "status": c.status,
                     "aigc": (((c.meta or {}).get("provenance") or {}).get("labelled") or {}).get("aigc")}
                    for c in session.scalars(select(Asset).where(Asset.parent_id == asset_id).order_by(Asset.id))
                    if ((c.meta or {}).get("provenance") or {}).get("labelled")]
    return {"asset_id": asset_id, "kind": a["kind"], "title": a["title"], "inbound": prov.get("inbound"),
            "labelled": prov.get("labelled"), "propagations": prov.get("propagations") or [],
            "labelled_versions": children}
