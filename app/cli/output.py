"""The only writer to stdout and stderr: data on stdout, diagnostics and progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer

EXIT_OK, EXIT_CHECK, EXIT_USAGE, EXIT_INTEGRITY = 0, 1, 2, 3
_EXIT_FOR_KIND = {
    "check": EXIT_CHECK,
    "usage": EXIT_USAGE,
    "integrity": EXIT_INTEGRITY,
    "busy": EXIT_USAGE,
}


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is for files and scripts: do not wrap it at 80 columns.
    width = None if stream.isatty() else 240
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def emit_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def line(text: str = "") -> None:
    """One line of human output on stdout."""
    _console().print(text)


def note(text: str) -> None:
    """A diagnostic on stderr."""
    _console(stderr=True).print(text)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    """A table on stdout (plain when piped)."""
    from rich.table import Table

    out = Table(title=title or None, show_lines=False, header_style="bold")
    for col in columns:
        out.add_column(col, overflow="fold")
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    _console().print(out)


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """Aligned ``name: value`` lines on stdout."""
    width = max((len(k) for k, _ in pairs), default=0)
    console = _console()
    for key, value in pairs:
        console.print(f"[bold]{key.ljust(width)}[/bold]  {value}")


def fail(err: Exception, verbose: bool = False) -> None:
    """Show a ledgerml error (title, message, hint) on stderr and exit with its code."""
    from storage.errors import LedgerError

    if verbose:
        raise err
    assert isinstance(err, LedgerError)
    console = _console(stderr=True)
    console.print(f"[bold red]{err.title}:[/bold red] {err.msg}", markup=True)
    if err.hint:
        console.print(f"[dim]hint:[/dim] {err.hint}")
    raise typer.Exit(_EXIT_FOR_KIND.get(err.kind, EXIT_USAGE)) from None


def count(n: int, noun: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


@contextmanager
def progress(description: str) -> Iterator[Any]:
    """A progress callback drawing a bar on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        yield lambda done, total, note="": None
        return
    from rich.progress import Progress

    with Progress(console=_console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int | None, note: str = "") -> None:
            bar.update(
                task,
                completed=done,
                total=total,
                description=f"{description}: {note}" if note else description,
            )

        yield update
