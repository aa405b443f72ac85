"""The only writer to stdout and stderr: data on stdout, diagnostics and progress on stderr."""

from __future__ import annotations

import errno
import functools
import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer

EXIT_OK, EXIT_CHECK, EXIT_USAGE, EXIT_INTEGRITY = 0, 1, 2, 3
# A bug in ledgerml (sysexits.h EX_SOFTWARE): distinct from every answer a command gives.
EXIT_INTERNAL = 70
# The reader of stdout went away (``ledgerml audit log | head``): 128 + SIGPIPE, what a shell
# reports for a program a closed pipe stopped.
EXIT_PIPE = 141
REPORT_HOW = "please report it with that file attached (README: Reporting a crash)"
_EXIT_FOR_KIND = {
    "check": EXIT_CHECK,
    "usage": EXIT_USAGE,
    "integrity": EXIT_INTEGRITY,
    "busy": EXIT_USAGE,
}


@functools.cache
def _console_class() -> Any:
    from rich.console import Console

    class PipeAwareConsole(Console):
        """Rich exits 1 on a closed pipe; 1 means a check said no, so leave that to the guard."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")

    return PipeAwareConsole


def _console(stderr: bool = False) -> Any:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output is for files and scripts: do not wrap it at 80 columns.
    width = None if stream.isatty() else 240
    return _console_class()(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def emit_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def raw(text: str) -> None:
    """A document on stdout exactly as given (an export: no markup, no wrapping)."""
    sys.stdout.write(text)


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


def error_json(title: str, message: str, hint: str, kind: str, **extra: Any) -> None:
    """An error as the one JSON document on stdout, for scripts that asked for --json."""
    emit_json({"error": {"title": title, "message": message, "hint": hint, "kind": kind, **extra}})


def fail(err: Exception, verbose: bool = False) -> None:
    """Show a ledgerml error (title, message, hint) on stderr and exit with its code.

    ``--verbose`` adds the traceback; the exit code stays the error's own.
    """
    from core.kernel.errors import LedgerError

    assert isinstance(err, LedgerError)
    if verbose:
        traceback.print_exception(err, file=sys.stderr)
    from rich.markup import escape

    # Messages are plain text: "[run] features must be…" names a TOML table, not a style.
    console = _console(stderr=True)
    console.print(f"[bold red]{escape(err.title)}:[/bold red] {escape(err.msg)}", markup=True)
    if err.hint:
        console.print(f"[dim]hint:[/dim] {escape(err.hint)}")
    raise typer.Exit(_EXIT_FOR_KIND.get(err.kind, EXIT_USAGE)) from None


def internal_error(
    err: BaseException,
    *,
    command: str,
    options: Sequence[str],
    workspace: Any,
    json_out: bool,
    verbose: bool,
) -> int:
    """Report a bug: a scrubbed crash file, one line on stderr (and JSON); return the exit code.

    The line is plain text, not Rich markup: the failure may be in the very code that draws.
    """
    from app import crashlog

    where = None
    try:
        where = crashlog.write(err, command, options, crashlog.folders(workspace))
    except Exception as failure:  # noqa: BLE001 - the report of a bug must not become one
        if verbose:
            traceback.print_exception(failure, file=sys.stderr)
    if verbose:
        traceback.print_exception(err, file=sys.stderr)
    kind = type(err).__name__
    if where is not None:
        detail = f"details in {where}; {REPORT_HOW}"
    else:
        detail = "no folder could take the details; run it again with --verbose to see them"
    if json_out:
        error_json(
            "Internal error",
            f"{command} failed unexpectedly ({kind}): a bug in ledgerml",
            detail,
            "internal",
            report=str(where) if where else None,
        )
    sys.stderr.write(f"{command}: internal error ({kind}), a bug in ledgerml; {detail}\n")
    sys.stderr.flush()
    return EXIT_INTERNAL


def closed_pipe() -> int:
    """Stop quietly when stdout's reader is gone; return the exit code.

    Later writes, and Python's final flush, would fail again: stdout becomes /dev/null.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a descriptor (tests capture it in memory)
        pass
    return EXIT_PIPE


def value_text(value: Any) -> str:
    """A check's observed value or threshold in a table cell: ``k=v, k=v`` for a mapping."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


_VERDICT_MARK = {
    "PASS": "[green]pass[/green]",
    "WARN": "[yellow]! WARN[/yellow]",
    "INCONCLUSIVE": "[yellow]? INCONCLUSIVE[/yellow]",
    "FAIL": "[red]FAIL[/red]",
}


def verdict_mark(verdict: str) -> str:
    """How a check's verdict is shown in a table: a warning never wears a pass's mark."""
    return _VERDICT_MARK[verdict]


def validation_result(result: Any, seq: int) -> None:
    """A validation result as a table of checks, their details, and the overall verdict line.

    The summary says "with N warnings" whenever a warn-level check failed, so a run that
    passed only because its failures were warnings is never reported as a plain pass.
    """
    table(
        ["check", "column", "severity", "observed", "threshold", "result", "detail"],
        [
            (
                c.name,
                c.column or "",
                c.severity,
                value_text(c.observed),
                value_text(c.threshold),
                verdict_mark(c.verdict),
                c.detail,
            )
            for c in result.checks
        ],
        title=f"{result.snapshot_ref} × {result.suite_name}",
    )
    summary = verdict_summary(result.verdict, result.errors, result.warnings)
    line(f"{summary}; recorded as event #{seq}")


def verdict_summary(verdict: str, errors: int, warnings: int) -> str:
    """The one-line verdict of a run of checks, never kinder than its worst check.

    Only a PASS reads as a plain pass; a WARN says how many warnings; an INCONCLUSIVE leads
    with that word (no check failed, but some could not be judged); a FAIL counts both.
    """
    if verdict == "PASS":
        return "PASSED"
    if verdict == "WARN":
        return f"PASSED with {count(warnings, 'warning')} (verdict WARN)"
    if verdict == "INCONCLUSIVE":
        return (
            f"INCONCLUSIVE: no check failed, {count(warnings, 'check')} not passed "
            "(warnings or not enough data to judge)"
        )
    return f"FAILED: {count(errors, 'error')}, {count(warnings, 'warning')}"


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
