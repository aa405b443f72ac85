"""``ledgerml actor add|list|show``."""

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

app = typer.Typer(no_args_is_help=True)
ROLES_HELP = (
    "admin, data-steward, data-scientist, validator, approver, operator, auditor; "
    "repeat for several."
)


@app.command("add")
@guarded
def add(
    name: Annotated[str, typer.Argument(help="The new actor's name.")],
    role: Annotated[list[str], typer.Option("--role", help=ROLES_HELP)],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Register an actor with one or more roles (needs the admin role)."""
    from core.identity import actors

    row, created = actors.add(open_ws(workspace), actor_name(as_actor), name, role, reason)
    if want_json(json_out):
        output.emit_json({**row.as_dict(), "created": created})
    elif created:
        output.line(f"added actor {row.name} with roles {', '.join(row.roles)}")
    else:
        output.line(
            f"actor {row.name} already exists with roles {', '.join(row.roles)}; nothing changed"
        )


@app.command("list")
@guarded
def list_(
    workspace: WorkspaceOpt = None, as_actor: ActorOpt = None, json_out: JsonOpt = False
) -> None:
    """List actors and their roles."""
    from core.identity import actors

    rows = actors.list_actors(open_ws(workspace), actor_name(as_actor))
    if want_json(json_out):
        output.emit_json([r.as_dict() for r in rows])
        return
    output.table(
        ["name", "roles", "added at", "by"],
        [(r.name, ", ".join(r.roles), r.created_at, r.created_by) for r in rows],
    )


@app.command("show")
@guarded
def show(
    name: Annotated[str, typer.Argument(help="Actor name.")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one actor, its roles and its keys."""
    from core.identity import actors, keys

    ws = open_ws(workspace)
    row = actors.show(ws, name, actor_name(as_actor))
    owned = keys.list_keys(ws, actor_name(as_actor), owner=name)
    if want_json(json_out):
        output.emit_json({**row.as_dict(), "keys": [k.as_dict() for k in owned]})
        return
    output.fields(
        [
            ("name", row.name),
            ("roles", ", ".join(row.roles)),
            ("added", f"{row.created_at} by {row.created_by} (event #{row.created_seq})"),
            ("keys", ", ".join(f"{k.key_id[:16]} {k.label} [{k.status}]" for k in owned) or "none"),
        ]
    )
