"""Deployments on a real governed workspace: what is live where, and who may change it."""

from __future__ import annotations

import json

import pytest

from core.governance.policy import PolicyDeniedError
from core.kernel.errors import CheckFailedError, PermissionDeniedError, UsageError
from core.operations import decision_keys, deployments, incidents
from tests.operations.conftest import V1, V2, Ops


def _live(ops: Ops, env: str, at: int | None = None) -> list[tuple[str, str]]:
    with ops.ws.session("") as s:
        return [(d.row.arm, d.row.model) for d in deployments.live(s, env, at=at)]


def _head(ops: Ops) -> int:
    return int(ops.ws.ledger.head()[0])


def test_direct_canary_shadow_and_time_travel(ops: Ops) -> None:
    ws = ops.ws
    first = deployments.deploy(ws, "opal", V1, env="production", reason="go live")
    assert first.row.arm == "live" and first.row.created_by == "opal"
    assert [c.where for c in first.conditions] == ["age_years >= 21", None]
    after_first = _head(ops)
    deployments.deploy(ws, "opal", V2, env="production", strategy="canary", share=0.1, reason="c")
    deployments.deploy(ws, "opal", V2, env="production", strategy="shadow", reason="s")
    assert _live(ops, "production") == [("live", V1), ("canary", V2), ("shadow", V2)]
    second = deployments.deploy(ws, "opal", V2, env="production", reason="promote the canary")
    assert second.row.replaces == first.deployment_id
    # a direct deployment ends the live one and the canary it settles; the shadow stays
    assert _live(ops, "production") == [("live", V2), ("shadow", V2)]
    assert _live(ops, "production", at=after_first) == [("live", V1)]
    assert _live(ops, "staging") == []


def test_rollback_restores_the_previous_approved_deployment(ops: Ops) -> None:
    ws = ops.ws
    first = deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    deployments.deploy(ws, "opal", V2, env="production", reason="v2")
    new, restored = deployments.rollback(ws, "opal", env="production", reason="v2 drifts")
    assert restored.deployment_id == first.deployment_id
    assert new.row.model == V1 and new.row.rollback_of is not None
    assert _live(ops, "production") == [("live", V1)]
    with pytest.raises(CheckFailedError, match="no earlier approved deployment"):
        deployments.rollback(ws, "opal", env="production", reason="v2 was rolled back: not again")
    with pytest.raises(CheckFailedError, match="no live deployment"):
        deployments.rollback(ws, "opal", env="staging", reason="nothing there")


def test_rollback_skips_a_version_retired_since(ops: Ops) -> None:
    from core.governance import lifecycle

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    deployments.deploy(ws, "opal", V2, env="production", reason="v2")
    lifecycle.promote(ws, "vic", V1, to="retired", reason="superseded")
    with pytest.raises(CheckFailedError, match="no earlier approved"):
        deployments.rollback(ws, "opal", env="production", reason="try")


def test_refusals_change_nothing(ops: Ops) -> None:
    ws = ops.ws
    before = _head(ops)
    with pytest.raises(UsageError, match="reason"):
        deployments.deploy(ws, "opal", V1, env="production", reason=" ")
    with pytest.raises(UsageError, match="share"):
        deployments.deploy(ws, "opal", V1, env="production", strategy="canary", reason="r")
    with pytest.raises(UsageError, match="environment"):
        deployments.deploy(ws, "opal", V1, env="Prod!", reason="r")
    with pytest.raises(PermissionDeniedError):
        deployments.deploy(ws, "sam", V1, env="production", reason="r")  # not an operator
    with pytest.raises(CheckFailedError, match="no live deployment"):
        deployments.deploy(ws, "opal", V1, env="production", strategy="shadow", reason="r")
    assert _head(ops) == before


