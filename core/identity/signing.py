"""DSSE envelopes carrying in-toto Statement v1, and the one function that verifies them.

Signing: the payload is canonical JSON; the signature covers the DSSE pre-authentication
encoding ``PAE(type, payload) = "DSSEv1" SP len(type) SP type SP len(payload) SP payload``.
Verification needs only public keys (PEM), so an auditor needs no backend and no secrets.

The DSSE format is short enough that we implement it here rather than through
securesystemslib: the auditor's stand-alone verifier in a bundle must reproduce it with the
standard library and ``cryptography`` alone, and one small implementation that both share is
easier to read than an adapter around another's signer classes. ECDSA signatures are DER over
SHA-256 (what OpenSSL, PKCS#11 tokens and Sigstore produce); Ed25519 signatures are raw.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.kernel.errors import IntegrityError
from storage.bundle_verifier import pae, verify_signature
from storage.canonical import canonical_bytes

__all__ = [
    "CHECKPOINT_PAYLOAD_TYPE",
    "INTOTO_PAYLOAD_TYPE",
    "STATEMENT_TYPE",
    "VerifiedEnvelope",
    "canonical_payload",
    "envelope",
    "key_id_for",
    "pae",
    "public_der",
    "public_pem",
    "statement",
    "verify_envelope",
    "verify_raw",
]

# DSSE's PAE and signature check live in the stand-alone verifier, so auditors run this code.
verify_raw = verify_signature

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
CHECKPOINT_PAYLOAD_TYPE = "application/vnd.ledgerml.checkpoint+json"


def key_id_for(public_der: bytes) -> str:
    """A key's id: the SHA-256 of its DER SubjectPublicKeyInfo, in hex."""
    return hashlib.sha256(public_der).hexdigest()


def public_der(pem: str) -> bytes:
    """DER SubjectPublicKeyInfo of a PEM public key (ValueError if it is not one)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(pem.encode())
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_pem(public_der: bytes) -> str:
    """PEM text of a DER SubjectPublicKeyInfo."""
    # Imported here: reading the log or listing models needs no cryptography (~50 ms of CPU).
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_public_key(public_der)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def statement(
    subjects: Sequence[tuple[str, str]], predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1 about ``(name, sha256 hex)`` subjects."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in subjects],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def envelope(payload_type: str, payload: bytes, key_id: str, signature: bytes) -> dict[str, Any]:
    """A DSSE envelope with one signature."""
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id, "sig": base64.b64encode(signature).decode()}],
    }


@dataclass(frozen=True)
class VerifiedEnvelope:
    """An envelope whose signature checked out: what was signed, and by which key."""

    payload_type: str
    payload: bytes
    key_id: str

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


def verify_envelope(
    env: Mapping[str, Any], public_keys: Mapping[str, str], *, expected_type: str | None = None
) -> VerifiedEnvelope:
    """Verify a DSSE envelope against known public keys (key id → PEM).

    At least one signature must come from a known key and verify; signatures by unknown keys
    are ignored, as DSSE prescribes. Whether the key was allowed to sign *then* is a
    separate question answered by :func:`core.identity.keys.key_verdict`.

    Raises:
        IntegrityError: if the envelope is malformed or no signature verifies.
    """
    try:
        payload_type = str(env["payloadType"])
        payload = base64.b64decode(env["payload"], validate=True)
        sigs = [
            (str(s["keyid"]), base64.b64decode(s["sig"], validate=True)) for s in env["signatures"]
        ]
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        raise IntegrityError(f"malformed DSSE envelope: {err!r}") from err
    if expected_type is not None and payload_type != expected_type:
        raise IntegrityError(f"envelope carries {payload_type!r}, expected {expected_type!r}")
    message = pae(payload_type, payload)
    unknown = []
    for key_id, sig in sigs:
        pem = public_keys.get(key_id)
        if pem is None:
            unknown.append(key_id)
            continue
        if verify_raw(pem, message, sig):
            return VerifiedEnvelope(payload_type, payload, key_id)
        raise IntegrityError(
            f"the signature by key {key_id[:16]}… does not match the signed content: "
            "the envelope was altered or signed by another key"
        )
    raise IntegrityError(
        "no signature by a known key: "
        + (", ".join(k[:16] + "…" for k in unknown) or "no signatures at all"),
        hint="The signing key is not registered in this workspace (or bundle).",
    )


def canonical_payload(doc: Mapping[str, Any]) -> bytes:
    """Payload bytes for a JSON document (canonical, so re-encoding gives the same bytes)."""
    return canonical_bytes(dict(doc))
