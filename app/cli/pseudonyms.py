"""``ledgerml data relink`` and ``ledgerml data pseudonym-key rotate|list``.

Pseudonyms are made at ingest (``snapshot add --pseudonymize``); these commands manage the
key they are made under and re-link one value, as a recorded action.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)

key_app = typer.Typer(
    no_args_is_help=True,
    help="The workspace's pseudonym key: versions in the OS keyring, check values in the ledger.",
)


@guarded
def relink(
    ref: Annotated[str, typer.Argument(help="Snapshot: dataset@version or dataset (latest).")],
    column: Annotated[str, typer.Option("--column", help="A column it pseudonymised.")],
    value: Annotated[
        str,
        typer.Option(
            "--value",
            help="The plain value, as text (a CSV value as written in the file). Never "
            "recorded; it may stay in your shell history, so prefer --value-file.",
        ),
    ] = "",
    value_file: Annotated[
        typer.FileText | None,
        typer.Option(
            "--value-file", help="Read the value from this file's first line ('-': stdin)."
        ),
    ] = None,
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            "-r",
            help="Why the value must be re-linked (recorded; must not quote the value).",
        ),
    ] = "",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Compute a value's pseudonym in a column and count the rows that hold it.

    An audited action: a signed data.access event (purpose relink, the column, your reason;
    never the value) is recorded before any row is read, and only actors who may read the
    data (data stewards, data scientists, validators, auditors, admins) may do it.
    """
    from core.data import pseudonyms
    from core.kernel.errors import UsageError

    if value_file is not None:
        if value:
            raise UsageError("give the value once: --value or --value-file")
        value = value_file.readline().rstrip("\r\n")
    if not value:
        raise UsageError("give the value to re-link with --value or --value-file")
    found = pseudonyms.relink(
        open_ws(workspace), actor_name(as_actor), ref, column, value, reason=reason
    )
    if want_json(json_out):
        output.emit_json(
            {
                "event": found.seq,
                "snapshot": found.snapshot,
                "column": found.column,
                "key_version": found.version,
                "pseudonym": found.pseudonym,
                "rows": found.rows,
            }
        )
        return
    output.fields(
        [
            ("snapshot", found.snapshot),
            ("column", f"{found.column} (pseudonym key v{found.version})"),
            ("pseudonym", found.pseudonym),
            ("matching rows", found.rows),
            ("recorded", f"data.access event #{found.seq} (the value is not recorded)"),
        ]
    )


@key_app.command("rotate")
@guarded
def rotate(
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Make the next version of the pseudonym key (the first one too).

    New pseudonymised snapshots use it; older ones keep theirs, so their pseudonyms do not
    link to the new ones. The key is stored in this account's OS keyring; the ledger records
    its version and check value only. Data stewards and admins.
    """
    from core.data import pseudonyms

    made = pseudonyms.rotate(open_ws(workspace), actor_name(as_actor), reason=reason)
    if want_json(json_out):
        output.emit_json({"version": made.version, "check": made.check, "event": made.seq})
        return
    output.line(f"pseudonym key v{made.version} made (check {made.check}, event #{made.seq})")


@key_app.command("list")
@guarded
def list_(
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the pseudonym key versions the ledger records (newest last: the one in use)."""
    from core.data import pseudonyms

    ws = open_ws(workspace)
    with ws.session(actor_name(as_actor)) as s:
        known = pseudonyms.versions(s.catalog)
    if want_json(json_out):
        output.emit_json(
            [
                {
                    "version": v.version,
                    "check": v.check,
                    "event": v.seq,
                    "created_at": v.created_at,
                    "created_by": v.created_by,
                }
                for v in known
            ]
        )
        return
    output.table(
        ["version", "check", "event", "made", "by"],
        [(v.version, v.check, v.seq, v.created_at[:19], v.created_by) for v in known],
    )


def register(data_app: typer.Typer) -> None:
    """Add ``relink`` and ``pseudonym-key`` to ``ledgerml data``."""
    data_app.command("relink")(relink)
    data_app.add_typer(key_app, name="pseudonym-key")
