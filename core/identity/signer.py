"""Acting as an actor: the current authority, and proof that this process holds their secret.

Every command's identity guard (:func:`core.identity.actors.needs`) calls :func:`prove`. It
builds the ledger's current :class:`~core.identity.authority.Authority` by following the
signed ``auth`` pointers back from the ledger's head (:func:`authority_of`), finds the acting
actor's own certified key there, unlocks it through its backend (the OS keyring of *this*
account, a token's PIN, a passphrase) and signs a challenge it checks against the public key
the ledger holds. Only then does the session get a :class:`Signer`, without which
:meth:`core.kernel.workspace.Session.commit` appends nothing. So acting as someone needs their
secret: write access to the workspace, or the catalog, is not enough.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Callable

from core.identity import certify as certificates
from core.identity.authority import Authority, KeyState, verify
from core.identity.events import KeyRecord
from core.identity.keys.backends import backend
from core.kernel import kinds
from core.kernel.errors import IdentityError, IntegrityError, PermissionDeniedError
from core.kernel.events import Event, Seal, seal, signing_input
from core.kernel.workspace import Session, Workspace
from storage.ledger import LedgerEntry

_AUTHORITY: dict[tuple[str, int, str], Authority] = {}


@functools.cache
def _authority_prefixes() -> tuple[bytes, ...]:
    """How an authority event's canonical body starts ("action" sorts first)."""
    return tuple(b'{"action":"' + a.encode() + b'"' for a in kinds.authority_actions())


class Signer:
    """Seals events as one actor whose secret this process has proven."""

    def __init__(
        self,
        actor: str,
        key: KeyState,
        sign: Callable[[bytes], bytes],
        last_auth: tuple[int, str] | None,
    ) -> None:
        """Bind the actor's unlocked key; ``last_auth`` is the ledger's last authority event."""
        self.actor = actor
        self.key = key
        self._sign = sign
        self.last_auth = last_auth

    def sign(self, data: bytes) -> bytes:
        """Sign arbitrary bytes with the actor's key (checkpoints, manifests)."""
        return self._sign(data)

    def seal(self, event: Event) -> bytes:
        """The stored body of ``event``: pointed at the last authority event, then signed."""
        unsigned = dataclasses.replace(event, auth=self.last_auth).body()
        sig = self._sign(signing_input(unsigned))
        return seal(unsigned, Seal(self.key.key_id, self.key.algorithm, sig))

    def committed(self, entry: LedgerEntry) -> None:
        """After an authority event, later events point at it."""
        if entry.body.startswith(_authority_prefixes()):
            self.last_auth = (entry.seq, hashlib.sha256(entry.body).hexdigest())


def authority_of(session: Session) -> Authority:
    """The identity state the ledger implies now, following ``auth`` pointers from the head.

    Raises:
        IdentityError: for a workspace of format 1, whose events are not signed.
        IntegrityError: if the pointers or a signature do not check out.
    """
    ws = session.workspace
    head = ws.ledger.tail()
    if head is None:
        raise IntegrityError(f"the workspace at {ws.root} has an empty ledger")
    key = (str(ws.root), head.seq, head.hash)
    cached = _AUTHORITY.get(key)
    if cached is not None:
        return cached
    auth = _walk(ws, session, head)
    if len(_AUTHORITY) > 64:
        _AUTHORITY.clear()
    _AUTHORITY[key] = auth
    return auth


