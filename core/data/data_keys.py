"""Data keys: one fresh AES-256 key per encrypted object, wrapped, kept where it can be destroyed.

The key hierarchy, and why each part lives where it does:

- a **key-encryption key** (KEK) per workspace, in the OS keyring (service
  ``ledgerml-kek``), never on disk; ``keystore/kek.json`` records only its check value (an
  HMAC of a fixed label under it), so a wrong or missing KEK is a clear error, not garbage;
- a **data key** per object (the raw copy and the Parquet copy of a snapshot each have one),
  wrapped under the KEK with AES-GCM (its id as associated data) in ``keystore/<id>.json``:
  a mutable folder outside the ledger, the object store and every bundle, so that
  :func:`destroy` can make the ciphertext unreadable forever (crypto-shredding) while the
  ledger, which can never be rewritten, keeps only the id and check value.

Who may *use* a data key is decided above this module (the role gate and the signed
``data.access`` event of :mod:`core.data.encryption`): on one OS account every actor shares
one unlocked keyring (:mod:`core.identity.secrets` says so plainly), so wrapping a key once
per actor in that keyring would separate no one; real separation is one OS account per
person. Destroying unlinks the wrapped key after overwriting it in place; on a journaling
file system or an SSD an old block may survive, and it holds only a key wrapped under the
KEK, which never leaves the keyring.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from core.kernel.errors import IntegrityError, KeyStoreError, NotFoundError
from core.kernel.workspace import Workspace
from storage.fsutil import atomic_write, fsync_dir, private_dir

KEK_SERVICE = "ledgerml-kek"
FOLDER = "keystore"
_CHECK_LABEL = b"ledgerml data key check v1"
_ID = re.compile(r"^dk-[0-9a-f]{32}$")


@dataclass(frozen=True)
class DataKey:
    """A data key in the clear (memory only), its id, and what the ledger records of it."""

    key_id: str
    key: bytes

    @property
    def check(self) -> str:
        """Its check value (:func:`key_check`)."""
        return key_check(self.key)

    def ref(self) -> dict[str, str]:
        """What an event records: the id and the check value, never the key."""
        return {"id": self.key_id, "check": self.check}


def key_check(key: bytes) -> str:
    """Enough to recognise a key, nothing to recover it."""
    return hmac.new(key, _CHECK_LABEL, hashlib.sha256).hexdigest()[:32]


def folder(ws: Workspace) -> Path:
    """The workspace's key store: mutable, never copied into a bundle."""
    return ws.root / FOLDER


def _keyring() -> object:
    from core.identity.keys.backends import KeyringBackend

    return KeyringBackend()._keyring()


def _kek(ws: Workspace, *, create: bool) -> bytes:
    """The workspace's KEK from the keyring, made on first use; checked against kek.json.

    Raises:
        KeyStoreError: if the keyring does not hold the KEK this workspace's keys are under.
        IntegrityError: if it holds another one.
    """
    kr = _keyring()
    record = folder(ws) / "kek.json"
    stored = kr.get_password(KEK_SERVICE, ws.workspace_id)  # type: ignore[attr-defined]
    recorded = json.loads(record.read_text())["check"] if record.exists() else None
    if stored is None:
        if recorded is not None or not create:
            raise KeyStoreError(
                "the key-encryption key of this workspace is not in this keyring",
                hint="Encrypted data is readable only on the account whose keyring holds "
                "it (`ledgerml` made it at the first encrypted snapshot). Unlock that keyring, "
                "or restore the key into it.",
            )
        kek = secrets.token_bytes(32)
        try:
            kr.set_password(KEK_SERVICE, ws.workspace_id, kek.hex())  # type: ignore[attr-defined]
        except Exception as err:
            raise KeyStoreError(f"the OS keyring refused to store a key: {err}") from err
        private_dir(folder(ws))
        atomic_write(record, json.dumps({"check": key_check(kek)}).encode())
        return kek
    kek = bytes.fromhex(stored)
    if recorded is not None and not hmac.compare_digest(key_check(kek), recorded):
        raise IntegrityError(
            "the keyring's key-encryption key is not the one this workspace's data keys are "
            "wrapped under",
            hint="Another workspace's key under the same id, or a replaced key: nothing "
            "encrypted can be read until the right one is back.",
        )
    if recorded is None:
        private_dir(folder(ws))
        atomic_write(record, json.dumps({"check": key_check(kek)}).encode())
    return kek


def _path(ws: Workspace, key_id: str) -> Path:
    if not _ID.match(key_id):
        raise NotFoundError(f"not a data key id: {key_id!r}")
    return folder(ws) / f"{key_id}.json"


def create(ws: Workspace) -> DataKey:
    """A fresh data key, wrapped under the KEK and stored in the key store."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kek = _kek(ws, create=True)
    key = DataKey("dk-" + secrets.token_hex(16), secrets.token_bytes(32))
    nonce = secrets.token_bytes(12)
    wrapped = AESGCM(kek).encrypt(nonce, key.key, key.key_id.encode())
    doc = {"id": key.key_id, "check": key.check, "wrapped": (nonce + wrapped).hex()}
    private_dir(folder(ws))
    atomic_write(_path(ws, key.key_id), json.dumps(doc).encode())
    return key


def exists(ws: Workspace, key_id: str) -> bool:
    """Whether the key store still holds the key (False: destroyed, or never here)."""
    return _path(ws, key_id).exists()


def get(ws: Workspace, key_id: str, expected_check: str) -> bytes:
    """The data key, unwrapped in memory and checked against what its event recorded.

    Raises:
        KeyStoreError: if the key was destroyed (erased) or the KEK is missing.
        IntegrityError: if the wrapped key does not unwrap (a wrong KEK, a tampered file) or
            unwraps to another key than the ledger recorded.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    path = _path(ws, key_id)
    if not path.exists():
        raise KeyStoreError(
            f"data key {key_id} is not in the key store: the data under it was erased "
            "(crypto-shredded) or this is another machine's workspace",
            hint="`ledgerml audit verify` lists what was erased, and by which receipt.",
        )
    try:
        doc = json.loads(path.read_text())
        blob = bytes.fromhex(doc["wrapped"])
    except (ValueError, KeyError, TypeError) as err:
        raise IntegrityError(f"the key store's entry {key_id} is malformed") from err
    kek = _kek(ws, create=False)
    try:
        key = AESGCM(kek).decrypt(blob[:12], blob[12:], key_id.encode())
    except InvalidTag:
        raise IntegrityError(
            f"data key {key_id} does not unwrap under this workspace's key-encryption key",
            hint="A wrong key-encryption key in the keyring, or a tampered key store entry.",
        ) from None
    if not hmac.compare_digest(key_check(key), expected_check):
        raise IntegrityError(f"data key {key_id} is not the key its event recorded")
    return key


def destroy(ws: Workspace, key_id: str) -> bool:
    """Overwrite, then delete, a wrapped data key; whether it was there."""
    path = _path(ws, key_id)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    with contextlib.suppress(OSError), path.open("r+b") as handle:
        handle.write(os.urandom(size))
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    fsync_dir(path.parent)
    return True
