"""Signing keys' life cycle: create, list, rotate, revoke, and sign with them.

A key's public half and status live in the ledger (and so in the catalog and in bundles); its
private half stays in its backend (:mod:`core.identity.keys.backends`). A key is ``active``
until it is
``rotated`` (replaced by a new key, old signatures stay valid) or ``revoked`` (compromised or
retired with a reason). Only active keys sign. A signature made before a revocation still
verifies and is reported as signed-then-revoked; one made after it does not.

Example::

    key, created = create(ws, "alice", backend="keyring")
    sig = sign_bytes(ws, "alice", key.key_id, b"payload")
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.identity.actors import needs, require
from core.identity.authority import KeyState
from core.identity.events import (
    ActorAdded,
    KeyCreated,
    KeyRecord,
    KeyRevoked,
    KeyRotated,
    WorkspaceInit,
)
from core.identity.keys.backends import ALGORITHMS, KeyBackend, backend
from core.identity.signer import authority_of, certify, prove
from core.identity.signing import key_id_for, public_der, public_pem
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import (
    IntegrityError,
    KeyStoreError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)
from core.kernel.events import Event
from core.kernel.kinds import new_event
from core.kernel.rows import KeyRow
from core.kernel.workspace import Session, Workspace
from storage.fsutil import atomic_write
from storage.objects import sha256_hex

PEM_MEDIA_TYPE = "application/x-pem-file"

__all__ = [
    "ALGORITHMS",
    "KeyVerdict",
    "create",
    "generate_record",
    "key_event",
    "key_verdict",
    "list_keys",
    "resolve",
    "revoke",
    "rotate",
    "show",
    "sign_with",
]


def generate_record(
    backend_name: str, algorithm: str, *, owner: str, purpose: str, label: str
) -> KeyRecord:
    """Generate a key pair in a backend and describe it as the ledger records keys."""
    if algorithm not in ALGORITHMS:
        raise UsageError(f"unknown algorithm {algorithm!r}; choose {', '.join(ALGORITHMS)}")
    chosen: KeyBackend = backend(backend_name)
    handle, der = chosen.generate(algorithm)
    pem = public_pem(der)
    return KeyRecord(
        key_id=key_id_for(der),
        actor=owner,
        purpose=purpose,
        backend=backend_name,
        algorithm=algorithm,
        label=label,
        handle=handle,
        public_key_digest=sha256_hex(pem.encode()),
        public_pem=pem,
    )


def resolve(catalog: Catalog, ref: str) -> KeyRow:
    """A key by id prefix (at least 8 hex characters) or by label.

    Raises:
        NotFoundError: if nothing matches, or several keys do.
    """
    ref = ref.removeprefix("sha256:")
    matches = catalog.keys_matching(ref) if len(ref) >= 8 or not ref.isalnum() else []
    if not matches:
        matches = [k for k in catalog.keys_of() if k.label == ref]
    if not matches:
        raise NotFoundError(f"no key matches {ref!r}", hint="`ledgerml key list` shows keys.")
    if len(matches) > 1:
        active = [k for k in matches if k.status == "active"]
        if len(active) == 1 and all(k.label == ref for k in matches):
            return active[0]
        ids = ", ".join(k.key_id[:16] for k in matches)
        raise NotFoundError(
            f"{ref!r} is ambiguous: it matches keys {ids}", hint="Give more of the key id."
        )
    return matches[0]


def resolve_in(s: Session, ref: str) -> KeyRow:
    """:func:`resolve`, with the key's status as the signed ledger says, not the catalog.

    Raises:
        IntegrityError: if the catalog lists a key the ledger never registered.
    """
    row = resolve(s.catalog, ref)
    state = authority_of(s).keys.get(row.key_id)
    if state is None:
        raise IntegrityError(
            f"the catalog lists key {row.key_id[:16]}…, which the ledger never registered",
            hint="The catalog was edited; `ledgerml rebuild` restores it from the ledger.",
        )
    return as_ledger_says(row, state)


def as_ledger_says(row: KeyRow, state: KeyState) -> KeyRow:
    """``row`` with owner, purpose, public key and status from the signed ledger's state."""
    row = KeyRow(**row.as_dict())
    row.actor, row.purpose, row.handle, row.backend = (
        state.actor,
        state.purpose,
        state.handle,
        state.backend,
    )
    row.public_pem, row.certified = state.public_pem, state.certified
    row.compromised_since = state.compromised_since
    if state.end_seq is None:
        row.status, row.status_seq = "active", None
    else:
        row.status, row.status_seq = state.end_status, state.end_seq
    return row


def _may_manage(s: Session, key: KeyRow, action: str) -> None:
    me = require(s, action=action)
    if key.actor != me.name and "admin" not in me.roles:
        raise PermissionDeniedError(
            f"actor {me.name!r} lacks the role 'admin' needed to {action} a key of {key.actor!r}",
            hint="Only a key's owner or an admin may do this.",
        )


