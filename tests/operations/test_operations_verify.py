"""``audit verify`` replays the operations events from the signed ledger: each attack below
is an insider holding a real operator's key (the same OS account) who writes what the
commands would refuse, and each is a finding naming its event."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from core.audit import verification
from core.governance import lifecycle
from core.identity.actors import needs
from core.kernel.kinds import new_event
from core.operations import deployments, incidents
from core.operations.events import Deployed, RolledBack
from tests.operations.conftest import V1, V2, Ops


def _failures(ops: Ops) -> list[str]:
    return verification.verify(ops.ws).failures


def _digest(ops: Ops, ref: str) -> str:
    with ops.ws.session("") as s:
        return s.catalog.model(ref).model_digest  # type: ignore[union-attr]


def _forge_deploy(ops: Ops, ref: str, env: str, policy: dict[str, Any] | None = None) -> int:
    """A model.deploy the command never made, signed with opal's real key."""
    payload = Deployed(
        deployment_id="dep-" + secrets.token_hex(6),
        env=env,
        arm="live",
        strategy="direct",
        model=ref,
        model_digest=_digest(ops, ref),
        retention="hmac-only",
        key_check="0" * 16,
        conditions=[],
        ends=[],
    )
    with ops.ws.session("opal") as s:
        needs(action="forge")(s)
        event = new_event("opal", payload, [f"model:{ref}", f"env:{env}"], "forged")
        if policy is not None:
            event = dataclasses.replace(event, policy=policy)
        return s.commit(event).seq


def _policy_of(ops: Ops, seq: int) -> dict[str, Any]:
    member = ops.ws.ledger.entry(seq).decode()["policy"]
    assert isinstance(member, dict)
    return dict(member)


def test_an_honest_operations_history_verifies(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="try")
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    deployments.deploy(ws, "opal", V2, env="production", strategy="canary", share=0.2, reason="c")
    deployments.deploy(ws, "opal", V2, env="production", reason="v2")
    deployments.rollback(ws, "opal", env="production", reason="v2 drifts")
    deployments.throttle(ws, "opal", env="production", share=0.5, reason="slow down")
    rule = deployments.baseline_rule(
        "duration-rule", "CASE WHEN duration_months > 36 THEN 0.6 ELSE 0.2 END"
    )
    ticket = incidents.open_incident(ws, "opal", env="staging", title="t", reason="r")
    deployments.deploy_baseline(
        ws, "opal", env="staging", rule=rule, reason="fallback", incident=ticket.seq
    )
    deployments.withdraw(ws, "opal", env="staging", arms=["live"], reason="done")
    assert _failures(ops) == []


def test_a_forged_production_deployment_of_a_retired_version(ops: Ops) -> None:
    lifecycle.promote(ops.ws, "vic", V1, to="retired", reason="superseded")
    seq = _forge_deploy(ops, V1, "production")
    found = [f for f in _failures(ops) if f"#{seq}" in f]
    assert any("no decision of the deploy gate" in f for f in found), found
    assert any("had retired" in f for f in found), found


def test_a_staging_decision_copied_onto_a_production_deployment(ops: Ops) -> None:
    real = deployments.deploy(ops.ws, "opal", V1, env="staging", reason="try")
    seq = _forge_deploy(ops, V1, "production", policy=_policy_of(ops, real.row.seq))
    found = [f for f in _failures(ops) if f"#{seq}" in f]
    assert any("about environment 'staging', not production" in f for f in found), found


def test_a_rollback_that_restores_another_model_than_it_says(ops: Ops) -> None:
    first = deployments.deploy(ops.ws, "opal", V1, env="production", reason="v1")
    second = deployments.deploy(ops.ws, "opal", V2, env="production", reason="v2")
    honest, _ = deployments.rollback(ops.ws, "opal", env="production", reason="r")
    payload = RolledBack(
        deployment_id="dep-" + secrets.token_hex(6),
        env="production",
        model=V2,  # says it restores v1's deployment, puts v2 back
        model_digest=_digest(ops, V2),
        retention="hmac-only",
        key_check="0" * 16,
        conditions=[],
        rollback_of=honest.deployment_id,
        restores=first.deployment_id,
        ends=[honest.deployment_id, second.deployment_id],
    )
    with ops.ws.session("opal") as s:
        needs(action="forge")(s)
        seq = s.commit(new_event("opal", payload, [f"model:{V2}", "env:production"], "f")).seq
    found = [f for f in _failures(ops) if f"#{seq}" in f]
    assert any("not in service in production" in f for f in found), found
    assert any(f"restores {first.deployment_id} ({V1}) but puts {V2} live" in f for f in found)


PLAYBOOK = """\
[playbook]
name = "credit-fallback"

[[steps]]
on = "accuracy"
action = "rollback"
runbook = "Roll back to the previous approved version; page the model owner."
"""


def _forge(ops: Ops, actor: str, payload: Any, subjects: list[str]) -> int:
    with ops.ws.session(actor) as s:
        needs(action="forge")(s)
        return s.commit(new_event(actor, payload, subjects, "forged")).seq


