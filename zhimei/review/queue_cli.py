"""`zhimei review queue|open|case|decide|bulk|assign|reasons|status|words|strict|threshold|policies` and
`zhimei audit verify|log`: the review queue, moderation administration and the audit log from the command line."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from zhimei.cli_common import actor as _me
from zhimei.cli_common import fail as _fail
from zhimei.cli_common import ready as _ready

__all__ = ["register", "audit_app", "words_app"]

audit_app = typer.Typer(help="The hash-chained audit log of review decisions and moderation edits.",
                        no_args_is_help=True)
words_app = typer.Typer(help="Admin word lists ($ZHIMEI_HOME/review/wordlists).", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
_TIER_STYLE = {"pass": "green", "needs_review": "yellow", "block": "bold red"}
_STATUS_STYLE = {"passed": "green", "rejected": "red", "escalated": "magenta", "superseded": "dim"}


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    from zhimei.review.queue import ReviewError

    try:
        return fn(*args, **kwargs)
    except ReviewError as exc:
        _fail(str(exc))


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False))


def _case_line(c: dict[str, Any]) -> None:
    tier = _TIER_STYLE.get(c["tier"], "bold")
    st = _STATUS_STYLE.get(c["status"], "bold")
    out.print(f"case {c['id']} · asset {c['asset_id']} {c.get('asset_title') or ''}\n"
              f"  status [{st}]{c['status']}[/{st}] · tier [{tier}]{c['tier']}[/{tier}] score {c['score']:.3f} · "
              f"priority {c['priority']:.3f} · channel {c['channel']}{' (strict)' if c['strict'] else ''}\n"
              f"  approvals {c.get('approvals') or 0}/{c['approvals_needed']} · assignee {c['assignee'] or '—'} · "
              f"due {c['due_at']}{' [red]OVERDUE[/red]' if c['overdue'] else ''}")
    for r in c["reasons"]:
        out.print(f"  • {r['zh']}\n    {r['en']}")
    for d in c.get("decisions") or []:
        note = f" — {d['note']}" if d["note"] else ""
        out.print(f"  ✎ {d['at']} {d['reviewer']}: {d['decision']} ({', '.join(d['reasons'])}){note}")


def queue(as_json: bool = typer.Option(False, "--json", help="Print JSON."),
          overdue: bool = typer.Option(False, "--overdue", help="Only cases past their SLA due time."),
          status: str = typer.Option("active", "--status", help="active (default), open, in_review, escalated, "
                                     "passed, rejected, superseded, or all."),
          assignee: str = typer.Option(None, "--assignee", help="Only this reviewer's cases ('' = unassigned)."),
          limit: int = typer.Option(50, "--limit", min=1, max=1000, help="Most cases to list.")) -> None:
    """The review queue by priority (risk × expected reach), overdue cases marked."""
    from zhimei.review.queue import list_cases

    _ready()
    data = _call(list_cases, status=None if status == "all" else status, overdue=overdue, assignee=assignee,
                 limit=limit)
    if as_json:
        _print_json(data)
        return
    t = Table("case", "asset", "status", "tier", "score", "priority", "assignee", "due",
              title=f"{data['total']} case(s)")
    for c in data["items"]:
        style = _TIER_STYLE.get(c["tier"], "bold")
        due = ("[red]overdue[/red] " if c["overdue"] else "") + c["due_at"][:16].replace("T", " ")
        t.add_row(str(c["id"]), f"{c['asset_id']} {(c['asset_title'] or '')[:40]}", c["status"],
                  f"[{style}]{c['tier']}[/{style}]", f"{c['score']:.3f}", f"{c['priority']:.3f}",
                  c["assignee"] or "—", due)
    out.print(t)


def open_cmd(asset_id: int = typer.Argument(..., help="Asset id."),
             channel: str = typer.Option("default", "--channel", help="Policy channel."),
             strict: bool = typer.Option(None, "--strict/--no-strict", help="Strict mode (default: the channel's "
                                         "stored switch)."),
             reach: int = typer.Option(None, "--reach", min=0, help="Expected reach (default: asset meta or 1000)."),
             actor: str = typer.Option(None, "--as", help="Who opens it (default cli:$USER)."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Moderate an asset and open its review case (the same case again for the same asset version)."""
    from zhimei.review.queue import open_case

    _ready()
    c = _call(open_case, asset_id, channel, strict=strict, expected_reach=reach, actor=actor or _me())
    if as_json:
        _print_json(c)
        return
    out.print("opened" if c["created"] else "existing case (same asset version)")
    _case_line(c)


