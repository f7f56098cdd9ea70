"""`zhimei labels apply|read|propagate|show` (AIGC labels, C2PA) and `zhimei evidence export|verify` (取证)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from zhimei.cli_common import actor as _me
from zhimei.cli_common import fail as _fail
from zhimei.cli_common import ready as _ready

__all__ = ["register", "labels_app", "evidence_app"]

labels_app = typer.Typer(help="AIGC labels (GB 45438-2025) and C2PA manifests: label, read, publish.",
                         no_args_is_help=True)
evidence_app = typer.Typer(help="Evidence packets (取证): export a signed zip, verify one offline.",
                           no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _spinner(what: str, quiet: bool):
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                   disable=quiet or not err.is_terminal, transient=True)
    bar.add_task(what, total=None)
    return bar


def _show_inbound(info: dict[str, Any]) -> None:
    style = {"labelled": "green", "none": "dim", "tampered": "bold red", "label-removed": "bold red",
             "inconsistent": "yellow"}.get(info["status"], "")
    out.print(f"status [{style}]{info['status']}[/{style}]  format {info.get('format') or 'unknown'}")
    if info.get("aigc_fields"):
        t = Table("AIGC element", "value", title=f"AIGC ({info.get('meaning')})")
        for k, v in info["aigc_fields"].items():
            t.add_row(k, v if len(v) < 80 else v[:77] + "…")
        out.print(t)
        for name, state in (info.get("codes") or {}).items():
            out.print(f"  {name}: {state}")
    c = info.get("c2pa") or {}
    if c.get("present"):
        out.print(f"C2PA: state [bold]{c.get('state')}[/bold]  manifests {c.get('manifests')}  "
                  f"signer {c.get('common_name') or c.get('issuer') or '?'}  "
                  f"{'tampered' if c.get('tampered') else 'intact'}")
        for f in c.get("failures") or []:
            out.print(f"  • {f['code']}: {escape(str(f.get('explanation')))}")
    else:
        out.print("C2PA: no manifest" + (" (format not supported)" if c.get("unsupported") else ""))
    for n in info.get("notes") or []:
        out.print(f"[yellow]! {escape(n)}[/yellow]")


@labels_app.command("read")
def read_cmd(file: Path = typer.Argument(..., help="A media file."),
             as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Read a file's AIGC implicit labels and C2PA manifest (with validation); notes say what is wrong."""
    from zhimei.review.labels import LabelError, read_inbound_labels

    try:
        info = read_inbound_labels(file)
    except (LabelError, OSError) as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        _show_inbound(info)


@labels_app.command("apply")
def apply_cmd(asset_id: int = typer.Argument(..., help="Asset id of the AI-made content."),
              producer: str = typer.Option(None, "--producer", help="ContentProducer (default setting aigc_producer "
                                           "or 'zhimei')."),
              produce_id: str = typer.Option(None, "--produce-id", help="ProduceID (default derived from the asset)."),
              label: str = typer.Option("1", "--label", help="1 AI-generated, 2 possibly, 3 suspected."),
              corner: str = typer.Option(None, "--corner", help="top-left|top-right|bottom-left|bottom-right."),
              no_c2pa: bool = typer.Option(False, "--no-c2pa", help="Skip the C2PA manifest."),
              as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Make the labelled version (explicit + AIGC metadata + C2PA) of an asset, as a new derived asset."""
    from zhimei.review.labels import AssetNotFound, LabelError, label_asset

    _ready()
    try:
        with _spinner(f"labelling asset {asset_id}", as_json):
            res = label_asset(asset_id, producer=producer, produce_id=produce_id, label=label, corner=corner,
                              created_by=_me(), c2pa=not no_c2pa)
    except (AssetNotFound, LabelError) as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(res, ensure_ascii=False, default=str))
        return
    lab = res.get("labelled") or {}
    out.print(f"labelled asset [bold]{res['asset_id']}[/bold] ({'new' if res.get('created') else 'existing'}) "
              f"from asset {asset_id}")
    if lab:
        out.print(f"  AIGC {json.dumps(lab.get('aigc'), ensure_ascii=False)}")
        out.print(f"  C2PA {json.dumps((lab.get('c2pa') or {}).get('validation') or lab.get('c2pa'))}")


@labels_app.command("propagate")
def propagate_cmd(asset_id: int = typer.Argument(..., help="A labelled asset."),
                  propagator: str = typer.Option(..., "--propagator", help="ContentPropagator (platform code)."),
                  propagate_id: str = typer.Option(..., "--propagate-id", help="PropagateID on that platform."),
                  as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Add the propagator fields at publication: a new rendition with the full AIGC label, re-signed."""
    from zhimei.review.labels import AssetNotFound, LabelError, add_propagator

    _ready()
    try:
        with _spinner("writing propagator fields", as_json):
            res = add_propagator(asset_id, propagator, propagate_id, created_by=_me())
    except (AssetNotFound, LabelError) as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(res, ensure_ascii=False, default=str))
    else:
        out.print(f"rendition {res['rendition']} sha256 {res['sha256'][:16]}… → {res['url']}")


