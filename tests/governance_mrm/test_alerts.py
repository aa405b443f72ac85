"""Alerts: expiring and expired approvals, stale evidence, lapsed revalidation, open
break-glass reviews, overdue findings; all at a chosen ``now``, windows from the policy."""

from __future__ import annotations

import datetime as dt

from core.governance import alerts, breakglass, findings
from core.governance.alerts import Alert
from core.governance.events import ModelApproved, RiskAssessed
from core.identity.actors import needs
from core.kernel import command
from core.kernel.kinds import new_event
from core.kernel.workspace import Session, Workspace
from tests.governance_mrm.conftest import MODEL, event_time, install_policy, promote

DAY = dt.timedelta(days=1)


def _record_approval(ws: Workspace, actor: str, role: str, decision: str = "approve") -> int:
    """A ``model.approve`` through the foundation's kind (the signed statement is another
    branch's work: only the approvals table's rows matter to the alerts)."""

    def commit(s: Session, _: None) -> int:
        model = s.catalog.model(MODEL)
        assert model is not None
        payload = ModelApproved(
            MODEL,
            model.model_digest,
            "approved",
            decision,
            role,
            actor,
            "test-key",
            "sha256:" + "0" * 64,
            "",
            [],
            [],
        )
        return s.commit(new_event(s.actor, payload, [f"model:{MODEL}"], "looked")).seq

    return command.run(ws, actor, guards=[needs(role, action="approve")], commit=commit)


def _assess(ws: Workspace, impact: int, likelihood: int, tier: int) -> None:
    def commit(s: Session, _: None) -> int:
        payload = RiskAssessed("credit-risk", impact, likelihood, tier, "credit decisions")
        return s.commit(new_event(s.actor, payload, ["model:credit-risk"], "risk")).seq

    command.run(ws, "val", guards=[needs("validator", action="assess")], commit=commit)


def _kinds(found: list[Alert]) -> list[str]:
    return sorted(a.kind for a in found)


def _validation_time(ws: Workspace) -> dt.datetime:
    with ws.session("") as s:
        model = s.catalog.model(MODEL)
        assert model is not None
        seq, _ = alerts.newest_evidence(s, model)["validation"]
    return event_time(ws, seq)


def test_without_a_policy_the_unknown_windows_are_an_alert(mws: Workspace) -> None:
    [only] = alerts.alerts(mws)
    assert (only.kind, only.severity) == ("no-policy", "medium")


def test_an_approval_expiring_alerts_while_it_still_counts_then_expires(mws: Workspace) -> None:
    install_policy(mws)  # untiered is tier 1: valid 100 days, grace 10
    first = _record_approval(mws, "val", "validator")
    _record_approval(mws, "ada", "approver")
    t = event_time(mws, first)
    assert alerts.alerts(mws, now=t + 50 * DAY) == []
    assert alerts.alerts(mws, now=t + 99 * DAY) == []
    expiring = alerts.alerts(mws, now=t + 105 * DAY)
    assert _kinds(expiring) == ["approval-expiring", "approval-expiring"]
    by_val = next(a for a in expiring if "by val" in a.message)
    assert by_val.severity == "medium" and by_val.seq == first
    assert "expires in 5 days" in by_val.message and "still counts" in by_val.message
    assert by_val.when == (t + 110 * DAY).date().isoformat()
    expired = alerts.alerts(mws, now=t + 111 * DAY)
    assert _kinds(expired) == ["approval-expired", "approval-expired"]
    assert all(a.severity == "high" and "no longer counted" in a.message for a in expired)


def test_the_tier_sets_the_windows(mws: Workspace) -> None:
    install_policy(mws)
    _assess(mws, 2, 2, 2)  # tier 2: approvals valid 365 days
    t = event_time(mws, _record_approval(mws, "val", "validator"))
    assert alerts.alerts(mws, now=t + 111 * DAY) == []
    assert _kinds(alerts.alerts(mws, now=t + 380 * DAY)) == ["approval-expiring"]


def test_an_approvers_later_rejection_leaves_no_approval_to_expire(mws: Workspace) -> None:
    install_policy(mws)
    t = event_time(mws, _record_approval(mws, "val", "validator"))
    _record_approval(mws, "val", "validator", decision="reject")
    assert alerts.alerts(mws, now=t + 105 * DAY) == []


def test_evidence_ages_and_revalidation_lapses_for_versions_in_use(mws: Workspace) -> None:
    install_policy(mws)  # tier 1: evidence 40 days, revalidate every 50, grace 10
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
    install_policy(mws)
    seq = promote(mws, "alice", MODEL, "approved", break_glass=True, reason="incident")
    t = event_time(mws, seq)
    [alert] = [a for a in alerts.alerts(mws, now=t) if a.kind == "breakglass-open"]
    assert alert.severity == "high" and alert.seq == seq and "by alice" in alert.message
    breakglass.review(mws, "val", seq, reason="justified")
    assert [a for a in alerts.alerts(mws, now=t) if a.kind == "breakglass-open"] == []


def test_findings_past_due_and_lapsed_acceptances_alert(mws: Workspace) -> None:
    install_policy(mws)
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
