"""Backup and restore through the real CLI: round trip, refusals, tampering, witnesses."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from core.data import snapshots
from core.kernel.workspace import Workspace
from tests.conftest import ROOT, copy_workspace, run_cli, run_cli_here

SAMPLE = ROOT / "sample_data" / "german-credit" / "german.data"


def env_of(ws_path: Path, actor: str = "alice") -> dict[str, str]:
    return {"LEDGERML_WORKSPACE": str(ws_path), "LEDGERML_ACTOR": actor}


@pytest.fixture(scope="module")
def backed_up_once(ws_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``ws``, a workspace with a snapshot (real blobs) and a checkpoint,
    and ``backup``, its backup made by the CLI (built once; tests get copies of both)."""
    folder = tmp_path_factory.mktemp("backed-up")
    ws = copy_workspace(ws_template, folder / "ws")
    snapshots.add(ws, "alice", SAMPLE, dataset="loans")
    run_cli_here("audit", "checkpoint", env=env_of(ws.root), check=True)
    done = run_cli("backup", str(folder / "backup"), env=env_of(ws.root, "bob"))  # an auditor may
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture
def backed_up(backed_up_once: Path, ws_path: Path, tmp_path: Path) -> Path:
    """Private copies of that workspace (at ``ws_path``) and of its backup (returned)."""
    copy_workspace(backed_up_once / "ws", ws_path)
    shutil.copytree(backed_up_once / "backup", tmp_path / "backup")
    return tmp_path / "backup"


def test_backup_and_restore_round_trip(ws_path: Path, backed_up: Path, tmp_path: Path) -> None:
    manifest = json.loads((backed_up / "backup.json").read_text())
    size, head = Workspace.open(ws_path).ledger.head()
    assert manifest["head"] == {"seq": size, "hash": head}
    listed = {f["path"] for f in manifest["files"]}
    assert "config.toml" in listed and any(p.startswith("objects/sha256/") for p in listed)
    assert not any(p.startswith(("catalog", "tmp/", "lock")) for p in listed)

    target = tmp_path / "restored"
    target.mkdir()  # an empty folder is accepted
    restored = run_cli("restore", str(backed_up), "--workspace", str(target))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "VERIFIED" in restored.stdout
    again = Workspace.open(target)
    assert again.ledger.head() == (size, head)
    assert [s.ref for s in snapshots.list_snapshots(again)] == ["loans@1"]  # catalog rebuilt
    for path in [target, *target.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    verify = run_cli_here("audit", "verify", env=env_of(target))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_backup_refuses_a_destination_that_is_not_empty(ws_path: Path, ws: Workspace) -> None:
    dest = ws_path.parent / "full"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    refused = run_cli_here("backup", str(dest), env=env_of(ws_path))
    assert refused.returncode == 2 and "is not empty" in refused.stderr
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in ws_path.parent.iterdir()) == ["full", "ws"]  # no temp copy
    by_scientist = run_cli_here("backup", str(ws_path.parent / "b"), env=env_of(ws_path, "sam"))
    assert by_scientist.returncode != 0 and "auditor" in by_scientist.stderr
    assert not (ws_path.parent / "b").exists()


@pytest.mark.parametrize("damage", ["altered", "missing"])
def test_a_damaged_backup_restores_nothing(backed_up: Path, tmp_path: Path, damage: str) -> None:
    manifest = json.loads((backed_up / "backup.json").read_text())
    victim = next(f["path"] for f in manifest["files"] if f["path"].startswith("ledger/segments"))
    if damage == "altered":
        data = bytearray((backed_up / victim).read_bytes())
        data[10] ^= 1
        (backed_up / victim).write_bytes(bytes(data))
    else:
        (backed_up / victim).unlink()
    target = tmp_path / "restored"
    refused = run_cli_here("restore", str(backed_up), "--workspace", str(target))
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert victim in refused.stderr
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup", "ws"]  # no temp copy


def test_a_restored_workspace_verifies_against_a_witness_written_before_the_backup(
    tmp_path: Path,
) -> None:
    witness = tmp_path / "witness"
    witness.mkdir()
    ws_path = tmp_path / "ws"
    env = env_of(ws_path)
    run_cli_here("init", "--witness", str(witness), env=env, check=True)
    run_cli_here("audit", "checkpoint", env=env, check=True)
    run_cli_here("backup", str(tmp_path / "backup"), env=env, check=True)

    restored = run_cli_here(
        "restore", str(tmp_path / "backup"), "--workspace", str(tmp_path / "new")
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    verify = run_cli_here("audit", "verify", env=env_of(tmp_path / "new"))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"witness {witness}" in verify.stdout and "1 checkpoint" in verify.stdout

    # Events signed after the backup make restoring it a rollback, and the witness says so.
    run_cli_here("actor", "add", "bob", "--role", "auditor", env=env, check=True)
    run_cli_here("audit", "checkpoint", env=env, check=True)
    stale = run_cli_here("restore", str(tmp_path / "backup"), "--workspace", str(tmp_path / "old"))
    assert stale.returncode == 3, stale.stdout + stale.stderr
    assert "checkpoint at size 2" in stale.stderr and "rolled back" in stale.stderr


def test_a_backup_of_a_workspace_with_a_torn_tail_holds_the_acknowledged_ledger(
    ws_path: Path, ws: Workspace, tmp_path: Path
) -> None:
    acknowledged = ws.ledger.head()
    [segment] = sorted((ws_path / "ledger" / "segments").glob("*.log"))
    with segment.open("ab") as handle:
        handle.write(b'{"seq":4,"interrupted')  # an append killed before its newline
    done = run_cli_here("--json", "backup", str(tmp_path / "backup"), env=env_of(ws_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["head_seq"] == acknowledged[0]
    restored = run_cli_here(
        "--json", "restore", str(tmp_path / "backup"), "--workspace", str(tmp_path / "new")
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr
    report = json.loads(restored.stdout)["verify"]
    assert report["ok"] and report["events"] == acknowledged[0]
    assert not any("interrupted" in n for n in report["notes"])
    assert Workspace.open(tmp_path / "new").ledger.head() == acknowledged
