"""Commit first, shred second: a real ``ledgerml data erase`` SIGKILLed between the two.

After the kill the erasure is recorded once and every reader already refuses the snapshot,
but its keys (or, past the keys, its ciphertext) are still on disk: ``audit verify`` fails
with "erased but not yet shredded". A backup taken in that state, restored, re-applies the
erasure (the keys and objects the restored ledger's erasure names go; the KEK rotation stays
owed there).
Running the same erase again finishes the shredding and records nothing; verify passes.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from core.audit import backup
from core.data import data_keys, snapshots
from core.kernel.workspace import Workspace
from tests.conftest import run_cli
from tests.privacy.erasing import actions, small_csv

ERASE = [
    "data", "erase", "crash@1", "--reason", "REQ-9", "--legal-basis", "GDPR Art. 17(1)(b)",
    "--yes",
]  # fmt: skip


@pytest.mark.parametrize("point", ["erase.before-shred", "erase.after-keys"])
def test_a_kill_between_commit_and_shred_is_finished_by_running_it_again(
    ws_path: Path, ws: Workspace, tmp_path: Path, point: str
) -> None:
    snap, _ = snapshots.add(
        ws, "alice", small_csv(tmp_path, "crash"), dataset="crash", pii=["customer_id"],
        encrypt=True,
    )  # fmt: skip
    info = json.loads(snap.encryption or "{}")
    keys = [info["raw"]["id"], info["parquet"]["id"]]
    copies = [str(snap.raw_digest), snap.parquet_digest]
    env = {"LEDGERML_WORKSPACE": str(ws_path), "LEDGERML_ACTOR": "alice"}

    crashed = run_cli(*ERASE, env={**env, "LEDGERML_FAILPOINT": point})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    reopened = Workspace.open(ws_path)
    assert actions(reopened).count("data.erase") == 1  # committed before the kill
    assert snapshots.show(reopened, "crash@1").erased_seq is not None  # readers refuse it
    keys_left = point == "erase.before-shred"
    assert [data_keys.exists(reopened, k) for k in keys] == [keys_left, keys_left]
    assert all(reopened.objects.exists(d) for d in copies)  # objects go after the keys

    verify = run_cli("audit", "verify", env=env)
    assert verify.returncode == 3, verify.stdout
    said = " ".join((verify.stdout + verify.stderr).split())  # the console wraps lines
    assert "erased but not yet shredded" in said
    assert "data erase crash@1" in said and "again to finish it" in said

    # A backup taken now holds the erasure's objects and the key store as it is (its keys,
    # if not yet destroyed); the restore destroys the keys and objects its ledger's erasure
    # names. The KEK rotation stays owed in the copy (it shares the original's KEK), and
    # its verify says so, nothing else.
    held = backup.backup(reopened, "alice", tmp_path / "backup")
    assert [(held.path / "keystore" / f"{k}.json").is_file() for k in keys] == [keys_left] * 2
    restored, report = backup.restore(held.path, tmp_path / "restored")
    assert not any(restored.objects.exists(d) for d in copies)
    assert not any(data_keys.exists(restored, k) for k in keys)
    assert len(report.failures) == 1, report.failures
    assert "the key-encryption key not yet rotated" in report.failures[0]

    retry = run_cli(*ERASE, env=env)
    assert retry.returncode == 0, retry.stderr
    said = " ".join((retry.stdout + retry.stderr).split())
    assert "was already erased" in said and "shredded" in said
    after = Workspace.open(ws_path)
    assert actions(after).count("data.erase") == 1  # the re-run recorded nothing
    assert not any(data_keys.exists(after, k) for k in keys)
    assert not any(after.objects.exists(d) for d in copies)
    verify = run_cli("audit", "verify", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "1 erasure: 2 objects erased" in " ".join(verify.stdout.split())
