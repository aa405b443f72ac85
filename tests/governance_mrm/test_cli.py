"""The model-risk commands from the real command line: JSON out, exit codes, clear errors."""

from __future__ import annotations

import json

from core.kernel.workspace import Workspace
from tests.conftest import run_cli, run_cli_here
from tests.governance_mrm.conftest import MODEL, break_glass


def _cli(ws: Workspace, actor: str, *args: str, process: bool = False):  # type: ignore[no-untyped-def]
    """A command as ``actor``: in this process, or (``process``) in a real ``ledgerml``."""
    run = run_cli if process else run_cli_here
    return run("--workspace", str(ws.root), "--as", actor, *args)


def test_a_finding_from_add_to_remediated(mws: Workspace) -> None:
    added = _cli(
        mws,
        "val",
        "finding",
        "add",
        MODEL,
        "--severity",
        "high",
        "--owner",
        "olga",
        "--title",
        "unstable on thin files",
        "--due",
        "2999-06-30",
        "--reason",
        "challenge",
        "--json",
        process=True,
    )
    assert added.returncode == 0, added.stderr
    doc = json.loads(added.stdout)
    assert (doc["status"], doc["owner"], doc["standing"], doc["overdue"]) == (
        "open",
        "olga",
        True,
        False,
    )
    fid = str(doc["id"])
    refused = _cli(mws, "olga", "finding", "update", fid, "--status", "remediated", "--reason", "x")
    assert refused.returncode == 2 and "lacks a role" in refused.stderr
    ok = _cli(mws, "olga", "finding", "update", fid, "--status", "in-remediation", "--reason", "y")
    assert ok.returncode == 0 and "in-remediation" in ok.stdout
    listed = _cli(mws, "bob", "finding", "list", "--open", "--model", "credit-risk", "--json")
    assert [d["id"] for d in json.loads(listed.stdout)] == [int(fid)]
    closed = _cli(mws, "val", "finding", "update", fid, "--status", "remediated", "--reason", "ok")
    assert closed.returncode == 0, closed.stderr
    listed = _cli(mws, "bob", "finding", "list", "--open", "--json")
    assert json.loads(listed.stdout) == []
    table = _cli(mws, "bob", "finding", "list")
    assert "remediated" in table.stdout and "unstable on thin files" in table.stdout


def test_bad_input_exits_2_with_the_reason(mws: Workspace) -> None:
    bad = _cli(
        mws,
        "val",
        "finding",
        "add",
        MODEL,
        "--severity",
        "huge",
        "--owner",
        "olga",
        "--title",
        "t",
        "--due",
        "2999-01-01",
        "--reason",
        "r",
    )
    assert bad.returncode == 2 and "not a severity" in bad.stderr
    missing = _cli(mws, "val", "finding", "update", "77", "--status", "open", "--reason", "r")
    assert missing.returncode == 2 and "no finding #77" in missing.stderr
    no_reason = _cli(mws, "val", "breakglass", "review", "1")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr


def test_break_glass_exceptions_and_alerts(mws: Workspace) -> None:
    seq = break_glass(mws, reason="incident 12")
    listed = _cli(mws, "bob", "breakglass", "list", "--open", "--json")
    assert [d["seq"] for d in json.loads(listed.stdout)] == [seq]
    register = json.loads(_cli(mws, "bob", "exceptions", "--json").stdout)
    assert [(e["kind"], e["status"]) for e in register] == [("break-glass", "open")]
    # Alerts are a report, not a failure: exit 0, unless --fail-on asks otherwise.
    shown = _cli(mws, "bob", "alerts")
    assert shown.returncode == 0 and "breakglass-open" in shown.stdout
    failing = _cli(mws, "bob", "alerts", "--fail-on", "high", "--json")
    assert failing.returncode == 1
    assert [a["kind"] for a in json.loads(failing.stdout)] == ["breakglass-open"]
    assert _cli(mws, "bob", "alerts", "--fail-on", "loud").returncode == 2
    self_review = _cli(mws, "alice", "breakglass", "review", str(seq), "--reason", "mine")
    assert self_review.returncode == 2 and "broke the glass" in self_review.stderr
    review = _cli(
        mws,
        "val",
        "breakglass",
        "review",
        str(seq),
        "--reason",
        "needed",
        "--outcome",
        "reversed",
        "--json",
    )
    assert review.returncode == 0, review.stderr
    assert json.loads(review.stdout)["outcome"] == "reversed"
    # Reversed on review, the version still stands where the glass was broken: an alert.
    still = _cli(mws, "bob", "alerts", "--fail-on", "high", "--json")
    assert still.returncode == 1
    assert [a["kind"] for a in json.loads(still.stdout)] == ["breakglass-reversal-pending"]
    moved = _cli(mws, "alice", "model", "promote", MODEL, "--to", "retired", "--reason", "reversed")
    assert moved.returncode == 0, moved.stderr
    assert _cli(mws, "bob", "alerts", "--fail-on", "high").returncode == 0
    assert "no alerts" in _cli(mws, "bob", "alerts").stdout
    register = json.loads(_cli(mws, "bob", "exceptions", "--json").stdout)
    assert register[0]["status"] == "reviewed" and "reversed" in register[0]["detail"]


def test_alerts_can_look_ahead(mws: Workspace) -> None:
    from core.governance import approvals

    approvals.approve(mws, "val", MODEL, role="validator", reason="checked")
    assert "no alerts" in _cli(mws, "bob", "alerts").stdout
    ahead = _cli(mws, "bob", "alerts", "--at", "2999-01-01", "--json")
    assert ahead.returncode == 0, ahead.stderr
    assert [a["kind"] for a in json.loads(ahead.stdout)] == ["approval-expired"]
    bad = _cli(mws, "bob", "alerts", "--at", "next week")
    assert bad.returncode == 2 and "not a date or time" in bad.stderr
