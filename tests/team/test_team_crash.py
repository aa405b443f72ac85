"""Killed workstations and a crashed server: no partial state, and a retry converges.

The killed commands are real ``ledgerml`` processes (``LEDGERML_FAILPOINT`` makes them SIGKILL
themselves at a named point); the server is the real one the session started, crashed with
``pg_ctl -m immediate`` in the middle of a transaction.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from core.audit import verification
from core.kernel.workspace import Workspace
from core.team import remotes
from storage import failpoints
from storage.pg_remote import PgRemote, RemoteError
from tests.conftest import ROOT, run_cli
from tests.team.conftest import PgServer

POLICY = ROOT / "tests" / "governance" / "policy"


def _count(ws: Workspace, action: str) -> int:
    return sum(1 for e in ws.ledger.iter_entries() if e.decode()["action"] == action)


def _env(ws: Workspace, point: str = "") -> dict[str, str]:
    env = {"LEDGERML_WORKSPACE": str(ws.root), "LEDGERML_ACTOR": "alice"}
    return {**env, "LEDGERML_FAILPOINT": point} if point else env


def _converged(*spaces: Workspace, url: str) -> None:
    server = PgRemote(url).head()
    for space in spaces:
        reopened = Workspace.open(space.root)
        assert reopened.ledger.head() == server
        report = verification.verify(reopened)
        assert report.ok, report.failures


@pytest.mark.parametrize("point", ["remote.before-commit", "remote.after-commit"])
def test_kill_mid_push(ws: Workspace, shared_db: str, point: str) -> None:
    remotes.add(ws, "alice", "origin", shared_db)
    args = ["actor", "add", "carol", "--role", "validator", "--reason", "crash"]
    crashed = run_cli(*args, env=_env(ws, point))
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    on_server = sum(
        b'"actor.add"' in r.body and b'"carol"' in r.body for r in PgRemote(shared_db).events(0)
    )
    # Before the server's COMMIT nothing was recorded; after it the event is the team's,
    # though this replica had not appended it yet when the process died.
    assert on_server == (1 if point == "remote.after-commit" else 0)
    assert _count(Workspace.open(ws.root), "actor.add") == 2  # bob and sam: nothing local
    retry = run_cli(*args, env=_env(ws))
    assert retry.returncode == 0, retry.stderr
    # After the server's COMMIT, the retry's pull brought carol back: nothing is recorded twice.
    assert ("already exists" in retry.stdout) == (point == "remote.after-commit")
    _converged(ws, url=shared_db)
    assert _count(Workspace.open(ws.root), "actor.add") == 3  # carol, exactly once


def test_kill_mid_object_upload_resumes(ws: Workspace, shared_db: str) -> None:
    remotes.add(ws, "alice", "origin", shared_db)
    args = ["policy", "install", str(POLICY), "--reason", "crash"]
    crashed = run_cli(*args, env=_env(ws, "remote.object-chunk"))
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert _count(Workspace.open(ws.root), "policy.install") == 0
    assert PgRemote(shared_db).head() == Workspace.open(ws.root).ledger.head()
    retry = run_cli(*args, env=_env(ws))
    assert retry.returncode == 0, retry.stderr
    _converged(ws, url=shared_db)


def test_kill_mid_pull(ws: Workspace, shared_db: str, tmp_path: Path) -> None:
    remotes.add(ws, "alice", "origin", shared_db)
    behind = remotes.clone(shared_db, tmp_path / "b")
    from core.identity import actors

    for name in ("p1", "p2", "p3", "p4"):
        actors.add(ws, "alice", name, ["auditor"])
    # The pull's one append of four events is cut half-way: a torn line at the end.
    crashed = run_cli("sync", env={**_env(behind, "event.partial"), "LEDGERML_ACTOR": "bob"})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    remotes.sync(Workspace.open(behind.root), "bob")
    _converged(ws, behind, url=shared_db)


def test_server_crash_mid_transaction(
    ws: Workspace, shared_db: str, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.identity import actors

    remotes.add(ws, "alice", "origin", shared_db)
    before = ws.ledger.head()
    real_hit = failpoints.hit

    def crash_server(name: str) -> None:
        if name == "remote.before-commit":
            pg_server.stop("immediate")  # the row is inserted, the COMMIT not yet sent
        real_hit(name)

    monkeypatch.setattr(failpoints, "hit", crash_server)
    try:
        with pytest.raises(RemoteError, match="did not take the event"):
            actors.add(ws, "alice", "carol", ["validator"])
    finally:
        pg_server.start()
    monkeypatch.setattr(failpoints, "hit", real_hit)
    reopened = Workspace.open(ws.root)
    assert reopened.ledger.head() == before == PgRemote(shared_db).head()  # nothing, anywhere
    actors.add(reopened, "alice", "carol", ["validator"])
    _converged(reopened, url=shared_db)
