"""The identity context's event kinds: the workspace's founding, actors, keys, attestations.

Each kind is declared once here: its action, its typed payload (whose ``to_data`` is exactly
the ``data`` the ledger holds) and the projector handler that folds it into the catalog.
Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, P, Payload, declare, event_kind
from core.kernel.rows import ActorRow, KeyRow


@dataclass(frozen=True)
class KeyRecord(Payload):
    """A key's public description, as the ledger records it (the private half stays put)."""

    key_id: str
    actor: str
    purpose: str
    backend: str
    algorithm: str
    label: str
    handle: str
    public_key_digest: str
    public_pem: str
    certificate: dict[str, Any] | None = None
    """The organisation key's signed statement that this key is the actor's (format 2)."""


@dataclass(frozen=True)
class WorkspaceInit(Payload):
    """The first event: the workspace, its founding admin and its organisation key.

    ``key`` is the organisation key (purpose ``organisation``; ``workspace`` in format 1,
    where it also signed checkpoints); ``founder_key`` is the founder's own key, which signs
    this event and is certified by the organisation key.
    """

    workspace_id: str
    founder: str
    roles: list[str]
    key: KeyRecord
    founder_key: KeyRecord | None = None
    demo: bool | None = None


@dataclass(frozen=True)
class ActorAdded(Payload):
    """An actor registered with roles and (format 2) their own certified key.

    ``kind`` is ``person`` or ``service``; ``demo`` marks identities made up for a
    demonstration, whose keys all live in one OS account and so prove nothing.
    """

    name: str
    roles: list[str]
    key: KeyRecord | None = None
    kind: str | None = None
    demo: bool | None = None


@dataclass(frozen=True)
class RoleChanged(Payload):
    """A role granted to or revoked from an actor."""

    name: str
    role: str


@dataclass(frozen=True)
class ActorStatus(Payload):
    """An actor suspended, resumed or removed (offboarding); the reason says why."""

    name: str


@dataclass(frozen=True)
class KeyCreated(Payload):
    """A new signing key of an actor."""

    key: KeyRecord


@dataclass(frozen=True)
class KeyRotated(Payload):
    """A new key replacing an active one, which stops signing."""

    key: KeyRecord
    old_key_id: str


@dataclass(frozen=True)
class KeyRevoked(Payload):
    """A key that never signs again (the event's reason says why).

    ``compromised_since`` (a UTC time) marks the key as compromised from then on: what it
    signed at or after that time is untrusted even if recorded before this event. Without
    it the key is retired, and everything it signed before this event stays valid.
    """

    key_id: str
    compromised_since: str | None = None


@dataclass(frozen=True)
class AttestationCreated(Payload):
    """A signed in-toto statement about a stored file (the envelope is a blob)."""

    envelope: str
    key_id: str
    predicate_type: str


def _put_key(cat: Catalog, seq: int, body: Body, key: KeyRecord) -> None:
    cat.put(
        KeyRow(
            key_id=key.key_id,
            actor=key.actor,
            purpose=key.purpose,
            backend=key.backend,
            algorithm=key.algorithm,
            label=key.label,
            handle=key.handle,
            public_key_digest=key.public_key_digest,
            public_pem=key.public_pem,
            certified=key.certificate is not None,
            status="active",
            created_seq=seq,
            created_at=body["ts"],
        )
    )


def _put_actor(
    cat: Catalog,
    seq: int,
    body: Body,
    name: str,
    roles: list[str],
    *,
    status: str | None = None,
    kind: str | None = None,
    demo: bool | None = None,
) -> None:
    existing = cat.actor(name)
    cat.put(
        ActorRow(
            name=name,
            roles=sorted(roles),
            created_seq=existing.created_seq if existing else seq,
            created_at=existing.created_at if existing else body["ts"],
            created_by=existing.created_by if existing else body["actor"],
            updated_seq=seq,
            status=status or (existing.status if existing else "active"),
            kind=kind or (existing.kind if existing else "person"),
            demo=bool(demo) if demo is not None else (existing.demo if existing else False),
        )
    )


