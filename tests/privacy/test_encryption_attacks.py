"""Attacks on encrypted snapshots: tampered ciphertext, wrong or missing keys.

Every tampering is caught twice over: by the digest check before a key is used, and, with
that check skipped, by the AEAD itself (through the read door and calling
:mod:`storage.sealed` directly); never decrypted silently. A wrong or missing key is a
clear error that records nothing. Each attack restores the bytes it changed.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from core.data import data_keys, encryption, snapshots, tables
from core.identity import actors
from core.kernel.errors import IntegrityError, KeyStoreError
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Workspace
from storage import sealed


def _csv(folder: Path, rows: int) -> Path:
    """About 3 MB: a raw copy of several sealed segments (1 MiB each)."""
    lines = ["id,name,amount,note"]
    lines += [f"{i},person-{i:06d},{i * 37 % 10007},note {i % 97} for row {i}" for i in range(rows)]
    path = folder / "people.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from core.audit import admin

    root = tmp_path_factory.mktemp("attacks")
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    snap, _ = snapshots.add(
        ws, "dana", _csv(root, 80_000), dataset="people", pii=["name"], encrypt=True
    )
    info = encryption.recorded(snap)
    assert info is not None
    assert snap.raw_digest is not None
    raw = ws.objects.path(snap.raw_digest)
    assert raw.stat().st_size > 2 * (sealed.SEGMENT + 16)
    return {"ws": ws, "snap": snap, "info": info, "raw": raw}


SEG = sealed.SEGMENT + 16  # a sealed segment on disk: its bytes and its tag
HEAD = struct.calcsize(">8s7sI")


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def _truncate(data: bytes) -> bytes:
    return data[:-100]


def _cut_last_segment(data: bytes) -> bytes:
    """A cut exactly at a segment boundary: only the missing last flag can tell."""
    return data[: HEAD + 2 * SEG]


def _append(data: bytes) -> bytes:
    return data + b"\x00" * 16


def _swap_raw(data: bytes) -> bytes:
    """Segments 0 and 1 exchanged: each authenticates on its own, not at its place."""
    a, b = data[HEAD : HEAD + SEG], data[HEAD + SEG : HEAD + 2 * SEG]
    return data[:HEAD] + b + a + data[HEAD + 2 * SEG :]


def _swap_blocks(data: bytes) -> bytes:
    """Two equal blocks of the Parquet body exchanged (pages, or parts of them)."""
    return data[:1000] + data[5000:6000] + data[2000:5000] + data[1000:2000] + data[6000:]


RAW_ATTACKS: dict[str, Callable[[bytes], bytes]] = {
    "flip": _flip,
    "truncate": _truncate,
    "cut-at-boundary": _cut_last_segment,
    "append": _append,
    "swap-segments": _swap_raw,
}
PARQUET_ATTACKS: dict[str, Callable[[bytes], bytes]] = {
    "flip": _flip,
    "truncate": _truncate,
    "append": _append,
    "swap-blocks": _swap_blocks,
}


@contextmanager
def altered(path: Path, attack: Callable[[bytes], bytes]) -> Iterator[None]:
    original = path.read_bytes()
    path.chmod(0o600)
    path.write_bytes(attack(original))
    try:
        yield
    finally:
        path.write_bytes(original)


def _key(ws: Workspace, info: dict[str, Any], part: str) -> bytes:
    return data_keys.get(ws, info[part]["id"], info[part]["check"])


def _read_all(ws: Workspace, snap: SnapshotRow, *, verify: bool) -> Any:
    with encryption.open(ws, "dana", [snap], "profile", target="attack"):
        con = tables.connect()
        try:
            src = encryption.table_source(ws, con, snap, verify=verify)
            # every column: a tampered page is caught when it is read, and only then
            sql = f"SELECT sum(id), sum(amount), max(name), max(note) FROM {src}"
            return con.execute(sql).fetchall()
        finally:
            con.close()


def test_untampered_copies_read_back(target: dict[str, Any]) -> None:
    ws, snap, info = target["ws"], target["snap"], target["info"]
    assert _read_all(ws, snap, verify=False) == _read_all(ws, snap, verify=True)
    key = _key(ws, info, "raw")
    assert b"".join(encryption.raw_chunks(ws, snap, key)).startswith(b"id,name,amount,note\n")


@pytest.mark.parametrize("attack", sorted(RAW_ATTACKS))
def test_tampered_raw_ciphertext_is_refused(target: dict[str, Any], attack: str) -> None:
    ws, snap, info = target["ws"], target["snap"], target["info"]
    key = _key(ws, info, "raw")
    with altered(target["raw"], RAW_ATTACKS[attack]):
        with pytest.raises(IntegrityError, match=r"raw copy .* hashes to"):
            b"".join(encryption.raw_chunks(ws, snap, key))  # the digest check
        with pytest.raises(IntegrityError, match="does not authenticate"):
            b"".join(encryption.raw_chunks(ws, snap, key, verify=False))  # the AEAD alone
        with pytest.raises(IntegrityError, match="does not authenticate"):
            b"".join(sealed.unseal(target["raw"], key, encryption.aad("raw", info["raw"]["id"])))


@pytest.mark.parametrize("attack", sorted(PARQUET_ATTACKS))
def test_tampered_parquet_ciphertext_is_refused(target: dict[str, Any], attack: str) -> None:
    ws, snap, info = target["ws"], target["snap"], target["info"]
    path = ws.objects.path(snap.parquet_digest)
    key = _key(ws, info, "parquet")
    with altered(path, PARQUET_ATTACKS[attack]):
        with pytest.raises(IntegrityError, match=r"Parquet copy .* hashes to"):
            _read_all(ws, snap, verify=True)
        with pytest.raises(IntegrityError, match="authenticate"):
            _read_all(ws, snap, verify=False)
        with pytest.raises(IntegrityError, match="authenticate"):
            sealed.read_table(path, key, info["parquet"]["id"])


def test_ciphertext_under_another_purpose_or_key_is_refused(target: dict[str, Any]) -> None:
    """A raw copy presented as another object (other AAD), or read with another key."""
    ws, info = target["ws"], target["info"]
    key = _key(ws, info, "raw")
    with pytest.raises(IntegrityError):
        b"".join(sealed.unseal(target["raw"], key, encryption.aad("raw", "dk-" + "0" * 32)))
    with pytest.raises(IntegrityError):
        b"".join(sealed.unseal(target["raw"], bytes(32), encryption.aad("raw", info["raw"]["id"])))
    path = ws.objects.path(target["snap"].parquet_digest)
    with pytest.raises(IntegrityError):
        sealed.read_table(path, key, info["parquet"]["id"])  # the raw key, not the Parquet's


@contextmanager
def kek_replaced(ws: Workspace, value: str | None) -> Iterator[None]:
    kr: Any = data_keys._keyring()
    saved = kr.get_password(data_keys.KEK_SERVICE, ws.workspace_id)
    if value is None:
        kr.delete_password(data_keys.KEK_SERVICE, ws.workspace_id)
    else:
        kr.set_password(data_keys.KEK_SERVICE, ws.workspace_id, value)
    try:
        yield
    finally:
        kr.set_password(data_keys.KEK_SERVICE, ws.workspace_id, saved)


def test_a_missing_kek_is_a_clear_error_that_records_nothing(target: dict[str, Any]) -> None:
    ws = target["ws"]
    head = ws.ledger.head()
    with (
        kek_replaced(ws, None),
        pytest.raises(KeyStoreError, match="key-encryption key of this workspace is not"),
    ):
        encryption.open(ws, "dana", [target["snap"]], "profile")
    assert ws.ledger.head() == head
    assert _read_all(ws, target["snap"], verify=True)  # back with the key


def test_a_wrong_kek_is_an_integrity_error_that_records_nothing(target: dict[str, Any]) -> None:
    ws = target["ws"]
    head = ws.ledger.head()
    with (
        kek_replaced(ws, "11" * 32),
        pytest.raises(IntegrityError, match="not the one this workspace"),
    ):
        encryption.open(ws, "dana", [target["snap"]], "profile")
    assert ws.ledger.head() == head


def test_a_missing_data_key_is_a_clear_error_that_records_nothing(
    target: dict[str, Any], tmp_path: Path
) -> None:
    ws, info = target["ws"], target["info"]
    entry = data_keys.folder(ws) / f"{info['parquet']['id']}.json"
    shutil.move(entry, tmp_path / entry.name)
    head = ws.ledger.head()
    try:
        with pytest.raises(KeyStoreError, match="not in the key store"):
            encryption.open(ws, "dana", [target["snap"]], "profile")
    finally:
        shutil.move(tmp_path / entry.name, entry)
    assert ws.ledger.head() == head


@pytest.mark.parametrize("how", ["flipped", "swapped"])
def test_a_tampered_data_key_entry_is_refused(target: dict[str, Any], how: str) -> None:
    ws, info = target["ws"], target["info"]
    entry = data_keys.folder(ws) / f"{info['parquet']['id']}.json"
    original = entry.read_bytes()
    doc = json.loads(original)
    if how == "flipped":
        wrapped = doc["wrapped"]
        doc["wrapped"] = wrapped[:-1] + ("0" if wrapped[-1] != "0" else "1")
    else:  # the raw key's wrapped bytes under the Parquet key's name
        other = json.loads((data_keys.folder(ws) / f"{info['raw']['id']}.json").read_text())
        doc["wrapped"] = other["wrapped"]
    entry.write_text(json.dumps(doc))
    head = ws.ledger.head()
    try:
        with pytest.raises(IntegrityError, match="does not unwrap"):
            encryption.open(ws, "dana", [target["snap"]], "profile")
    finally:
        entry.write_bytes(original)
    assert ws.ledger.head() == head
