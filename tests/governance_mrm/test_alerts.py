"""Alerts: expiring and expired approvals, stale evidence, lapsed revalidation, open
break-glass reviews, overdue findings; all at a chosen ``now``, windows from the policy."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from core.governance import alerts, approvals, breakglass, findings, risk, separation
from core.governance.alerts import Alert
from core.governance.facts import approvals_of, model_facts
from core.kernel.workspace import Workspace
from tests.governance_mrm.conftest import MODEL, break_glass, event_time, promote

DAY = dt.timedelta(days=1)


def _approve(ws: Workspace, actor: str, role: str, *, reject: bool = False) -> int:
    """A signed approval (or rejection) of credit-risk@1 for the approved stage."""
    return approvals.approve(ws, actor, MODEL, role=role, reason="looked", reject=reject).seq


def _kinds(found: list[Alert]) -> list[str]:
    return sorted(a.kind for a in found)


def _validation_time(ws: Workspace) -> dt.datetime:
    with ws.session("") as s:
        model = s.catalog.model(MODEL)
        assert model is not None
        seq, _ = alerts.newest_evidence(s, model)["validation"]
    return event_time(ws, seq)


def test_without_a_policy_the_unknown_windows_are_an_alert(ws: Workspace) -> None:
    [only] = alerts.alerts(ws)  # the root conftest's fresh workspace: no policy installed
    assert (only.kind, only.severity) == ("no-policy", "medium")


def test_an_approval_expiring_alerts_while_it_still_counts_then_expires(mws: Workspace) -> None:
    # untiered is tier 1: valid 100 days, grace 10
    first = _approve(mws, "val", "validator")
    _approve(mws, "ada", "approver")
    t = event_time(mws, first)
    assert alerts.alerts(mws, now=t + 50 * DAY) == []
    soon = alerts.alerts(mws, now=t + 95 * DAY)  # within the grace window before the end
    assert _kinds(soon) == ["approval-expiring", "approval-expiring"]
    assert all(a.severity == "low" and "expires in 5 days" in a.message for a in soon)
    expiring = alerts.alerts(mws, now=t + 105 * DAY)  # past validity, in grace: still counts
    assert _kinds(expiring) == ["approval-expiring", "approval-expiring"]
    by_val = next(a for a in expiring if "by val" in a.message)
    assert by_val.severity == "medium" and by_val.seq == first
    assert "expires in 5 days" in by_val.message and "still counts" in by_val.message
    assert by_val.when == (t + 110 * DAY).date().isoformat()
    with mws.session("") as s:  # the promotion's own rule agrees: in grace, both still count
        _, rules = risk.rules_in_force(s, action="test")
        facts = model_facts(s, MODEL)
        check = separation.check(
            rules,
            1,
            facts["digest"],
            facts["developers"],
            approvals_of(s, MODEL, "approved"),
            kinds={"val": "person", "ada": "person"},
            newest_evidence_seq=separation.newest_evidence(facts),
            now=(t + 105 * DAY).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
    assert check["ok"] and check["people"] == ["ada", "val"]
    expired = alerts.alerts(mws, now=t + 111 * DAY)
    assert _kinds(expired) == ["approval-expired", "approval-expired"]
    assert all(a.severity == "high" and "no longer counted" in a.message for a in expired)


def test_approvals_voided_by_newer_evidence_alert_and_name_what_voided_them(
    mws: Workspace,
) -> None:
    from core.data import validation
    from tests.governance_mrm.conftest import SAMPLE

    promote(mws, "alice", MODEL, "validated")
    _approve(mws, "val", "validator")
    _approve(mws, "ada", "approver")
    promote(mws, "alice", MODEL, "approved")
    assert alerts.alerts(mws) == []
    again, _ = validation.run(mws, "val", "german-credit-features", SAMPLE / "features_suite.toml")
    voided = alerts.alerts(mws)
    assert _kinds(voided) == ["approval-voided", "approval-voided"]
    for a in voided:
        assert a.severity == "high", a
        assert f"voided by the validation at event #{again.seq}" in a.message
        assert "approved on approvals that no longer count" in a.message
    with mws.session("") as s:  # the gate's own rule agrees: neither counts now
        facts = model_facts(s, MODEL)
        assert not approvals.sign_off_in(s, [MODEL])[MODEL].holds
        assert facts["stage"] == "approved"
    _approve(mws, "val", "validator")  # asked again, val approves the version as it is now
    assert [a.message.split(" was ")[0] for a in alerts.alerts(mws)] == [
        f"approval #{a.seq} of {MODEL} by ada (approver)" for a in voided if "ada" in a.message
    ]


def test_a_voided_approval_the_rule_does_without_is_a_low_alert(mws: Workspace) -> None:
    """Severity follows the rule, not the void: others' newer approvals still meet it."""
    from core.data import validation
    from core.identity import actors
    from tests.governance_mrm.conftest import SAMPLE

    actors.add(mws, "alice", "vera", ["approver"])
    promote(mws, "alice", MODEL, "validated")
    for who, role in (("vera", "approver"), ("val", "validator"), ("ada", "approver")):
        _approve(mws, who, role)
    promote(mws, "alice", MODEL, "approved")
    validation.run(mws, "val", "german-credit-features", SAMPLE / "features_suite.toml")
    assert {a.severity for a in alerts.alerts(mws)} == {"high"}  # none of the three counts
    _approve(mws, "val", "validator")
    _approve(mws, "ada", "approver")  # the rule is met again without vera
    [only] = alerts.alerts(mws)
    assert (only.kind, only.severity) == ("approval-voided", "low")
    assert "by vera (approver)" in only.message
    assert only.message.endswith(f"the other approvals of {MODEL} still meet the rule")
    with mws.session("") as s:
        assert approvals.sign_off_in(s, [MODEL])[MODEL].holds  # the gate agrees: it holds


