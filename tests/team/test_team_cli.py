"""The team commands as a user meets them: remote add, clone, sync, status, and their refusals."""

from __future__ import annotations

import json
from pathlib import Path

from core.kernel.workspace import CONFIG, Workspace, write_config
from tests.conftest import run_cli, run_cli_here


def _env(path: Path, actor: str = "alice") -> dict[str, str]:
    return {"LEDGERML_WORKSPACE": str(path), "LEDGERML_ACTOR": actor}


def test_two_workstations_from_the_command_line(
    ws: Workspace, shared_db: str, tmp_path: Path
) -> None:
    added = run_cli("remote", "add", "origin", shared_db, env=_env(ws.root))
    assert added.returncode == 0, added.stderr
    assert "attached to origin" in added.stdout and "published 3 events" in added.stdout
    again = run_cli_here("remote", "add", "other", shared_db, env=_env(ws.root))
    assert again.returncode == 2 and "attached to 'origin' already" in again.stderr

    replica = tmp_path / "b"
    cloned = run_cli_here("clone", shared_db, str(replica))
    assert cloned.returncode == 0, cloned.stderr
    assert "cloned 3 verified events" in cloned.stdout
    assert run_cli_here("clone", shared_db, str(replica)).returncode == 2  # not an empty folder

    recorded = run_cli_here(
        "actor", "add", "val", "--role", "validator", "--reason", "r", env=_env(replica)
    )
    assert recorded.returncode == 0, recorded.stderr
    st = run_cli_here("status", "--no-verify", "--json", env=_env(ws.root))
    remote = json.loads(st.stdout)["remote"]
    assert (remote["local_size"], remote["remote_size"]) == (3, 4)  # the teammate's event waits
    text = run_cli_here("status", "--no-verify", env=_env(ws.root)).stdout
    assert "remote head" in text and "1 new: `ledgerml sync` pulls them" in text

    synced = run_cli_here("sync", env=_env(ws.root, "bob"))
    assert synced.returncode == 0, synced.stderr
    assert "pulled 1 event" in synced.stdout and "cosigned #4" in synced.stdout
    remote = json.loads(run_cli_here("status", "--no-verify", "--json", env=_env(ws.root)).stdout)[
        "remote"
    ]
    assert remote["local_head"] == remote["remote_head"] and remote["last_sync"]["size"] == 4
    assert (ws.root / "ledger" / "cosigned").is_dir()


def test_offline_reads_work_and_writes_are_refused(ws: Workspace, shared_db: str) -> None:
    assert run_cli_here("remote", "add", "origin", shared_db, env=_env(ws.root)).returncode == 0
    config = json.loads(json.dumps(Workspace.open(ws.root).config))
    config["remote"]["url"] = "postgresql://ledgerml:secret@127.0.0.1:1/gone"
    write_config(ws.root / CONFIG, config)
    status = run_cli_here("status", env=_env(ws.root))
    assert status.returncode == 0, status.stderr
    assert "unreachable" in status.stdout and "secret" not in status.stdout
    assert run_cli_here("audit", "verify", env=_env(ws.root)).returncode == 0
    write = run_cli_here(
        "actor", "add", "val", "--role", "validator", "--reason", "r", env=_env(ws.root)
    )
    assert write.returncode == 2
    assert "records only through it" in write.stderr and "secret" not in write.stderr
    detached = run_cli_here("remote", "remove", env=_env(ws.root))
    assert detached.returncode == 0 and "records locally again" in detached.stdout
    assert (
        run_cli_here(
            "actor", "add", "val", "--role", "validator", "--reason", "r", env=_env(ws.root)
        ).returncode
        == 0
    )


def test_refusals(ws: Workspace, shared_db: str, tmp_path: Path) -> None:
    bad = run_cli_here("remote", "add", "origin", "mysql://x/y", env=_env(ws.root))
    assert bad.returncode == 2 and "not a PostgreSQL URL" in bad.stderr
    nobody = run_cli_here("remote", "add", "origin", shared_db, env=_env(ws.root, "sam"))
    assert nobody.returncode == 2 and "admin" in nobody.stderr
    assert run_cli_here("sync", env=_env(ws.root)).returncode == 2  # not attached
    empty = run_cli_here("clone", shared_db, str(tmp_path / "c"))
    assert empty.returncode == 2 and "holds no shared ledger" in empty.stderr
    assert not (tmp_path / "c").exists()


def test_a_clone_of_a_tampered_server_keeps_nothing(
    ws: Workspace, shared_db: str, tmp_path: Path
) -> None:
    import psycopg

    assert run_cli_here("remote", "add", "origin", shared_db, env=_env(ws.root)).returncode == 0
    with psycopg.connect(shared_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE ledger_events SET body = convert_to(replace(convert_from(body, 'UTF8'), "
            "'auditor', 'admin'), 'UTF8'), hash = 'x' WHERE seq = 2"
        )
    cloned = run_cli_here("clone", shared_db, str(tmp_path / "c"))
    assert cloned.returncode == 3 and "event #2" in cloned.stderr
    assert not (tmp_path / "c").exists()
