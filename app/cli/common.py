"""Options shared by every command, and the guard that turns errors into exit codes."""

from __future__ import annotations

import functools
import inspect
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
    from core.identity.actors import acting_actor

    return acting_actor(local or GLOBALS.actor)


def want_json(local: bool) -> bool:
    """Whether JSON output was asked for, before or after the command."""
    return local or GLOBALS.json


def open_ws(local: Path | None) -> Any:
    """Open the workspace named by the options."""
    from core.kernel.workspace import Workspace

    return Workspace.open(ws_path(local))


# Typer hands the command's click context to this extra parameter, which every guarded command
# gets (see `guarded`): it names the command in a crash report without each command taking one.
_CONTEXT_PARAM = "ledgerml_context"


def _click_exception() -> type[Exception]:
    """Click's base exception, whichever copy of Click this Typer uses (its own since 0.2x).

    A usage error raised inside a command (typer.BadParameter) is Click's to show, not a crash.
    """
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "ClickException" and issubclass(cls, Exception):
            return cls
    return typer.BadParameter


CLICK_EXCEPTION = _click_exception()


def command_path(ctx: Any) -> str:
    """``ledgerml snapshot add`` for a click context, whatever the program was started as."""
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(str(ctx.info_name))
        ctx = ctx.parent
    return " ".join(["ledgerml", *reversed(names)])


def given_options(ctx: Any) -> list[str]:
    """The options given on the command line, by name only (their values may be data)."""
    names: list[str] = []
    while ctx is not None:
        for param in ctx.command.params:
            source = ctx.get_parameter_source(param.name) if param.name else None
            if getattr(source, "name", "") == "COMMANDLINE" and param.opts[0].startswith("-"):
                names.append(max(param.opts, key=len))
        ctx = ctx.parent
    return sorted(set(names))


def workspace_root(local: Path | None) -> Path | None:
    """The workspace folder the options name, or None if even that cannot be worked out."""
    from core.kernel.paths import locate

    try:
        return locate(ws_path(local))
    except (OSError, RuntimeError):  # a deleted working folder, no home folder for ~
        return None


def guarded(fn: F) -> F:
    """Turn every error of a command into a clear message and its exit code; never a traceback.

    A LedgerError is a message and its kind's code. Anything else is a bug: a scrubbed crash
    report, one line saying where it is, and exit 70. With --json the error is also the JSON
    document on stdout.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from core.kernel.errors import LedgerError

        ctx = kwargs.pop(_CONTEXT_PARAM, None)
        try:
            return fn(*args, **kwargs)
        except LedgerError as err:
            if kwargs.get("json_out") or GLOBALS.json:
                output.error_json(err.title, err.msg, err.hint, err.kind)
            output.fail(err, GLOBALS.verbose)
        except KeyboardInterrupt:
            output.note("interrupted; nothing after the last acknowledged step was recorded")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise typer.Exit(output.closed_pipe()) from None
        except (typer.Exit, typer.Abort, CLICK_EXCEPTION):
            raise
        except Exception as err:  # noqa: BLE001 - the one place a bug becomes a report
            code = output.internal_error(
                err,
                command=command_path(ctx),
                options=given_options(ctx),
                workspace=workspace_root(kwargs.get("workspace")),
                json_out=bool(kwargs.get("json_out")) or GLOBALS.json,
                verbose=GLOBALS.verbose,
            )
            raise typer.Exit(code) from None

    signature = inspect.signature(fn, eval_str=True)
    extra = inspect.Parameter(
        _CONTEXT_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context
    )
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), extra]
    )
    return wrapper  # type: ignore[return-value]
