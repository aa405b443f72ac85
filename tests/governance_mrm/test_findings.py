"""Validation findings: who may record, remediate, close and accept them; what policy sees."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from core.audit import verification
from core.governance import findings, policy
from core.governance.facts import model_facts
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.rows import LifecycleRow
from core.kernel.workspace import Workspace
from tests.conftest import ROOT
from tests.governance_mrm.conftest import MODEL, POLICY, event_day

FAR = "2999-12-31"


def _ledger(ws: Workspace) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((ws.root / "ledger").rglob("*.log")))


def _add(ws: Workspace, severity: str = "high", owner: str = "olga", **kw: str) -> int:
    row = findings.add(
        ws,
        kw.get("actor", "val"),
        MODEL,
        severity=severity,
        owner=owner,
        title=kw.get("title", "calibration drifts above 0.6"),
        due=kw.get("due", FAR),
        reason="challenge evaluation",
    )
    return row.seq


def test_a_finding_is_recorded_open_with_its_owner_and_due_date(mws: Workspace) -> None:
    seq = _add(mws)
    [row] = findings.list_findings(mws, model="credit-risk")
    assert (row.seq, row.status, row.owner, row.severity, row.due) == (
        seq,
        "open",
        "olga",
        "high",
        FAR,
    )
    assert row.opened_by == "val" and row.model == MODEL
    with mws.session("") as s:
        assert s.catalog.model(MODEL).model_digest == row.model_digest  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"severity": "severe"}, UsageError, "not a severity"),
        ({"due": "2020-01-01"}, UsageError, "in the past"),
        ({"due": "31/12/2999"}, UsageError, "not a date"),
        ({"due": "2999-1-1"}, UsageError, "not a date"),
        ({"owner": "nobody"}, NotFoundError, "not a registered actor"),
        ({"title": "  "}, UsageError, "--title"),
        ({"actor": "bob"}, PermissionDeniedError, "lacks the role"),
        ({"actor": "olga"}, PermissionDeniedError, "lacks the role"),
    ],
)
def test_bad_findings_are_refused_and_record_nothing(
    mws: Workspace, kwargs: dict[str, str], error: type[Exception], text: str
) -> None:
    before = _ledger(mws)
    with pytest.raises(error, match=text):
        _add(mws, **kwargs)
    assert _ledger(mws) == before


def test_an_unknown_model_version_is_refused(mws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no model version"):
        findings.add(
            mws,
            "val",
            "credit-risk@9",
            severity="low",
            owner="olga",
            title="t",
            due=FAR,
            reason="r",
        )


def test_the_owner_reports_and_someone_independent_closes(mws: Workspace) -> None:
    seq = _add(mws)
    row = findings.update(mws, "olga", seq, status="in-remediation", reason="recalibrated")
    assert (row.status, row.updated_by, row.reason) == ("in-remediation", "olga", "recalibrated")
    # The owner cannot close their own finding, even holding a finding role.
    with pytest.raises(PermissionDeniedError, match="lacks a role"):
        findings.update(mws, "olga", seq, status="remediated", reason="done")
    # Somebody else cannot report the owner's remediation for them.
    with pytest.raises(PermissionDeniedError, match="owner"):
        findings.update(mws, "val", seq, status="in-remediation", reason="x")
    # A developer of the version (sam trained, registered and signed it) holding the
    # validator role cannot close a finding on it: separation of duties.
    with pytest.raises(PermissionDeniedError, match="developed credit-risk@1"):
        findings.update(mws, "sam", seq, status="remediated", reason="looks fine to me")
    row = findings.update(mws, "val", seq, status="remediated", reason="checked the fix")
    assert (row.status, row.updated_by) == ("remediated", "val")
    assert findings.list_findings(mws, open_only=True) == []
    # Reopened by the validator when the fix did not hold.
    row = findings.update(mws, "val", seq, status="open", reason="drift is back")
    assert row.status == "open"


def test_an_owner_holding_a_finding_role_still_cannot_close_it(mws: Workspace) -> None:
    seq = _add(mws, owner="ada")  # ada is an approver: a finding role
    with pytest.raises(PermissionDeniedError, match="owns finding"):
        findings.update(mws, "ada", seq, status="accepted", reason="fine", expires=FAR)


def test_an_admin_who_developed_the_model_is_not_exempt(mws: Workspace) -> None:
    from core.modelling import models

    models.sign(mws, "alice", MODEL)  # alice is now a developer (a signer) of the version
    seq = _add(mws)
    with pytest.raises(PermissionDeniedError, match="admins included"):
        findings.update(mws, "alice", seq, status="accepted", reason="x", expires=FAR)


@pytest.mark.parametrize(
    ("status", "expires", "text"),
    [
        ("fixed", None, "not a status"),
        ("accepted", None, "needs --expires"),
        ("accepted", "2020-01-01", "in the past"),
        ("accepted", "soon", "not a date"),
        ("remediated", FAR, "for --status accepted only"),
        ("open", None, "already open"),
    ],
)
def test_bad_updates_are_refused_and_record_nothing(
    mws: Workspace, status: str, expires: str | None, text: str
) -> None:
    seq = _add(mws)
    before = _ledger(mws)
    with pytest.raises(UsageError, match=text):
        findings.update(mws, "val", seq, status=status, reason="r", expires=expires)
    assert _ledger(mws) == before


def test_updating_an_unknown_finding_is_refused(mws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no finding #999"):
        findings.update(mws, "val", 999, status="remediated", reason="r")
    with pytest.raises(NotFoundError, match="no model"):
        findings.list_findings(mws, model="no-such-model")


def test_an_acceptance_ends_and_the_finding_stands_again(mws: Workspace) -> None:
    seq = _add(mws, severity="critical")
    day = event_day(mws, seq)
    until = (day + dt.timedelta(days=20)).isoformat()
    row = findings.update(
        mws, "val", seq, status="accepted", reason="compensating control", expires=until, today=day
    )
    assert (row.status, row.expires) == ("accepted", until)
    with mws.session("") as s:
        on_last_day = findings.open_counts(s, MODEL, day + dt.timedelta(days=20))
        after = findings.open_counts(s, MODEL, day + dt.timedelta(days=21))
    assert on_last_day["critical"] == 0
    assert after == {"low": 0, "medium": 0, "high": 0, "critical": 1}
    lapsed = findings.list_findings(mws, open_only=True, today=day + dt.timedelta(days=21))
    assert [r.seq for r in lapsed] == [seq]


def test_standing_findings_per_name_count_lapsed_acceptances(mws: Workspace) -> None:
    first = _add(mws, severity="high")
    _add(mws, severity="low")
    day = event_day(mws, first)
    until = (day + dt.timedelta(days=3)).isoformat()
    findings.update(mws, "val", first, status="accepted", reason="r", expires=until, today=day)
    with mws.session("") as s:
        assert findings.standing_by_name(s, day) == {"credit-risk": 1}
        assert findings.standing_by_name(s, day + dt.timedelta(days=4)) == {"credit-risk": 2}


def test_the_gate_facts_count_open_findings_by_severity(mws: Workspace) -> None:
    _add(mws, severity="high")
    _add(mws, severity="high")
    low = _add(mws, severity="low")
    findings.update(mws, "val", low, status="remediated", reason="fixed")
    with mws.session("") as s:
        facts = model_facts(s, MODEL)
    assert facts["findings_open"] == {"low": 0, "medium": 0, "high": 2, "critical": 0}


def test_the_proposed_rule_passes_its_fixtures() -> None:
    results = policy.run_tests(policy.load_dir(POLICY))
    assert len(results) == 7 and all(r.passed for r in results), results


def test_the_rule_refuses_promotion_on_real_facts_until_the_finding_is_closed(
    mws: Workspace,
) -> None:
    from core.governance import lifecycle

    seq = _add(mws, severity="high")
    with pytest.raises(policy.PolicyDeniedError) as err:
        lifecycle.promote(mws, "alice", MODEL, to="validated", reason="ready")
    assert "credit-risk@1 has 1 open high finding: remediate it" in err.value.msg
    with mws.session("") as s:
        [denial] = s.catalog.events(action="policy.deny")
        assert s.catalog.rows(LifecycleRow, "SELECT * FROM lifecycle", []) == []
    assert denial.actor == "alice"
    findings.update(mws, "val", seq, status="remediated", reason="fixed and re-tested")
    row = lifecycle.promote(mws, "alice", MODEL, to="validated", reason="ready now")
    assert row.to_stage == "validated"


def test_an_accepted_finding_lets_promotion_through_until_the_acceptance_lapses(
    mws: Workspace,
) -> None:
    seq = _add(mws, severity="critical")
    findings.update(mws, "val", seq, status="accepted", reason="control", expires=FAR)
    with mws.session("") as s:
        facts = model_facts(s, MODEL)
    bundle = policy.load_dir(POLICY)
    ask = {"model": facts, "request": {"to_stage": "validated"}}
    assert policy.decide(bundle, "promote", ask).allow
    with mws.session("") as s:  # the day after the acceptance ends
        facts["findings_open"] = findings.open_counts(s, MODEL, dt.date(3000, 1, 1))
    assert not policy.decide(bundle, "promote", ask).allow


def test_break_glass_is_not_blocked_by_findings_and_stays_open(mws: Workspace) -> None:
    from core.governance import breakglass, lifecycle

    _add(mws, severity="critical")
    row = lifecycle.promote(
        mws, "alice", MODEL, to="validated", reason="regulator deadline", break_glass=True
    )
    assert row.break_glass
    [pending] = breakglass.list_breakglass(mws, open_only=True)
    assert pending.promotion.seq == row.seq


def test_a_hand_edited_finding_is_caught_by_verify(mws: Workspace) -> None:
    _add(mws, severity="critical")
    assert verification.verify(mws).ok
    con = duckdb.connect(str(mws.catalog_path))
    con.execute("UPDATE findings SET status = 'remediated', updated_by = 'val'")
    con.close()
    report = verification.verify(mws)
    assert not report.ok and any("findings table differs" in f for f in report.failures)


DEFAULT_PACK = ROOT / "sample_data" / "policies" / "default"
PACK_FIXTURES = Path(__file__).with_name("default_pack") / "tests" / "findings.toml"


@pytest.mark.skipif(not DEFAULT_PACK.is_dir(), reason="the default pack is another branch's")
def test_the_proposed_rule_drops_into_the_default_pack() -> None:
    """The rule and its pack-style fixtures pass with every rule of the default pack.

    The pack's own promote fixtures predate ``findings_open``, which the rule requires (a
    workstation that cannot count findings is refused, as the pack refuses thin inputs):
    they pass once their model gains ``findings_open = {}``, the one change the pack needs.
    """
    import dataclasses
    import tomllib

    pack = policy.load_dir(DEFAULT_PACK)
    rule = (POLICY / "findings.rego").read_text()
    tests = {
        name: {
            "case": [
                case
                | (
                    {
                        "input": case["input"]
                        | {"model": {"findings_open": {}} | case["input"]["model"]}
                    }
                    if case.get("gate") == "promote" and "model" in case.get("input", {})
                    else {}
                )
                for case in doc.get("case", [])
            ]
        }
        for name, doc in pack.tests.items()
    }
    tests["findings.toml"] = tomllib.loads(PACK_FIXTURES.read_text())
    combined = dataclasses.replace(
        pack, modules=pack.modules | {"findings.rego": rule}, tests=tests
    )
    results = policy.run_tests(combined)
    failed = [r for r in results if not r.passed]
    assert not failed, failed
    assert sum(r.name.startswith("findings.toml") for r in results) == 5
