"""The demo's path under the default policy pack that ships in sample_data/.

Risk tier 2 (validator + compliance, k = 2) -> a validator and a compliance officer approve ->
candidate -> validated -> approved; the developer's own approval is refused on the way.
"""

from __future__ import annotations

import json

import pytest

from core.audit import verification
from core.evidence import evaluation
from core.governance import approvals, lifecycle, policy, risk
from core.identity import actors
from tests.conftest import ROOT
from tests.governance.conftest import SAMPLE, Gov

M = "credit-risk@1"
DEFAULT = ROOT / "sample_data" / "policies" / "default"


def test_the_demo_path_under_the_default_pack(gov: Gov) -> None:
    ws = gov.ws
    policy.install(ws, "alice", DEFAULT, reason="the default pack")
    row = risk.assess(
        ws, "vic", "credit-risk", impact=2, likelihood=4, rationale="consumer credit",
        dpia="DPIA-2026-7", purpose="score applicants", reason="annual",
    )  # fmt: skip
    assert row.tier == 2
    evaluation.evaluate(ws, "vic", M, SAMPLE / "evaluation.toml", reason="challenge")
    lifecycle.promote(ws, "vic", M, to="validated", reason="challenge evaluation done")
    actors.change(ws, "alice", "sam", "grant", "helps validate", role="validator")
    with pytest.raises(policy.PolicyDeniedError, match="sam developed credit-risk@1"):
        approvals.approve(ws, "sam", M, role="validator", reason="my own model")
    approvals.approve(ws, "vic", M, reason="evidence reviewed")
    approvals.approve(ws, "cora", M, reason="compliant", conditions=["not for under 21s"])
    done = lifecycle.promote(ws, "sam", M, to="approved", reason="release")
    assert done.to_stage == "approved" and len(json.loads(done.approvals)) == 2
    report = verification.verify(ws)
    assert report.ok, report.failures
