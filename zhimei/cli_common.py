"""What the area CLIs share: who is acting, one-line errors, a migrated store."""

from __future__ import annotations

import getpass
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["actor", "fail", "ready", "err"]

err = Console(stderr=True)


def actor() -> str:
    """The audit actor of a CLI call: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def fail(msg: str, code: int = 2) -> NoReturn:
    """Print ``error: msg`` on stderr (unwrapped; names and paths are shown literally) and exit with `code`."""
    err.print(f"[red]error:[/red] {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code)


def ready() -> None:
    """Apply the database migrations (every command starts with it)."""
    from zhimei.store import migrate

    migrate()
