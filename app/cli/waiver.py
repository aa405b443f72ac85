"""``ledgerml waiver add|list``: approvers' signed waivers of failed validation runs."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)

app = typer.Typer(no_args_is_help=True)


@app.command("add")
@guarded
def add(
    ref: Annotated[str, typer.Argument(help="Snapshot: dataset@version or dataset (latest).")],
    suite: Annotated[str, typer.Option(help="The suite (by name) whose failed run is waived.")],
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why the failed input may be used (recorded).")
    ],
    expires: Annotated[str, typer.Option(help="Last day the waiver counts (YYYY-MM-DD, UTC).")],
    scope: Annotated[
        str, typer.Option(help="The stages it lets through, comma-separated: view, train.")
    ] = "view,train",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Waive the latest (failed) run of a suite on a snapshot, for some stages, until a date.

    Approvers only. The waiver names the run it waives: a later failure needs a new one.
    """
    from core.data import gates

    w = gates.waive(
        open_ws(workspace),
        actor_name(as_actor),
        ref,
        suite=suite,
        reason=reason,
        expires=expires,
        scope=[s.strip() for s in scope.split(",") if s.strip()],
    )
    if want_json(json_out):
        output.emit_json(w.to_json() | {"scope": list(w.scope)})
        return
    output.line(
        f"waiver #{w.seq}: run #{w.waives} of suite {w.suite!r} on {w.snapshot} may be used for "
        f"{', '.join(w.scope)} until {w.expires} (by {w.actor})"
    )


@app.command("list")
@guarded
def list_(
    ref: Annotated[str, typer.Argument(help="Snapshot: dataset@version or dataset (latest).")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The waivers recorded for a snapshot, oldest first (expired ones included)."""
    from core.data import gates

    found = gates.list_waivers(open_ws(workspace), ref, actor_name(as_actor))
    if want_json(json_out):
        output.emit_json([w.to_json() | {"scope": list(w.scope)} for w in found])
        return
    output.table(
        ["waiver", "run", "suite", "scope", "expires", "by", "reason"],
        [
            (f"#{w.seq}", f"#{w.waives}", w.suite, ",".join(w.scope), w.expires, w.actor, w.reason)
            for w in found
        ],
    )
