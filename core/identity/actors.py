"""Actors and roles: who may do what.

The acting actor comes from ``--as``, then ``LEDGERML_ACTOR``, then the OS user. Every action
checks the actor is registered and holds a role the action needs; a refusal names that role.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable

from core.identity.events import ActorAdded
from core.kernel import command
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import ActorRow
from core.kernel.workspace import Session, Workspace

ROLES = (
    "admin",
    "data-steward",
    "data-scientist",
    "validator",
    "approver",
    "operator",
    "auditor",
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def acting_actor(explicit: str | None = None) -> str:
    """Who is acting: ``explicit``, else ``LEDGERML_ACTOR``, else the OS user."""
    if explicit:
        return explicit
    env = os.environ.get("LEDGERML_ACTOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def check_name(name: str) -> str:
    """Validate an actor name (lowercase letters, digits, ``.``, ``_``, ``-``)."""
    if not _NAME.match(name):
        raise UsageError(
            f"invalid actor name {name!r}",
            hint="Use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a "
            "letter or digit.",
        )
    return name


def check_roles(roles: list[str]) -> list[str]:
    """Validate role names; return them sorted and without repeats."""
    if not roles:
        raise UsageError("give at least one --role", hint=f"Roles: {', '.join(ROLES)}.")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise UsageError(f"unknown role {unknown[0]!r}", hint=f"Roles are: {', '.join(ROLES)}.")
    return sorted(set(roles))


def require(session: Session, *roles: str, action: str) -> ActorRow:
    """The acting actor's record, if it holds one of ``roles``.

    Raises:
        PermissionDeniedError: if the actor is unknown or lacks every role given.
    """
    row = session.catalog.actor(session.actor)
    if row is None:
        raise PermissionDeniedError(
            f"unknown actor {session.actor!r}: only registered actors may {action}",
            hint="Act as a registered actor with --as or LEDGERML_ACTOR, or ask an admin to "
            f"run `ledgerml actor add {session.actor} --role …`.",
        )
    if roles and not set(roles) & set(row.roles):
        need = " or ".join(repr(r) for r in roles)
        raise PermissionDeniedError(
            f"actor {row.name!r} lacks the role {need} needed to {action}",
            hint=f"{row.name} has: {', '.join(row.roles)}. Ask an admin to grant the role.",
        )
    return row


def needs(*roles: str, action: str) -> Callable[[Session], ActorRow]:
    """A command guard (see :mod:`core.kernel.command`): :func:`require` these roles."""

    def guard(session: Session) -> ActorRow:
        return require(session, *roles, action=action)

    return guard


def add(
    ws: Workspace, actor: str, name: str, roles: list[str], reason: str = ""
) -> tuple[ActorRow, bool]:
    """Register an actor with roles (admin only).

    Adding an actor that already exists with the same roles changes nothing, so a retried
    command is harmless.

    Returns:
        The actor's record and whether this call created it.

    Raises:
        PermissionDeniedError: if the acting actor is not an admin.
        UsageError: for a bad name or role, or an existing actor with other roles.
    """
    name = check_name(name)
    wanted = check_roles(roles)

    def commit(s: Session, _: None) -> tuple[ActorRow, bool]:
        existing = s.catalog.actor(name)
        if existing is not None:
            if sorted(existing.roles) == wanted:
                return existing, False
            raise UsageError(
                f"actor {name!r} already exists with roles {', '.join(existing.roles)}",
                hint="Roles are fixed once recorded in this version; add a new actor instead.",
            )
        s.commit(new_event(actor, ActorAdded(name, wanted), [f"actor:{name}"], reason))
        row = s.catalog.actor(name)
        assert row is not None
        return row, True

    return command.run(ws, actor, guards=[needs("admin", action="add actors")], commit=commit)


def list_actors(ws: Workspace, actor: str = "") -> list[ActorRow]:
    """All registered actors."""
    with ws.session(actor) as s:
        return s.catalog.actors()


def show(ws: Workspace, name: str, actor: str = "") -> ActorRow:
    """One actor by name; raises NotFoundError for an unknown name."""
    with ws.session(actor) as s:
        row = s.catalog.actor(name)
    if row is None:
        raise NotFoundError(f"no actor named {name!r}", hint="`ledgerml actor list` shows them.")
    return row