def test_a_candidate_is_refused_by_the_policy_and_the_refusal_recorded(ops: Ops) -> None:
    from core.governance import lifecycle
    from core.modelling import models, training
    from tests.operations.conftest import SAMPLE

    ws = ops.ws
    spec = ops.root.parent / "train3.toml"
    spec.write_text((SAMPLE / "train.toml").read_text().replace("C = 0.5", "C = 2.0"))
    run = training.train(ws, "sam", spec)
    row, _ = models.register(ws, "sam", run.run_id, "credit-risk")
    models.sign(ws, "sam", row.ref)
    with pytest.raises(CheckFailedError, match="approved versions only"):
        deployments.deploy(ws, "opal", row.ref, env="production", reason="r")
    with pytest.raises(PolicyDeniedError, match="candidate"):
        deployments.deploy(ws, "opal", row.ref, env="staging", reason="r")
    with ws.session("") as s:
        assert s.catalog.events()[-1].action == "policy.deny"
    lifecycle.promote(ws, "vic", row.ref, to="validated", reason="validated")
    dep = deployments.deploy(ws, "opal", row.ref, env="staging", reason="try it")
    assert dep.row.env == "staging"


def test_an_altered_or_revoked_model_is_not_deployed(ops: Ops) -> None:
    from core.identity import keys
    from core.modelling.models import resolve

    ws = ops.ws
    with ws.session("") as s:
        model = resolve(s.catalog, V1)
        key_id = s.catalog.signatures(f"model:{V1}")[0].key_id
    path = ws.objects.path(model.model_digest)
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(CheckFailedError, match="refusing to deploy"):
        deployments.deploy(ws, "opal", V1, env="production", reason="r")
    path.write_bytes(data)
    keys.revoke(ws, "alice", key_id, "lost laptop")
    with pytest.raises(CheckFailedError, match="revoked"):
        deployments.deploy(ws, "opal", V1, env="production", reason="r")


def test_each_deployment_has_its_own_decision_key(ops: Ops) -> None:
    ws = ops.ws
    a = deployments.deploy(ws, "opal", V1, env="production", reason="r")
    b = deployments.deploy(ws, "opal", V1, env="staging", reason="r")
    with ws.session("") as s:
        data = [json.loads(e.body)["data"] for e in s.catalog.events(action="model.deploy")]
    rows = {d["deployment_id"]: d["key_check"] for d in data}
    ka = decision_keys.get(ws, a.deployment_id, rows[a.deployment_id])
    kb = decision_keys.get(ws, b.deployment_id, rows[b.deployment_id])
    assert ka != kb and len(ka) == 32
    with pytest.raises(Exception, match="not the one"):
        decision_keys.get(ws, a.deployment_id, rows[b.deployment_id])
    assert decision_keys.destroy(ws, a.deployment_id)
    with pytest.raises(Exception, match="not in this keyring"):
        decision_keys.get(ws, a.deployment_id, rows[a.deployment_id])


def test_throttle_and_a_rule_based_baseline(ops: Ops) -> None:
    ws = ops.ws
    with pytest.raises(UsageError, match="no deployment"):
        deployments.throttle(ws, "opal", env="production", share=0.5, reason="r")
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    deployments.throttle(ws, "opal", env="production", share=0.25, reason="drift")
    with ws.session("") as s:
        assert deployments.throttle_of(s, "production") == 0.25
    deployments.throttle(ws, "opal", env="production", share=None, reason="lifted")
    with ws.session("") as s:
        assert deployments.throttle_of(s, "production") is None
    with pytest.raises(UsageError, match="between 0"):
        deployments.throttle(ws, "opal", env="production", share=1.5, reason="r")
    with pytest.raises(UsageError, match="not a query"):
        deployments.baseline_rule("b", "(SELECT 1 FROM snapshots)")
    rule = deployments.baseline_rule(
        "long-loans", "CASE WHEN duration_months > 36 THEN 0.7 ELSE 0.2 END"
    )
    assert rule["columns"] == ["duration_months"]
    with pytest.raises(UsageError, match="during an incident"):
        deployments.deploy_baseline(ws, "opal", env="production", rule=rule, reason="fallback")
    ticket = incidents.open_incident(ws, "opal", env="production", title="drift", reason="r")
    dep = deployments.deploy_baseline(
        ws, "opal", env="production", rule=rule, reason="fallback", incident=ticket.seq
    )
    assert dep.row.model == "baseline:long-loans" and dep.row.strategy == "baseline"
    assert ws.objects.read_verified(dep.row.model_digest)
    assert _live(ops, "production") == [("live", "baseline:long-loans")]
    # it keeps the approvers' conditions of the model it stands in for
    assert [c.where for c in dep.conditions] == ["age_years >= 21", None]
    with pytest.raises(PermissionDeniedError):
        deployments.deploy_baseline(
            ws, "cal", env="production", rule=rule, reason="r", incident=ticket.seq
        )
