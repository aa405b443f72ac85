"""``ledgerml actor add|list|show|grant|revoke-role|suspend|resume|remove``."""

from __future__ import annotations

from pathlib import Path
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
from core.identity.keys.backends import backend_help

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
    key_request: Annotated[
        Path | None,
        typer.Option(
            "--key-request",
            help="The new actor's key request, made on their own OS account with "
            "`ledgerml key generate --out FILE`: their secret then never leaves that account. "
            "Without it a key is made here, and whoever can use this account's keyring (or "
            "knows the passphrase) can act as them.",
        ),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="Where to make the key when no --key-request: " + backend_help())
    ] = "keyring",
    service: Annotated[
        bool,
        typer.Option(
            "--service",
            help="A non-human actor (a scoring service, a CI pipeline) with its own key.",
        ),
    ] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Mark as a demonstration identity: no assurance.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Register an actor with roles and their own key, certified by the organisation key.

    Needs the admin role and the organisation key's secret (its keyring entry, token PIN or
    passphrase, given through LEDGERML_SECRET_FILE or at the prompt).
    """
    from core.identity import actors

    row, created = actors.add(
        open_ws(workspace),
        actor_name(as_actor),
        name,
        role,
        reason,
        backend=backend,
        key_request=key_request,
        kind="service" if service else "person",
        demo=demo,
    )
    if want_json(json_out):
        output.emit_json({**row.as_dict(), "created": created})
    elif created:
        output.line(f"added actor {row.name} with roles {', '.join(row.roles)}")
    else:
        output.line(
            f"actor {row.name} already exists with roles {', '.join(row.roles)}; nothing changed"
        )


def _change(
    change: str,
    name: str,
    reason: str,
    role: str | None,
    workspace: Path | None,
    who: str | None,
    json_out: bool,
) -> None:
    from core.identity import actors

    row = actors.change(open_ws(workspace), actor_name(who), name, change, reason, role)
    if want_json(json_out):
        output.emit_json(row.as_dict())
    else:
        output.line(f"{row.name}: {row.status}, roles {', '.join(row.roles) or 'none'}")


NameArg = Annotated[str, typer.Argument(help="The actor's name.")]
NeedReason = Annotated[str, typer.Option("--reason", "-r", help="Why (required, recorded).")]
RoleOpt = Annotated[str, typer.Option("--role", help=ROLES_HELP)]


@app.command("grant")
@guarded
def grant(
    name: NameArg,
    role: RoleOpt,
    reason: NeedReason,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Grant a role to an actor (admins)."""
    _change("grant", name, reason, role, workspace, as_actor, json_out)


@app.command("revoke-role")
@guarded
def revoke_role(
    name: NameArg,
    role: RoleOpt,
    reason: NeedReason,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take a role from an actor (admins); what they did with it stays valid."""
    _change("revoke-role", name, reason, role, workspace, as_actor, json_out)


@app.command("suspend")
@guarded
def suspend(
    name: NameArg,
    reason: NeedReason,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Suspend an actor: they may do nothing until resumed (admins)."""
    _change("suspend", name, reason, None, workspace, as_actor, json_out)


@app.command("resume")
@guarded
def resume(
    name: NameArg,
    reason: NeedReason,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Let a suspended actor act again (admins)."""
    _change("resume", name, reason, None, workspace, as_actor, json_out)


@app.command("remove")
@guarded
def remove(
    name: NameArg,
    reason: NeedReason,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Offboard an actor for good: they never act again; their past stays theirs (admins)."""
    _change("remove", name, reason, None, workspace, as_actor, json_out)


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
        ["name", "roles", "status", "added at", "by"],
        [
            (
                r.name
                + (" (service)" if r.kind == "service" else "")
                + (" [demo]" if r.demo else ""),
                ", ".join(r.roles),
                r.status,
                r.created_at,
                r.created_by,
            )
            for r in rows
        ],
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
