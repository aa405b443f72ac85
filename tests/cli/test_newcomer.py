"""What a new user ran into in their first hour, through the real command line.

Commands run the console script's entry point in this process, from the user's folder
(``run_cli_here``); help pages run in a real process, whose help is rendered as wide as
``TERMINAL_WIDTH`` says when it starts, so a phrase is never cut by a panel's border.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.data import features, snapshots, validation
from core.kernel.workspace import Workspace
from core.modelling import models, training
from tests.conftest import run_cli_here

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"


def ledgerml(
    ws: Workspace, *args: str, cwd: Path, actor: str = "alice"
) -> subprocess.CompletedProcess[str]:
    """The real command line (its entry point, in this process), run from ``cwd``."""
    return run_cli_here("--workspace", str(ws.root), "--as", actor, *args, cwd=cwd)


def help_text(*args: str, cwd: Path) -> str:
    env = {**os.environ, "TERMINAL_WIDTH": "300", "COLUMNS": "300"}
    done = subprocess.run(
        [sys.executable, "-m", "app", *args, "--help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


@pytest.fixture
def loans_ws(ws: Workspace) -> Workspace:
    """The sample data recorded under a dataset name the sample view does not use."""
    snapshots.add(ws, "alice", SAMPLE / "german.data", dataset="loans")
    return ws


def test_feature_view_inputs_can_point_at_another_dataset(
    loans_ws: Workspace, tmp_path: Path
) -> None:
    view = str(SAMPLE / "features.toml")
    head = loans_ws.ledger.head()
    plain = ledgerml(loans_ws, "feature", "build", view, cwd=tmp_path, actor="sam")
    assert plain.returncode == 2, plain.stderr
    assert "input raw = 'german-credit@1'" in plain.stderr and "--input raw=" in plain.stderr
    for bad, message in (
        (["--input", "nope=loans@1"], "has no input 'nope'"),
        (["--input", "raw"], "is not ALIAS=SNAPSHOT"),
        (["--input", "raw=loans@1", "--input", "raw=loans"], "given twice"),
        (["--input", "raw=loans@7"], "no snapshot loans@7"),
    ):
        refused = ledgerml(loans_ws, "feature", "build", view, *bad, cwd=tmp_path, actor="sam")
        assert refused.returncode == 2 and message in refused.stderr, (bad, refused.stderr)
    assert loans_ws.ledger.head() == head  # nothing recorded by the refusals
    built = ledgerml(
        loans_ws,
        "--json",
        "feature",
        "build",
        view,
        "--input",
        "raw=loans@1",
        cwd=tmp_path,
        actor="sam",
    )
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["ref"] == "german-credit-features@1"
    with loans_ws.session() as s:
        edges = {e.dst for e in s.catalog.edges_from("snapshot:german-credit-features@1")}
    assert "snapshot:loans@1" in edges
    latest = ledgerml(
        loans_ws, "feature", "build", view, "--input", "raw=loans", cwd=tmp_path, actor="sam"
    )
    assert latest.returncode == 0 and "no new version" in latest.stdout, latest.stderr
    assert "--input" in help_text("feature", "build", cwd=tmp_path)


def test_checkpoint_copy_into_a_missing_folder_signs_nothing(ws: Workspace, tmp_path: Path) -> None:
    missing = tmp_path / "safe" / "checkpoint.json"
    refused = ledgerml(ws, "audit", "checkpoint", "--copy-to", str(missing), cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "does not exist" in refused.stderr and "Traceback" not in refused.stderr
    assert not list(ws.checkpoints_dir.glob("*.json")) and not missing.parent.exists()
    folder = ledgerml(ws, "audit", "checkpoint", "--copy-to", str(tmp_path), cwd=tmp_path)
    assert folder.returncode == 2 and "is a folder" in folder.stderr
    assert not list(ws.checkpoints_dir.glob("*.json"))
    missing.parent.mkdir()
    signed = ledgerml(ws, "audit", "checkpoint", "--copy-to", str(missing), cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    [own] = ws.checkpoints_dir.glob("*.json")
    assert json.loads(missing.read_text()) == json.loads(own.read_text())


def test_verify_with_a_missing_checkpoint_is_a_usage_error(ws: Workspace, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    result = ledgerml(ws, "audit", "verify", "--checkpoint", str(missing), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot read checkpoint file" in result.stderr
    assert "INTEGRITY FAILURE" not in result.stdout
    prove = ledgerml(ws, "audit", "prove", "1", "--checkpoint", str(missing), cwd=tmp_path)
    assert prove.returncode == 2 and "cannot read checkpoint file" in prove.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not a checkpoint\n")
    forged = ledgerml(ws, "audit", "verify", "--checkpoint", str(garbage), cwd=tmp_path)
    assert forged.returncode == 3 and "INTEGRITY FAILURE" in forged.stdout


def test_reports_say_where_they_wrote(loans_ws: Workspace, tmp_path: Path) -> None:
    features.build(loans_ws, "sam", SAMPLE / "features.toml", inputs={"raw": "loans@1"})
    validation.run(loans_ws, "sam", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(loans_ws, "sam", SAMPLE / "train.toml")
    models.register(loans_ws, "sam", run.run_id, "credit-risk")
    commands = {
        "datasheet": ["loans@1"],
        "model-card": ["credit-risk@1"],
        "impact-assessment": [
            "credit-risk@1",
            "--answers",
            str(SAMPLE / "impact_answers.toml"),
        ],
    }
    for command, args in commands.items():
        assert "default: reports-out/" in help_text("report", command, cwd=tmp_path), command
        done = ledgerml(loans_ws, "report", command, *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "into reports-out/ (the default folder" in done.stderr, command
        chosen = ledgerml(loans_ws, "--json", "report", command, *args, "-o", "out", cwd=tmp_path)
        assert chosen.returncode == 0, chosen.stderr
        assert "into out/" in chosen.stderr and "default" not in chosen.stderr
        written = json.loads(chosen.stdout)
        assert (tmp_path / written["markdown"]).is_file(), command
    stems = {p.stem for p in (tmp_path / "reports-out").iterdir()}
    assert stems == {
        "datasheet-loans-1",
        "model-card-credit-risk-1",
        "impact-assessment-credit-risk-1",
    }


def test_lineage_of_an_unknown_name_says_so(loans_ws: Workspace, tmp_path: Path) -> None:
    for unknown in ("sha256:zz", "snapshot:nope@1", "run:ffffffffffff", "validation:99"):
        result = ledgerml(loans_ws, "lineage", unknown, cwd=tmp_path)
        assert result.returncode == 2, (unknown, result.stdout)
        assert "nothing named" in result.stderr and result.stdout == ""
    with loans_ws.session() as s:
        digest = s.catalog.snapshot("loans@1").raw_digest  # type: ignore[union-attr]
    for known in ("snapshot:loans@1", "loans@1", f"sha256:{digest}"):
        result = ledgerml(loans_ws, "lineage", known, "--down", cwd=tmp_path)
        assert result.returncode == 0, (known, result.stderr)
    assert "JSON Lines" in help_text("lineage", cwd=tmp_path)
