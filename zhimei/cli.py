"""The `zhimei` command line."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="智媒 zhimei: intelligent-media platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
jobs_app = typer.Typer(help="The job queue.", invoke_without_command=True)
asset_app = typer.Typer(help="Assets in the library.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens and roles.", no_args_is_help=True)
feeds_app = typer.Typer(help="RSS/Atom feeds polled on a schedule.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(asset_app, name="asset")
app.add_typer(token_app, name="token")
app.add_typer(feeds_app, name="feeds")


def _mount_area_apps() -> None:
    from zhimei.library.people_cli import people_app
    from zhimei.models.cli import models_app

    app.add_typer(models_app, name="models", help="Model backends: readiness, licence, speed.")
    app.add_typer(people_app, name="people", help="People found by face clustering.")
    from zhimei.library.search_cli import register as register_search

    register_search(app)  # search, similar, ask, timeline, reindex, sources
    from zhimei.review.cli import review_app

    app.add_typer(review_app, name="review")
    from zhimei.review import proofread_cli, provenance_cli, queue_cli

    for module in (queue_cli, proofread_cli, provenance_cli):
        module.register(app)
    from zhimei.studio.cli import register as register_studio

    register_studio(app)  # zhimei studio <task>
    from zhimei.distribute import engagement_cli, publish_cli, recommend_cli
    from zhimei.insight import cli as insight_cli

    for module in (publish_cli, engagement_cli, recommend_cli, insight_cli):
        module.register(app)
    from zhimei.desk import cli as desk_cli
    from zhimei.workflow import cli as workflow_cli

    for module in (desk_cli, workflow_cli):
        module.register(app)


_mount_area_apps()
console = Console()
err = Console(stderr=True)


def _ready() -> None:
    from zhimei.store import migrate

    migrate()


@app.command()
def init(admin_name: str = typer.Option("admin", help="Name of the first admin token.")) -> None:
    """Create the data folder and database, and the first admin token (printed once)."""
    from sqlalchemy import select

    from zhimei.settings import get_settings
    from zhimei.store.db import session_scope
    from zhimei.store.models import ApiToken
    from zhimei.store.tokens import create_token

    s = get_settings()
    s.home.mkdir(parents=True, exist_ok=True)
    _ready()
    with session_scope() as session:
        has_admin = session.scalars(select(ApiToken).where(ApiToken.role == "admin",
                                                           ApiToken.revoked.is_(False))).first()
    console.print(f"zhimei home: {s.home}\ndatabase: {s.sqlalchemy_url.split('@')[-1]}")
    if has_admin:
        console.print("an admin token exists already (zhimei token create NAME --role admin makes another)")
        return
    token = create_token(admin_name, "admin")
    token_file = s.home / "admin-token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    console.print(f"admin token (also in {token_file}, mode 600):\n{token}")
    console.print(f"sign in: http://{s.host}:{s.port}/login?token={token}")


@app.command()
def ingest(
    targets: list[str] = typer.Argument(..., help="Files, folders, http(s) URLs, or feed URLs with --feed."),
    source: str = typer.Option("", help="Source name recorded on each asset."),
    recursive: bool = typer.Option(True, help="Descend into sub-folders."),
    watch: bool = typer.Option(False, help="Keep watching folders and ingest new files (drop folder)."),
    wait: bool = typer.Option(False, help="Process the queued jobs here and wait until they finish."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON lines."),
) -> None:
    """Take files, folders and URLs into the library."""
    from zhimei.library.ingest import ingest_targets, watch_folders

    _ready()
    results, failures = [], 0
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("ingesting", total=None)
        for outcome in ingest_targets(targets, source=source, recursive=recursive):
            bar.update(task, advance=1, description=f"ingesting {outcome.name[:40]}")
            results.append(outcome)
            if outcome.error:
                failures += 1
            if as_json:
                print(json.dumps(outcome.as_dict(), ensure_ascii=False), flush=True)
            elif outcome.error:
                err.print(f"[red]refused[/red] {outcome.name}: {outcome.error}")
            else:
                note = "new" if outcome.created else f"duplicate of asset {outcome.asset_id}"
                console.print(f"asset {outcome.asset_id} ({outcome.kind}, {note}): {outcome.name}")
    if wait:
        _run_until_idle([r.asset_id for r in results if r.asset_id], quiet=as_json)
    if watch:
        folders = [t for t in targets if Path(t).is_dir()]
        console.print(f"watching {', '.join(folders)} (Ctrl-C stops)")
        try:
            for outcome in watch_folders(folders, source=source):
                msg = outcome.error or f"asset {outcome.asset_id} ({outcome.kind})"
                console.print(f"{outcome.name}: {msg}")
        except KeyboardInterrupt:
            pass
    if failures and not watch:
        raise typer.Exit(1)


def _run_until_idle(asset_ids: list[int], quiet: bool = False) -> None:
    """Run jobs for these assets in this process with a progress bar (embedded mode)."""
    from sqlalchemy import func, select

    from zhimei.jobs import Worker
    from zhimei.settings import get_settings
    from zhimei.store.db import session_scope
    from zhimei.store.models import Job

    if get_settings().job_backend == "celery":
        err.print("job backend is celery: jobs run on the Celery workers (`zhimei jobs --follow`)")
        return
    worker = Worker()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=err, disable=quiet) as bar:
        task = bar.add_task("processing", total=100)
        while True:
            with session_scope() as session:
                q = select(Job.status, func.avg(Job.progress), func.count()).group_by(Job.status)
                if asset_ids:
                    q = q.where(Job.asset_id.in_(asset_ids))
                rows = session.execute(q).all()
            total = sum(r[2] for r in rows) or 1
            active = sum(r[2] for r in rows if r[0] in ("queued", "running", "blocked"))
            done = sum(r[2] for r in rows if r[0] in ("done", "failed", "cancelled"))
            bar.update(task, completed=100 * done / total, description=f"processing ({active} jobs left)")
            if not active:
                break
            if not worker.run_once():
                time.sleep(0.2)


@jobs_app.callback()
def jobs(
    ctx: typer.Context,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep the table live until Ctrl-C."),
    status: str = typer.Option("", help="Only jobs with this status."),
    asset: int = typer.Option(0, help="Only jobs of this asset."),
    limit: int = typer.Option(50, help="Rows shown."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List jobs with status, progress, attempts and last error."""
    if ctx.invoked_subcommand:
        return
    _ready()

    def rows() -> list[dict]:
        from sqlalchemy import select

        from zhimei.store.db import session_scope
        from zhimei.store.models import Job

        with session_scope() as session:
            q = select(Job).order_by(Job.id.desc()).limit(limit)
            if status:
                q = q.where(Job.status == status)
            if asset:
                q = q.where(Job.asset_id == asset)
            return [{"id": j.id, "asset": j.asset_id, "stage": j.stage, "status": j.status,
                     "progress": round(j.progress), "attempts": j.attempts, "worker": j.worker or "",
                     "error": (j.last_error or "")[:80]} for j in session.scalars(q)]

    def table() -> Table:
        t = Table("id", "asset", "stage", "status", "progress", "attempts", "worker", "last error")
        for r in rows():
            t.add_row(str(r["id"]), str(r["asset"]), r["stage"], r["status"], f"{r['progress']}%",
                      str(r["attempts"]), r["worker"][-24:], r["error"])
        return t

    if as_json:
        print(json.dumps(rows(), ensure_ascii=False))
    elif follow:
        try:
            with Live(table(), console=console, refresh_per_second=2) as live:
                while True:
                    time.sleep(1)
                    live.update(table())
        except KeyboardInterrupt:
            pass
    else:
        console.print(table())


