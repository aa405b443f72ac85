"""The governance commands through the real CLI: output, JSON, exit codes."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from app.cli import app
from core.identity import actors
from tests.governance.conftest import Gov

M = "credit-risk@1"


def cli(gov: Gov, *args: str) -> Any:
    return CliRunner().invoke(app, ["--workspace", str(gov.root), *args])


def test_approve_list_and_pending(gov: Gov) -> None:
    help_text = cli(gov, "approve", "--help").output
    assert "--condition" in help_text and "scoring enforces it" in " ".join(help_text.split())
    result = cli(gov, "--as", "vic", "--json", "approve", M, "--reason", "ok",
                 "--condition", "not for under 21s")  # fmt: skip
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert (row["approver"], row["role"], row["conditions"]) == (
        "vic", "validator", ["not for under 21s"],
    )  # fmt: skip
    plain = cli(gov, "--as", "cora", "approve", M, "--for", "approved", "--reason", "ok",
                "--reject")  # fmt: skip
    assert plain.exit_code == 0 and "cora rejected credit-risk@1" in plain.output
    several = cli(gov, "--as", "tess", "approve", M, "--reason", "x")
    assert several.exit_code == 2 and "--role" in several.output
    listed = json.loads(cli(gov, "--json", "approvals", "list", "--model", M).output)
    assert [(a["approver"], a["decision"]) for a in listed] == [
        ("vic", "approve"), ("cora", "reject"),
    ]  # fmt: skip
    waiting = json.loads(cli(gov, "--as", "tess", "--json", "approvals", "list",
                             "--pending").output)  # fmt: skip
    assert {p["ref"] for p in waiting} == {"credit-risk@1", "scorecard@1"}
    unknown = cli(gov, "approvals", "list", "--model", "nosuch@1")
    assert unknown.exit_code == 2


def test_self_approval_exits_1_and_is_recorded(gov: Gov) -> None:
    actors.change(gov.ws, "alice", "sam", "grant", "x", role="validator")
    result = cli(gov, "--as", "sam", "approve", M, "--role", "validator", "--reason", "mine")
    assert result.exit_code == 1, result.output
    assert "sam developed credit-risk@1" in result.output
    log = json.loads(cli(gov, "--json", "model", "history", "credit-risk").output)
    assert log[-1]["what"] == "deny" and log[-1]["actor"] == "sam"


def test_promote_history_and_registry(gov: Gov) -> None:
    skip = cli(gov, "--as", "sam", "model", "promote", M, "--to", "approved", "--reason", "x")
    assert skip.exit_code == 2 and "validated, retired" in skip.output
    ok = cli(gov, "--as", "sam", "model", "promote", M, "--to", "validated", "--reason", "v")
    assert ok.exit_code == 0 and "candidate -> validated" in ok.output, ok.output
    refused = cli(gov, "--as", "sam", "model", "promote", M, "--to", "approved", "--reason", "x")
    assert refused.exit_code == 1, refused.output
    glass = cli(gov, "--as", "alice", "--json", "model", "promote", M, "--to", "approved",
                "--reason", "outage", "--break-glass")  # fmt: skip
    assert glass.exit_code == 0, glass.output
    moved = json.loads(glass.output)
    assert moved["break_glass"] is True and moved["approvals"] == []
    history = json.loads(cli(gov, "--json", "model", "history", "credit-risk").output)
    assert [h["what"] for h in history][-3:] == ["promote", "deny", "promote"]
    first = history[-3]["seq"]
    upto = json.loads(cli(gov, "--json", "model", "history", "credit-risk", "--at",
                          str(first)).output)  # fmt: skip
    assert upto[-1]["seq"] == first
    then = json.loads(cli(gov, "--json", "registry", "at", str(first)).output)
    assert {x["ref"]: x["stage"] for x in then}[M] == "validated"
    now = json.loads(cli(gov, "--json", "registry", "at", str(moved["seq"])).output)
    line = {x["ref"]: x for x in now}[M]
    assert line["stage"] == "approved" and line["break_glass"] is True
    table = cli(gov, "registry", "at", str(moved["seq"]))
    assert table.exit_code == 0 and "test-governance 1" in table.output
    assert cli(gov, "registry", "at", "yesterday-ish").exit_code == 2


def test_risk(gov: Gov) -> None:
    result = cli(gov, "--as", "vic", "--json", "model", "risk", "credit-risk", "--impact", "5",
                 "--likelihood", "4", "--rationale", "credit", "--dpia", "DPIA-1",
                 "--owner", "dora", "--reason", "annual")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tier"] == 1
    bad = cli(gov, "--as", "vic", "model", "risk", "credit-risk", "--impact", "9",
              "--likelihood", "1", "--rationale", "x", "--reason", "x")  # fmt: skip
    assert bad.exit_code == 2


def test_risk_without_a_policy_exits_1_with_a_hint(ws: Any) -> None:
    actors.add(ws, "alice", "vic", ["validator"])
    none = CliRunner().invoke(app, ["--workspace", str(ws.root), "--as", "vic", "model",
                                    "risk", "x", "--impact", "1", "--likelihood", "1",
                                    "--rationale", "x", "--reason", "x"])  # fmt: skip
    assert none.exit_code == 1 and "policy install" in none.output