def case_cmd(case_id: int = typer.Argument(..., help="Case id."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """One case: verdict reasons, flagged spans/frames, decisions."""
    from zhimei.review.queue import get_case

    _ready()
    c = _call(get_case, case_id)
    if as_json:
        _print_json(c)
        return
    _case_line(c)


def decide_cmd(case_id: int = typer.Argument(..., help="Case id."),
               decision: str = typer.Argument(..., help="approve | reject | escalate"),
               reason: list[str] = typer.Option(None, "--reason", help="Reason code (repeatable; see `zhimei review "
                                                "reasons`)."),
               note: str = typer.Option("", "--note", help="A note for the record."),
               actor: str = typer.Option(None, "--as", help="Reviewer name (default cli:$USER)."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Decide a case with reason codes; a high-risk case needs approvals from two different reviewers."""
    from zhimei.review.queue import decide

    _ready()
    c = _call(decide, case_id, actor or _me(), decision, reason or [], note)
    if as_json:
        _print_json(c)
        return
    _case_line(c)


def bulk_cmd(decision: str = typer.Argument(..., help="approve | reject | escalate"),
             case_ids: list[int] = typer.Argument(..., help="Case ids."),
             reason: list[str] = typer.Option(None, "--reason", help="Reason code (repeatable)."),
             note: str = typer.Option("", "--note", help="A note for the record."),
             actor: str = typer.Option(None, "--as", help="Reviewer name (default cli:$USER)."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The same decision on many cases (each on its own); exit 1 if any failed."""
    from zhimei.review.queue import bulk_decide

    _ready()
    res = _call(bulk_decide, list(case_ids), actor or _me(), decision, reason or [], note)
    if as_json:
        _print_json(res)
    else:
        for r in res["results"]:
            out.print(f"case {r['id']}: " + (r["status"] if r["ok"] else f"[red]{r['error']}[/red]"))
    if res["failed"]:
        raise typer.Exit(1)


def assign_cmd(case_id: int = typer.Argument(..., help="Case id."),
               reviewer: str = typer.Argument(None, help="Reviewer (default: yourself); '-' unassigns."),
               actor: str = typer.Option(None, "--as", help="Who assigns (default cli:$USER)."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Assign a case to a reviewer (an open case goes in_review)."""
    from zhimei.review.queue import assign

    _ready()
    me = actor or _me()
    c = _call(assign, case_id, None if reviewer == "-" else (reviewer or me), actor=me)
    if as_json:
        _print_json(c)
        return
    _case_line(c)


def reasons_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The reason codes reviewers give with decisions."""
    from zhimei.review.queue import REASON_CODES

    if as_json:
        _print_json({k: {"zh": zh, "en": en} for k, (zh, en) in REASON_CODES.items()})
        return
    for code, (zh, en) in REASON_CODES.items():
        out.print(f"{code:24} {zh} · {en}")


def status_cmd(asset_id: int = typer.Argument(..., help="Asset id."),
               channel: str = typer.Option(None, "--channel", help="Only this channel's cases."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Whether the asset's current version passed review (exit 1 if not): what publishing checks."""
    from zhimei.review.queue import review_state

    _ready()
    st = _call(review_state, asset_id, channel)
    if as_json:
        _print_json(st)
    else:
        out.print(("[green]passed[/green] " if st["passed"] else "[red]not passed[/red] ") + st["detail"])
    if not st["passed"]:
        raise typer.Exit(1)


def strict_cmd(channel: str = typer.Argument(..., help="Policy channel."),
               state: str = typer.Argument(..., help="on | off"),
               actor: str = typer.Option(None, "--as", help="Who (default cli:$USER).")) -> None:
    """Switch a channel's strict mode on or off (audited)."""
    from zhimei.review.queue import set_strict

    if state not in ("on", "off"):
        _fail(f"state must be on or off, got {state!r}")
    _ready()
    p = _call(set_strict, channel, state == "on", actor=actor or _me())
    out.print(f"channel {p['channel']}: strict mode {'on' if p['strict_mode'] else 'off'}")


def threshold_cmd(channel: str = typer.Argument(..., help="Policy channel."),
                  category: str = typer.Argument(..., help="Category (abuse, sexual, offensive, …)."),
                  review_at: float = typer.Argument(..., help="Score from which a human must review."),
                  block_at: float = typer.Argument(..., help="Score from which it is blocked."),
                  actor: str = typer.Option(None, "--as", help="Who (default cli:$USER).")) -> None:
    """Set a channel's thresholds for one category (audited)."""
    from zhimei.review.queue import set_threshold

    _ready()
    p = _call(set_threshold, channel, category, review_at, block_at, actor=actor or _me())
    out.print(f"channel {p['channel']}: {category} = {p['thresholds'].get(category.lower())}")


def policies_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Channel policies in force: thresholds, strict thresholds, the strict switch."""
    from zhimei.review.queue import policies_view

    data = _call(policies_view)
    if as_json:
        _print_json(data)
        return
    for p in data:
        out.print(f"[bold]{p['channel']}[/bold] {p['description']} · strict mode "
                  f"{'[red]on[/red]' if p['strict_mode'] else 'off'}{' · overridden' if p['overridden'] else ''}")
        for cat, (r, b) in p["thresholds"].items():
            sr, sb = p["strict_thresholds"][cat]
            out.print(f"  {cat:10} review ≥ {r:.2f} block ≥ {b:.2f}   strict: {sr:.2f} / {sb:.2f}")


@words_app.command("add")
def words_add(word: str = typer.Argument(..., help="The word ('word*' also matches longer words)."),
              category: str = typer.Option(..., "--category", help="abuse, profanity, slur, threat, … or allow."),
              severity: str = typer.Option("2", "--severity", help="1-3 or low/medium/high."),
              file: str = typer.Option("admin.tsv", "--file", help="Admin list file."),
              actor: str = typer.Option(None, "--as", help="Who (default cli:$USER).")) -> None:
    """Add a word (or an allowed phrase with --category allow) to an admin list (audited)."""
    from zhimei.review.queue import add_word

    _ready()
    r = _call(add_word, word, category, severity, file=file, actor=actor or _me())
    out.print(f"{r['file']}: {r['word']} ({r['category']}, severity {r['severity']}) · {r['entries']} entries")


@words_app.command("remove")
def words_remove(word: str = typer.Argument(..., help="The word as listed."),
                 file: str = typer.Option("admin.tsv", "--file", help="Admin list file."),
                 actor: str = typer.Option(None, "--as", help="Who (default cli:$USER).")) -> None:
    """Remove a word from an admin list (audited)."""
    from zhimei.review.queue import remove_word

    _ready()
    r = _call(remove_word, word, file=file, actor=actor or _me())
    out.print(f"{r['file']}: removed {r['word']} · {r['entries']} entries left")


@words_app.command("list")
def words_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every word list with its entries."""
    from zhimei.review.queue import list_wordlists

    data = list_wordlists()
    if as_json:
        _print_json(data)
        return
    for f in data["files"]:
        out.print(f"[bold]{f['name']}[/bold] ({f['folder']}{', editable' if f['editable'] else ''}): "
                  f"{len(f['words'])} words, {len(f['allow'])} allowed phrases")
        for e in f["words"] + f["allow"]:
            out.print(f"  {e['word']}\t{e['category']}\t{e['severity']}")
    for e in data["errors"]:
        err.print(f"[red]{e}[/red]")


@audit_app.command("verify")
def audit_verify(as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Walk the hash chain; exit 1 naming the first broken seq (edited, deleted or reordered entry)."""
    from zhimei.review.queue import verify_audit

    _ready()
    rep = verify_audit()
    if as_json:
        _print_json(rep.to_dict())
    elif rep.ok:
        out.print(f"[green]{rep}[/green]")
    else:
        err.print(f"[red]{rep}[/red]")
    if not rep.ok:
        raise typer.Exit(1)


@audit_app.command("log")
def audit_log(subject: str = typer.Option(None, "--subject", help="e.g. case:12, wordlist:admin.tsv"),
              action: str = typer.Option(None, "--action", help="e.g. case.decide"),
              limit: int = typer.Option(50, "--limit", min=1, max=1000, help="Most entries."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Audit entries, newest first."""
    from zhimei.review.queue import list_audit

    _ready()
    data = list_audit(subject=subject, action=action, limit=limit)
    if as_json:
        _print_json(data)
        return
    for e in data["items"]:
        out.print(f"{e['seq']:>6} {e['at'][:19]} {e['actor']:<16} {e['action']:<16} {e['subject']:<20} "
                  f"{json.dumps(e['payload'], ensure_ascii=False)[:100]}")


def register(app: typer.Typer) -> None:
    """Mount this module's commands on the top-level `zhimei` app (`review …` sub-commands and `audit`)."""
    from zhimei.review.cli import review_app

    for fn, name in ((queue, "queue"), (open_cmd, "open"), (case_cmd, "case"), (decide_cmd, "decide"),
                     (bulk_cmd, "bulk"), (assign_cmd, "assign"), (reasons_cmd, "reasons"), (status_cmd, "status"),
                     (strict_cmd, "strict"), (threshold_cmd, "threshold"), (policies_cmd, "policies")):
        review_app.command(name)(fn)
    review_app.add_typer(words_app, name="words")
    app.add_typer(audit_app, name="audit")
