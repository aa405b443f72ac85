"""The identity context's event kinds: the workspace's founding, actors, keys, attestations.

Each kind is declared once here: its action, its typed payload (whose ``to_data`` is exactly
the ``data`` the ledger holds) and the projector handler that folds it into the catalog.
Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, declare, event_kind
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


@dataclass(frozen=True)
class WorkspaceInit(Payload):
    """The first event: the workspace, its founding admin and the workspace key."""

    workspace_id: str
    founder: str
    roles: list[str]
    key: KeyRecord


@dataclass(frozen=True)
class ActorAdded(Payload):
    """An actor registered with roles (roles are fixed once recorded)."""

    name: str
    roles: list[str]


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
    """A key that never signs again (the event's reason says why)."""

    key_id: str


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
            status="active",
            created_seq=seq,
            created_at=body["ts"],
        )
    )


def _put_actor(cat: Catalog, seq: int, body: Body, name: str, roles: list[str]) -> None:
    existing = cat.actor(name)
    cat.put(
        ActorRow(
            name=name,
            roles=sorted(roles),
            created_seq=existing.created_seq if existing else seq,
            created_at=existing.created_at if existing else body["ts"],
            created_by=existing.created_by if existing else body["actor"],
            updated_seq=seq,
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


@event_kind("workspace.init", WorkspaceInit, tables=("actors", "keys"), in_every_bundle=True)
def _workspace_init(cat: Catalog, seq: int, body: Body, data: WorkspaceInit) -> None:
    _put_actor(cat, seq, body, data.founder, data.roles)
    _put_key(cat, seq, body, data.key)


@event_kind("actor.add", ActorAdded, tables=("actors",), in_every_bundle=True)
def _actor_add(cat: Catalog, seq: int, body: Body, data: ActorAdded) -> None:
    _put_actor(cat, seq, body, data.name, data.roles)


@event_kind("key.create", KeyCreated, tables=("keys",), in_every_bundle=True)
def _key_create(cat: Catalog, seq: int, body: Body, data: KeyCreated) -> None:
    _put_key(cat, seq, body, data.key)


@event_kind("key.rotate", KeyRotated, tables=("keys",), in_every_bundle=True)
def _key_rotate(cat: Catalog, seq: int, body: Body, data: KeyRotated) -> None:
    _put_key(cat, seq, body, data.key)
    _set_status(cat, seq, body, data.old_key_id, "rotated", data.key.key_id)


@event_kind("key.revoke", KeyRevoked, tables=("keys",), in_every_bundle=True)
def _key_revoke(cat: Catalog, seq: int, body: Body, data: KeyRevoked) -> None:
    _set_status(cat, seq, body, data.key_id, "revoked", None)


# Attestations change no table: verify finds them through the event index.
declare("attestation.create", AttestationCreated, context=__name__)
