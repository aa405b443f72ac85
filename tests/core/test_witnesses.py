"""Witnesses: checkpoint copies outside the workspace, and the rollbacks only they reveal."""

from __future__ import annotations

import base64
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from core.kernel.workspace import Workspace, write_config
from tests.conftest import run_cli, run_cli_here


def env_of(ws_path: Path, actor: str = "alice") -> dict[str, str]:
    return {"LEDGERML_WORKSPACE": str(ws_path), "LEDGERML_ACTOR": actor}


def witness_copy(witness: Path, ws_path: Path, size: int) -> Path:
    workspace_id = Workspace.open(ws_path).workspace_id
    return witness / workspace_id / f"{size:012d}.json"


@pytest.fixture(scope="module")
def witnessed_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``ws``, a workspace made by the real `init --witness` twice with one
    checkpoint signed, and its two witness folders ``witness-a`` and ``witness-b``."""
    folder = tmp_path_factory.mktemp("witnessed")
    first, second = folder / "witness-a", folder / "witness-b"
    first.mkdir()
    second.mkdir()
    env = env_of(folder / "ws")
    run_cli("init", "--witness", str(first), "--witness", str(second), env=env, check=True)
    run_cli_here("actor", "add", "bob", "--role", "auditor", env=env, check=True)
    run_cli_here("audit", "checkpoint", env=env, check=True)
    return folder


@pytest.fixture
def witnessed(witnessed_once: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A private copy of ``witnessed_once`` in ``tmp_path``: the workspace and both witness
    folders, its config.toml naming the copied witnesses (the one line that differs)."""
    for name in ("ws", "witness-a", "witness-b"):
        shutil.copytree(witnessed_once / name, tmp_path / name, symlinks=True)
    config = tmp_path / "ws" / "config.toml"
    text = config.read_text()
    assert text.count(str(witnessed_once)) == 2, text
    config.write_text(text.replace(str(witnessed_once), str(tmp_path)))
    return tmp_path / "ws", tmp_path / "witness-a", tmp_path / "witness-b"


def test_a_list_setting_round_trips_through_config_toml(tmp_path: Path) -> None:
    odd = ["plain", 'with "quotes"', "back\\slash", "new\nline", "tab\tand\x7fdel", "é"]
    write_config(tmp_path / "config.toml", {"witnesses": {"paths": odd, "n": 3, "on": True}})
    loaded = tomllib.loads((tmp_path / "config.toml").read_text())
    assert loaded == {"witnesses": {"paths": odd, "n": 3, "on": True}}


