"""Actors and roles: who may do what, and proof that the one acting is who they claim.

The acting actor is *claimed* by ``--as``, then ``LEDGERML_ACTOR``, then the OS user. Every
action's guard (:func:`needs`) then checks the claim against the ledger, never the catalog:
the actor must be registered and active and hold a role the action needs (a refusal names
that role), and this process must prove it holds the actor's secret
(:func:`core.identity.signer.prove`), whose key then signs the event.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable
from pathlib import Path

from core.identity.events import ADMIN, ActorAdded, ActorStatus, RoleChanged
from core.kernel import command
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.events import Event
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
    "data-owner",
    "security",
    "compliance",
    "consumer",
)
"""``consumer``: a caller of a deployed model's scoring service (outputs only)."""
KINDS = ("person", "service")
"""A service is a non-human actor (a scoring service, a CI pipeline) with its own key."""
CHANGES = ("grant", "revoke-role", "suspend", "resume", "remove")
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
    """The acting actor's record, if the ledger says it is active and holds one of ``roles``.

    Roles and status come from the signed ledger (:func:`core.identity.signer.authority_of`),
    so a hand-edited catalog grants nothing; the returned row carries the ledger's roles.

    Raises:
        PermissionDeniedError: if the actor is unknown, not active, or lacks every role given.
    """
    from core.identity.signer import authority_of

    state = authority_of(session).current(session.actor)
    if state is None:
        raise PermissionDeniedError(
            f"unknown actor {session.actor!r}: only registered actors may {action}",
            hint="Act as a registered actor with --as or LEDGERML_ACTOR, or ask an admin to "
            f"run `ledgerml actor add {session.actor} --role …`.",
        )
    if state.status != "active":
        raise PermissionDeniedError(
            f"actor {session.actor!r} is {state.status} and may not {action}",
            hint="An admin can resume a suspended actor (`ledgerml actor resume`).",
        )
    if roles and not set(roles) & set(state.roles):
        need = " or ".join(repr(r) for r in roles)
        raise PermissionDeniedError(
            f"actor {session.actor!r} lacks the role {need} needed to {action}",
            hint=f"{session.actor} has: {', '.join(state.roles) or 'no role'}. Ask an admin "
            "to grant the role.",
        )
    row = session.catalog.actor(session.actor)
    return ActorRow(
        name=session.actor,
        roles=list(state.roles),
        created_seq=row.created_seq if row else 0,
        created_at=row.created_at if row else "",
        created_by=row.created_by if row else "",
        updated_seq=state.seq,
        status=state.status,
        kind=state.kind,
        demo=state.demo,
    )


def needs(*roles: str, action: str) -> Callable[[Session], ActorRow]:
    """A command guard (see :mod:`core.kernel.command`): roles, then proof of the secret.

    The actor must hold one of ``roles`` and this process must hold their secret; the
    session can then sign as them.
    """

    def guard(session: Session) -> ActorRow:
        from core.identity.signer import authority_of, prove

        row = require(session, *roles, action=action)
        prove(session, authority_of(session))
        return row

    return guard


