"""Attestations: signed in-toto statements about stored files, recorded in the ledger.

``create`` stores the file in the object store, builds an in-toto Statement v1 whose subject
is the file (name and SHA-256), signs it as a DSSE envelope with one of the actor's active
keys, stores the envelope, and records one ``attestation.create`` event naming both blobs.
The ledger position of that event dates the signature, which is how a signature made before
its key was revoked is told apart from one made after (``signed-then-revoked`` vs refused).

Later capabilities (model signing, signed evidence) use :func:`sign_statement` directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.identity import keys as keys_mod
from core.identity.actors import needs
from core.identity.events import AttestationCreated
from core.identity.signing import (
    INTOTO_PAYLOAD_TYPE,
    canonical_payload,
    envelope,
    pae,
    statement,
    verify_envelope,
)
from core.kernel import command
from core.kernel.errors import IdentityError, IntegrityError, NotFoundError, UsageError
from core.kernel.events import ObjectRef
from core.kernel.kinds import Payload, new_event
from core.kernel.rows import KeyRow
from core.kernel.workspace import Session, Workspace
from storage.objects import hash_file, parse_digest

DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
GENERIC_PREDICATE = "https://ledgerml.dev/attestation/file/v1"


@dataclass(frozen=True)
class Attestation:
    """A recorded signature: its envelope's digest, the statement, and who signed when."""

    envelope_digest: str
    key_id: str
    seq: int
    statement: dict[str, Any]


def signing_key(s: Session, key_ref: str | None) -> KeyRow:
    """The acting actor's key to sign with: the one named, else their newest active key.

    Raises:
        UsageError: if the named key belongs to someone else.
        NotFoundError: if the actor has no active key.
    """
    from core.identity.keys.lifecycle import resolve_in

    if key_ref:
        key = resolve_in(s, key_ref)
        if key.actor != s.actor:
            raise UsageError(f"key {key.key_id[:16]} belongs to {key.actor!r}, not {s.actor!r}")
        if key.purpose != "actor":
            raise UsageError(
                "the organisation key certifies keys and signs nothing else",
                hint="Sign with a personal key (`ledgerml key create`).",
            )
        return key
    from core.identity.signer import authority_of

    newest = authority_of(s).signing_key(s.actor)  # the ledger's word, not the catalog's
    if newest is None:
        raise NotFoundError(
            f"actor {s.actor!r} has no active signing key",
            hint=f"Ask an admin: `ledgerml key create --actor {s.actor}`.",
        )
    return resolve_in(s, newest.key_id)


def _as_ledger_says(s: Session, key: KeyRow) -> KeyRow | None:
    """The key as the signed ledger describes it (format 1: as the catalog does)."""
    from core.identity.keys.lifecycle import as_ledger_says
    from core.identity.signer import authority_of

    try:
        state = authority_of(s).keys.get(key.key_id)
    except IdentityError:
        return key
    return as_ledger_says(key, state) if state is not None else None


def sign_statement(
    s: Session,
    *,
    key_ref: str | None,
    subjects: list[tuple[str, str]],
    predicate_type: str,
    predicate: dict[str, Any],
    reason: str,
    as_payload: Callable[[str, str, str], Payload],
    extra_subjects: list[str] | None = None,
    extra_objects: list[ObjectRef] | None = None,
) -> Attestation:
    """Sign a statement with the acting actor's key and record it (one event).

    Args:
        s: the open session (the caller has checked roles and preconditions).
        key_ref: which key; default the actor's newest active key.
        subjects: ``(name, sha256)`` pairs the statement is about.
        predicate_type: URI of the predicate's schema.
        predicate: the claims.
        reason: why, for the ledger.
        as_payload: builds the event's typed payload from the envelope digest, key id and
            predicate type; its type names the action (see :mod:`core.kernel.kinds`).
        extra_subjects: more ledger subjects (e.g. ``model:credit-risk@3``).
        extra_objects: more blobs the event names (already stored).

    Raises:
        NotFoundError: if the actor has no usable key.
        KeyStoreError: if the key is not active or its backend cannot sign.
    """
    key = signing_key(s, key_ref)
    doc = statement(subjects, predicate_type, predicate)
    payload = canonical_payload(doc)
    sig = keys_mod.sign_with(key, pae(INTOTO_PAYLOAD_TYPE, payload))
    env = envelope(INTOTO_PAYLOAD_TYPE, payload, key.key_id, sig)
    ref = s.put_blob(canonical_payload(env), DSSE_MEDIA_TYPE)
    names = [f"key:{key.key_id}", *(f"sha256:{d}" for _, d in subjects), *(extra_subjects or [])]
    objects = [ref, *(extra_objects or [])]
    event = new_event(
        s.actor, as_payload(ref.sha256, key.key_id, predicate_type), names, reason, objects
    )
    entry = s.commit(event)
    return Attestation(ref.sha256, key.key_id, entry.seq, doc)


