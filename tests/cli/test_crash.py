"""Crash consistency: real `ledgerml` processes SIGKILLed at every point of the write path.

After each kill the workspace must open and verify, show the action entirely or not at all,
keep every acknowledged action, and a retry of the interrupted command must leave exactly one
copy of the action. The killed command is a real process (its failpoint is armed when the
process starts, and SIGKILL needs a process to kill). The verification after the kill and the
retry run in this one (``core.audit.verification.verify``, what ``audit verify`` runs, and
``run_cli_here``, the console script's entry point): what they are held to is what the dead
process left on disk, which a second interpreter start would read no differently.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
from pathlib import Path

import pytest

from core.audit import verification
from core.data import snapshots
from core.identity import actors, keys
from core.kernel.workspace import Workspace
from core.modelling import models
from tests.conftest import ROOT, copy_workspace, run_cli, run_cli_here

POINTS = [
    "blob.partial",
    "blob.before-rename",
    "event.partial",
    "event.after-fsync",
    "projection.before-commit",
    "projection.after-commit",
]
ACTIONS = {
    "actor-add": (
        ["actor", "add", "carol", "--role", "validator", "--reason", "crash"],
        "actor.add",
    ),
    "key-create": (["key", "create", "--label", "crashy", "--reason", "crash"], "key.create"),
    "snapshot-add": (
        [
            "snapshot",
            "add",
            str(ROOT / "sample_data" / "german-credit" / "german.data"),
            "--dataset",
            "crashy",
            "--reason",
            "crash",
        ],
        "snapshot.add",
    ),
}


def events_of(ws: Workspace, action: str) -> int:
    return sum(1 for e in ws.ledger.iter_entries() if e.decode()["action"] == action)


def present(ws: Workspace, action: str) -> bool:
    if action == "actor.add":
        return any(a.name == "carol" for a in actors.list_actors(ws))
    if action == "snapshot.add":
        found = snapshots.list_snapshots(ws, dataset="crashy")
        for snap in found:  # every blob the event names is in the store, intact
            for digest in (snap.raw_digest, snap.parquet_digest, snap.profile_digest):
                assert ws.objects.check(str(digest)) is None
        return bool(found)
    found = [k for k in keys.list_keys(ws) if k.label == "crashy"]
    if found:  # the public key blob named by the event must be in the store, intact
        assert ws.objects.check(found[0].public_key_digest) is None
    return bool(found)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("name", list(ACTIONS))
def test_kill_at_every_point(ws_path: Path, ws: Workspace, point: str, name: str) -> None:
    args, action = ACTIONS[name]
    base_events = events_of(ws, action)
    env = {
        "LEDGERML_WORKSPACE": str(ws_path),
        "LEDGERML_ACTOR": "alice",
        "LEDGERML_FAILPOINT": point,
    }
    crashed = run_cli(*args, env=env)
    acknowledged = crashed.returncode == 0
    if not acknowledged:
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    if point == "blob.partial" and name == "snapshot-add":
        assert not acknowledged  # the profile blob goes through the partial-write point

    reopened = Workspace.open(ws_path)
    committed = events_of(reopened, action) - base_events
    assert committed in (0, 1)
    assert present(reopened, action) == (committed == 1)  # all or nothing
    if acknowledged:
        assert committed == 1  # an acknowledged action is never lost
    verify = verification.verify(Workspace.open(ws_path))  # what `audit verify` runs
    assert verify.ok, verify.failures

    retry = run_cli_here(*args, env={"LEDGERML_WORKSPACE": str(ws_path), "LEDGERML_ACTOR": "alice"})
    assert retry.returncode == 0, retry.stderr
    assert events_of(Workspace.open(ws_path), action) - base_events == 1
    assert present(Workspace.open(ws_path), action)
    # What the killed process left (its temporary copies, its ingest folder) was swept when
    # the workspace was next opened.
    assert list(ws_path.rglob(".tmp-*")) == []
    assert list(ws_path.rglob(".ingest-*")) == []


@pytest.mark.parametrize("point", ["event.partial", "projection.before-commit"])
def test_interrupted_init_can_be_run_again(tmp_path: Path, point: str) -> None:
    target = tmp_path / "ws"
    env = {"LEDGERML_WORKSPACE": str(target), "LEDGERML_ACTOR": "alice"}
    crashed = run_cli("init", env={**env, "LEDGERML_FAILPOINT": point})
    assert crashed.returncode == -signal.SIGKILL
    again = run_cli_here("init", env=env)  # the rerun arms no failpoint
    if point == "event.partial":
        assert again.returncode == 0, again.stderr  # never committed: init starts afresh
    else:
        assert again.returncode == 2 and "already exists" in again.stderr  # committed
    verify = verification.verify(Workspace.open(target))
    assert verify.ok, verify.failures


SAMPLE = ROOT / "sample_data" / "german-credit"


@pytest.fixture(scope="module")
def signed_model(credit_keyed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding one trained, registered and signed model (built once: a copy of
    the suite's ``credit_keyed``, alice's key, her signature)."""
    root = tmp_path_factory.mktemp("export-crash") / "ws"
    built = copy_workspace(credit_keyed, root)
    keys.create(built, "alice")
    models.sign(built, "alice", "credit-risk@1")
    return root


@pytest.mark.parametrize("point", ["export.before-event", "export.after-event"])
def test_a_killed_export_never_records_a_bundle_that_is_not_there(
    signed_model: Path, tmp_path: Path, point: str
) -> None:
    ws_path = tmp_path / "ws"
    shutil.copytree(signed_model, ws_path)
    out = tmp_path / "out" / "bundle.zip"
    env = {"LEDGERML_WORKSPACE": str(ws_path), "LEDGERML_ACTOR": "alice"}
    args = ["bundle", "export", "credit-risk@1", "-o", str(out)]
    crashed = run_cli(*args, env={**env, "LEDGERML_FAILPOINT": point})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    recorded = events_of(Workspace.open(ws_path), "bundle.export")
    assert out.is_file()  # in place and durable before the event is appended
    assert recorded == (1 if point == "export.after-event" else 0)
    if recorded:  # the event names exactly the file that is there
        [body] = [
            e.decode()["data"]
            for e in Workspace.open(ws_path).ledger.iter_entries()
            if e.decode()["action"] == "bundle.export"
        ]
        assert body["bundle_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert not out.with_name(out.name + ".partial").exists()
    verify = verification.verify(Workspace.open(ws_path))
    assert verify.ok, verify.failures
    assert list(ws_path.rglob(".tmp-*")) == []
