"""The ``ledgerml`` command line: ``ledgerml <noun> <verb>``, thin over ``core``.

Exit codes: 0 ok, 1 a gate or check said no, 2 usage or input error (and a busy workspace),
3 integrity failure (tampering, bad signature), 70 a bug in ledgerml (a crash report was
written), 141 stdout's reader went away. Heavy libraries are imported inside commands so that
``ledgerml --help`` stays fast.

Typer turns the signature of every registered command into a Click command before it parses
anything (about 40 ms of CPU for all of them), so :func:`main` registers only the section that
holds the command being run when the command line names one it knows (``ledgerml model list``
builds the model commands alone). Help without a command, an unknown command, or anything it
does not understand gets the whole tree, as ``app`` (what tests and embedders import) always is.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.cli import lazy_coercion, output
from app.cli.common import CLICK_EXCEPTION, GLOBALS, command_path, workspace_root

lazy_coercion.install()  # pydantic only for parameters that were given a value

if TYPE_CHECKING:
    app: typer.Typer  # built on first access, by __getattr__ below

# The sections of the command tree, in registration order (which `--help` follows): the
# top-level names each adds, its module, and how it registers (a function of the module that
# takes the root app, or the module's sub-app and its help text).
SECTIONS: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("init", "status", "rebuild", "tui"), "workspace", "register", ""),
    (("validate", "feature"), "data", "register", ""),
    (("waiver",), "waiver", "app", "Approvers' signed waivers of failed validation runs."),
    (
        ("policy",),
        "policy",
        "app",
        "Policies as code: install, list, show, test, check, decisions.",
    ),
    (("reveal",), "reveal", "register", ""),
    (("train", "model", "reproduce", "lineage"), "model", "register_commands", ""),
    (("evaluate",), "evaluate", "register", ""),
    (("approve", "approvals", "approval", "inventory", "registry"), "governance", "register", ""),
    (("actor",), "actor", "app", "Register actors and their roles."),
    (("key",), "key", "app", "Create, rotate and revoke signing keys (keyring or HSM)."),
    (("audit",), "audit", "app", "Read, verify, checkpoint and prove the ledger."),
    (("snapshot",), "snapshot", "app", "Immutable dataset versions with provenance."),
    (("report",), "report", "app", "Data sheets, model cards, impact assessments."),
    (("bundle",), "bundle", "app", "Export and verify audit bundles."),
    (("export",), "export", "register", ""),
    (("attest",), "attest", "app", "Sign files as in-toto statements; verify them."),
    (("config",), "config", "app", "Workspace settings: witness folders, encryption of PII."),
    (("backup", "restore"), "backup", "register", ""),
    (("finding", "breakglass", "exceptions", "alerts"), "findings", "register", ""),
    (("deploy", "deployments", "rollback", "withdraw", "throttle"), "deploy", "register", ""),
    (("pipeline",), "pipeline", "register", ""),
    (("score", "decision", "outcome"), "scoring", "register", ""),
    (("serve", "token"), "serve", "register", ""),
    (("monitor", "slo", "incident", "playbook"), "ops", "register", ""),
    (("data", "hold", "retention"), "privacy", "register", ""),
    (("remote", "clone", "sync"), "team", "register", ""),
)
# Options of the root callback that take a value, and its flags that do not end the search.
_VALUED = ("--workspace", "-w", "--as")
_FLAGS = ("--json", "--verbose")
_ATTACHED = ("--workspace=", "--as=")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(version("ledgerml"))
        except PackageNotFoundError:
            typer.echo("unknown")
        raise typer.Exit()


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


def build(command: str | None = None) -> typer.Typer:
    """The root app with every section, or only the section that adds ``command``."""
    root_app = typer.Typer(
        name="ledgerml",
        help="An offline audit workstation for machine learning: every dataset, model, signature "
        "and approval becomes evidence an auditor can verify.\n\n"
        "Start with `ledgerml init`, then `ledgerml status`.\n\n"
        "Exit codes: 0 ok, 1 a gate or check said no, 2 usage or input error (also a busy "
        "workspace), 3 integrity failure, 70 a bug in ledgerml (one line names its crash "
        "report), 141 the reader of the output went away.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode="markdown",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    root_app.callback()(root)
    for names, module_name, attr, help_text in SECTIONS:
        if command is not None and command not in names:
            continue
        module = importlib.import_module(f"app.cli.{module_name}")
        if help_text:
            root_app.add_typer(getattr(module, attr), name=names[0], help=help_text)
        else:
            getattr(module, attr)(root_app)
    return root_app


def command_named(argv: Sequence[str]) -> str | None:
    """The top-level command ``argv`` runs, if its root options are plain enough to tell.

    None (build everything) for no command, ``--help``, ``--version``, ``--``, an option this
    does not know, or an unknown name, so Click's own help and errors see the whole tree.
    """
    known = {name for names, *_ in SECTIONS for name in names}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _VALUED:
            i += 2
        elif arg in _FLAGS or arg.startswith(_ATTACHED) or (arg.startswith("-w") and arg != "-w"):
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return arg if arg in known else None
    return None


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole tree, built once
        full = build()
        globals()["app"] = full
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _run(cli: typer.Typer, args: list[str], json_out: bool) -> int:
    if not json_out:
        try:
            cli(prog_name="ledgerml")  # Typer shows usage errors itself, and exits
        except SystemExit as done:
            return _exit_code(done.code)
        return output.EXIT_OK
    # Rich help prints itself while an error is being built (a command group given no
    # command); plain help is only text, which keeps stdout one JSON document.
    cli.rich_markup_mode = None
    try:
        return _exit_code(cli(args=args, prog_name="ledgerml", standalone_mode=False))
    except CLICK_EXCEPTION as err:
        return _usage_json(err)
    except typer.Abort:
        output.error_json("Aborted", "input ended before a prompt was answered", "", "usage")
        return output.EXIT_USAGE


def main() -> None:
    """Console-script entry point: whatever happens, an exit code and no traceback.

    Only the section of the command being run is built (see the module docstring).

    Without --json, Typer shows usage errors itself (exit 2). With --json, Click runs in
    non-standalone mode so that its usage errors come back here and become JSON too. Output
    is flushed here, not at interpreter exit, so that a reader gone away is an exit code
    rather than an "Exception ignored" message.
    """
    args = sys.argv[1:]
    json_out = _wants_json(args)
    try:
        code = _run(build(command_named(args)), args, json_out)
        sys.stdout.flush()
    except BrokenPipeError:
        code = output.closed_pipe()
    except Exception as err:  # noqa: BLE001 - nothing may leave as a traceback
        code = _escaped(err, args, json_out)
    sys.exit(code)