def test_every_checkpoint_is_copied_to_every_witness(witnessed: tuple[Path, Path, Path]) -> None:
    ws_path, first, second = witnessed
    own = ws_path / "ledger" / "checkpoints" / f"{2:012d}.json"
    assert own.is_file()
    for witness in (first, second):
        assert witness_copy(witness, ws_path, 2).read_bytes() == own.read_bytes()
    verify = run_cli_here("audit", "verify", env=env_of(ws_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"witness {first}" in verify.stdout and f"witness {second}" in verify.stdout
    assert "1 checkpoint" in verify.stdout
    # The witness copies were checked, so no "no external checkpoint" warning.
    assert "no external checkpoint" not in verify.stderr


def test_restoring_an_older_copy_of_the_workspace_is_caught_by_the_witness(
    witnessed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    ws_path, first, _ = witnessed
    env = env_of(ws_path)
    older = tmp_path / "older"
    shutil.copytree(ws_path, older)  # the whole workspace: ledger, checkpoints and catalog
    run_cli_here("actor", "add", "carol", "--role", "validator", env=env, check=True)
    run_cli_here("audit", "checkpoint", env=env, check=True)
    assert witness_copy(first, ws_path, 3).is_file()
    shutil.rmtree(ws_path)
    older.rename(ws_path)  # a consistent, older workspace: only a witness knows better

    verify = run_cli_here("audit", "verify", env=env)
    assert verify.returncode == 3, verify.stdout + verify.stderr
    assert "checkpoint at size 3" in verify.stderr
    assert str(first) in verify.stderr
    assert "rolled back" in verify.stderr


def test_truncating_the_ledger_is_caught_by_the_witness(
    witnessed: tuple[Path, Path, Path],
) -> None:
    ws_path, first, second = witnessed
    env = env_of(ws_path)
    [segment] = sorted((ws_path / "ledger" / "segments").glob("*.log"))
    lines = segment.read_bytes().splitlines(keepends=True)
    assert len(lines) == 2
    segment.write_bytes(lines[0])  # drop the newest event...
    (ws_path / "ledger" / "checkpoints" / f"{2:012d}.json").unlink()  # ...and what covered it
    (ws_path / "catalog.duckdb").unlink()  # and the catalog that remembers it

    verify = run_cli_here("audit", "verify", env=env)
    assert verify.returncode == 3, verify.stdout + verify.stderr
    for witness in (first, second):
        assert f"checkpoint at size 2 (external {witness_copy(witness, ws_path, 2)})" in (
            verify.stderr
        )
    assert "the ledger now holds only 1" in verify.stderr


@pytest.mark.parametrize("how", ["root", "garbage"])
def test_a_tampered_witness_copy_fails_verification(
    witnessed: tuple[Path, Path, Path], how: str
) -> None:
    ws_path, first, _ = witnessed
    copy = witness_copy(first, ws_path, 2)
    if how == "root":
        env = json.loads(copy.read_text())
        payload = json.loads(base64.b64decode(env["payload"]))
        payload["root"] = "00" * 32
        env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
        copy.write_text(json.dumps(env))
    else:
        copy.write_text("not a checkpoint")
    verify = run_cli_here("audit", "verify", env=env_of(ws_path))
    assert verify.returncode == 3, verify.stdout + verify.stderr
    assert str(first) in verify.stderr


def test_an_unreachable_witness_is_a_warning_and_the_checkpoint_is_kept(
    witnessed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    ws_path, first, second = witnessed
    env = env_of(ws_path)
    run_cli_here("actor", "add", "carol", "--role", "validator", env=env, check=True)
    unmounted = tmp_path / "unmounted"
    second.rename(unmounted)

    signed = run_cli_here("audit", "checkpoint", env=env)
    assert signed.returncode == 0, signed.stderr
    assert f"witness {second} is unreachable" in signed.stderr
    assert (ws_path / "ledger" / "checkpoints" / f"{3:012d}.json").is_file()
    assert witness_copy(first, ws_path, 3).is_file()

    unmounted.rename(second)  # mounted again: verify notes what it lacks, and passes
    verify = run_cli_here("audit", "verify", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "lacks the workspace's #3" in verify.stdout
    again = run_cli_here("audit", "checkpoint", env=env)  # an existing checkpoint reaches it now
    assert again.returncode == 0 and "already signed" in again.stdout
    assert witness_copy(second, ws_path, 3).is_file()


def test_config_witness_add_list_remove_round_trip(ws_path: Path, ws: Workspace) -> None:
    witness = ws_path.parent / "witness"
    witness.mkdir()
    env = env_of(ws_path)
    run_cli_here("audit", "checkpoint", env=env, check=True)
    added = run_cli_here("--json", "config", "witness", "add", str(witness), env=env)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["witnesses"] == [str(witness)]
    assert witness_copy(witness, ws_path, 3).is_file()  # existing checkpoints copied at once
    config = tomllib.loads((ws_path / "config.toml").read_text())
    assert config["witnesses"]["paths"] == [str(witness)]
    assert config["workspace"]["id"] == ws.workspace_id  # the other settings are kept

    listed = run_cli_here("--json", "config", "witness", "list", env=env)
    [state] = json.loads(listed.stdout)
    assert state["location"] == str(witness) and state["held"] == [3] and state["reachable"]

    removed = run_cli_here("config", "witness", "remove", str(witness), env=env)
    assert removed.returncode == 0, removed.stderr
    assert "undetectable" in removed.stderr
    assert "witnesses" not in tomllib.loads((ws_path / "config.toml").read_text())
    assert json.loads(run_cli_here("--json", "config", "witness", "list", env=env).stdout) == []


def test_bad_witness_paths_and_roles_are_refused(ws_path: Path, ws: Workspace) -> None:
    env = env_of(ws_path)
    before = (ws_path / "config.toml").read_bytes()
    missing = ws_path.parent / "not-mounted"
    refused = run_cli_here("config", "witness", "add", str(missing), env=env)
    assert refused.returncode == 2 and f"witness {missing} does not exist" in refused.stderr
    inside = run_cli_here("config", "witness", "add", str(ws_path / "tmp"), env=env)
    assert inside.returncode == 2 and "inside the workspace" in inside.stderr
    unknown = run_cli_here("config", "witness", "remove", str(missing), env=env)
    assert unknown.returncode == 2 and "is not a witness" in unknown.stderr
    folder = ws_path.parent / "witness"
    folder.mkdir()
    by_auditor = run_cli_here("config", "witness", "add", str(folder), env=env_of(ws_path, "bob"))
    assert by_auditor.returncode != 0 and "admin" in by_auditor.stderr
    assert (ws_path / "config.toml").read_bytes() == before  # nothing was changed


def test_init_refuses_a_missing_witness_before_creating_anything(tmp_path: Path) -> None:
    target = tmp_path / "ws"
    refused = run_cli_here("init", "--witness", str(tmp_path / "nope"), env=env_of(target))
    assert refused.returncode == 2 and "does not exist" in refused.stderr
    assert not target.exists()
