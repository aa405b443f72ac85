"""Model signatures in the OpenSSF model-signing format (v1.0), offline-verifiable.

The format is a Sigstore bundle v0.3 holding a DSSE envelope whose payload is an in-toto
Statement: the subject is the model's folder name with a SHA-256 over its files' digests (in
name order), the predicate lists each file's digest and how the folder was serialised. Signed
with an ECDSA key, it needs no transparency log, so third-party tools (the ``model_signing``
package, ``model_signing verify key``) check an exported model on an air-gapped machine.
We write it ourselves because the package's signers want a private key file or its own
PKCS#11 URI handling, while our keys live behind our backends; the tests verify our bundles
with the real ``model_signing`` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from core.identity.signing import INTOTO_PAYLOAD_TYPE, STATEMENT_TYPE, pae, verify_raw
from core.kernel.errors import IntegrityError
from storage.canonical import canonical_bytes

PREDICATE_TYPE = "https://model_signing/signature/v1.0"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IGNORE_PATHS = [".git", ".gitattributes", ".github", ".gitignore"]


def statement(model_name: str, resources: Sequence[tuple[str, str]]) -> bytes:
    """The in-toto payload for a model folder of ``(relative path, sha256 hex)`` files."""
    ordered = sorted(resources)
    root = hashlib.sha256(b"".join(bytes.fromhex(d) for _, d in ordered)).hexdigest()
    return canonical_bytes(
        {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": model_name, "digest": {"sha256": root}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "serialization": {
                    "method": "files",
                    "hash_type": "sha256",
                    "allow_symlinks": False,
                    "ignore_paths": IGNORE_PATHS,
                },
                "resources": [{"name": n, "algorithm": "sha256", "digest": d} for n, d in ordered],
            },
        }
    )


def bundle(payload: bytes, signature: bytes, public_pem: str) -> dict[str, Any]:
    """A Sigstore bundle v0.3 around a DSSE signature made with an ECDSA key."""
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": hashlib.sha256(public_pem.encode()).hexdigest()},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }


def signed_message(payload: bytes) -> bytes:
    """What the ECDSA signature covers (DSSE PAE)."""
    return pae(INTOTO_PAYLOAD_TYPE, payload)


def verify(raw_bundle: bytes, public_pem: str, files: Sequence[tuple[str, str]]) -> None:
    """Check a bundle against a public key and the model's ``(path, sha256)`` files.

    Raises:
        IntegrityError: naming the first check that fails.
    """
    try:
        doc = json.loads(raw_bundle)
        envelope = doc["dsseEnvelope"]
        payload = base64.b64decode(envelope["payload"])
        signature = base64.b64decode(envelope["signatures"][0]["sig"])
        hint = doc["verificationMaterial"]["publicKey"]["hint"]
        body = json.loads(payload)
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise IntegrityError(f"malformed OpenSSF signature bundle: {err!r}") from err
    if doc.get("mediaType") != BUNDLE_MEDIA_TYPE or body.get("predicateType") != PREDICATE_TYPE:
        raise IntegrityError("not an OpenSSF model-signing v1.0 bundle")
    if hint != hashlib.sha256(public_pem.encode()).hexdigest():
        raise IntegrityError("the OpenSSF bundle names another public key")
    if not verify_raw(public_pem, signed_message(payload), signature):
        raise IntegrityError("the OpenSSF bundle's signature does not verify")
    signed = sorted((r["name"], r["digest"]) for r in body["predicate"]["resources"])
    if signed != sorted(files):
        raise IntegrityError("the OpenSSF bundle lists other files or digests than the model")
