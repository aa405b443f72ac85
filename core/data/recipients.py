"""Recipient keys: how a data key travels to another reader's workstation, and only to them.

A data key (:mod:`core.data.data_keys`) is wrapped under a KEK that never leaves one
workstation's keyring, so on its own it cannot travel. Each reader (an actor holding one of
:data:`core.data.events.READ_ROLES`) therefore has an *encryption* key pair of their own:

- the private half, an X25519 key, is kept in the OS keyring of the workstation where it was
  made (service ``ledgerml-recipient``, user ``<workspace id>/<fingerprint>``), like the KEK
  and the keyring signing keys; it never touches disk in the clear;
- the public half is published in a ``data.recipient`` event signed by its owner. Readers
  take recipient keys only from events the authority replay admits (the owner's certified
  key signed it, and the owner held a reading role then) and only for owners who hold a
  reading role *now*, so neither the shared ledger's server nor another insider can slip
  their own key in, and a revoked reader is wrapped for no more.

A wrap is HPKE (RFC 9180) base mode, single shot, with the suite DHKEM(X25519, HKDF-SHA256),
HKDF-SHA256, AES-256-GCM, from ``cryptography``'s ``hpke`` module (it has it since the
version pinned in ``pyproject.toml``, so nothing of the construction is hand-written). That
API takes no separate associated data; the key id and the recipient key's fingerprint go into
HPKE's ``info``, which enters the key schedule, so a wrap opens only as the wrap of that key
for that recipient: a server that moves a blob to another key id or recipient gets a failed
open, and a blob sealed to the right recipient but holding another key fails the check value
the signed snapshot event recorded (:mod:`core.team.key_share` refuses it, naming both).

Wraps themselves live on the server, not in the ledger (:mod:`storage.pg_remote`), so that
an erasure can destroy them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.data.events import READ_ROLES, RecipientKeyPublished
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import IntegrityError, KeyStoreError
from core.kernel.kinds import new_event

if TYPE_CHECKING:
    from core.identity.authority import Authority
    from core.kernel.workspace import Session, Workspace

SERVICE = "ledgerml-recipient"
SCHEME = "hpke-x25519-sha256-aes256gcm/1"
ACTION = "data.recipient"
_INFO = b"ledgerml data key wrap v1"


@dataclass(frozen=True)
class Recipient:
    """A published recipient key, as an admitted event recorded it."""

    actor: str
    fingerprint: str
    public: bytes
    seq: int


def fingerprint_of(public: bytes) -> str:
    """What wraps and keyring entries name a recipient key by."""
    return hashlib.sha256(public).hexdigest()


def _suite() -> object:
    from cryptography.hazmat.primitives import hpke

    return hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _info(key_id: str, fingerprint: str) -> bytes:
    return b"%s %s %s" % (_INFO, key_id.encode(), fingerprint.encode())


def wrap(key_id: str, key: bytes, recipient: Recipient) -> bytes:
    """``key`` sealed to ``recipient`` (HPKE ``enc`` then the ciphertext), bound to both names."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    public = X25519PublicKey.from_public_bytes(recipient.public)
    blob: bytes = _suite().encrypt(  # type: ignore[attr-defined]
        key, public, info=_info(key_id, recipient.fingerprint)
    )
    return blob