def test_incidents_replay_and_their_forgeries(ops: Ops, tmp_path: Any) -> None:
    from core.operations import incidents, ops_config
    from core.operations.monitor_events import IncidentActed, IncidentClosed

    ws = ops.ws
    book = tmp_path / "playbook.toml"
    book.write_text(PLAYBOOK)
    ops_config.install(ws, "opal", "playbook", book, env="production", reason="runbook")
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    deployments.deploy(ws, "opal", V2, env="production", reason="v2")
    incident = incidents.open_incident(
        ws, "opal", env="production", title="accuracy fell", reason="seen on the dashboard"
    )
    action = incidents.act(ws, "opal", incident.seq, step=1, reason="runbook step 1")
    assert action.status == "done" and action.caused_seq is not None
    incidents.close(ws, "opal", incident.seq, reason="v1 restored; v2 retrained")
    assert _failures(ops) == []  # the honest ticket verifies

    late = _forge(
        ops,
        "opal",
        IncidentActed(incident.seq, "note", "quietly edited", False, "done"),
        [f"incident:{incident.seq}"],
    )
    other = incidents.open_incident(ws, "opal", env="production", title="b", reason="again")
    bragged = _forge(
        ops,
        "opal",
        IncidentActed(other.seq, "rollback", "rolled back", False, "done", caused_seq=2),
        [f"incident:{other.seq}"],
    )
    closer = _forge(ops, "scorer", IncidentClosed(other.seq, "fine"), [f"incident:{other.seq}"])
    ghost = _forge(ops, "opal", IncidentClosed(9999, "never"), ["incident:9999"])
    found = _failures(ops)
    assert any(f"#{late}" in f and "already closed" in f for f in found), found
    assert any(f"#{closer}" in f and "only a person" in f for f in found), found
    assert any(f"#{ghost}" in f and "never opened" in f for f in found), found
    assert any(f"#{bragged}" in f and "says it caused event #2" in f for f in found), found


def _score(ops: Ops, n: int = 12) -> Any:
    from core.operations import scoring, tokens
    from tests.operations.test_scoring import applicants

    frame = applicants(ops.ws, n)
    tokens.issue(ops.ws, "opal", "cal", env="production", reason="cal calls the service")
    res = scoring.Scorer.open(ops.ws, "production", "scorer").score(frame, caller="cal")
    assert res.batch is not None
    return res


def test_the_decision_log_replays_and_its_attacks(ops: Ops) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.operations import overrides
    from core.operations.decision_events import DecisionBatch, DecisionOverride

    ws = ops.ws
    live = deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    res = _score(ops)
    answered = res.answers.to_pylist()
    first = next(a for a in answered if a["status"] == "ok")
    other = "approved" if first["decision"] != "approved" else "declined"
    overrides.override(ws, "opal", first["request_id"], outcome=other, reason="human review")
    assert _failures(ops) == []  # the honest log and its override verify

    # a batch for a withdrawn deployment: withdraw, then sign the old batch's payload again
    batch = ws.ledger.entry(res.batch.seq).decode()
    deployments.withdraw(ws, "opal", env="production", arms=["live"], reason="stop")
    again = DecisionBatch(**{**batch["data"], "batch_id": "b-" + secrets.token_hex(4)})
    with ws.session("scorer") as s:
        needs(action="forge")(s)
        from core.kernel.events import ObjectRef

        refs = [ObjectRef(**o) for o in batch["objects"]]
        late = s.commit(new_event("scorer", again, ["env:production"], "", refs)).seq
    # once a batch was written after the withdrawal, the deployment's window is closed
    third = DecisionBatch(**{**batch["data"], "batch_id": "b-" + secrets.token_hex(4)})
    with ws.session("scorer") as s:
        needs(action="forge")(s)
        later = s.commit(new_event("scorer", third, ["env:production"], "", refs)).seq
    ghost = _forge(ops, "opal", DecisionOverride("r-never-logged", res.batch.seq, 0, other), [])
    found = _failures(ops)
    # its rows were made while the deployment served (one flush window may straddle a
    # withdrawal), so what gives the replay away is that they were logged already
    assert any(f"#{late}" in f and "logs request" in f and "again" in f for f in found), found
    assert any(
        f"#{later}" in f and f"{live.deployment_id} (ended at" in f and "withdrawn" in f
        for f in found
    ), found
    assert any(f"#{ghost}" in f and "no decision batch before it logged" in f for f in found)

    # a decision row edited in its Parquet object (the file rewritten in place)
    path = ws.objects.path(res.batch.object_digest)
    table = pq.read_table(path)
    scores = table.column("score").to_pylist()
    scores[0] = 0.01 if (scores[0] or 0) > 0.5 else 0.99
    edited = table.set_column(table.schema.get_field_index("score"), "score", pa.array(scores))
    path.chmod(0o644)
    pq.write_table(edited, path)
    found = _failures(ops)
    assert any(f"#{res.batch.seq}" in f and res.batch.object_digest[:16] in f for f in found), (
        found
    )  # the object no longer hashes to its name

    # the object deleted
    path.unlink()
    found = _failures(ops)
    assert any(f"#{res.batch.seq}" in f and "missing" in f for f in found), found
