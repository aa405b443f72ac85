"""``ledgerml policy …`` in-process: output, --json, exit codes (0 ok, 1 deny or a failing
fixture, 2 a bundle that does not compile or a bad request), and that reads record nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.kernel.workspace import Workspace
from tests.core.test_policy import BLOCK_CASES, DEFAULT, build_team, write_bundle

runner = CliRunner()


def invoke(ws: Path, *args: str, actor: str = "alice") -> Any:
    return runner.invoke(
        app, ["--workspace", str(ws), "--as", actor, *args], catch_exceptions=False
    )


def size(ws: Path) -> int:
    return Workspace.open(ws).ledger.head()[0]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.modelling import models

    ws, run_id = build_team(tmp_path_factory.mktemp("policy-cli") / "ws")
    models.register(ws, "sam", run_id, "credit-risk")
    return ws.root


def test_policy_test_a_folder_needs_no_workspace(tmp_path: Path) -> None:
    result = invoke(tmp_path / "nowhere", "policy", "test", str(DEFAULT))
    assert result.exit_code == 0, result.output
    assert "PASS  dpia.toml:register with PII and no DPIA is refused" in result.stdout
    assert "policy default 1: 72 passed, 0 failed" in result.stdout
    doc = json.loads(invoke(tmp_path / "nowhere", "policy", "test", str(DEFAULT), "--json").stdout)
    assert doc["passed"] is True and len(doc["cases"]) == 72
    assert doc["digest"].startswith("sha256:")


def test_policy_test_exits_1_on_a_failing_case_and_2_on_a_compile_error(tmp_path: Path) -> None:
    never = 'deny contains msg if {\n\tinput.gate == "never"\n\tmsg := "never"\n}\n'
    lax = write_bundle(tmp_path / "lax", never, BLOCK_CASES)
    result = invoke(tmp_path, "policy", "test", str(lax))
    assert result.exit_code == 1
    assert "FAIL  cases.toml:blocked  expected deny, allowed" in result.stdout
    assert "PASS  cases.toml:others" in result.stdout and "1 passed, 1 failed" in result.stdout
    broken = write_bundle(tmp_path / "broken", "deny contains msg if {\n", BLOCK_CASES)
    result = invoke(tmp_path, "policy", "test", str(broken))
    assert result.exit_code == 2 and "does not compile" in result.stderr
    result = invoke(tmp_path, "policy", "test", str(tmp_path / "missing"))
    assert result.exit_code == 2


def test_install_list_show_and_refusals(team: Path, tmp_path: Path) -> None:
    result = invoke(team, "policy", "list")
    assert result.exit_code == 0 and "no policy is installed" in result.stderr
    before = size(team)
    result = invoke(team, "policy", "install", str(DEFAULT), "--reason", "x", actor="sam")
    assert result.exit_code == 2 and "install policies" in result.stderr
    result = invoke(team, "policy", "install", str(DEFAULT))
    assert result.exit_code == 2  # --reason is required
    assert size(team) == before
    result = invoke(team, "policy", "install", str(DEFAULT), "--reason", "adopt", "--json")
    assert result.exit_code == 0, result.output
    installed = json.loads(result.stdout)
    assert installed["installed"] is True and installed["name"] == "default"
    assert size(team) == before + 1
    again = invoke(team, "policy", "install", str(DEFAULT), "--reason", "again")
    assert "already in force: nothing recorded" in again.stdout and size(team) == before + 1
    listed = invoke(team, "policy", "list")
    assert f"#{before + 1}" in listed.stdout and "default" in listed.stdout
    [line] = json.loads(invoke(team, "policy", "list", "--json").stdout)
    assert line["in_force"] is True and line["digest"] == installed["digest"]
    shown = invoke(team, "policy", "show")
    assert shown.exit_code == 0 and installed["digest"] in shown.stdout
    assert "data-owner, security, compliance, validator" in shown.stdout
    doc = json.loads(invoke(team, "policy", "show", installed["digest"][7:20], "--json").stdout)
    assert doc["fixtures"] == 72 and "dpia.rego" in doc["modules"]
    assert doc["governance"]["untiered"] == 1
    assert invoke(team, "policy", "show", "ffff").exit_code == 2
    stored = invoke(team, "policy", "test", installed["digest"][7:20])
    assert stored.exit_code == 0 and "72 passed" in stored.stdout


def test_check_is_a_dry_run_with_exit_1_on_deny(team: Path, tmp_path: Path) -> None:
    before = size(team)
    result = invoke(
        team, "policy", "check", "promote", "credit-risk@1", "--to", "validated", actor="sam"
    )
    assert result.exit_code == 1
    assert result.stdout.startswith("DENY  promote credit-risk@1")
    assert "sam does not hold the validator role" in result.stdout
    assert '"to_stage": "validated"' in result.stdout  # the input is shown
    ok = invoke(team, "policy", "check", "register", "credit-risk@1", "--json", actor="sam")
    assert ok.exit_code == 0
    member = json.loads(ok.stdout)
    assert member["allow"] is True and member["input"]["actor"]["name"] == "sam"
    own = invoke(
        team, "policy", "check", "approve", "credit-risk@1", "--role", "validator", actor="sam"
    )
    assert own.exit_code == 1 and "sam developed credit-risk@1" in own.stdout
    given = tmp_path / "input.json"
    given.write_text(json.dumps({"model": {"ref": "x@1", "pii_inputs": True, "name": "x"}}))
    pii = invoke(team, "policy", "check", "score", "credit-risk@1", "--input", str(given))
    assert pii.exit_code == 1 and "no DPIA reference" in pii.stdout
    assert invoke(team, "policy", "check", "launch", "credit-risk@1").exit_code == 2
    assert invoke(team, "policy", "check", "register", "nope@3").exit_code == 2
    assert size(team) == before


def test_decisions_lists_allows_and_denials(team: Path, tmp_path: Path) -> None:
    from core.governance import policy
    from core.governance.policy import PolicyDeniedError
    from core.modelling import models

    ws = Workspace.open(team)
    with ws.session() as s:
        run_id = s.catalog.model("credit-risk@1").run_id  # type: ignore[union-attr]
    strict = tmp_path / "strict"
    shutil.copytree(DEFAULT, strict)
    (strict / "block.rego").write_text(
        "package ledgerml.gate\n\nimport rego.v1\n\ndeny contains msg if {\n"
        '\tinput.gate == "register"\n\tinput.model.name == "blocked"\n\tmsg := "blocked"\n}\n'
    )
    policy.install(ws, "alice", strict, "block a name")
    models.register(ws, "sam", run_id, "allowed")
    with pytest.raises(PolicyDeniedError):
        models.register(ws, "sam", run_id, "blocked")
    everything = json.loads(invoke(team, "policy", "decisions", "--json").stdout)
    assert [(d["gate"], d["subject"], d["allow"]) for d in everything] == [
        ("register", "model:allowed@1", True),
        ("register", "model:blocked@1", False),
    ]
    denied = invoke(team, "policy", "decisions", "--deny")
    assert (
        "DENY" in denied.stdout and "blocked" in denied.stdout and "allowed@1" not in denied.stdout
    )
    one = json.loads(invoke(team, "policy", "decisions", "--model", "allowed@1", "--json").stdout)
    assert [d["action"] for d in one] == ["model.register"]


def test_help_teaches() -> None:
    result = runner.invoke(app, ["policy", "check", "--help"])
    text = " ".join(result.stdout.split())
    assert result.exit_code == 0 and "Records nothing" in text
    assert "ledgerml policy check promote credit-risk@1 --to validated" in text
    text = " ".join(runner.invoke(app, ["policy", "test", "--help"]).stdout.split())
    assert "[[case]]" in text and "undefined function" in text
