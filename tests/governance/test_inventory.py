"""The SR 11-7 inventory, read from the governance tables of a real workspace."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli import app
from core.governance import approvals, inventory, lifecycle, risk
from tests.governance.conftest import Gov

M = "credit-risk@1"


def _line(gov: Gov, name: str) -> inventory.InventoryLine:
    return next(x for x in inventory.inventory(gov.ws) if x.name == name)


def test_an_unassessed_candidate(gov: Gov) -> None:
    line = _line(gov, "scorecard")
    assert line.ref == "scorecard@1" and line.stage == "candidate"
    assert line.tier == 2  # the policy's untiered default
    assert line.purpose is None and line.owner is None
    assert line.developers == ["alice", "sam"]  # registrant and trainer
    assert line.validation_status == "not validated" and line.validator is None
    assert line.approvals == [] and line.valid_until is None
    assert line.open_findings in (None, 0)  # no findings table before the mrm part
    assert line.inputs["snapshot"] == "german-credit-features@1"
    assert "duration_months" in line.inputs["features"]
    assert line.outputs == ["bad credit risk", "good credit risk"]


def test_an_approved_model_carries_its_sign_offs_and_dates(gov: Gov) -> None:
    ws = gov.ws
    risk.assess(
        ws,
        "vic",
        "credit-risk",
        impact=2,
        likelihood=2,
        rationale="small",
        purpose="score applicants",
        use="branch loans",
        restrictions="not for under 21s",
        owner="dora",
        reason="r",
    )
    validated = lifecycle.promote(ws, "vic", M, to="validated", reason="challenge done")
    a1 = approvals.approve(ws, "vic", M, reason="ok")
    approvals.approve(ws, "tess", M, role="validator", reason="ok")
    approved = lifecycle.promote(ws, "sam", M, to="approved", reason="go")
    line = _line(gov, "credit-risk")
    assert (line.stage, line.tier, line.owner) == ("approved", 2, "dora")
    assert (line.purpose, line.use, line.restrictions) == (
        "score applicants",
        "branch loans",
        "not for under 21s",
    )
    assert line.developers == ["sam"]
    assert line.validator in ("vic", "tess")
    assert line.validation_status == "validated"
    assert line.validation_date is not None and line.validation_date >= validated.created_at
    assert [(a["approver"], a["role"]) for a in line.approvals] == [
        ("vic", "validator"),
        ("tess", "validator"),
    ]
    assert line.last_change["seq"] == approved.seq
    # Tier 2: approvals valid 365 days from the first counted one; revalidate after 730.
    assert line.valid_until is not None and line.valid_until[:4] == str(int(a1.created_at[:4]) + 1)
    assert line.next_revalidation is not None
    assert line.next_revalidation[:4] == str(int(line.validation_date[:4]) + 2)
    assert line.exceptions == {"waivers": 0, "break_glass": 0}


def test_break_glass_shows_as_an_exception_and_json_is_complete(gov: Gov) -> None:
    ws = gov.ws
    lifecycle.promote(ws, "sam", M, to="validated", reason="x")
    lifecycle.promote(ws, "alice", M, to="approved", reason="outage", break_glass=True)
    result = CliRunner().invoke(app, ["--workspace", str(gov.root), "inventory", "--json"])
    assert result.exit_code == 0, result.output
    doc = {x["name"]: x for x in json.loads(result.output)}
    assert doc["credit-risk"]["exceptions"]["break_glass"] == 1
    assert doc["credit-risk"]["stage"] == "approved"
    for key in (
        "purpose",
        "use",
        "restrictions",
        "inputs",
        "outputs",
        "owner",
        "developers",
        "validator",
        "validation_status",
        "validation_date",
        "approvals",
        "stage",
        "last_change",
        "exceptions",
        "open_findings",
        "valid_until",
        "next_revalidation",
        "tier",
    ):
        assert key in doc["scorecard"], key
    table = CliRunner().invoke(app, ["--workspace", str(gov.root), "inventory"])
    assert table.exit_code == 0 and "credit-risk@1" in table.output
