"""How `ledgerml validate` shows verdicts: a failed warn-level check is never shown as a pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.data.validation_result import CheckOutcome, ValidationResult

runner = CliRunner()


def invoke(ws_path: Path, *args: str) -> object:
    return runner.invoke(
        app, ["--workspace", str(ws_path), "--as", "alice", *args], catch_exceptions=False
    )


def _check(passed: bool, severity: str) -> CheckOutcome:
    return CheckOutcome("c", "row_count", None, severity, 3, {"min": 5}, passed, "")


@pytest.mark.parametrize(
    ("passed", "severity", "verdict"),
    [
        (True, "error", "PASS"),
        (True, "warn", "PASS"),
        (False, "warn", "WARN"),
        (False, "error", "FAIL"),
    ],
)
def test_a_check_verdict_follows_its_result_and_severity(
    passed: bool, severity: str, verdict: str
) -> None:
    assert _check(passed, severity).verdict == verdict


def test_the_overall_verdict_is_the_worst_and_the_stored_bytes_keep_no_verdict() -> None:
    def result(*checks: CheckOutcome) -> ValidationResult:
        return ValidationResult("d@1", "t", "s", "h", checks)

    warned = result(_check(True, "error"), _check(False, "warn"))
    assert warned.passed and warned.verdict == "WARN"  # passes the gate, but is no PASS
    assert result(_check(False, "warn"), _check(False, "error")).verdict == "FAIL"
    assert result(_check(True, "warn")).verdict == "PASS"
    assert "verdict" not in json.dumps(warned.to_json())  # recorded results keep their bytes
    assert ValidationResult.from_json(warned.to_json()) == warned


def test_a_warning_is_shown_as_a_warning(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert invoke(ws, "init", "--reason", "tests").exit_code == 0
    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,x\n2,y\n3,z\n")
    assert invoke(ws, "snapshot", "add", str(data), "--dataset", "t").exit_code == 0
    suite = tmp_path / "s.toml"
    suite.write_text(
        '[[checks]]\ntype = "row_count"\nmin = 1\n'
        '[[checks]]\nname = "many rows"\ntype = "row_count"\nmin = 50\nseverity = "warn"\n'
    )
    shown = invoke(ws, "validate", "t@1", "--suite", str(suite))
    assert shown.exit_code == 0, shown.output
    [row] = [line for line in shown.stdout.splitlines() if "many rows" in line]
    assert "WARN" in row and "pass" not in row
    [summary] = [line for line in shown.stdout.splitlines() if "PASSED" in line]
    assert "with 1 warning" in summary
    as_json = json.loads(invoke(ws, "validate", "t@1", "--suite", str(suite), "--json").stdout)
    assert as_json["verdict"] == "WARN" and as_json["passed"] is True
    assert [c["verdict"] for c in as_json["checks"]] == ["PASS", "WARN"]
    clean = tmp_path / "clean.toml"
    clean.write_text('[[checks]]\ntype = "row_count"\nmin = 1\n')
    plain = invoke(ws, "validate", "t@1", "--suite", str(clean))
    assert "PASSED; recorded" in plain.stdout and "warning" not in plain.stdout


@pytest.mark.parametrize(
    ("verdict", "errors", "warnings", "starts"),
    [
        ("PASS", 0, 0, "PASSED"),
        ("WARN", 0, 2, "PASSED with 2 warnings"),
        ("INCONCLUSIVE", 0, 4, "INCONCLUSIVE: no check failed, 4 checks not passed"),
        ("FAIL", 1, 3, "FAILED: 1 error, 3 warnings"),
    ],
)
def test_the_summary_line_leads_with_the_worst_verdict(
    verdict: str, errors: int, warnings: int, starts: str
) -> None:
    from app.cli.output import verdict_summary

    line = verdict_summary(verdict, errors, warnings)
    assert line.startswith(starts)
    assert (line == "PASSED") is (verdict == "PASS")