def unwrap(key_id: str, fingerprint: str, blob: bytes, private_hex: str) -> bytes | None:
    """The key in a wrap, or None if it does not open as ``key_id``'s wrap for this key."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.from_private_bytes(bytes.fromhex(private_hex))
    try:
        key: bytes = _suite().decrypt(  # type: ignore[attr-defined]
            blob, private, info=_info(key_id, fingerprint)
        )
    except (InvalidTag, ValueError):
        return None
    return key


def _keyring() -> object:
    from core.identity.keys.backends import KeyringBackend

    return KeyringBackend()._keyring()


def _username(ws: Workspace, fingerprint: str) -> str:
    return f"{ws.workspace_id}/{fingerprint}"


def private_hex(ws: Workspace, fingerprint: str) -> str | None:
    """The private half of a recipient key if this keyring holds it (hex), else None."""
    found = _keyring().get_password(SERVICE, _username(ws, fingerprint))  # type: ignore[attr-defined]
    return str(found) if found else None


def published(ws: Workspace, s: Session, auth: Authority) -> list[Recipient]:
    """Every recipient key the ledger's admitted ``data.recipient`` events publish.

    The catalog only says where the events are; their signed bodies are read back from the
    ledger and admitted again by ``auth`` (the replay every pull uses), so an edited catalog
    or a forged line contributes no key.

    Raises:
        IntegrityError: if a ``data.recipient`` event in the ledger is not admitted.
    """
    found = []
    for row in s.catalog.events(action=ACTION):
        if row.action != ACTION:
            continue
        entry = ws.ledger.entry(row.seq)
        body = json.loads(entry.body)
        why = auth.admit(entry.seq, entry.body, body)
        if why:
            raise IntegrityError(f"the recipient key published at event #{entry.seq} {why}")
        data = body.get("data") or {}
        public = bytes.fromhex(str(data.get("public", "")))
        if data.get("scheme") != SCHEME or fingerprint_of(public) != data.get("fingerprint"):
            raise IntegrityError(
                f"the recipient key published at event #{entry.seq} does not match its "
                "fingerprint or names an unknown scheme"
            )
        found.append(Recipient(str(body["actor"]), str(data["fingerprint"]), public, entry.seq))
    return found


def is_reader(auth: Authority, actor: str) -> bool:
    """Whether ``actor`` is active now and holds a reading role (:data:`READ_ROLES`)."""
    state = auth.current(actor)
    return (
        state is not None and state.status == "active" and bool(set(state.roles) & set(READ_ROLES))
    )


def current(ws: Workspace, s: Session, auth: Authority) -> list[Recipient]:
    """Each reader's newest published recipient key: whom a data key is wrapped for now."""
    newest: dict[str, Recipient] = {}
    for r in published(ws, s, auth):
        if is_reader(auth, r.actor):
            newest[r.actor] = r
    return sorted(newest.values(), key=lambda r: r.actor)


def held(ws: Workspace, s: Session, auth: Authority) -> list[tuple[Recipient, str]]:
    """The published recipient keys whose private half this keyring holds (any owner).

    On one OS account every actor shares one keyring (:mod:`core.identity.secrets`), so this
    is per workstation account, not per person.
    """
    out = []
    for r in published(ws, s, auth):
        private = private_hex(ws, r.fingerprint)
        if private is not None:
            out.append((r, private))
    return out


def mine(ws: Workspace, s: Session, auth: Authority, actor: str) -> Recipient | None:
    """``actor``'s current recipient key if this keyring holds its private half."""
    for r in current(ws, s, auth):
        if r.actor == actor and private_hex(ws, r.fingerprint) is not None:
            return r
    return None


def commit_new(s: Session) -> Recipient:
    """Make a key pair for the session's actor, keep the private half, publish the public one.

    The private half is stored first: an event for a key nobody holds would invite wraps
    nobody can open.

    Raises:
        KeyStoreError: if the OS keyring refuses to store the private half.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    ws = s.workspace

    def stored_pair() -> tuple[bytes, str]:
        # Made once per command: a retry after a teammate's event reuses it, so no orphan
        # private key is left in the keyring per attempt.
        private = X25519PrivateKey.generate()
        raw = serialization.Encoding.Raw
        public = private.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
        secret = private.private_bytes(
            raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        fingerprint = fingerprint_of(public)
        try:
            _keyring().set_password(  # type: ignore[attr-defined]
                SERVICE, _username(ws, fingerprint), secret.hex()
            )
        except Exception as err:
            raise KeyStoreError(f"the OS keyring refused to store a key: {err}") from err
        return public, fingerprint

    public, fingerprint = s.once("recipient key", stored_pair)
    entry = s.commit(
        new_event(
            s.actor,
            RecipientKeyPublished(SCHEME, public.hex(), fingerprint),
            [f"actor:{s.actor}"],
            "recipient key for encrypted data shared through the team's ledger",
        )
    )
    return Recipient(s.actor, fingerprint, public, entry.seq)


def publish(ws: Workspace, actor: str, *, force: bool = False) -> tuple[Recipient, bool]:
    """Give ``actor`` a recipient key here (readers only); the key and whether it is new.

    An actor who already has a current key whose private half this keyring holds keeps it
    (unless ``force``: a new key replaces it for wraps made from now on).

    Raises:
        PermissionDeniedError: unless the actor holds one of :data:`READ_ROLES`.
    """
    from core.identity.signer import authority_of

    def commit(s: Session, _: None) -> tuple[Recipient, bool]:
        have = None if force else mine(ws, s, authority_of(s), actor)
        if have is not None:
            return have, False
        return commit_new(s), True

    return command.run(
        ws, actor, guards=[needs(*READ_ROLES, action="receive encrypted data")], commit=commit
    )