def create(
    ws: Workspace, actor: str, path: Path, *, key_ref: str | None = None, reason: str = ""
) -> Attestation:
    """Store ``path`` and sign a statement that it is what it is (any registered actor)."""
    if not path.is_file():
        raise UsageError(f"{path} is not a readable file")

    def commit(s: Session, _: None) -> Attestation:
        signing_key(s, key_ref)  # refuse before storing anything
        digest = ws.objects.put_file(path)
        return sign_statement(
            s,
            key_ref=key_ref,
            subjects=[(path.name, digest)],
            predicate_type=GENERIC_PREDICATE,
            predicate={"stored": True, "size": path.stat().st_size},
            reason=reason,
            as_payload=AttestationCreated,
        )

    return command.run(ws, actor, guards=[needs(action="sign files")], commit=commit)


@dataclass(frozen=True)
class SignatureCheck:
    """The verdict on one recorded signature."""

    ok: bool
    status: str
    detail: str
    key_id: str
    seq: int
    subjects: list[dict[str, Any]]


def verify(ws: Workspace, ref: str, *, file: Path | None = None, actor: str = "") -> SignatureCheck:
    """Verify a recorded attestation by its envelope digest (prefix allowed).

    Checks the envelope's bytes, the signature with the key's public half, the key's status
    at the ledger position where the signature was recorded, and, if ``file`` is given, that
    the file is one of the statement's subjects.

    Raises:
        NotFoundError: if no attestation matches ``ref``.
    """
    with ws.session(actor) as s:
        found = [
            e
            for e in s.catalog.events(action="attestation.")
            if AttestationCreated.from_data(json.loads(e.body)["data"]).envelope.startswith(
                ref.removeprefix("sha256:")
            )
        ]
        if not found:
            raise NotFoundError(f"no attestation matches {ref!r}")
        if len(found) > 1:
            raise NotFoundError(f"{ref!r} matches {len(found)} attestations; give more of it")
        event = found[0]
        data = AttestationCreated.from_data(json.loads(event.body)["data"])
        key = s.catalog.key(data.key_id)
        if key is not None:
            key = _as_ledger_says(s, key)
    if key is None:
        raise IntegrityError(f"the signing key {data.key_id[:16]} is not in the ledger")
    raw = ws.objects.read_verified(parse_digest(data.envelope))
    try:
        verified = verify_envelope(
            json.loads(raw), {key.key_id: key.public_pem}, expected_type=INTOTO_PAYLOAD_TYPE
        )
    except IntegrityError as err:
        return SignatureCheck(False, "bad-signature", err.msg, key.key_id, event.seq, [])
    subjects = list(verified.json().get("subject", []))
    if file is not None:
        digest = hash_file(file)
        if not any(sub.get("digest", {}).get("sha256") == digest for sub in subjects):
            return SignatureCheck(
                False,
                "subject-mismatch",
                f"{file} (sha256:{digest[:16]}…) is not what was signed",
                key.key_id,
                event.seq,
                subjects,
            )
    verdict = keys_mod.key_verdict(key, event.seq)
    return SignatureCheck(
        verdict.ok, verdict.status, verdict.detail, key.key_id, event.seq, subjects
    )
