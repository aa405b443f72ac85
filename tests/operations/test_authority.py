"""Who may change what serves, and from what truth: each attack next to its guarantee.

- scoring takes what answers from the signed deployment event, never from a catalog row an
  insider edited (review F1);
- a rule-based baseline is no side door: an open incident, the deploy gate, the approvers'
  conditions (F2);
- a service identity changes what serves only as an automatic playbook step (F4).
"""

from __future__ import annotations

import pytest

from core.audit import verification
from core.governance.policy import PolicyDeniedError
from core.identity.actors import needs
from core.kernel.errors import CheckFailedError, IntegrityError, PermissionDeniedError, UsageError
from core.kernel.kinds import new_event
from core.operations import deployments, incidents, monitoring, scoring
from core.operations.events import Deployed, Throttled
from tests.operations.applicants import applicants
from tests.operations.conftest import V1, V2, Ops
from tests.operations.test_incidents import armed  # noqa: F401  (a fixture)

PROD = "production"
RULE = ("long-loans", "CASE WHEN duration_months > 36 THEN 0.7 ELSE 0.2 END")


def _head(ops: Ops) -> int:
    return int(ops.ws.ledger.head()[0])


def _sql(ops: Ops, sql: str, params: list[object]) -> None:
    with ops.ws.session("") as s:
        s.catalog.con.execute(sql, params)


def _digest(ops: Ops, ref: str) -> str:
    with ops.ws.session("") as s:
        return s.catalog.model(ref).model_digest  # type: ignore[union-attr]


# ---- F1: the catalog is an index, never the authority on what answers ------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("model", None),  # another (approved, signed) version's bytes
        ("conditions", "[]"),  # the under-21 condition dropped
        ("retention", "rows"),  # raw inputs kept against the deployment's class
    ],
)
def test_an_edited_deployment_row_never_decides_what_answers(
    ops: Ops, column: str, value: str | None
) -> None:
    dep = deployments.deploy(ops.ws, "opal", V1, env=PROD, reason="v1")
    scoring.Scorer.open(ops.ws, PROD, "scorer")  # the honest row loads
    if column == "model":
        _sql(
            ops,
            "UPDATE deployments SET model = ?, model_digest = ? WHERE deployment_id = ?",
            [V2, _digest(ops, V2), dep.deployment_id],
        )
    else:
        _sql(
            ops,
            f"UPDATE deployments SET {column} = ? WHERE deployment_id = ?",
            [value, dep.deployment_id],
        )
    with pytest.raises(IntegrityError, match="disagrees with its signed event") as err:
        scoring.Scorer.open(ops.ws, PROD, "scorer")
    assert "ledgerml audit verify" in err.value.hint


def test_a_forged_lifecycle_row_is_no_approval(ops: Ops) -> None:
    dep = deployments.deploy(ops.ws, "opal", V1, env=PROD, reason="v1")
    # the row the reviewer forged: a copy of the approval, pointing at an event that is no
    # promotion (here the deployment itself), newest of the model's rows
    _sql(
        ops,
        "INSERT INTO lifecycle SELECT * REPLACE (? AS seq) FROM lifecycle WHERE model = ? "
        "ORDER BY seq DESC LIMIT 1",
        [dep.row.seq, V1],
    )
    with pytest.raises(IntegrityError, match="no signed promotion"):
        scoring.Scorer.open(ops.ws, PROD, "scorer")


# ---- F2: a rule-based baseline is no side door ------------------------------------------


def test_a_baseline_needs_an_open_incident_the_gate_and_keeps_the_conditions(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env=PROD, reason="v1")
    rule = deployments.baseline_rule(*RULE)
    before = _head(ops)
    with pytest.raises(UsageError, match="during an incident"):
        deployments.deploy_baseline(ws, "opal", env=PROD, rule=rule, reason="fallback")
    other = incidents.open_incident(ws, "opal", env="staging", title="t", reason="r")
    with pytest.raises(CheckFailedError, match="needs an open incident of production"):
        deployments.deploy_baseline(
            ws, "opal", env=PROD, rule=rule, reason="fallback", incident=other.seq
        )
    ticket = incidents.open_incident(ws, "opal", env=PROD, title="drift", reason="r")
    done = incidents.open_incident(ws, "opal", env=PROD, title="old", reason="r")
    incidents.close(ws, "opal", done.seq, reason="handled")
    with pytest.raises(CheckFailedError, match="closed"):
        deployments.deploy_baseline(
            ws, "opal", env=PROD, rule=rule, reason="fallback", incident=done.seq
        )
    assert _head(ops) == before + 4  # the three incident events and the close, nothing else
    # the policy sees it: the reviewer's constant rule is refused, and the refusal recorded
    constant = deployments.baseline_rule("always-good", "0.0")
    with pytest.raises(PolicyDeniedError, match="reads no input column"):
        deployments.deploy_baseline(
            ws, "opal", env=PROD, rule=constant, reason="fallback", incident=ticket.seq
        )
    with ws.session("") as s:
        assert s.catalog.events(action="policy.deny")[-1].seq == _head(ops)
        assert [d.row.model for d in deployments.live(s, PROD)] == [V1]
    dep = deployments.deploy_baseline(
        ws, "opal", env=PROD, rule=rule, reason="fallback", incident=ticket.seq
    )
    assert [c.where for c in dep.conditions] == ["age_years >= 21", None]
    frame = applicants(ws, 60)
    frame.loc[:4, "age_years"] = 19  # five applicants the approval excluded
    res = scoring.Scorer.open(ws, PROD, "scorer").score(frame, caller="scorer")
    status = res.answers.column("status").to_pylist()
    young = (frame["age_years"] < 21).tolist()
    assert any(young) and all(st == "refused" for st, y in zip(status, young, strict=True) if y)
    assert verification.verify(ws).failures == []