@labels_app.command("show")
def show_cmd(asset_id: int = typer.Argument(..., help="Asset id."),
             refresh: bool = typer.Option(False, "--refresh", help="Read the original's labels again now."),
             as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """An asset's provenance record: inbound labels, how it was labelled, its labelled versions."""
    from zhimei.review.labels import AssetNotFound, LabelError, provenance_of, record_inbound

    _ready()
    try:
        if refresh:
            record_inbound(asset_id)
        info = provenance_of(asset_id)
    except (AssetNotFound, LabelError) as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(info, ensure_ascii=False, default=str))
        return
    out.print(f"asset {asset_id} · {info['title']}")
    if info.get("inbound"):
        _show_inbound(info["inbound"])
    else:
        out.print("inbound labels not read yet (zhimei labels show ID --refresh)")
    for v in info["labelled_versions"]:
        out.print(f"labelled version: asset {v['asset_id']} {json.dumps(v['aigc'], ensure_ascii=False)}")
    for p in info["propagations"]:
        out.print(f"published copy {p['rendition']}: {p['aigc'].get('ContentPropagator')} "
                  f"{p['aigc'].get('PropagateID')}")


@evidence_app.command("export")
def export_cmd(asset_id: int = typer.Argument(..., help="The flagged asset."),
               out_zip: Path = typer.Argument(..., help="Where to write the .zip."),
               reviewer: str = typer.Option(None, "--reviewer", help="Reviewer (default: the review queue's)."),
               decision: str = typer.Option(None, "--decision", help="Decision (default: the review queue's)."),
               note: str = typer.Option("", "--note", help="A note for the record."),
               start: float = typer.Option(None, "--start", help="Clip start (s), video/audio."),
               end: float = typer.Option(None, "--end", help="Clip end (s), video/audio."),
               key: Path = typer.Option(None, "--key", help="Ed25519 private key PEM (default: zhimei's)."),
               as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON.")) -> None:
    """Export an evidence packet: media, keyframes, transcript/OCR excerpts, hashes, UTC times, signed manifest."""
    from zhimei.review.evidence import EvidenceError, export_evidence
    from zhimei.review.labels.keys import KeyError_

    _ready()
    if (start is None) != (end is None):
        _fail("give both --start and --end for a clip, or neither")
    try:
        with _spinner(f"exporting evidence for asset {asset_id}", as_json):
            manifest = export_evidence(asset_id, out_zip, reviewer=reviewer, decision=decision, note=note,
                                       clip=(start, end) if start is not None else None, exported_by=_me(),
                                       key_path=key)
    except (EvidenceError, KeyError_, OSError) as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(manifest, ensure_ascii=False))
        return
    out.print(f"wrote {out_zip} · {len(manifest['files'])} files · signer {manifest['signature']['fingerprint']}")


@evidence_app.command("verify")
def verify_cmd(zip_path: Path = typer.Argument(..., help="An evidence .zip."),
               public_key: str = typer.Option(None, "--public-key", help="Expected signer: base64 raw key, PEM "
                                              "text or a key file (default: trust the key inside, print it)."),
               as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Verify a packet offline; exits 1 when anything is wrong, naming each problem."""
    from zhimei.review.evidence import verify_evidence

    rep = verify_evidence(zip_path, public_key=public_key)
    if as_json:
        print(json.dumps(rep.to_dict(), ensure_ascii=False))
    else:
        if rep.valid:
            out.print(f"[green]valid[/green] · {rep.files_checked} files · signer {rep.fingerprint}"
                      + ("" if rep.key_pinned else " (not pinned: pass --public-key to require this signer)"))
        else:
            err.print(f"[bold red]INVALID[/bold red] {zip_path}")
            for p in rep.problems:
                err.print(f"  • {escape('[' + p.code + ']')} {escape(p.message)}")
    if not rep.valid:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Mount this module's commands on the top-level `zhimei` app."""
    app.add_typer(labels_app, name="labels")
    app.add_typer(evidence_app, name="evidence")
