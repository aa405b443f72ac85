"""A workspace written by an earlier ledgerml still opens, verifies and rebuilds the same.

The fixture (tests/data/workspaces/v1) is the demo workspace as the code of December 2026
wrote it, catalog included. Restructuring the code must not change what it reads.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_cli_here

FIXTURE = Path(__file__).parents[1] / "data" / "workspaces" / "v1" / "demo-workspace.zip"


@pytest.fixture
def old_ws(tmp_path: Path) -> Path:
    root = tmp_path / "old-ws"
    with zipfile.ZipFile(FIXTURE) as zf:
        zf.extractall(root)
    return root


def test_old_workspace_verifies_and_its_model_is_trusted(old_ws: Path) -> None:
    verify = run_cli("--workspace", str(old_ws), "--as", "audrey", "audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert "VERIFIED up to #21" in verify.stdout
    model = run_cli_here(
        "--workspace", str(old_ws), "--as", "audrey", "model", "verify", "credit-risk@1"
    )
    assert model.returncode == 0, model.stdout + model.stderr
    assert "TRUSTED" in model.stdout


def test_old_workspace_keeps_its_records(old_ws: Path) -> None:
    out = run_cli_here("--workspace", str(old_ws), "--as", "audrey", "--json", "audit", "log")
    assert out.returncode == 0, out.stderr
    actions = [e["action"] for e in json.loads(out.stdout)]
    assert len(actions) == 22
    for action in ("snapshot.add", "validation.run", "train.run", "model.sign", "model.evaluate"):
        assert action in actions
    snaps = run_cli_here("--workspace", str(old_ws), "--as", "audrey", "--json", "snapshot", "list")
    assert sorted(s["ref"] for s in json.loads(snaps.stdout)) == [
        "german-credit-features@1",
        "german-credit@1",
    ]


def test_old_catalog_equals_a_rebuild_from_its_ledger(old_ws: Path) -> None:
    from core.kernel.workspace import Workspace

    ws = Workspace.open(old_ws)
    with ws.session("audrey") as s:
        opened = s.catalog.dump()
    assert ws.rebuild() == 22
    with ws.session("audrey") as s:
        rebuilt = s.catalog.dump()
    assert opened == rebuilt
    assert len(rebuilt["snapshots"]) == 2
    assert len(rebuilt["evaluations"]) == 1


SIGNED = Path(__file__).parents[1] / "data" / "workspaces" / "v2" / "signed-workspace.zip"


@pytest.fixture
def signed_ws(tmp_path: Path) -> Path:
    root = tmp_path / "signed-ws"
    with zipfile.ZipFile(SIGNED) as zf:
        zf.extractall(root)
    return root


def test_a_format_2_workspace_verifies_every_signature(signed_ws: Path) -> None:
    out = run_cli_here("--workspace", str(signed_ws), "--json", "audit", "verify", "--full")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] and report["anchored"] == 7
    assert report["signatures"].startswith("8 events signed")
    bodies = [
        line.split(b" ", 2)[2]
        for line in (signed_ws / "ledger" / "segments" / "00000000.log").read_bytes().splitlines()
    ]
    assert all(b'"v":2' in b and b',"~sig":{"alg":"ecdsa-p256"' in b for b in bodies)


def test_a_format_2_workspace_keeps_its_identities(signed_ws: Path) -> None:
    actors = json.loads(
        run_cli_here("--workspace", str(signed_ws), "--json", "actor", "list").stdout
    )
    by_name = {a["name"]: a for a in actors}
    assert by_name["bo"]["roles"] == ["auditor", "validator"]
    assert by_name["cy"]["status"] == "suspended"
    # The suspended actor is refused before any secret is asked for.
    refused = run_cli_here(
        "--workspace",
        str(signed_ws),
        "--as",
        "cy",
        "snapshot",
        "add",
        "sample_data/german-credit/german.data",
        "--dataset",
        "again",
    )
    assert refused.returncode == 2 and "is suspended" in refused.stderr
    # No one here holds ada's key: acting as her is refused, nothing is recorded.
    before = (signed_ws / "ledger" / "segments" / "00000000.log").read_bytes()
    forged = run_cli_here(
        "--workspace", str(signed_ws), "--as", "ada", "actor", "add", "eve", "--role", "admin"
    )
    assert forged.returncode == 2, forged.stderr
    assert (signed_ws / "ledger" / "segments" / "00000000.log").read_bytes() == before
