"""Backups carry the key store; an erasure rotates the key-encryption key so they cannot undo it.

A backup holds ``keystore/`` (wrapped data keys and ``kek.json``, never a KEK), so a restored
workspace reads its encrypted snapshots. An erasure destroys its data keys and then rotates
the KEK: every remaining key is re-wrapped under a new version and the old one is deleted
from the keyring. A backup made before the erasure therefore holds the erased snapshot's key
file wrapped under a KEK that exists nowhere: its restore reads nothing encrypted, and says
why. A backup made after the erasure restores everything still alive. A kill in the middle
of the rotation (a real SIGKILL of ``ledgerml data erase``) leaves both KEKs and mixed files;
``audit verify`` flags it; the same erase run again finishes it. The kills before the first
re-wrap and before the old KEK is deleted are the slow variants (``-m slow``).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from core.audit import backup, verification
from core.data import data_keys, encryption, snapshots, tables
from core.data.snapshots import SnapshotRow
from core.kernel.errors import IntegrityError, KeyStoreError
from core.kernel.workspace import Workspace
from core.privacy import erasure
from tests.conftest import run_cli
from tests.privacy.erasing import small_csv

BASIS = "GDPR Art. 17(1)(b)"


def _rows(ws: Workspace, ref: str) -> int:
    """Decrypt a snapshot through the read door and count its rows (a real reader)."""
    snap = snapshots.show(ws, ref)
    with encryption.open(ws, "alice", [snap], "profile", target="backup-test"):
        con = tables.connect()
        try:
            src = encryption.table_source(ws, con, snap)
            return int(con.execute(f"SELECT count(*) FROM {src}").fetchone()[0])  # type: ignore[index]
        finally:
            con.close()


def _keys(snap: SnapshotRow) -> list[str]:
    info = json.loads(snap.encryption or "{}")
    return [info["raw"]["id"], info["parquet"]["id"]]


def _kek_stored(ws: Workspace, version: int) -> str | None:
    kr = data_keys._keyring()
    return kr.get_password(data_keys.KEK_SERVICE, data_keys.kek_username(ws, version))  # type: ignore[attr-defined,no-any-return]


def _add(ws: Workspace, folder: Path, name: str) -> SnapshotRow:
    snap, _ = snapshots.add(
        ws, "alice", small_csv(folder, name), dataset=name, pii=["customer_id"], encrypt=True
    )
    return snap


def test_a_restored_backup_reads_its_encrypted_snapshots(ws: Workspace, tmp_path: Path) -> None:
    _add(ws, tmp_path, "kept")
    held = backup.backup(ws, "alice", tmp_path / "b")
    names = {p.name for p in (held.path / "keystore").iterdir()}
    assert "kek.json" in names and len(names) == 3  # kek.json and two wrapped data keys
    kek_hex = _kek_stored(ws, 1)
    assert kek_hex is not None
    for path in held.path.rglob("*"):  # never a KEK in a backup
        if path.is_file():
            assert kek_hex.encode() not in path.read_bytes()
    restored, report = backup.restore(held.path, tmp_path / "r")
    assert report.ok, report.failures
    assert not [n for n in report.notes if "cannot be read" in n]
    assert _rows(restored, "kept@1") == 40


def test_an_erasure_makes_every_earlier_backup_unreadable_and_later_ones_whole(
    ws: Workspace, tmp_path: Path
) -> None:
    x, _y = _add(ws, tmp_path, "xset"), _add(ws, tmp_path, "yset")
    b1 = backup.backup(ws, "alice", tmp_path / "b1").path
    done = erasure.erase(ws, "alice", "xset@1", reason="REQ-1", legal_basis=BASIS)
    assert done.shredded.rotated
    b2 = backup.backup(ws, "alice", tmp_path / "b2").path

    # The old KEK is gone from the keyring; the new one is current; the live workspace reads.
    assert _kek_stored(ws, 1) is None
    assert _kek_stored(ws, 2) is not None
    assert data_keys.record(ws)["current"] == 2 and set(data_keys.record(ws)["checks"]) == {"2"}
    assert _rows(ws, "yset@1") == 40

    # B1 still holds X's wrapped key, but under the destroyed KEK: X and Y are unreadable,
    # with the error naming the situation; the record itself restores and verifies.
    assert all((b1 / "keystore" / f"{k}.json").is_file() for k in _keys(x))
    old, report = backup.restore(b1, tmp_path / "r1")
    assert report.ok, report.failures
    said = f"this backup predates erasure #{done.seq}"
    assert any(said in n for n in report.notes), report.notes
    for ref in ("xset@1", "yset@1"):
        with pytest.raises(KeyStoreError, match=said) as err:
            _rows(old, ref)
        assert "restore a backup made after it" in err.value.msg
    # Attack: the live KEK does not open B1's key files either (they are not re-wrapped).
    info = json.loads(x.encryption or "{}")["parquet"]
    (old.root / "keystore" / "kek.json").write_text((ws.root / "keystore" / "kek.json").read_text())
    with pytest.raises((IntegrityError, KeyStoreError)):
        data_keys.get(old, info["id"], info["check"])

    # B2 restores Y readable and X erased.
    new, report = backup.restore(b2, tmp_path / "r2")
    assert report.ok, report.failures
    assert _rows(new, "yset@1") == 40
    assert snapshots.show(new, "xset@1").erased_seq == done.seq
    assert not any(data_keys.exists(new, k) for k in _keys(x))


@pytest.mark.parametrize(
    "point",
    [
        "kek.mid-rewrap",
        pytest.param("kek.after-new", marks=pytest.mark.slow),
        pytest.param("kek.before-retire", marks=pytest.mark.slow),
    ],
)
def test_a_kill_in_the_rotation_is_flagged_and_finished_by_running_the_erase_again(
    ws_path: Path, ws: Workspace, tmp_path: Path, point: str
) -> None:
    x, y = _add(ws, tmp_path, "xset"), _add(ws, tmp_path, "yset")
    env = {"LEDGERML_WORKSPACE": str(ws_path), "LEDGERML_ACTOR": "alice"}
    erase = ["data", "erase", "xset@1", "--reason", "REQ-2", "--legal-basis", BASIS, "--yes"]
    crashed = run_cli(*erase, env={**env, "LEDGERML_FAILPOINT": point})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    mid = Workspace.open(ws_path)
    assert not any(data_keys.exists(mid, k) for k in _keys(x))  # keys went before rotating
    # The new version is the next one free in the keyring (it probes upward): copies of one
    # template workspace share its id, so an earlier test may have used 2. Read it back.
    doc = data_keys.record(mid)
    new = int(doc.get("next") or doc["current"])
    assert new > 1 and _kek_stored(mid, 1) is not None and _kek_stored(mid, new) is not None
    versions = sorted(
        int(json.loads((mid.root / "keystore" / f"{k}.json").read_text()).get("kek", 1))
        for k in _keys(y)
    )
    if point == "kek.after-new":
        assert versions == [1, 1]
    elif point == "kek.mid-rewrap":
        assert versions == [1, new]
    else:
        assert versions == [new, new]
    assert _rows(mid, "yset@1") == 40  # mixed files still read, each under its version
    z = _add(mid, tmp_path, "zset")  # a key made mid-rotation goes under the new KEK
    assert {
        json.loads((mid.root / "keystore" / f"{k}.json").read_text()).get("kek") for k in _keys(z)
    } == {new}

    report = verification.verify(mid)
    assert not report.ok
    said = " ".join(report.failures)
    assert "the key-encryption key not yet rotated" in said and "again to finish it" in said

    retry = erasure.erase(
        Workspace.open(ws_path), "alice", "xset@1", reason="REQ-2", legal_basis=BASIS
    )
    assert retry.already and retry.shredded.rotated and not retry.remaining
    after = Workspace.open(ws_path)
    assert _kek_stored(after, 1) is None and _kek_stored(after, new) is not None
    doc = data_keys.record(after)
    assert doc["current"] == new and "next" not in doc and "retiring" not in doc
    assert _rows(after, "yset@1") == 40 and _rows(after, "zset@1") == 40
    report = verification.verify(after)
    assert report.ok, report.failures
