"""Data keys: one fresh AES-256 key per encrypted object, wrapped, kept where it can be destroyed.

The key hierarchy, and why each part lives where it does:

- a **key-encryption key** (KEK) per workspace, in the OS keyring (service
  ``ledgerml-kek``), never on disk; ``keystore/kek.json`` records only its current version
  and the check value of each live version (an HMAC of a fixed label under it), so a wrong
  or missing KEK is a clear error, not garbage. Version 1 is under the user name
  ``<workspace id>``, version n under ``<workspace id>/kek-<n>``; every erasure that destroys
  data keys replaces the KEK (:func:`rotate`), so that the key store a backup took before
  the erasure is wrapped under a KEK that no longer exists;
- a **data key** per object (the raw copy and the Parquet copy of a snapshot each have one),
  wrapped under the KEK with AES-GCM (its id as associated data) in ``keystore/<id>.json``
  (which names the KEK version): a mutable folder outside the ledger, the object store and
  every bundle (backups carry it), so that :func:`destroy` can make the ciphertext
  unreadable forever (crypto-shredding) while the ledger, which can never be rewritten,
  keeps only the id and check value.

Who may *use* a data key is decided above this module (the role gate and the signed
``data.access`` event of :mod:`core.data.encryption`): on one OS account every actor shares
one unlocked keyring (:mod:`core.identity.secrets` says so plainly), so wrapping a key once
per actor in that keyring would separate no one; real separation is one OS account per
person. That is still true on one machine. Across workstations, wrapping per actor is what
makes a key travel: a workspace attached to a shared ledger also wraps each data key for
each reader's published recipient key, on the server (:mod:`core.data.recipients`,
:mod:`core.team.key_share`), and the workstation that fetches one keeps it here under its own
KEK (:func:`adopt`); a clone's KEK has a keyring name of its own (:func:`start_replica`).
Destroying unlinks the wrapped key after overwriting it in place; on a journaling
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
from typing import Any

from core.kernel.errors import IntegrityError, KeyStoreError, NotFoundError
from core.kernel.workspace import Workspace
from storage import failpoints
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


def kek_username(ws: Workspace, version: int) -> str:
    """The keyring username of KEK ``version``: the key store's name for v1, ``…/kek-n`` after.

    The name is the workspace id (as it always was), or, for a replica's key store, the one
    :func:`start_replica` recorded in ``kek.json``.
    """
    path = folder(ws) / "kek.json"
    name = ws.workspace_id
    if path.exists():
        name = str(json.loads(path.read_text()).get("keyring") or name)
    return name if version == 1 else f"{name}/kek-{version}"


def start_replica(ws: Workspace) -> None:
    """Give a new replica of a shared workspace a KEK of its own, under a name of its own.

    Replicas share the workspace id, and two of them on one OS account share one keyring:
    under the workspace id they would share one KEK, and the rotation an erasure makes at
    one (which deletes the old version from the keyring) would leave the other's key store
    wrapped under a key that is gone. A replica's KEK is therefore named
    ``<workspace id>/<random>`` (recorded in ``kek.json``), whatever keyring it is in.

    Raises:
        KeyStoreError: if the OS keyring refuses to store the key.
    """
    if record(ws):
        return
    name = f"{ws.workspace_id}/{secrets.token_hex(8)}"
    kek = secrets.token_bytes(32)
    try:
        _keyring().set_password(KEK_SERVICE, name, kek.hex())  # type: ignore[attr-defined]
    except Exception as err:
        raise KeyStoreError(f"the OS keyring refused to store a key: {err}") from err
    _write_record(ws, {"current": 1, "checks": {"1": key_check(kek)}, "since": 0, "keyring": name})


def _retired_username(ws: Workspace, version: int) -> str:
    # Not a secret: which erasure retired a KEK, so that a restored backup wrapped under it
    # can say so (its own ledger predates that erasure and cannot).
    return f"{kek_username(ws, version)}.retired"


def record(ws: Workspace) -> dict[str, Any]:
    """``kek.json``: the current KEK version, the check of each live version, the rotation.

    ``{"current": n, "checks": {"n": check}, "since": seq}`` — ``since`` is the erasure whose
    rotation made version n (0: none); ``keyring`` names a replica's KEK
    (:func:`start_replica`); ``next`` while a rotation is under way, ``retiring`` while old
    versions are still to be deleted from the keyring. The file of workspaces made before
    versions (``{"check": c}``) reads as version 1.
    """
    path = folder(ws) / "kek.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    if "current" not in doc:
        doc = {"current": 1, "checks": {"1": doc["check"]}, "since": 0}
    return dict(doc)


def _write_record(ws: Workspace, doc: dict[str, Any]) -> None:
    private_dir(folder(ws))
    atomic_write(folder(ws) / "kek.json", json.dumps(doc, sort_keys=True).encode())


def _stored(ws: Workspace, version: int) -> str | None:
    kr = _keyring()
    return kr.get_password(KEK_SERVICE, kek_username(ws, version))  # type: ignore[attr-defined,no-any-return]


def _missing(ws: Workspace, version: int) -> KeyStoreError:
    """The error for a KEK version this keyring lacks: retired by an erasure, or never here."""
    retired = _keyring().get_password(  # type: ignore[attr-defined]
        KEK_SERVICE, _retired_username(ws, version)
    )
    if retired is not None:
        return KeyStoreError(
            f"this backup predates {retired}: its key store is wrapped under a destroyed "
            f"key-encryption key (version {version}); restore a backup made after it",
            hint="An erasure rotates the key-encryption key and destroys the old one, so that "
            "no backup taken before it can bring erased data back; nothing encrypted in this "
            "copy can be read. Its ledger and plaintext data are intact.",
        )
    return KeyStoreError(
        "the key-encryption key of this workspace is not in this keyring"
        + (f" (version {version})" if version != 1 else ""),
        hint="Encrypted data is readable only on the account whose keyring holds "
        "it (`ledgerml` made it at the first encrypted snapshot). Unlock that keyring, "
        "or restore the key into it.",
    )


def _kek(ws: Workspace, *, create: bool, version: int | None = None) -> tuple[int, bytes]:
    """A KEK version (default: the current one) from the keyring, checked against kek.json.

    The first version is made on first use.

    Raises:
        KeyStoreError: if the keyring does not hold that version (or it is no longer live).
        IntegrityError: if it holds another key under its name.
    """
    doc = record(ws)
    if not doc:
        if not create and _stored(ws, 1) is None:
            raise _missing(ws, version or 1)
        if _stored(ws, 1) is None:
            kek = secrets.token_bytes(32)
            try:
                _keyring().set_password(  # type: ignore[attr-defined]
                    KEK_SERVICE, kek_username(ws, 1), kek.hex()
                )
            except Exception as err:
                raise KeyStoreError(f"the OS keyring refused to store a key: {err}") from err
        kek = bytes.fromhex(str(_stored(ws, 1)))
        _write_record(ws, {"current": 1, "checks": {"1": key_check(kek)}, "since": 0})
        return 1, kek
    wanted = int(doc["current"]) if version is None else version
    recorded = doc["checks"].get(str(wanted))
    stored = _stored(ws, wanted)
    if stored is None or recorded is None:
        raise _missing(ws, wanted)
    kek = bytes.fromhex(stored)
    if not hmac.compare_digest(key_check(kek), recorded):
        raise IntegrityError(
            "the keyring's key-encryption key is not the one this workspace's data keys are "
            "wrapped under",
            hint="Another workspace's key under the same id, or a replaced key: nothing "
            "encrypted can be read until the right one is back.",
        )
    return wanted, kek


def _path(ws: Workspace, key_id: str) -> Path:
    if not _ID.match(key_id):
        raise NotFoundError(f"not a data key id: {key_id!r}")
    return folder(ws) / f"{key_id}.json"


def create(ws: Workspace) -> DataKey:
    """A fresh data key, wrapped under the current KEK and stored in the key store."""
    doc = record(ws)
    # During a rotation a new key goes under the version being rotated to: one made under
    # the old version now would be left behind when that version is deleted.
    version, kek = _kek(ws, create=True, version=int(doc["next"]) if doc.get("next") else None)
    key = DataKey("dk-" + secrets.token_hex(16), secrets.token_bytes(32))
    _store(ws, key, version, kek)
    return key


def adopt(ws: Workspace, key_id: str, key: bytes, expected_check: str) -> None:
    """Keep a data key that came from elsewhere (a teammate's wrap) under this store's KEK.

    Raises:
        IntegrityError: if ``key`` is not the key ``expected_check`` (its event) names.
    """
    data_key = DataKey(key_id, key)
    _path(ws, key_id)  # a well-formed id, or NotFoundError
    if not hmac.compare_digest(data_key.check, expected_check):
        raise IntegrityError(f"data key {key_id} is not the key its event recorded")
    doc = record(ws)
    version, kek = _kek(ws, create=True, version=int(doc["next"]) if doc.get("next") else None)
    _store(ws, data_key, version, kek)


def _store(ws: Workspace, key: DataKey, version: int, kek: bytes) -> None:
    """Wrap ``key`` under KEK ``version`` and replace its file atomically."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    wrapped = AESGCM(kek).encrypt(nonce, key.key, key.key_id.encode())
    doc = {"id": key.key_id, "check": key.check, "kek": version, "wrapped": (nonce + wrapped).hex()}
    private_dir(folder(ws))
    atomic_write(_path(ws, key.key_id), json.dumps(doc).encode())


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
        version = int(doc.get("kek", 1))
    except (ValueError, KeyError, TypeError) as err:
        raise IntegrityError(f"the key store's entry {key_id} is malformed") from err
    _, kek = _kek(ws, create=False, version=version)
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


# KEK rotation. An erasure destroys data keys, but a backup taken before it holds their
# wrapped copies (backups carry the key store: without it a restore could read nothing).
# So the erasure also replaces the KEK: every remaining data key is re-wrapped under a new
# version, and the old version is deleted from the keyring. A backup made before the
# erasure then holds only keys wrapped under a KEK that exists nowhere: nothing in it can
# be decrypted, the erased data included. Each step is durable before the next, so a crash
# leaves a state :func:`rotation_needed` sees and :func:`rotate` finishes.


def _files(ws: Workspace) -> list[Path]:
    return sorted(p for p in folder(ws).glob("dk-*.json") if _ID.match(p.stem))


def _rewrap(ws: Workspace, new: int) -> None:
    """Re-wrap every data key file not yet under KEK ``new`` (one atomic replace each)."""
    _, kek = _kek(ws, create=False, version=new)
    for path in _files(ws):
        entry = json.loads(path.read_text())
        version = int(entry.get("kek", 1))
        if version == new:
            continue
        key = _unwrap(ws, entry, version)
        _store(ws, DataKey(str(entry["id"]), key), new, kek)
        failpoints.hit("kek.mid-rewrap")  # one file re-wrapped: the files are mixed


def _unwrap(ws: Workspace, entry: dict[str, Any], version: int) -> bytes:
    """A key file's key under KEK ``version``.

    Also under a version already dropped from kek.json but still in the keyring (the final
    sweep of a rotation), hence the keyring read here rather than :func:`_kek`.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    stored = _stored(ws, version)
    if stored is None:
        raise _missing(ws, version)
    try:
        blob = bytes.fromhex(str(entry["wrapped"]))
        kek = AESGCM(bytes.fromhex(stored))
        key = kek.decrypt(blob[:12], blob[12:], str(entry["id"]).encode())
    except (ValueError, InvalidTag) as err:
        raise IntegrityError(
            f"data key {entry['id']} does not unwrap under key-encryption key v{version}",
            hint="A tampered key store entry, or another key under that keyring name: the "
            "rotation stops here and nothing is deleted from the keyring.",
        ) from err
    if not hmac.compare_digest(key_check(key), str(entry["check"])):
        raise IntegrityError(f"data key {entry['id']} is not the key its file records")
    return key


def rotation_needed(ws: Workspace, erasure_seq: int) -> bool:
    """Whether erasure ``erasure_seq`` (which destroyed data keys) still owes a KEK rotation.

    From ``kek.json`` alone: a rotation under way (``next``, ``retiring``), or a current
    version made before that erasure. No key store, no rotation owed.
    """
    doc = record(ws)
    if not doc:
        return False
    return bool(doc.get("next") or doc.get("retiring")) or int(doc.get("since", 0)) < erasure_seq


def rotate(ws: Workspace, erasure_seq: int) -> bool:
    """Finish (or make) the KEK rotation erasure ``erasure_seq`` owes; whether one was owed.

    Steps, each durable before the next: record the new version's check as ``next`` (then
    store it in the keyring); re-wrap each data key file under it (one atomic replace per
    file); make it current (``since`` = the erasure) and list the old versions as
    ``retiring``; mark each old version retired in the keyring and delete it; drop
    ``retiring``. A re-run picks up at the first step not done.

    Raises:
        KeyStoreError: if a key file is wrapped under a version this keyring no longer holds
            (a restored copy whose KEK another copy of the workspace retired).
    """
    if not rotation_needed(ws, erasure_seq):
        return False
    doc = record(ws)
    current = int(doc["current"])
    if not doc.get("next") and not doc.get("retiring"):
        new = current + 1
        while _stored(ws, new) is not None:  # another copy's version: never overwrite it
            new += 1
        kek = secrets.token_bytes(32)
        doc = {**doc, "next": new, "checks": {**doc["checks"], str(new): key_check(kek)}}
        _write_record(ws, doc)
        try:
            _keyring().set_password(  # type: ignore[attr-defined]
                KEK_SERVICE, kek_username(ws, new), kek.hex()
            )
        except Exception as err:
            raise KeyStoreError(f"the OS keyring refused to store a key: {err}") from err
        failpoints.hit("kek.after-new")
    if doc.get("next"):
        new = int(doc["next"])
        if _stored(ws, new) is None:  # crashed between kek.json and the keyring: remake
            kek = secrets.token_bytes(32)
            doc = {**doc, "checks": {**doc["checks"], str(new): key_check(kek)}}
            _write_record(ws, doc)
            _keyring().set_password(  # type: ignore[attr-defined]
                KEK_SERVICE, kek_username(ws, new), kek.hex()
            )
        _rewrap(ws, new)
        old = sorted(int(v) for v in doc["checks"] if int(v) != new)
        doc = {
            **({"keyring": doc["keyring"]} if doc.get("keyring") else {}),
            "current": new,
            "checks": {str(new): doc["checks"][str(new)]},
            "since": erasure_seq,
            "retiring": old,
        }
        _write_record(ws, doc)
        failpoints.hit("kek.before-retire")
    _rewrap(ws, int(doc["current"]))  # a key made under an old version meanwhile
    kr = _keyring()
    for version in doc.get("retiring") or []:
        kr.set_password(  # type: ignore[attr-defined]
            KEK_SERVICE, _retired_username(ws, int(version)), f"erasure #{doc['since']}"
        )
        if _stored(ws, int(version)) is not None:
            kr.delete_password(KEK_SERVICE, kek_username(ws, int(version)))  # type: ignore[attr-defined]
    doc = {k: v for k, v in doc.items() if k != "retiring"}
    _write_record(ws, doc)
    return True


def unreadable(ws: Workspace) -> KeyStoreError | None:
    """Why this key store cannot be unwrapped here, if it cannot.

    E.g. a restored backup that predates an erasure; None when every key file's KEK version
    is live in this keyring.
    """
    doc = record(ws)
    files = _files(ws)
    if not files:
        return None
    versions = sorted({int(json.loads(p.read_text()).get("kek", 1)) for p in files})
    for version in versions:
        if (doc and str(version) not in doc["checks"]) or _stored(ws, version) is None:
            return _missing(ws, version)
    return None