def test_a_void_before_approval_is_a_low_alert_the_approver_is_asked_again(
    mws: Workspace,
) -> None:
    from core.data import validation
    from tests.governance_mrm.conftest import SAMPLE

    promote(mws, "alice", MODEL, "validated")
    _approve(mws, "val", "validator")
    validation.run(mws, "val", "german-credit-features", SAMPLE / "features_suite.toml")
    [only] = alerts.alerts(mws)
    assert (only.kind, only.severity) == ("approval-voided", "low")
    assert only.message.endswith("val is asked again")


def test_the_tier_sets_the_windows(mws: Workspace) -> None:
    risk.assess(
        mws, "val", "credit-risk", impact=2, likelihood=2, rationale="small book", reason="r"
    )
    # tier 2 (score 4): approvals valid 365 days, grace 30
    t = event_time(mws, _approve(mws, "val", "validator"))
    assert alerts.alerts(mws, now=t + 111 * DAY) == []
    assert _kinds(alerts.alerts(mws, now=t + 380 * DAY)) == ["approval-expiring"]


def test_an_approvers_later_rejection_leaves_no_approval_to_expire(mws: Workspace) -> None:
    t = event_time(mws, _approve(mws, "val", "validator"))
    _approve(mws, "val", "validator", reject=True)
    assert alerts.alerts(mws, now=t + 105 * DAY) == []


def test_evidence_ages_and_revalidation_lapses_for_versions_in_use(mws: Workspace) -> None:
    # tier 1: evidence 40 days, revalidate every 50, grace 10
    checked = _validation_time(mws)
    assert alerts.alerts(mws, now=checked + 70 * DAY) == []  # a candidate: not in use
    promote(mws, "alice", MODEL, "validated")
    assert alerts.alerts(mws, now=checked + 39 * DAY) == []
    assert _kinds(alerts.alerts(mws, now=checked + 41 * DAY)) == ["evidence-stale"]
    due = alerts.alerts(mws, now=checked + 55 * DAY)
    assert _kinds(due) == ["evidence-stale", "revalidation-due"]
    revalidation = next(a for a in due if a.kind == "revalidation-due")
    assert "grace period ends in 5 days" in revalidation.message
    lapsed = alerts.alerts(mws, now=checked + 61 * DAY)
    assert _kinds(lapsed) == ["evidence-stale", "revalidation-lapsed"]
    assert lapsed[0].kind == "revalidation-lapsed" and lapsed[0].severity == "high"  # worst first
    promote(mws, "alice", MODEL, "retired")
    assert alerts.alerts(mws, now=checked + 61 * DAY) == []


def test_open_break_glass_is_an_alert_until_reviewed(mws: Workspace) -> None:
    seq = break_glass(mws, reason="incident")
    t = event_time(mws, seq)
    [alert] = [a for a in alerts.alerts(mws, now=t) if a.kind == "breakglass-open"]
    assert alert.severity == "high" and alert.seq == seq and "by alice" in alert.message
    breakglass.review(mws, "val", seq, reason="justified")
    assert [a for a in alerts.alerts(mws, now=t) if a.kind == "breakglass-open"] == []


