"""Options shared by every command, and the guard that turns errors into exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from app.cli import output

F = TypeVar("F", bound=Callable[..., Any])

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        show_default=False,
        help="Workspace folder (default: LEDGERML_WORKSPACE, else ./.ledgerml).",
    ),
]
ActorOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        show_default=False,
        help="Act as this actor (default: LEDGERML_ACTOR, else the OS user).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the ledger.")]
ModelArg = Annotated[str, typer.Argument(help="Model version: name@N, or name (latest).")]


@dataclass
class Globals:
    """Options given before the command (``ledgerml --json audit log``)."""

    workspace: Path | None = None
    actor: str | None = None
    json: bool = False
    verbose: bool = False


GLOBALS = Globals()


def ws_path(local: Path | None) -> Path | None:
    """The workspace option given to the command, else the global one."""
    return local or GLOBALS.workspace


def actor_name(local: str | None) -> str:
    """Who acts: ``--as``, then LEDGERML_ACTOR, then the OS user."""
    from core.actors import acting_actor

    return acting_actor(local or GLOBALS.actor)


def want_json(local: bool) -> bool:
    """Whether JSON output was asked for, before or after the command."""
    return local or GLOBALS.json


def open_ws(local: Path | None) -> Any:
    """Open the workspace named by the options."""
    from core.workspace import Workspace

    return Workspace.open(ws_path(local))


def guarded(fn: F) -> F:
    """Turn a LedgerError into a clear message on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from storage.errors import LedgerError

        try:
            return fn(*args, **kwargs)
        except LedgerError as err:
            if kwargs.get("json_out") or GLOBALS.json:
                output.emit_json(
                    {
                        "error": {
                            "title": err.title,
                            "message": err.msg,
                            "hint": err.hint,
                            "kind": err.kind,
                        }
                    }
                )
            output.fail(err, GLOBALS.verbose)
        except KeyboardInterrupt:
            output.note("interrupted; nothing after the last acknowledged step was recorded")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
