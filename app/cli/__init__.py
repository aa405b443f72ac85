"""The ``ledgerml`` command line: ``ledgerml <noun> <verb>``, thin over ``core``.

Exit codes: 0 ok, 1 a gate or check said no, 2 usage or input error (and a busy workspace),
3 integrity failure (tampering, bad signature). Heavy libraries are imported inside commands
so that ``ledgerml --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import (
    actor,
    attest,
    audit,
    bundle,
    data,
    key,
    lazy_coercion,
    model,
    report,
    snapshot,
    workspace,
)
from app.cli.common import GLOBALS

lazy_coercion.install()  # pydantic only for parameters that were given a value

app = typer.Typer(
    name="ledgerml",
    help="An offline audit workstation for machine learning: every dataset, model, signature "
    "and approval becomes evidence an auditor can verify.\n\n"
    "Start with `ledgerml init`, then `ledgerml status`.",
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


def main() -> None:
    """Console-script entry point."""
    app()
