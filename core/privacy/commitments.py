"""Keyed commitments to data subjects: "was X erased?" answerable, X never recorded.

A subject erasure must prove *whose* rows went without writing down who that was: the
ledger can never be rewritten, so a value recorded there would outlive the erasure of the
person it names. The receipt holds ``HMAC-SHA-256(K, column, value)`` instead, under a
per-workspace **commitment key** K kept in the OS keyring (service
``ledgerml-subject-commitment``), never on disk. Without K the commitment reveals nothing,
not even by trying candidate values (a plain hash of an e-mail address would fall to a
dictionary); a data protection officer on the account holding K recomputes it for a name
and compares (:func:`commit` and :func:`core.privacy.erasure.erasures_of_subject`).

The receipt also names K by its check value (an HMAC of a fixed label under it), so a
commitment made under another key is reported as unanswerable, never as "not erased".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from core.kernel.errors import KeyStoreError
from core.kernel.workspace import Workspace

SERVICE = "ledgerml-subject-commitment"
SCHEME = "hmac-sha256/subject-v1"
_CHECK_LABEL = b"ledgerml subject commitment key check v1"
_DOMAIN = b"ledgerml subject v1\x00"


def _keyring() -> object:
    from core.identity.keys.backends import KeyringBackend

    return KeyringBackend()._keyring()


def key(ws: Workspace, *, create: bool) -> bytes | None:
    """The workspace's commitment key from the keyring (made on first use when ``create``).

    Raises:
        KeyStoreError: if the keyring refuses to store a new key.
    """
    kr = _keyring()
    stored = kr.get_password(SERVICE, ws.workspace_id)  # type: ignore[attr-defined]
    if stored is not None:
        return bytes.fromhex(stored)
    if not create:
        return None
    fresh = secrets.token_bytes(32)
    try:
        kr.set_password(SERVICE, ws.workspace_id, fresh.hex())  # type: ignore[attr-defined]
    except Exception as err:
        raise KeyStoreError(f"the OS keyring refused to store a key: {err}") from err
    return fresh


def check_of(k: bytes) -> str:
    """Names the key in receipts; reveals nothing of it."""
    return hmac.new(k, _CHECK_LABEL, hashlib.sha256).hexdigest()[:32]


def commit(k: bytes, column: str, value: str) -> str:
    """The commitment to one subject: the column and the value as text, under ``k``."""
    message = _DOMAIN + column.encode() + b"\x00" + value.encode()
    return "hmac-sha256:" + hmac.new(k, message, hashlib.sha256).hexdigest()
