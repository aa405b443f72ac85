"""The ``ledgerml`` command line: ``ledgerml <noun> <verb>``, thin over ``core``.

Exit codes: 0 ok, 1 a gate or check said no, 2 usage or input error (and a busy workspace),
3 integrity failure (tampering, bad signature), 70 a bug in ledgerml (a crash report was
written), 141 stdout's reader went away. Heavy libraries are imported inside commands so that
``ledgerml --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli import (
    actor,
    attest,
    audit,
    bundle,
    data,
    key,
    model,
    output,
    report,
    snapshot,
    workspace,
)
from app.cli.common import CLICK_EXCEPTION, GLOBALS, command_path, workspace_root

app = typer.Typer(
    name="ledgerml",
    help="An offline audit workstation for machine learning: every dataset, model, signature "
    "and approval becomes evidence an auditor can verify.\n\n"
    "Start with `ledgerml init`, then `ledgerml status`.\n\n"
    "Exit codes: 0 ok, 1 a gate or check said no, 2 usage or input error (also a busy "
    "workspace), 3 integrity failure, 70 a bug in ledgerml (one line names its crash report), "
    "141 the reader of the output went away.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(version("ledgerml"))
        except PackageNotFoundError:
            typer.echo("unknown")
        raise typer.Exit()


@app.callback()
def root(
    workspace_dir: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            show_default=False,
            help="Workspace folder (default: LEDGERML_WORKSPACE, else ./.ledgerml).",
        ),
    ] = None,
    as_actor: Annotated[
        str | None,
        typer.Option(
            "--as",
            show_default=False,
            help="Act as this actor (default: LEDGERML_ACTOR, else the OS user).",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    """Global options; they may also be given after the command."""
    GLOBALS.workspace, GLOBALS.actor = workspace_dir, as_actor
    GLOBALS.json, GLOBALS.verbose = json_out, verbose


workspace.register(app)
data.register(app)
model.register_commands(app)
app.add_typer(actor.app, name="actor", help="Register actors and their roles.")
app.add_typer(key.app, name="key", help="Create, rotate and revoke signing keys (keyring or HSM).")
app.add_typer(audit.app, name="audit", help="Read, verify, checkpoint and prove the ledger.")
app.add_typer(snapshot.app, name="snapshot", help="Immutable dataset versions with provenance.")
app.add_typer(report.app, name="report", help="Data sheets, model cards, impact assessments.")
app.add_typer(bundle.app, name="bundle", help="Export and verify audit bundles.")
app.add_typer(attest.app, name="attest", help="Sign files as in-toto statements; verify them.")


def _wants_json(args: list[str]) -> bool:
    """Whether --json was given, before or after the command.

    Read from the command line before Click parses it, so that a command line Click refuses
    still gets its error as JSON.
    """
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _usage_json(err: Any) -> int:
    """A usage error Click found (missing option, bad value…) as the JSON document."""
    ctx = getattr(err, "ctx", None)
    where = command_path(ctx) if ctx is not None else "ledgerml"
    if type(err).__name__ == "NoArgsIsHelpError":
        message = f"{where} needs a command"
    else:
        message = err.format_message()
    output.error_json("Invalid usage", message, f"See `{where} --help`.", "usage")
    sys.stderr.write(f"{where}: {message}\n")
    return output.EXIT_USAGE


def _escaped(err: Exception, args: list[str], json_out: bool) -> int:
    """A bug outside any command's guard (option parsing, the root callback, an import)."""
    from app import crashlog

    return output.internal_error(
        err,
        command="ledgerml",
        options=crashlog.option_names(args),
        workspace=workspace_root(None),
        json_out=json_out,
        verbose=GLOBALS.verbose or "--verbose" in args,
    )


def _exit_code(value: Any) -> int:
    """What Click returned or exited with, as a process exit code."""
    if value is None:
        return output.EXIT_OK
    if isinstance(value, int):
        return value
    sys.stderr.write(f"{value}\n")  # sys.exit("text") convention: a message, a failure
    return output.EXIT_USAGE


def _run(args: list[str], json_out: bool) -> int:
    if not json_out:
        try:
            app(prog_name="ledgerml")  # Typer shows usage errors itself, and exits
        except SystemExit as done:
            return _exit_code(done.code)
        return output.EXIT_OK
    # Rich help prints itself while an error is being built (a command group given no
    # command); plain help is only text, which keeps stdout one JSON document.
    app.rich_markup_mode = None
    try:
        return _exit_code(app(args=args, prog_name="ledgerml", standalone_mode=False))
    except CLICK_EXCEPTION as err:
        return _usage_json(err)
    except typer.Abort:
        output.error_json("Aborted", "input ended before a prompt was answered", "", "usage")
        return output.EXIT_USAGE


def main() -> None:
    """Console-script entry point: whatever happens, an exit code and no traceback.

    Without --json, Typer shows usage errors itself (exit 2). With --json, Click runs in
    non-standalone mode so that its usage errors come back here and become JSON too. Output
    is flushed here, not at interpreter exit, so that a reader gone away is an exit code
    rather than an "Exception ignored" message.
    """
    args = sys.argv[1:]
    json_out = _wants_json(args)
    try:
        code = _run(args, json_out)
        sys.stdout.flush()
    except BrokenPipeError:
        code = output.closed_pipe()
    except Exception as err:  # noqa: BLE001 - nothing may leave as a traceback
        code = _escaped(err, args, json_out)
    sys.exit(code)