def test_findings_past_due_and_lapsed_acceptances_alert(mws: Workspace) -> None:
    first = findings.add(
        mws,
        "val",
        MODEL,
        severity="critical",
        owner="olga",
        title="leaks",
        due="2999-01-01",
        reason="r",
    )
    t = event_time(mws, first.seq)
    due = t.date().isoformat()
    late = findings.add(
        mws, "val", MODEL, severity="low", owner="olga", title="typo", due=due, reason="r"
    )
    findings.update(
        mws, "val", first.seq, status="accepted", reason="control", expires=due, today=t.date()
    )
    assert alerts.alerts(mws, now=t) == []  # the due day and the last accepted day count
    found = alerts.alerts(mws, now=t + DAY)
    assert _kinds(found) == ["finding-acceptance-lapsed", "finding-overdue"]
    overdue = next(a for a in found if a.kind == "finding-overdue")
    assert (overdue.seq, overdue.severity) == (late.seq, "low")
    lapsed = next(a for a in found if a.kind == "finding-acceptance-lapsed")
    assert lapsed.severity == "high" and "counts as open again" in lapsed.message
    findings.update(mws, "olga", late.seq, status="in-remediation", reason="on it")
    assert "finding-overdue" in _kinds(alerts.alerts(mws, now=t + DAY))  # still not closed
    findings.update(mws, "val", late.seq, status="remediated", reason="fixed")
    assert _kinds(alerts.alerts(mws, now=t + DAY)) == ["finding-acceptance-lapsed"]


def test_worst_and_rank() -> None:
    low = Alert("x", "low", "s", "m")
    high = Alert("y", "high", "s", "m")
    assert alerts.worst([]) is None
    assert alerts.worst([low, high]) == "high"
    assert alerts.rank("medium") > alerts.rank("low")


def test_an_approval_row_forged_into_the_catalog_raises_no_alert(mws: Workspace) -> None:
    seq = _approve(mws, "val", "validator")
    t = event_time(mws, seq)
    con = duckdb.connect(str(mws.catalog_path))
    con.execute(
        "INSERT INTO approvals SELECT seq + 1000, model, model_digest, stage, decision, role, "
        "'ada', key_id, envelope_digest, policy_digest, evidence, conditions, reason, "
        "created_at, recorded_by FROM approvals WHERE seq = ?",
        [seq],
    )
    con.close()
    found = alerts.alerts(mws, now=t + 105 * DAY)
    assert [a.seq for a in found] == [seq]  # ada's forged copy is not ada's signed approval


@pytest.mark.parametrize("days", [0, 89])
def test_a_fresh_approval_raises_nothing(mws: Workspace, days: int) -> None:
    t = event_time(mws, _approve(mws, "val", "validator"))
    assert alerts.alerts(mws, now=t + days * DAY) == []


def test_a_reversed_break_glass_alerts_until_the_version_moves(mws: Workspace) -> None:
    seq = break_glass(mws)
    review = breakglass.review(mws, "val", seq, reason="not an emergency", outcome="reversed")
    t = event_time(mws, review.seq)
    [pending] = alerts.alerts(mws, now=t)
    assert (pending.kind, pending.severity, pending.seq) == (
        "breakglass-reversal-pending",
        "high",
        review.seq,
    )
    assert "still approved" in pending.message
    promote(mws, "alice", MODEL, "retired", reason="reversed on review")
    assert alerts.alerts(mws, now=t) == []


def test_never_a_silent_outage(mws: Workspace) -> None:
    """At any moment, an approval the promotion rule still counts but that will stop
    counting within the grace window has an alert, and one it stopped counting for age has
    an alert saying so; a fresh one has none."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    seq = _approve(mws, "val", "validator")
    t = event_time(mws, seq)
    with mws.session("") as s:
        _, rules = risk.rules_in_force(s, action="test")
        facts = model_facts(s, MODEL)
        rows = approvals_of(s, MODEL, "approved")
    tier = rules.tier(1)  # valid 100, grace 10

    @settings(max_examples=60, deadline=None)
    @given(st.floats(min_value=0, max_value=200, allow_nan=False))
    def at(days: float) -> None:
        now = t + dt.timedelta(days=days)
        check = separation.check(
            rules,
            1,
            facts["digest"],
            facts["developers"],
            rows,
            kinds={"val": "person"},
            newest_evidence_seq=separation.newest_evidence(facts),
            now=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        found = {a.kind for a in alerts.alerts(mws, now=now) if a.seq == seq}
        counted = seq in check["counted"]
        if counted and days > tier.approval_valid_days - tier.grace_days:
            assert found == {"approval-expiring"}, (days, found)
        elif counted:
            assert found == set(), (days, found)
        else:
            assert days > tier.approval_valid_days + tier.grace_days
            assert found == {"approval-expired"}, (days, found)

    at()