def _set_status(
    cat: Catalog, seq: int, body: Body, key_id: str, status: str, replaced_by: str | None
) -> None:
    row = cat.key(key_id)
    if row is None:  # verify reports this; the projector does not invent keys
        return
    row.status = status
    row.status_seq = seq
    row.status_at = body["ts"]
    row.status_reason = body["reason"]
    row.replaced_by = replaced_by
    cat.put(row)


ADMIN = ("admin",)
"""Who may change actors and roles."""


def _identity(
    action: str, payload: type[P], tables: tuple[str, ...], roles: tuple[str, ...] = ()
) -> Callable[[Callable[[Catalog, int, Body, P], None]], Callable[[Catalog, int, Body, P], None]]:
    """Declare an identity kind: always in bundles, an authority event."""
    return event_kind(
        action, payload, tables=tables, in_every_bundle=True, roles=roles, authority=True
    )


@_identity("workspace.init", WorkspaceInit, ("actors", "keys"))
def _workspace_init(cat: Catalog, seq: int, body: Body, data: WorkspaceInit) -> None:
    _put_actor(cat, seq, body, data.founder, data.roles, demo=data.demo)
    _put_key(cat, seq, body, data.key)
    if data.founder_key is not None:
        _put_key(cat, seq, body, data.founder_key)


@_identity("actor.add", ActorAdded, ("actors", "keys"), ADMIN)
def _actor_add(cat: Catalog, seq: int, body: Body, data: ActorAdded) -> None:
    _put_actor(cat, seq, body, data.name, data.roles, kind=data.kind, demo=data.demo)
    if data.key is not None:
        _put_key(cat, seq, body, data.key)


def _change_roles(cat: Catalog, seq: int, body: Body, name: str, roles: set[str]) -> None:
    row = cat.actor(name)
    if row is not None:  # verify reports an unknown actor; the projector invents none
        _put_actor(cat, seq, body, name, sorted(roles))


@_identity("role.grant", RoleChanged, ("actors",), ADMIN)
def _role_grant(cat: Catalog, seq: int, body: Body, data: RoleChanged) -> None:
    row = cat.actor(data.name)
    _change_roles(cat, seq, body, data.name, set(row.roles if row else []) | {data.role})


@_identity("role.revoke", RoleChanged, ("actors",), ADMIN)
def _role_revoke(cat: Catalog, seq: int, body: Body, data: RoleChanged) -> None:
    row = cat.actor(data.name)
    _change_roles(cat, seq, body, data.name, set(row.roles if row else []) - {data.role})


def _actor_status(status: str) -> Callable[[Catalog, int, Body, ActorStatus], None]:
    def handler(cat: Catalog, seq: int, body: Body, data: ActorStatus) -> None:
        row = cat.actor(data.name)
        if row is not None:
            _put_actor(cat, seq, body, data.name, row.roles, status=status)

    return handler


_identity("actor.suspend", ActorStatus, ("actors",), ADMIN)(_actor_status("suspended"))
_identity("actor.resume", ActorStatus, ("actors",), ADMIN)(_actor_status("active"))
_identity("actor.remove", ActorStatus, ("actors",), ADMIN)(_actor_status("removed"))


@_identity("key.create", KeyCreated, ("keys",))
def _key_create(cat: Catalog, seq: int, body: Body, data: KeyCreated) -> None:
    _put_key(cat, seq, body, data.key)


@_identity("key.rotate", KeyRotated, ("keys",))
def _key_rotate(cat: Catalog, seq: int, body: Body, data: KeyRotated) -> None:
    _put_key(cat, seq, body, data.key)
    _set_status(cat, seq, body, data.old_key_id, "rotated", data.key.key_id)


@_identity("key.revoke", KeyRevoked, ("keys",))
def _key_revoke(cat: Catalog, seq: int, body: Body, data: KeyRevoked) -> None:
    _set_status(cat, seq, body, data.key_id, "revoked", None)
    if data.compromised_since is not None:
        row = cat.key(data.key_id)
        if row is not None:
            row.compromised_since = data.compromised_since
            cat.put(row)


# Attestations change no table: verify finds them through the event index.
declare("attestation.create", AttestationCreated, context=__name__)