@jobs_app.command("retry")
def jobs_retry(job_id: int) -> None:
    """Run a failed or cancelled job again."""
    from zhimei.jobs import dispatch_ready, retry

    _ready()
    if not retry(job_id):
        err.print(f"job {job_id} is not failed or cancelled")
        raise typer.Exit(1)
    dispatch_ready()
    console.print(f"job {job_id} queued again")


@jobs_app.command("cancel")
def jobs_cancel(job_id: int) -> None:
    """Cancel a job that has not finished."""
    from zhimei.jobs import cancel

    _ready()
    if not cancel(job_id):
        err.print(f"job {job_id} has already finished")
        raise typer.Exit(1)
    console.print(f"job {job_id} cancelled")


@app.command()
def worker(threads: int = typer.Option(1, help="Worker threads in this process (embedded mode)."),
           once: bool = typer.Option(False, help="Exit when no job is runnable.")) -> None:
    """Run jobs: embedded workers, or a Celery worker when ZHIMEI_JOB_BACKEND=celery."""
    from zhimei.jobs import Worker, drain
    from zhimei.settings import get_settings

    _ready()
    s = get_settings()
    if s.job_backend == "celery":
        os.execvp(sys.executable, [sys.executable, "-m", "celery", "-A", "zhimei.jobs.celery_app", "worker",
                                   "-Q", s.celery_queue, "--concurrency", str(threads), "--loglevel", "INFO"])
    if once:
        console.print(f"ran {drain()} jobs")
        return
    workers = [Worker() for _ in range(max(1, threads))]
    for w in workers:
        w.start_thread()
    console.print(f"{len(workers)} worker(s) running; Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        for w in workers:
            w.stop()


@app.command()
def serve(host: str = typer.Option(None, help="Bind address (default from settings)."),
          port: int = typer.Option(None, help="Port (default from settings)."),
          workers: int = typer.Option(None, help="Embedded worker threads (default from settings).")) -> None:
    """Serve the web app and API, with embedded workers and the feed scheduler."""
    import uvicorn

    from zhimei.api.app import create_app
    from zhimei.settings import get_settings

    _ready()
    s = get_settings()
    application = create_app(workers=s.workers if workers is None else workers, scheduler=True, warm_search=True)
    console.print(f"zhimei on http://{host or s.host}:{port or s.port}  (API docs at /docs)")
    uvicorn.run(application, host=host or s.host, port=port or s.port, log_level="warning")


@asset_app.command("show")
def asset_show(asset_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """Everything known about one asset."""
    from zhimei.library.catalog import asset_detail
    from zhimei.store.db import session_scope

    _ready()
    with session_scope() as session:
        d = asset_detail(session, asset_id)
    if d is None:
        err.print(f"no asset {asset_id}")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(d, ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]#{d['id']} {d['title']}[/bold]  {d['kind']}  {d['status']}")
    if d["failure_reason"]:
        console.print(f"[red]{d['failure_reason']}[/red]")
    console.print(f"file {d['filename']} ({d['mime']}, {d['size_bytes']:,} bytes) sha256 {d['sha256']}")
    if d["duration"]:
        console.print(f"duration {d['duration']:.2f}s  {d['width'] or ''}x{d['height'] or ''}")
    for r in d["renditions"]:
        console.print(f"  rendition {r['kind']:<10} {r['mime']:<24} {r['size_bytes']:>12,}  {r['sha256'][:12]}")
    for sh in d["shots"]:
        console.print(f"  shot {sh['seq']:>3}  {sh['start']:8.2f}s – {sh['end']:8.2f}s")
    for seg in d["segments"][:20]:
        where = f"{seg['start']:.1f}s" if seg["start"] is not None else f"@{seg['char_start']}"
        console.print(f"  {seg['kind']:<10} {where:>8}  {seg['text'][:100]}")
    for j in d["jobs"]:
        console.print(f"  job {j['id']:>5} {j['stage']:<12} {j['status']:<10} {j['progress']:>5}%"
                      f"  {(j['last_error'] or '')[:60]}")


@asset_app.command("list")
def asset_list(kind: str = typer.Option(None), status: str = typer.Option(None),
               limit: int = typer.Option(30), as_json: bool = typer.Option(False, "--json")) -> None:
    """List assets, newest first."""
    from zhimei.library.catalog import list_assets
    from zhimei.store.db import session_scope

    _ready()
    with session_scope() as session:
        items, total = list_assets(session, kind=kind, status=status, limit=limit)
    if as_json:
        print(json.dumps({"total": total, "items": items}, ensure_ascii=False))
        return
    t = Table("id", "kind", "status", "title", "duration")
    for a in items:
        t.add_row(str(a["id"]), a["kind"], a["status"], a["title"][:60],
                  f"{a['duration']:.1f}s" if a["duration"] else "")
    console.print(t)
    console.print(f"{total} assets")


@token_app.command("create")
def token_create(name: str, role: str = typer.Option("viewer", help="viewer | reviewer | editor | admin")) -> None:
    """Make an API token (printed once)."""
    from zhimei.store.tokens import create_token

    _ready()
    try:
        console.print(create_token(name, role))
    except ValueError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Revoke a token by name."""
    from zhimei.store.tokens import revoke_token

    _ready()
    if not revoke_token(name):
        err.print(f"no token named {name!r}")
        raise typer.Exit(1)
    console.print(f"revoked {name}")


@feeds_app.command("add")
def feeds_add(url: str, interval: float = typer.Option(None, help="Seconds between polls.")) -> None:
    """Add an RSS/Atom feed; it is polled on its schedule by `zhimei serve`."""
    from zhimei.library.feeds import add_feed

    _ready()
    feed_id = add_feed(url, interval_seconds=interval)
    console.print(f"feed {feed_id}: {url}")


@feeds_app.command("list")
def feeds_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List feeds with their last poll and error."""
    from zhimei.library.feeds import list_feeds

    _ready()
    feeds = list_feeds()
    if as_json:
        print(json.dumps(feeds, ensure_ascii=False))
        return
    t = Table("id", "url", "interval", "last polled", "last error")
    for f in feeds:
        t.add_row(str(f["id"]), f["url"], f"{f['interval_seconds']:.0f}s", f["last_polled_at"] or "",
                  (f["last_error"] or "")[:60])
    console.print(t)


@feeds_app.command("poll")
def feeds_poll(all_feeds: bool = typer.Option(False, "--all", help="Poll every feed, due or not.")) -> None:
    """Poll feeds that are due now and ingest new items."""
    from zhimei.library.feeds import poll_due_feeds

    _ready()
    for feed_url, n, error in poll_due_feeds(force=all_feeds):
        console.print(f"{feed_url}: {error or f'{n} new items'}")


@app.command()
def gc(grace: float = typer.Option(3600.0, help="Keep unreferenced blobs younger than this (seconds)."),
       dry_run: bool = typer.Option(False)) -> None:
    """Delete blobs that no row refers to."""
    from zhimei.store import collect_garbage, get_blob_store, referenced_blobs
    from zhimei.store.db import session_scope

    _ready()
    store = get_blob_store()
    with session_scope() as session:
        if dry_run:
            refs = referenced_blobs(session)
            orphans = [k for k in store.keys() if k not in refs]
            console.print(f"{len(orphans)} unreferenced blobs")
            return
        deleted = collect_garbage(session, store, grace_seconds=grace)
    console.print(f"deleted {len(deleted)} blobs")


@app.command()
def settings(markdown: bool = typer.Option(False, "--markdown", help="Print docs/settings.md.")) -> None:
    """Show the settings in effect (or their documentation)."""
    from zhimei.settings import get_settings, settings_markdown

    if markdown:
        print(settings_markdown(), end="")
        return
    s = get_settings()
    for name in type(s).model_fields:
        value = getattr(s, name)
        if any(word in name for word in ("secret", "key", "password", "token")) and value:
            value = "***"
        console.print(f"ZHIMEI_{name.upper()}={value}")


def main() -> None:
    """Entry point: bad settings print one clear line and exit 2 instead of a traceback."""
    from zhimei.settings import SettingsError

    try:
        app()
    except SettingsError as exc:
        err.print(f"[red]{exc}[/red]")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