def add(
    ws: Workspace,
    actor: str,
    name: str,
    roles: list[str],
    reason: str = "",
    *,
    backend: str = "keyring",
    key_request: Path | None = None,
    kind: str = "person",
    demo: bool = False,
    algorithm: str = "ecdsa-p256",
) -> tuple[ActorRow, bool]:
    """Register an actor with roles and their own key, certified by the organisation key.

    The key is the one in ``key_request`` (made by the new actor on their own OS account with
    ``ledgerml key generate``: the only way the admin never holds it), else a new key made
    here in ``backend``: then whoever can use this account's keyring (or knows the
    passphrase) can act as the new actor, which is fine for a demonstration or a service
    account and nothing more. Adding an actor that already exists with the same roles
    changes nothing, so a retried command is harmless.

    Returns:
        The actor's record and whether this call created it.

    Raises:
        PermissionDeniedError: if the acting actor is not an admin.
        UsageError: for a bad name, role or kind, or an existing actor with other roles.
    """
    from core.identity.keys import generate_record
    from core.identity.keys.lifecycle import key_event, request_record
    from core.identity.signer import authority_of, certify

    name = check_name(name)
    wanted = check_roles(roles)
    if kind not in KINDS:
        raise UsageError(f"unknown actor kind {kind!r}", hint=f"Kinds: {', '.join(KINDS)}.")
    requested = request_record(key_request, owner=name) if key_request else None

    def commit(s: Session, _: None) -> tuple[ActorRow, bool]:
        auth = authority_of(s)
        existing = auth.current(name)
        if existing is not None:
            row = s.catalog.actor(name)
            if sorted(existing.roles) == wanted and row is not None:
                return row, False
            raise UsageError(
                f"actor {name!r} already exists with roles {', '.join(existing.roles)}",
                hint="Change roles with `ledgerml actor grant` / `actor revoke-role`.",
            )
        record = requested or s.once(
            "key",
            lambda: generate_record(
                backend, algorithm, owner=name, purpose="actor", label=f"{name}-{backend}"
            ),
        )
        record = certify(s, auth, record)
        payload = ActorAdded(name, wanted, record, kind, demo or None)
        s.commit(key_event(s, actor, payload, [f"actor:{name}", f"key:{record.key_id}"], reason))
        row = s.catalog.actor(name)
        assert row is not None
        return row, True

    return command.run(ws, actor, guards=[needs(*ADMIN, action="add actors")], commit=commit)


def change(
    ws: Workspace, actor: str, name: str, change: str, reason: str, role: str | None = None
) -> ActorRow:
    """Grant or revoke a role, or suspend, resume or remove an actor (admins; needs a reason).

    ``change`` is one of :data:`CHANGES`. Removing is offboarding: the actor never acts again,
    and what they did stays theirs. An admin may not remove or suspend themselves, nor take
    their own admin role, so a workspace always keeps the admin who did it.

    Raises:
        UsageError: for an unknown change, actor or role, a change that changes nothing, or
            no reason.
    """
    from core.identity.signer import authority_of

    if change not in CHANGES:
        raise UsageError(f"unknown change {change!r}", hint=f"Changes: {', '.join(CHANGES)}.")
    if not reason.strip():
        raise UsageError(f"to {change} needs a --reason", hint="Say why, for the record.")
    if change in ("grant", "revoke-role"):
        if role is None:
            raise UsageError(f"{change} needs a --role")
        check_roles([role])

    def commit(s: Session, _: None) -> ActorRow:
        state = authority_of(s).current(name)
        if state is None:
            raise NotFoundError(f"no actor named {name!r}", hint="`ledgerml actor list`.")
        if state.status == "removed":
            raise UsageError(f"actor {name!r} was removed; removal is final")
        if name == s.actor and (
            change in ("suspend", "remove") or (change == "revoke-role" and role == "admin")
        ):
            raise UsageError(f"an admin may not {change} themselves", hint="Ask another admin.")
        payload: RoleChanged | ActorStatus
        if change == "grant":
            if role in state.roles:
                raise UsageError(f"{name} already holds the role {role!r}")
            payload, action = RoleChanged(name, str(role)), "role.grant"
        elif change == "revoke-role":
            if role not in state.roles:
                raise UsageError(f"{name} does not hold the role {role!r}")
            payload, action = RoleChanged(name, str(role)), "role.revoke"
        else:
            wanted = {"suspend": "suspended", "resume": "active", "remove": "removed"}[change]
            if state.status == wanted:
                raise UsageError(f"actor {name!r} is already {wanted}")
            payload, action = ActorStatus(name), f"actor.{change}"
        s.commit(Event(actor, action, [f"actor:{name}"], payload.to_data(), reason))
        row = s.catalog.actor(name)
        assert row is not None
        return row

    return command.run(ws, actor, guards=[needs(*ADMIN, action=f"{change} actors")], commit=commit)


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
