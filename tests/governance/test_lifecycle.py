"""Risk tiers, approvals and the lifecycle on a real workspace with a real, signed model.

Each test works on its own copy of the governed workspace (conftest), acts as real actors with
their own keys, and checks what the ledger recorded, not only what the call returned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.governance import approvals, lifecycle, policy, risk, statement
from core.identity import actors
from core.kernel.errors import (
    CheckFailedError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)
from tests.governance.conftest import SAMPLE, Gov

M = "credit-risk@1"


def _actions(gov: Gov) -> list[str]:
    with gov.ws.session("") as s:
        return [e.action for e in s.catalog.events()]


def _tier1(gov: Gov) -> None:
    risk.assess(
        gov.ws,
        "vic",
        "credit-risk",
        impact=5,
        likelihood=4,
        rationale="credit decisions",
        dpia="DPIA-7",
        purpose="score applicants",
        reason="annual review",
    )


# ---- risk -------------------------------------------------------------------------------


def test_risk_tier_comes_from_the_policy_bands(gov: Gov) -> None:
    row = risk.assess(
        gov.ws, "vic", "credit-risk", impact=2, likelihood=3, rationale="small", reason="r"
    )
    assert row.tier == 2 and row.created_by == "vic"
    _tier1(gov)
    with gov.ws.session("") as s:
        from core.governance.facts import risk_of

        newest = risk_of(s, "credit-risk")
    assert newest is not None and newest.tier == 1 and newest.dpia == "DPIA-7"


def test_risk_refusals(gov: Gov) -> None:
    with pytest.raises(PermissionDeniedError, match="lacks the role"):
        risk.assess(gov.ws, "sam", "credit-risk", impact=1, likelihood=1, rationale="x", reason="r")
    with pytest.raises(UsageError, match="1 to 5"):
        risk.assess(gov.ws, "vic", "credit-risk", impact=6, likelihood=1, rationale="x", reason="r")
    with pytest.raises(UsageError, match="rationale"):
        risk.assess(gov.ws, "vic", "credit-risk", impact=1, likelihood=1, rationale=" ", reason="r")
    with pytest.raises(NotFoundError, match="no model named"):
        risk.assess(gov.ws, "vic", "nosuch", impact=1, likelihood=1, rationale="x", reason="r")
    before = _actions(gov)
    with pytest.raises(policy.PolicyDeniedError, match="DPIA"):
        risk.assess(gov.ws, "vic", "credit-risk", impact=5, likelihood=1, rationale="x", reason="r")
    assert _actions(gov) == [*before, "policy.deny"]


def test_risk_needs_a_policy_in_force(ws) -> None:  # type: ignore[no-untyped-def]
    actors.add(ws, "alice", "vic", ["validator"])
    with pytest.raises(CheckFailedError, match="no policy is installed") as err:
        risk.assess(ws, "vic", "credit-risk", impact=1, likelihood=1, rationale="x", reason="r")
    assert "policy install" in err.value.hint


# ---- approvals --------------------------------------------------------------------------


def test_an_approval_is_signed_by_the_approver_and_binds_what_they_saw(gov: Gov) -> None:
    row = approvals.approve(
        gov.ws, "vic", M, reason="checked the evidence", conditions=["not for under 21s"]
    )
    assert (row.approver, row.recorded_by, row.role, row.decision) == (
        "vic",
        "vic",
        "validator",
        "approve",
    )
    assert json.loads(row.conditions) == ["not for under 21s"]
    ws = gov.ws
    raw = ws.objects.read_verified(row.envelope_digest)
    with ws.session("") as s:
        from core.identity.signer import authority_of

        auth = authority_of(s)
        key = auth.keys[row.key_id]
        assert key.actor == "vic"
        _, doc = statement.open_statement(raw, {key.key_id: key.public_pem})
        model = s.catalog.model(M)
        event = json.loads(s.catalog.event_bodies([row.seq])[row.seq])
    assert model is not None
    assert doc["subject"] == [{"name": f"model:{M}", "digest": {"sha256": model.model_digest}}]
    pred = doc["predicate"]
    assert pred["workspace"] == auth.workspace_id
    assert pred["policy"] == row.policy_digest == event["policy"]["bundle"]
    assert pred["conditions"] == ["not for under 21s"]
    assert [e["digest"] for e in pred["evidence"]] == json.loads(row.evidence)
    assert event["policy"]["allow"] is True and event["policy"]["gate"] == "approve"
    assert approvals.verify_approval(ws, row.seq) is None


def test_approval_refusals_before_the_policy(gov: Gov) -> None:
    ws = gov.ws
    before = _actions(gov)
    with pytest.raises(PermissionDeniedError):
        approvals.approve(ws, "sam", M, reason="mine")  # no approval role at all
    with pytest.raises(PermissionDeniedError, match="does not hold the role 'compliance'"):
        approvals.approve(ws, "vic", M, role="compliance", reason="x")
    with pytest.raises(UsageError, match="several approval roles"):
        approvals.approve(ws, "tess", M, reason="x")
    with pytest.raises(UsageError, match="not an approval role"):
        approvals.approve(ws, "tess", M, role="operator", reason="x")
    with pytest.raises(NotFoundError):
        approvals.approve(ws, "vic", "credit-risk@9", reason="x")
    with pytest.raises(UsageError, match="cannot approve for stage"):
        approvals.approve(ws, "vic", M, stage="retired", reason="x")
    with pytest.raises(UsageError, match="reason"):
        approvals.approve(ws, "vic", M, reason="")
    assert _actions(gov) == before  # nothing recorded: these are input errors
    lifecycle.promote(ws, "alice", M, to="retired", reason="superseded")
    with pytest.raises(UsageError, match="retired"):
        approvals.approve(ws, "vic", M, reason="x")


def test_self_approval_is_refused_by_policy_and_never_counted(gov: Gov) -> None:
    ws = gov.ws
    actors.change(ws, "alice", "sam", "grant", "also validates", role="validator")
    before = _actions(gov)
    with pytest.raises(policy.PolicyDeniedError, match="sam developed credit-risk@1"):
        approvals.approve(ws, "sam", M, role="validator", reason="my own")
    assert _actions(gov) == [*before, "policy.deny"]
    # alice (an admin) registered scorecard@1: admins are not exempt either.
    actors.change(ws, "alice", "alice", "grant", "also approves", role="approver")
    with pytest.raises(policy.PolicyDeniedError, match="alice developed scorecard@1"):
        approvals.approve(ws, "alice", "scorecard@1", role="approver", reason="mine")


def test_a_rejection_is_signed_and_blocks_promotion(gov: Gov) -> None:
    ws = gov.ws
    approvals.approve(ws, "vic", M, reason="fine")
    rej = approvals.approve(ws, "tess", M, role="validator", reason="drift", reject=True)
    assert rej.decision == "reject" and approvals.verify_approval(ws, rej.seq) is None
    lifecycle.promote(ws, "sam", M, to="validated", reason="validation done")
    with pytest.raises(policy.PolicyDeniedError, match="k-of-n"):
        lifecycle.promote(ws, "sam", M, to="approved", reason="go")
    with ws.session("") as s:
        deny = json.loads(s.catalog.events(action="policy.deny")[-1].body)["policy"]
    assert any("tess rejected it" in p for p in deny["input"]["approvals"]["check"]["problems"])
    approvals.approve(ws, "tess", M, role="validator", reason="drift explained")
    assert lifecycle.promote(ws, "sam", M, to="approved", reason="go").to_stage == "approved"


def test_a_service_cannot_approve_or_reject(gov: Gov) -> None:
    before = _actions(gov)
    with pytest.raises(PermissionDeniedError, match="only people"):
        approvals.approve(gov.ws, "bot", M, role="validator", reason="automated")
    with pytest.raises(PermissionDeniedError, match="only people"):
        approvals.approve(gov.ws, "bot", M, role="validator", reason="automated", reject=True)
    assert _actions(gov) == before


def test_pending_lists_what_each_approver_could_give(gov: Gov) -> None:
    ws = gov.ws
    _tier1(gov)
    cora = approvals.pending(ws, "cora")
    assert [p.ref for p in cora] == ["credit-risk@1"]  # scorecard (tier 2) needs validators
    assert cora[0].tier == 1 and cora[0].roles == ["compliance"]
    assert set(cora[0].missing_roles) == {"validator", "compliance", "data-owner"}
    assert cora[0].developers == ["sam"]
    assert approvals.pending(ws, "sam") == []  # no approval role
    approvals.approve(ws, "cora", M, reason="ok")
    assert approvals.pending(ws, "cora") == []
    tess = {p.ref: p.roles for p in approvals.pending(ws, "tess")}
    assert tess == {"credit-risk@1": ["validator"], "scorecard@1": ["validator"]}


# ---- promotion --------------------------------------------------------------------------


def test_moves_the_lifecycle_forbids_are_refused_naming_the_allowed_ones(gov: Gov) -> None:
    with pytest.raises(UsageError, match="cannot move to approved") as err:
        lifecycle.promote(gov.ws, "sam", M, to="approved", reason="skip")
    assert "validated, retired" in err.value.hint
    with pytest.raises(UsageError, match="unknown stage"):
        lifecycle.promote(gov.ws, "sam", M, to="production", reason="x")
    lifecycle.promote(gov.ws, "sam", M, to="retired", reason="x")
    with pytest.raises(UsageError, match="is retired") as err:
        lifecycle.promote(gov.ws, "sam", M, to="validated", reason="x")
    assert "nothing (final)" in err.value.hint


def test_approved_needs_k_distinct_people_in_the_tier_roles(gov: Gov) -> None:
    ws = gov.ws
    _tier1(gov)  # k = 3: validator, compliance, data-owner
    lifecycle.promote(ws, "sam", M, to="validated", reason="validated")
    tess_v = approvals.approve(ws, "tess", M, role="validator", reason="ok")
    approvals.approve(ws, "tess", M, role="compliance", reason="ok")  # same person
    dora = approvals.approve(ws, "dora", M, reason="ok")
    before = _actions(gov)
    with pytest.raises(policy.PolicyDeniedError):
        lifecycle.promote(ws, "sam", M, to="approved", reason="go")
    assert _actions(gov) == [*before, "policy.deny"]
    with ws.session("") as s:
        deny = json.loads(s.catalog.events(action="policy.deny")[-1].body)["policy"]
    check = deny["input"]["approvals"]["check"]
    assert check["people"] == ["dora", "tess"] and check["missing"] == 1
    why = {a["seq"]: a["why_not"] for a in deny["input"]["approvals"]["list"]}
    tess_why = sorted([str(why[tess_v.seq]), str(why[tess_v.seq + 1])])
    assert tess_why[0] == "None" and "tess already counts once" in tess_why[1]
    cora = approvals.approve(ws, "cora", M, reason="ok")
    row = lifecycle.promote(ws, "sam", M, to="approved", reason="go")
    assert row.to_stage == "approved" and not row.break_glass
    counted = json.loads(row.approvals)
    assert sorted(counted) == sorted([tess_v.seq, dora.seq, cora.seq])


def test_break_glass_is_for_the_policy_roles_and_counts_nothing(gov: Gov) -> None:
    ws = gov.ws
    lifecycle.promote(ws, "sam", M, to="validated", reason="x")
    with pytest.raises(policy.PolicyDeniedError, match="break-glass"):
        lifecycle.promote(ws, "sam", M, to="approved", reason="outage", break_glass=True)
    row = lifecycle.promote(ws, "alice", M, to="approved", reason="outage", break_glass=True)
    assert row.break_glass and json.loads(row.approvals) == []


def test_a_lax_policy_cannot_let_an_unapproved_model_through(gov: Gov, tmp_path: Path) -> None:
    # Attack: an admin installs a policy that denies nothing, then promotes.
    lax = tmp_path / "lax"
    (lax / "tests").mkdir(parents=True)
    manifest = (Path(__file__).with_name("policy") / "bundle.toml").read_text()
    (lax / "bundle.toml").write_text(manifest.replace('name = "test-governance"', 'name = "lax"'))
    (lax / "allow.rego").write_text(
        'package ledgerml.gate\n\nimport rego.v1\n\ndeny contains "never" if { false }\n'
    )
    (lax / "tests" / "t.toml").write_text(
        '[[case]]\nname = "all"\ngate = "promote"\nallow = true\ninput = {}\n'
    )
    ws = gov.ws
    policy.install(ws, "alice", lax, reason="lax")
    lifecycle.promote(ws, "sam", M, to="validated", reason="x")
    with pytest.raises(CheckFailedError, match="lacks the approvals"):
        lifecycle.promote(ws, "sam", M, to="approved", reason="go")
    actors.change(ws, "alice", "sam", "grant", "also validates", role="validator")
    before = _actions(gov)
    with pytest.raises(PermissionDeniedError, match="sam developed credit-risk@1"):
        approvals.approve(ws, "sam", M, role="validator", reason="the lax policy allows it")
    assert _actions(gov) == before
    with pytest.raises(PermissionDeniedError, match="may not break glass"):
        lifecycle.promote(ws, "sam", M, to="approved", reason="go", break_glass=True)


def test_newer_evidence_voids_earlier_approvals(gov: Gov) -> None:
    from core.evidence import evaluation

    ws = gov.ws
    lifecycle.promote(ws, "sam", M, to="validated", reason="x")
    approvals.approve(ws, "vic", M, reason="ok")
    approvals.approve(ws, "tess", M, role="validator", reason="ok")
    evaluation.evaluate(ws, "vic", M, SAMPLE / "evaluation.toml", reason="challenge")
    with pytest.raises(policy.PolicyDeniedError):
        lifecycle.promote(ws, "sam", M, to="approved", reason="go")
    approvals.approve(ws, "vic", M, reason="seen the new evidence")
    approvals.approve(ws, "tess", M, role="validator", reason="seen it too")
    assert lifecycle.promote(ws, "sam", M, to="approved", reason="go").to_stage == "approved"


# ---- history and time travel ------------------------------------------------------------


def _approved(gov: Gov) -> tuple[int, int]:
    ws = gov.ws
    lifecycle.promote(ws, "sam", M, to="validated", reason="validated")
    approvals.approve(ws, "vic", M, reason="ok")
    approvals.approve(ws, "tess", M, role="validator", reason="ok")
    row = lifecycle.promote(ws, "sam", M, to="approved", reason="release")
    return row.seq - 3, row.seq


def test_history_shows_every_step_with_who_why_and_policy(gov: Gov) -> None:
    risk.assess(gov.ws, "vic", "credit-risk", impact=2, likelihood=2, rationale="x", reason="r")
    with pytest.raises(policy.PolicyDeniedError):
        lifecycle.promote(gov.ws, "sam", M, to="validated", reason="x", break_glass=True)
    validated, approved = _approved(gov)
    entries = lifecycle.history(gov.ws, "credit-risk")
    whats = [e.what for e in entries]
    assert whats == [
        "register",
        "sign",
        "risk",
        "deny",
        "promote",
        "approve",
        "approve",
        "promote",
    ]
    last = entries[-1]
    assert (last.seq, last.actor, last.reason, last.ref) == (approved, "sam", "release", M)
    assert "validated -> approved" in last.detail and last.policy
    assert "break-glass" in entries[3].detail
    upto = lifecycle.history(gov.ws, "credit-risk", at=str(validated))
    assert [e.what for e in upto][-1] == "promote" and upto[-1].seq == validated
    with pytest.raises(NotFoundError):
        lifecycle.history(gov.ws, "nosuch")


def test_registry_at_replays_stages_approvers_and_policy(gov: Gov) -> None:
    validated, approved = _approved(gov)
    before = {x.ref: x for x in lifecycle.registry_at(gov.ws, str(validated))}
    assert before[M].stage == "validated" and before[M].approvers == []
    now = {x.ref: x for x in lifecycle.registry_at(gov.ws, str(approved))}
    line = now[M]
    assert line.stage == "approved" and line.since == approved
    assert [(n, r) for n, r, _ in line.approvers] == [("vic", "validator"), ("tess", "validator")]
    assert (line.policy_name, line.policy_version) == ("test-governance", "1")
    assert now["scorecard@1"].stage == "candidate"
    with gov.ws.session("") as s:
        ts = s.catalog.events()[validated - 1].ts
    by_time = {x.ref: x for x in lifecycle.registry_at(gov.ws, ts)}
    assert by_time[M].stage == "validated"
    assert lifecycle.registry_at(gov.ws, "1") == []  # nothing registered at event #1
    with pytest.raises(UsageError, match="cannot read"):
        lifecycle.registry_at(gov.ws, "last tuesday")


def test_registry_at_names_the_policy_in_force_then(gov: Gov, tmp_path: Path) -> None:
    _, approved = _approved(gov)
    newer = tmp_path / "v2"
    source = Path(__file__).with_name("policy")
    (newer / "tests").mkdir(parents=True)
    (newer / "bundle.toml").write_text(
        (source / "bundle.toml").read_text().replace('version = "1"', 'version = "2"')
    )
    (newer / "gate.rego").write_text((source / "gate.rego").read_text())
    (newer / "tests" / "cases.toml").write_text((source / "tests" / "cases.toml").read_text())
    policy.install(gov.ws, "alice", newer, reason="v2")
    then = {x.ref: x for x in lifecycle.registry_at(gov.ws, str(approved))}[M]
    now = {x.ref: x for x in lifecycle.registry_at(gov.ws, str(approved + 1))}[M]
    assert (then.policy_version, now.policy_version) == ("1", "2")
    assert then.policy != now.policy and now.stage == "approved"
