"""Approvals that no longer count are shown as such: pending queue, ``approvals list``, card.

The scenario is the review's: an approver approves, a validator re-evaluates the version, and
the newer evidence voids the approval (``evidence_change = "void"``). Promotion refuses it;
so must every view, none kinder than the gate.
"""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from app.cli import app
from core.governance import approvals, lifecycle
from tests.governance.conftest import SAMPLE, Gov

M = "credit-risk@1"


def _voided(gov: Gov) -> tuple[int, int]:
    """vic approves, then re-evaluates: returns (the approval's seq, the evidence's seq)."""
    from core.evidence import evaluation

    ws = gov.ws
    lifecycle.promote(ws, "sam", M, to="validated", reason="x")
    row = approvals.approve(ws, "vic", M, reason="ok")
    evaluation.evaluate(ws, "tess", M, SAMPLE / "evaluation.toml", reason="challenge")
    with ws.session("") as s:
        newest = s.catalog.events()[-1].seq
    return row.seq, newest


def cli(gov: Gov, *args: str) -> Any:
    return CliRunner().invoke(app, ["--workspace", str(gov.root), *args])


def test_pending_asks_again_whoever_approval_was_voided(gov: Gov) -> None:
    ws = gov.ws
    lifecycle.promote(ws, "sam", M, to="validated", reason="x")
    approvals.approve(ws, "vic", M, reason="ok")
    assert M not in {p.ref for p in approvals.pending(ws, "vic")}  # decided, and it counts
    from core.evidence import evaluation

    evaluation.evaluate(ws, "tess", M, SAMPLE / "evaluation.toml", reason="challenge")
    again = {p.ref: p for p in approvals.pending(ws, "vic")}
    assert M in again, "a voided approval must not hide the version from its approver"
    assert again[M].again is not None and "void" in again[M].again
    assert again[M].to_json()["again"] == again[M].again
    # The queue's card and the CLI say why in words, not in the rule's wording.
    from app.tui.panes.approvals import pending_summary

    card = pending_summary(again[M])
    assert "asked again" in card and "voided by the newer evidence at event #" in card
    assert "predates" not in card
    table = " ".join(cli(gov, "--as", "vic", "approvals", "list", "--pending").output.split())
    assert "voided by the newer evidence at event #" in table and "predates" not in table


def test_a_standing_rejection_still_keeps_the_version_out_of_the_queue(gov: Gov) -> None:
    ws = gov.ws
    approvals.approve(ws, "vic", M, reason="drift", reject=True)
    assert M not in {p.ref for p in approvals.pending(ws, "vic")}


def test_approvals_list_says_whether_each_counts_and_why_not(gov: Gov) -> None:
    seq, evidence = _voided(gov)
    listed = json.loads(cli(gov, "--json", "approvals", "list", "--model", M).output)
    [row] = [a for a in listed if a["seq"] == seq]
    assert row["counted"] is False
    assert f"predates evidence #{evidence}" in row["why_not"] and "void" in row["why_not"]
    fresh = approvals.approve(gov.ws, "vic", M, reason="seen the new evidence")
    listed = {a["seq"]: a for a in json.loads(cli(gov, "--json", "approvals", "list").output)}
    assert listed[fresh.seq]["counted"] is True and listed[fresh.seq]["why_not"] is None
    assert listed[seq]["counted"] is False
    plain = cli(gov, "approvals", "list", "--model", M)
    assert plain.exit_code == 0, plain.output
    flat = " ".join(plain.output.split())
    assert "why not" in flat and f"voided by the newer evidence at event #{evidence}" in flat
    assert "predates" not in flat  # the rule's wording stays in --json; the table says it


def test_approvals_list_without_a_policy_counts_nothing(ws: Any) -> None:
    listed = CliRunner().invoke(app, ["--workspace", str(ws.root), "--json", "approvals", "list"])
    assert listed.exit_code == 0 and json.loads(listed.output) == []


def test_the_sign_off_block_says_a_voided_approval_no_longer_counts(gov: Gov) -> None:
    from core.documents.signoff import signoff

    seq, evidence = _voided(gov)
    _, rows = signoff(gov.ws, M)
    [row] = [r for r in rows if r["seq"] == str(seq)]
    assert row["signature"] == "verifies"
    assert row["counts"] == f"NO: voided by the evaluation at event #{evidence}"
    fresh = approvals.approve(gov.ws, "vic", M, reason="seen it")
    _, rows = signoff(gov.ws, M)
    assert {r["seq"]: r["counts"] for r in rows}[str(fresh.seq)] == "yes"


def test_the_rendered_card_carries_the_counts_column(gov: Gov) -> None:
    from core.documents import modelcard
    from reports.render import render_model_card

    seq, _ = _voided(gov)
    md, html = render_model_card(modelcard.card_context(gov.ws, M, {}))
    [line] = [x for x in md.splitlines() if x.startswith(f"| #{seq} |")]
    assert "| counts now |" in md and "| NO: " in line and "void" in line
    assert "<th>counts now</th>" in html and '<td data-label="counts now">NO: ' in html
