"""``ledgerml reveal``: a PII column's top values, for a steward or auditor, recorded first."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli import output
from app.cli.common import ActorOpt, JsonOpt, WorkspaceOpt, actor_name, guarded, open_ws, want_json


@guarded
def reveal(
    ref: Annotated[str, typer.Argument(help="Snapshot: dataset@version or dataset (latest).")],
    column: Annotated[str, typer.Argument(help="A column the snapshot tags PII.")],
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why you need to see the values (recorded).")
    ],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a PII column's top values: data stewards and auditors only, recorded before shown.

    Profiles, data sheets and bundles never show values of PII columns; this is the one
    exception, and the `data.reveal` event says who looked at what, and why.
    """
    from core.data import reveal as reveal_mod

    shown = reveal_mod.reveal(open_ws(workspace), actor_name(as_actor), ref, column, reason=reason)
    if want_json(json_out):
        output.emit_json(
            {
                "event": shown.seq,
                "snapshot": shown.snapshot,
                "column": shown.column,
                "values": [list(v) for v in shown.values],
            }
        )
        return
    output.table(
        ["value", "rows"],
        [(output.value_text(v), n) for v, n in shown.values],
        title=f"{shown.snapshot} {shown.column}: top values (reveal recorded as #{shown.seq})",
    )


def register(app: typer.Typer) -> None:
    """Add ``reveal`` to the root app."""
    app.command("reveal")(reveal)