def _walk(ws: Workspace, session: Session, head: LedgerEntry) -> Authority:
    def broken(seq: int, why: str) -> IntegrityError:
        return IntegrityError(
            f"event #{seq} {why}",
            hint="Run `ledgerml audit verify`; nothing can be recorded until it is resolved.",
        )

    try:
        top = json.loads(head.body)
    except ValueError as err:
        raise broken(head.seq, f"is not valid JSON: {err}") from err
    if top.get("v") == 1:
        raise IdentityError(
            f"the workspace at {ws.root} was made by a version of ledgerml that did not sign "
            "its events: it can be read and verified, but not written to (exports are writes)",
            hint="Start a new workspace with `ledgerml init` for new work.",
        )
    action_kind = kinds.kind(str(top.get("action", "")))
    pointer: object
    if action_kind is not None and action_kind.authority:
        pointer = [head.seq, hashlib.sha256(head.body).hexdigest()]
    else:
        pointer = top.get("auth")
    chain: list[tuple[int, bytes]] = []
    limit = head.seq + 1
    while pointer is not None:
        if not (isinstance(pointer, list) and len(pointer) == 2 and isinstance(pointer[0], int)):
            raise broken(limit, f"has a malformed authority pointer {pointer!r}")
        seq, digest = int(pointer[0]), str(pointer[1])
        if not 0 < seq < limit:
            raise broken(limit, f"points at authority event #{seq}, which cannot precede it")
        raw = head.body if seq == head.seq else session.catalog.event_bodies([seq]).get(seq)
        if raw is None or hashlib.sha256(raw).hexdigest() != digest:
            raw = ws.ledger.entry(seq).body  # the catalog is a cache: the ledger decides
            if hashlib.sha256(raw).hexdigest() != digest:
                raise broken(limit, f"points at authority event #{seq}, whose body differs")
        chain.append((seq, raw))
        limit = seq
        try:
            pointer = json.loads(raw).get("auth")
        except ValueError as err:
            raise broken(seq, f"is not valid JSON: {err}") from err
    if not chain or chain[-1][0] != 1:
        raise broken(limit, "leads to no workspace.init event through its authority pointers")
    auth = Authority()
    problem = auth.replay(reversed(chain))
    if problem:
        raise broken(*problem)
    if chain[0][0] != head.seq:
        problem_head = auth.admit(head.seq, head.body, top)
        if problem_head:
            raise broken(head.seq, problem_head)
    return auth


def forget() -> None:
    """Drop cached authority states (a test that edits a ledger in place calls this)."""
    _AUTHORITY.clear()


def unlock(key: KeyState, actor: str) -> Callable[[bytes], bytes]:
    """A signer for ``key``, proven to match the public key the ledger holds.

    Raises:
        IdentityError: if this process cannot use the key (no keyring entry in this account,
            no or a wrong passphrase or PIN) or the backend's key is not the registered one.
    """
    sign = backend(key.backend).unlock(key.handle, key.algorithm, actor)
    challenge = b"ledgerml proof of possession " + os.urandom(16)
    if not verify(key.public_pem, challenge, sign(challenge)):
        raise IdentityError(
            f"the private key this account holds for {actor} is not the key the ledger "
            f"registered ({key.key_id[:16]}…)",
            hint="Someone replaced the key in the keyring or token. Nothing was recorded.",
        )
    return sign


def prove(session: Session, auth: Authority) -> Signer:
    """Prove the acting actor's secret and give the session its signer.

    Raises:
        PermissionDeniedError: if the actor has no certified key of their own.
        IdentityError: if this process does not hold that key's secret.
    """
    me = session.actor
    key = auth.signing_key(me)
    if key is None:
        raise PermissionDeniedError(
            f"actor {me!r} has no active key certified by the organisation, so nothing it "
            "does can be signed",
            hint=f"Ask an admin to give {me} a key: `ledgerml key create --owner {me}`.",
        )
    signer = Signer(me, key, unlock(key, me), auth.last_authority(1 << 62))
    session.sealer = signer
    return signer


def org_key(auth: Authority) -> KeyState:
    """The active organisation key.

    Raises:
        PermissionDeniedError: if there is none (format 1, or revoked without a successor).
    """
    keys = [k for k in auth.keys.values() if k.purpose == "organisation" and k.end_seq is None]
    if not keys:
        raise PermissionDeniedError(
            "this workspace has no active organisation key to certify keys with",
            hint="Rotate the organisation key (`ledgerml key rotate`) rather than revoke it.",
        )
    return max(keys, key=lambda k: k.created_seq)


def certify(session: Session, auth: Authority, record: KeyRecord) -> KeyRecord:
    """``record`` with a certificate by the organisation key; only admins may use that key.

    Raises:
        PermissionDeniedError: if the acting actor is not an admin.
        IdentityError: if this process does not hold the organisation key's secret.
    """
    state = auth.current(session.actor)
    if state is None or "admin" not in state.roles:
        raise PermissionDeniedError(
            f"certifying a key needs the organisation key, which only admins use; "
            f"{session.actor!r} is not an admin",
            hint="Ask an admin to run the command (for example "
            f"`ledgerml key create --owner {record.actor}`).",
        )
    org = org_key(auth)
    sign = unlock(org, f"the organisation key {org.label}")
    cert = certificates.issue(
        sign,
        org.key_id,
        auth.workspace_id,
        actor=record.actor,
        key_id=record.key_id,
        purpose=record.purpose,
        algorithm=record.algorithm,
    )
    return dataclasses.replace(record, certificate=cert)