def key_event(
    s: Session,
    actor: str,
    payload: WorkspaceInit | KeyCreated | KeyRotated | ActorAdded,
    subjects: list[str],
    reason: str,
) -> Event:
    """The event recording new keys; their public keys go to the object store first."""
    records = [payload.key]
    if isinstance(payload, WorkspaceInit):
        records.append(payload.founder_key)
    refs = [s.put_blob(r.public_pem.encode(), PEM_MEDIA_TYPE) for r in records if r is not None]
    return new_event(actor, payload, subjects, reason, refs)


REQUEST_TYPE = "ledgerml/key-request/v1"


def request_record(path: Path, *, owner: str) -> KeyRecord:
    """The key described by a key request file (``ledgerml key generate --out``).

    A person makes their key on their own OS account, where its private half stays; the
    request carries only the public half and where the private half lives, for an admin
    to register and certify.

    Raises:
        UsageError: if the file cannot be read or is not a key request.
    """
    try:
        doc = json.loads(path.read_text())
        if doc.get("type") != REQUEST_TYPE:
            raise ValueError(f"its type is {doc.get('type')!r}, not {REQUEST_TYPE!r}")
        der = public_der(str(doc["public_pem"]))
        backend_name, algorithm = str(doc["backend"]), str(doc["algorithm"])
        handle = str(doc["handle"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise UsageError(
            f"cannot read the key request {path}: {err}",
            hint="Make one with `ledgerml key generate --out FILE` on the new actor's account.",
        ) from err
    if algorithm not in ALGORITHMS:
        raise UsageError(f"the key request names an unknown algorithm {algorithm!r}")
    pem = public_pem(der)
    return KeyRecord(
        key_id=key_id_for(der),
        actor=owner,
        purpose="actor",
        backend=backend_name,
        algorithm=algorithm,
        label=f"{owner}-{backend_name}",
        handle=handle,
        public_key_digest=sha256_hex(pem.encode()),
        public_pem=pem,
    )


def write_request(backend_name: str, algorithm: str, out: Path) -> KeyRecord:
    """Generate a key in this account's backend and write its key request to ``out``."""
    record = generate_record(backend_name, algorithm, owner="", purpose="actor", label="")
    doc = {
        "type": REQUEST_TYPE,
        "backend": record.backend,
        "algorithm": record.algorithm,
        "handle": record.handle,
        "public_pem": record.public_pem,
        "key_id": record.key_id,
    }
    try:
        atomic_write(out, json.dumps(doc, indent=2).encode() + b"\n")
        out.chmod(0o644)  # public: it is meant to be handed to an admin
    except OSError as err:
        raise UsageError(f"cannot write the key request to {out}: {err.strerror or err}") from err
    return record


def create(
    ws: Workspace,
    actor: str,
    *,
    backend: str = "keyring",
    owner: str | None = None,
    label: str | None = None,
    algorithm: str = "ecdsa-p256",
    reason: str = "",
) -> tuple[KeyRow, bool]:
    """Create a signing key for ``owner`` (default: the acting actor).

    The label defaults to ``<owner>-<backend>``; if an active key with that owner and label
    exists, it is returned unchanged, so retrying an interrupted command makes no second key.
    The key pair is generated while the workspace is held, so that a retry racing this one
    cannot make a second key under the same label.

    Returns:
        The key record and whether it was created now.
    """

    def commit(s: Session, _: None) -> tuple[KeyRow, bool]:
        me = s.catalog.actor(s.actor)
        assert me is not None  # the command's guard has just checked it, in this session
        whose = owner or me.name
        if whose != me.name:
            require(s, "admin", action="create keys for another actor")
        if s.catalog.actor(whose) is None:
            raise NotFoundError(
                f"no actor named {whose!r}", hint="Add it with `ledgerml actor add`."
            )
        name = label or f"{whose}-{backend}"
        for existing in s.catalog.keys_of(whose):
            if existing.label == name and existing.status == "active":
                return existing, False
        record = s.once(
            "key",
            lambda: generate_record(backend, algorithm, owner=whose, purpose="actor", label=name),
        )
        record = certify(s, authority_of(s), record)
        s.commit(
            key_event(
                s, actor, KeyCreated(record), [f"key:{record.key_id}", f"actor:{whose}"], reason
            )
        )
        row = s.catalog.key(record.key_id)
        assert row is not None
        return row, True

    return command.run(ws, actor, guards=[needs(action="create keys")], commit=commit)


def list_keys(ws: Workspace, actor: str = "", owner: str | None = None) -> list[KeyRow]:
    """All keys, or one owner's."""
    with ws.session(actor) as s:
        return s.catalog.keys_of(owner)


def show(ws: Workspace, ref: str, actor: str = "") -> KeyRow:
    """One key by id prefix or label."""
    with ws.session(actor) as s:
        return resolve(s.catalog, ref)


def _manages(ref: str, action: str) -> Callable[[Session], KeyRow]:
    """A command guard: the key ``ref`` exists and the actor owns it or is an admin."""

    def guard(s: Session) -> KeyRow:
        key = resolve_in(s, ref)
        _may_manage(s, key, action)
        prove(s, authority_of(s))
        return key

    return guard


def rotate(ws: Workspace, actor: str, ref: str, reason: str = "") -> tuple[KeyRow, KeyRow]:
    """Replace an active key with a new one in the same backend; return ``(old, new)``.

    The old key stops signing; what it signed stays valid. Rotating the workspace key makes
    the new key sign checkpoints from now on.
    """

    def commit(s: Session, _: None) -> tuple[KeyRow, KeyRow]:
        old = resolve_in(s, ref)
        if old.status != "active":
            raise UsageError(f"key {old.key_id[:16]} is {old.status}; only active keys rotate")
        auth = authority_of(s)
        if old.purpose == "organisation" and "admin" not in auth.current(s.actor).roles:  # type: ignore[union-attr]
            raise PermissionDeniedError("only admins may rotate the organisation key")
        record = s.once(
            "key",
            lambda: generate_record(
                old.backend, old.algorithm, owner=old.actor, purpose=old.purpose, label=old.label
            ),
        )
        record = certify(s, auth, record)
        s.commit(
            key_event(
                s,
                actor,
                KeyRotated(record, old_key_id=old.key_id),
                [f"key:{old.key_id}", f"key:{record.key_id}", f"actor:{old.actor}"],
                reason,
            )
        )
        new = s.catalog.key(record.key_id)
        assert new is not None
        return s.catalog.key(old.key_id) or old, new

    return command.run(ws, actor, guards=[_manages(ref, "rotate")], commit=commit)


def revoke(
    ws: Workspace, actor: str, ref: str, reason: str, *, compromised_since: str | None = None
) -> tuple[KeyRow, bool]:
    """Revoke a key so it never signs again; revoking twice changes nothing.

    ``compromised_since`` (UTC, ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``) marks it compromised from
    that time: signatures dated then or later are untrusted even if recorded before now.

    Returns:
        The key and whether this call revoked it.
    """
    if not reason.strip():
        raise UsageError("revoking a key needs a --reason", hint="Say why: compromised, retired…")

    def commit(s: Session, _: None) -> tuple[KeyRow, bool]:
        key = resolve_in(s, ref)
        if key.status == "revoked":
            return key, False
        s.commit(
            new_event(
                actor,
                KeyRevoked(key.key_id, _utc(compromised_since)),
                [f"key:{key.key_id}", f"actor:{key.actor}"],
                reason,
            )
        )
        row = s.catalog.key(key.key_id)
        assert row is not None
        return row, True

    return command.run(ws, actor, guards=[_manages(ref, "revoke")], commit=commit)


def _utc(text: str | None) -> str | None:
    """A UTC time as events write it, so it compares with their ``ts`` as text."""
    if text is None:
        return None
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise UsageError(
            f"--compromised-since {text!r} is not a time", hint="Use YYYY-MM-DDTHH:MM:SSZ (UTC)."
        ) from err
    if when.tzinfo is None:
        raise UsageError(f"--compromised-since {text!r} has no time zone", hint="End it with Z.")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign_with(key: KeyRow, data: bytes) -> bytes:
    """Sign with an active key through its backend.

    Raises:
        KeyStoreError: if the key is not active or its backend cannot sign.
    """
    if key.status != "active":
        since = f" since event #{key.status_seq}" if key.status_seq else ""
        raise KeyStoreError(
            f"key {key.key_id[:16]} ({key.label}) is {key.status}{since} and no longer signs",
            hint="Use an active key (`ledgerml key list`).",
        )
    return backend(key.backend).sign(key.handle, key.algorithm, data)


@dataclass(frozen=True)
class KeyVerdict:
    """Whether a signature by a key counts, given when it was made."""

    ok: bool
    status: str
    detail: str


def key_verdict(key: KeyRow, signed_at: int) -> KeyVerdict:
    """Judge a valid signature by ``key`` recorded at ledger position ``signed_at``.

    ``signed_at`` is the number of the event that recorded the signature (or, for a
    checkpoint, the size of the log it signs): the ledger, not the signer's clock, dates it.
    """
    if signed_at < key.created_seq:
        return KeyVerdict(False, "before-key", f"signed before key #{key.created_seq} existed")
    if key.status == "revoked" and key.status_seq is not None:
        if signed_at < key.status_seq:
            return KeyVerdict(
                True,
                "signed-then-revoked",
                f"signed at #{signed_at}, before the key was revoked at #{key.status_seq} "
                f"({key.status_reason})",
            )
        return KeyVerdict(
            False,
            "revoked",
            f"signed at #{signed_at}, after the key was revoked at #{key.status_seq}",
        )
    if key.status == "rotated" and key.status_seq is not None and signed_at >= key.status_seq:
        return KeyVerdict(
            False, "rotated", f"signed after the key was rotated at #{key.status_seq}"
        )
    return KeyVerdict(True, key.status, "valid")