def test_audit_verify_flags_a_baseline_forged_past_every_rule(ops: Ops) -> None:
    deployments.deploy(ops.ws, "opal", V1, env=PROD, reason="v1")
    with ops.ws.session("") as s:
        live = deployments.live(s, PROD)[0].deployment_id
    rule = deployments.baseline_rule("always-good", "0.0")
    from storage.canonical import canonical_bytes

    with ops.ws.session("opal") as s:
        needs(action="forge")(s)
        ref = s.put_blob(canonical_bytes(rule), "application/vnd.ledgerml.baseline+json")
        payload = Deployed(
            deployment_id="dep-forged00001",
            env=PROD,
            arm="live",
            strategy="baseline",
            model="baseline:always-good",
            model_digest=ref.sha256,
            retention="hmac-only",
            key_check="0" * 16,
            conditions=[],
            ends=[live],
        )
        seq = s.commit(new_event("opal", payload, [f"env:{PROD}"], "fallback", [ref])).seq
    found = [f for f in verification.verify(ops.ws).failures if f"#{seq}" in f]
    assert any("outside an open incident" in f for f in found), found
    assert any("no decision of the deploy gate" in f for f in found), found
    assert any("drops the approvers' enforceable condition age_years >= 21 of" in f for f in found)


# ---- F4: a service changes what serves only as an automatic playbook step --------------


def test_a_service_cannot_change_what_serves_on_command(ops: Ops) -> None:
    ws = ops.ws
    with pytest.raises(PermissionDeniedError, match="only a person"):
        deployments.deploy(ws, "scorer", V1, env=PROD, reason="r")
    deployments.deploy(ws, "opal", V1, env=PROD, reason="v1")
    deployments.deploy(ws, "opal", V2, env=PROD, reason="v2")
    # an incident opened by hand has no automatic step: naming it does not help
    ticket = incidents.open_incident(ws, "opal", env=PROD, title="t", reason="r")
    rule = deployments.baseline_rule(*RULE)
    before = _head(ops)
    attempts = {
        "deploy": lambda inc: deployments.deploy(
            ws, "scorer", V2, env=PROD, strategy="canary", share=0.5, reason="r", incident=inc
        ),
        "throttle": lambda inc: deployments.throttle(
            ws, "scorer", env=PROD, share=0.0, reason="r", incident=inc
        ),
        "baseline": lambda inc: deployments.deploy_baseline(
            ws, "scorer", env=PROD, rule=rule, reason="r", incident=inc
        ),
        "withdraw": lambda inc: deployments.withdraw(
            ws, "scorer", env=PROD, arms=["live"], reason="r", incident=inc
        ),
        "rollback": lambda inc: deployments.rollback(
            ws, "scorer", env=PROD, reason="r", incident=inc
        ),
    }
    for name, attempt in attempts.items():
        for inc in (None, ticket.seq):
            if name == "baseline" and inc is None:
                continue  # refused earlier, for want of an incident
            with pytest.raises(PermissionDeniedError, match="not a person"):
                attempt(inc)
    assert _head(ops) == before  # nothing recorded
    deployments.throttle(ws, "opal", env=PROD, share=0.5, reason="a person may")


def test_automatic_is_checked_not_believed(armed: Ops) -> None:  # noqa: F811
    ws = armed.ws
    first = monitoring.run(ws, "scorer", env="staging", window="24h")
    [incident] = first.incidents  # opened by the traffic breach; step 1 ran by itself
    before = _head(armed)
    # step 2 (throttle) is on the same objective but not auto; step 3 is for the admin
    for step in (2, 3):
        with pytest.raises(PermissionDeniedError, match="no automatic step"):
            incidents.act(ws, "scorer", incident.seq, step=step, reason="r", automatic=True)
    # repeating the automatic step outside act: allowed by the playbook, but flagged
    with pytest.raises(CheckFailedError):  # nothing left to roll back to; nothing recorded
        deployments.rollback(ws, "scorer", env="staging", reason="r", incident=incident.seq)
    assert _head(armed) == before
    assert verification.verify(ws).failures == []  # the honest automatic step verifies


def test_audit_verify_flags_a_service_changing_what_serves(ops: Ops) -> None:
    deployments.deploy(ops.ws, "opal", V1, env=PROD, reason="v1")
    with ops.ws.session("scorer") as s:  # the service's real key, past the command's guards
        needs(action="forge")(s)
        seq = s.commit(
            new_event("scorer", Throttled(PROD, 0.0, None), [f"env:{PROD}"], "forged")
        ).seq
    found = [f for f in verification.verify(ops.ws).failures if f"#{seq}" in f]
    assert any("no automatic incident.act claims it" in f for f in found), found


def test_audit_verify_flags_an_action_marked_automatic_for_a_manual_step(
    armed: Ops,  # noqa: F811
) -> None:
    from core.operations.monitor_events import IncidentActed

    ws = armed.ws
    [incident] = monitoring.run(ws, "scorer", env="staging", window="24h").incidents
    with ws.session("scorer") as s:
        needs(action="forge")(s)
        payload = IncidentActed(
            incident=incident.seq,
            action="note",
            detail="d",
            automatic=True,
            status="done",
            step=2,
            runbook=None,
            caused_seq=None,
        )
        seq = s.commit(
            new_event("scorer", payload, [f"incident:{incident.seq}", "env:staging"], "r")
        ).seq
    found = [f for f in verification.verify(ws).failures if f"#{seq}" in f]
    assert any("no automatic step for the breach of traffic" in f for f in found), found
