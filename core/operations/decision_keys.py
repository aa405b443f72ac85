"""Per-deployment decision keys: the HMAC key under which a deployment logs its inputs.

The decision log never holds a plain hash of an input row (an append-only log could never
erase it, and a hash of a few personal fields is easy to invert by guessing). It holds
``HMAC-SHA-256(key, row)`` under a 32-byte key made for the deployment and kept in the OS
keyring, outside the ledger, the objects and every bundle. Whoever holds the key can link a
row to its decision; once :func:`destroy` deletes it (erasure), nobody can. The ledger
records only ``key_check``, an HMAC of a fixed label, so a key can be recognised but not
recovered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from core.kernel.errors import IntegrityError, KeyStoreError
from core.kernel.workspace import Workspace

SERVICE = "ledgerml-decision-keys"
_CHECK_LABEL = b"ledgerml decision key check v1"


def _keyring() -> object:
    from core.identity.keys.backends import KeyringBackend

    return KeyringBackend()._keyring()


def _name(ws: Workspace, deployment_id: str) -> str:
    return f"{ws.workspace_id}/{deployment_id}"


def key_check(key: bytes) -> str:
    """What the ledger records of a key: enough to recognise it, nothing to recover it."""
    return hmac.new(key, _CHECK_LABEL, hashlib.sha256).hexdigest()[:32]


def create(ws: Workspace, deployment_id: str) -> str:
    """Make and store a fresh key for a deployment; its :func:`key_check`."""
    kr = _keyring()
    key = secrets.token_bytes(32)
    try:
        kr.set_password(SERVICE, _name(ws, deployment_id), key.hex())  # type: ignore[attr-defined]
    except Exception as err:
        raise KeyStoreError(f"the OS keyring refused to store a decision key: {err}") from err
    return key_check(key)


def get(ws: Workspace, deployment_id: str, expected_check: str) -> bytes:
    """The deployment's key, checked against the ``key_check`` its event recorded.

    Raises:
        KeyStoreError: if the key is gone (destroyed by erasure, or another machine's).
        IntegrityError: if the keyring holds a different key under its name.
    """
    kr = _keyring()
    stored = kr.get_password(SERVICE, _name(ws, deployment_id))  # type: ignore[attr-defined]
    if stored is None:
        raise KeyStoreError(
            f"the decision key of {deployment_id} is not in this keyring",
            hint="It was destroyed (erasure) or lives in another account's keyring; its "
            "decisions can still be shown and proven, but new ones cannot be logged.",
        )
    key = bytes.fromhex(stored)
    if not hmac.compare_digest(key_check(key), expected_check):
        raise IntegrityError(
            f"the keyring's decision key for {deployment_id} is not the one its deployment recorded"
        )
    return key


def destroy(ws: Workspace, deployment_id: str) -> bool:
    """Delete a deployment's key (crypto-shredding its input digests); whether it existed."""
    from keyring.errors import PasswordDeleteError

    kr = _keyring()
    try:
        kr.delete_password(SERVICE, _name(ws, deployment_id))  # type: ignore[attr-defined]
    except PasswordDeleteError:  # nothing stored under the name
        return False
    return True


def exists(ws: Workspace, deployment_id: str) -> bool:
    """Whether this keyring still holds the deployment's key (False once destroyed)."""
    kr = _keyring()
    return kr.get_password(SERVICE, _name(ws, deployment_id)) is not None  # type: ignore[attr-defined]
