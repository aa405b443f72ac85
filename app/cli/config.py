"""``ledgerml config witness add|remove|list``, ``config encrypt-pii``: settings in config.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import output
from app.cli.common import ActorOpt, JsonOpt, WorkspaceOpt, actor_name, guarded, open_ws, want_json

WITNESS_HELP = (
    "Witness folders receive a copy of every signed checkpoint "
    "(`FOLDER/WORKSPACE_ID/SIZE.json`), and `ledgerml audit verify` checks every copy they "
    "hold: a witness checkpoint larger than the ledger is a rollback (exit 3). A witness "
    "protects only if this workspace's writers cannot change it: another account's "
    "append-only share, WORM storage, a copy in another person's custody. Without one, a "
    "truncation or rollback of the ledger by someone who can write to the workspace is "
    "undetectable."
)

app = typer.Typer(no_args_is_help=True)
witness_app = typer.Typer(no_args_is_help=True, help=WITNESS_HELP)
app.add_typer(witness_app, name="witness")


def warn(problems: list[str]) -> None:
    """Each witness problem as a warning on stderr (they never fail the command)."""
    for problem in problems:
        output.note(f"[yellow]warning[/yellow] {problem}")


@witness_app.command("add")
@guarded
def add(
    folder: Annotated[Path, typer.Argument(help="An existing folder outside the workspace.")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a witness folder (admins) and copy the existing checkpoints into it."""
    from core.audit import witnesses

    current, problems = witnesses.add(open_ws(workspace), actor_name(as_actor), folder)
    warn(problems)
    if want_json(json_out):
        output.emit_json({"witnesses": [str(p) for p in current], "problems": problems})
        return
    output.line(f"witnesses: {', '.join(str(p) for p in current)}")


@witness_app.command("remove")
@guarded
def remove(
    folder: Annotated[Path, typer.Argument(help="A folder `config witness list` shows.")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Stop copying checkpoints to a witness (admins); the copies it holds stay there."""
    from core.audit import witnesses

    current = witnesses.remove(open_ws(workspace), actor_name(as_actor), folder)
    if want_json(json_out):
        output.emit_json({"witnesses": [str(p) for p in current]})
        return
    output.line(f"witnesses: {', '.join(str(p) for p in current) or 'none'}")
    if not current:
        output.note(
            "[yellow]note[/yellow] no witness is left: a rollback of this ledger by someone "
            "who can write to the workspace is now undetectable"
        )


@witness_app.command("list")
@guarded
def list_(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List the witness folders, whether each is reachable, and how many checkpoints it holds."""
    from core.audit import witnesses

    states = witnesses.survey(open_ws(workspace))
    if want_json(json_out):
        output.emit_json([vars(s) for s in states])
        return
    if not states:
        output.note("no witness: add one with `ledgerml config witness add FOLDER` (see --help)")
        return
    output.table(["witness", "state"], [(s.location, s.summary()) for s in states])


@app.command("encrypt-pii")
@guarded
def encrypt_pii(
    state: Annotated[str, typer.Argument(help="on or off.")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Encrypt snapshots with --pii columns at rest by default (admins).

    With it on, `snapshot add --pii ...` and feature views with PII columns encrypt their
    copies as if --encrypt were given; an explicit --no-encrypt is obeyed with a warning.
    Each snapshot's own event records whether it was encrypted.
    """
    from core.data import encryption
    from core.kernel.errors import UsageError

    if state not in ("on", "off"):
        raise UsageError(f"encrypt-pii takes on or off, not {state!r}")
    value = encryption.set_encrypt_pii(open_ws(workspace), actor_name(as_actor), state == "on")
    if want_json(json_out):
        output.emit_json({"encrypt_pii": value})
        return
    output.line(f"encrypt PII-tagged snapshots by default: {'on' if value else 'off'}")
