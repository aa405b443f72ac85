"""Key certificates: the organisation key's signed word that a key is an actor's.

An auditor pins one thing, the organisation's public key. Every actor key the ledger relies
on carries a certificate, a DSSE envelope signed by an organisation key over::

    {"type": "ledgerml/key-certificate/v1", "workspace": ..., "actor": ..., "key_id": ...,
     "purpose": ..., "algorithm": ...}

so a bundle or a ledger can be checked against that one key, and a key an insider made
(however well formed its events) is refused for want of a certificate. The organisation key
certifies keys and nothing else: events are signed by their actors' own keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.identity.signing import envelope, pae, verify_envelope
from core.kernel.errors import IntegrityError
from storage.canonical import canonical_bytes

CERTIFICATE_TYPE = "ledgerml/key-certificate/v1"
CERTIFICATE_PAYLOAD_TYPE = "application/vnd.ledgerml.key-certificate+json"
ORG_PURPOSES = ("organisation", "workspace")
"""Purposes of keys that certify (``workspace`` is format 1's name for the same key)."""


def statement(workspace_id: str, actor: str, key_id: str, purpose: str, algorithm: str) -> bytes:
    """The canonical bytes an organisation key signs to certify a key."""
    return canonical_bytes(
        {
            "type": CERTIFICATE_TYPE,
            "workspace": workspace_id,
            "actor": actor,
            "key_id": key_id,
            "purpose": purpose,
            "algorithm": algorithm,
        }
    )


def issue(
    sign: Callable[[bytes], bytes],
    org_key_id: str,
    workspace_id: str,
    *,
    actor: str,
    key_id: str,
    purpose: str,
    algorithm: str,
) -> dict[str, Any]:
    """A certificate envelope, signed through ``sign`` (the organisation key's signer)."""
    payload = statement(workspace_id, actor, key_id, purpose, algorithm)
    return envelope(
        CERTIFICATE_PAYLOAD_TYPE, payload, org_key_id, sign(pae(CERTIFICATE_PAYLOAD_TYPE, payload))
    )


def check(
    cert: Mapping[str, Any] | None,
    org_keys: Mapping[str, str],
    workspace_id: str,
    *,
    actor: str,
    key_id: str,
    purpose: str,
    algorithm: str,
) -> str | None:
    """Why ``cert`` does not certify this key by one of ``org_keys`` (id → PEM); None if it does."""
    if cert is None:
        return "it carries no certificate by the organisation key"
    try:
        verified = verify_envelope(cert, org_keys, expected_type=CERTIFICATE_PAYLOAD_TYPE)
    except IntegrityError as err:
        return f"its certificate does not verify: {err.msg}"
    if verified.payload != statement(workspace_id, actor, key_id, purpose, algorithm):
        return "its certificate is for another key, actor, purpose or workspace"
    return None


def signer_of(cert: Mapping[str, Any]) -> str:
    """The key id that signed a certificate (for messages)."""
    try:
        return str(cert["signatures"][0]["keyid"])
    except (KeyError, IndexError, TypeError):
        return "?"
