"""Records anyone with a role could fabricate, and who may speak for whom.

Each attack is an insider with a real key of their own who records what no command would
(a pipeline run that never ran, a monitoring run with a made-up verdict, a relabelled decision
batch, a token in a peer's name) or asks a command to; each is refused at the door or named
by ``audit verify`` (and, for pipelines, by the stand-alone bundle verifier).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from core.audit import verification
from core.identity import actors
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import CheckFailedError, IntegrityError, PermissionDeniedError
from core.kernel.kinds import new_event
from core.operations import decision_log, deployments, monitoring, scoring, tokens
from core.operations.monitor_events import MonitorRan
from core.operations.pipeline_events import JUNIT_MEDIA_TYPE, PIPELINE_MEDIA_TYPE, PipelineRan
from storage.bundle_verifier import pipeline_problems
from storage.canonical import canonical_bytes
from tests.operations.applicants import applicants
from tests.operations.conftest import V1, V2, Ops


def _failures(ops: Ops, seq: int) -> list[str]:
    return [f for f in verification.verify(ops.ws).failures if f"#{seq} " in f]


# ---- 3: a pipeline run is a claim about other events ------------------------------------


def _record_run(
    ops: Ops,
    actor: str,
    steps: list[dict[str, Any]],
    status: str = "passed",
    subjects: list[str] | None = None,
) -> int:
    def commit(s: Any, _: None) -> int:
        a = s.put_blob(b'[pipeline]\nname = "release"\n', PIPELINE_MEDIA_TYPE)
        b = s.put_blob(b'<testsuite name="release" tests="1" failures="0"/>', JUNIT_MEDIA_TYPE)
        run = PipelineRan("release", a.sha256, status, steps, b.sha256)
        return int(
            s.commit(
                new_event(s.actor, run, ["pipeline:release", *(subjects or [])], "ci", [a, b])
            ).seq
        )

    return int(command.run(ops.ws, actor, guards=[needs(action="record")], commit=commit))


def _step(
    name: str, do: str, who: str, events: list[int], status: str = "passed"
) -> dict[str, Any]:
    return {"name": name, "do": do, "as": who, "status": status, "events": events,
            "detail": "", "exit_code": 0}  # fmt: skip


def test_a_consumer_may_not_record_a_pipeline_run(ops: Ops, tmp_path: Any) -> None:
    from core.operations import pipeline

    spec = tmp_path / "p.toml"
    spec.write_text(
        '[pipeline]\nname = "p"\nreason = "r"\n\n[[step]]\nname = "s"\ndo = "sign"\n'
        'as = "sam"\nmodel = "credit-risk@1"\n'
    )
    with ops.ws.session("") as s:
        before = s.catalog.events()[-1].seq
    with pytest.raises(PermissionDeniedError):
        pipeline.run(ops.ws, "cal", spec)
    with ops.ws.session("") as s:
        assert s.catalog.events()[-1].seq == before  # refused before the first step ran
    seq = _record_run(ops, "cal", [])  # written past the command, with cal's own key
    assert _failures(ops, seq), "a consumer's pipeline run must not verify"


def test_a_fabricated_green_release_run_is_named_by_audit_verify(ops: Ops) -> None:
    ws = ops.ws
    dep = deployments.deploy(ws, "opal", V1, env="staging", reason="go")
    with ws.session("") as s:
        evaluated = [e.seq for e in s.catalog.events(action="model.evaluate")]
        deployed = [e.seq for e in s.catalog.events(action="model.deploy")]
    assert dep.row.seq in deployed
    honest = _record_run(ops, "opal", [_step("ship", "deploy", "opal", [dep.row.seq])])
    assert _failures(ops, honest) == []  # a true claim verifies
    forged = _record_run(
        ops,
        "opal",
        [
            _step("validate", "validate", "vic", [9999]),  # never happened
            _step("fairness", "evaluate", "tess", [dep.row.seq]),  # another kind, another actor
            _step("ship", "deploy", "opal", [dep.row.seq]),  # out of order
        ],
    )
    found = _failures(ops, forged)
    assert any("#9999" in f for f in found), found
    assert any("not a model.evaluate event by tess" in f for f in found), found
    assert any("not after the previous step's" in f for f in found), found
    assert evaluated is not None


def test_the_bundle_verifier_replays_the_pipeline_runs_it_carries(ops: Ops, tmp_path: Any) -> None:
    from core.audit import bundle
    from core.kernel.errors import IntegrityError

    dep = deployments.deploy(ops.ws, "opal", V1, env="staging", reason="go")
    steps = [_step("ship", "deploy", "opal", [dep.row.seq])]
    honest = tmp_path / "honest.zip"
    _record_run(ops, "opal", steps, subjects=[f"model:{V1}"])
    bundle.export(ops.ws, "vic", V1, honest, reason="audit")
    assert "replayed against their steps' events" in " ".join(bundle.verify(honest)["checked"])
    forged = [_step("validate", "validate", "vic", [9999]), *steps]
    _record_run(ops, "opal", forged, subjects=[f"model:{V1}"])
    out = tmp_path / "forged.zip"
    bundle.export(ops.ws, "vic", V1, out, reason="audit")
    with pytest.raises(IntegrityError, match="lists event #9999"):
        bundle.verify(out)


def test_a_failed_gate_cannot_be_recorded_as_passed() -> None:
    events = {
        3: {"action": "validation.run", "actor": "vic", "data": {"passed": False}},
        4: {"action": "policy.deny", "actor": "opal", "data": {}},
    }
    steps = [_step("check", "validate", "vic", [3]), _step("ship", "deploy", "opal", [4])]
    problems, _ = pipeline_problems(events, 9, {"status": "passed", "steps": steps})
    assert any("did not pass" in p for p in problems), problems
    assert any("policy.deny by opal" in p for p in problems), problems
    steps = [_step("check", "validate", "vic", [3], "failed"), _step("ship", "deploy", "opal", [])]
    problems, _ = pipeline_problems(events, 9, {"status": "passed", "steps": steps})
    assert any("after step 'check' failed" in p for p in problems), problems
    assert any("says passed (failed step None), but its steps say failed" in p for p in problems)
    steps[1]["status"] = "skipped"
    ok = {"status": "failed", "failed_step": "check", "steps": steps}
    assert pipeline_problems(events, 9, ok) == ([], 0)
    # a bundle's excerpt may not carry a step's event: counted, never taken as proof
    assert pipeline_problems({}, 9, ok, complete=False) == ([], 1)


# ---- 3b: a monitoring run anyone can fabricate ------------------------------------------


def test_a_monitoring_run_that_lies_about_its_evidence_or_window(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="go")
    scoring.Scorer.open(ws, "staging", "opal").score(applicants(ws, 30), caller="opal")
    real = monitoring.run(ws, "opal", env="staging", window="7d", reason="real")
    assert _failures(ops, real.row.seq) == []
    ev = json.loads(json.dumps(real.evidence))

    def forge(evidence: dict[str, Any], verdict: str, checks: dict[str, str]) -> int:
        def commit(s: Any, _: None) -> int:
            ref = s.put_blob(canonical_bytes(evidence), monitoring.EVIDENCE_MEDIA_TYPE)
            run = MonitorRan(
                env="staging",
                window_start=evidence["window"]["start"] or "",
                window_end=evidence["window"]["end"],
                evidence_digest=ref.sha256,
                verdict=verdict,
                decisions=evidence["counts"]["decisions"],
                checks=checks,
                deployment_id=evidence["deployment"]["deployment_id"],
                model=evidence["deployment"]["model"],
            )
            return int(s.commit(new_event(s.actor, run, ["env:staging"], "x", [ref])).seq)

        return int(command.run(ws, "opal", guards=[needs(action="x")], commit=commit))

    checks = {c["name"]: c["verdict"] for c in ev["checks"]}
    # PASS overall although a check says otherwise (and the blob says otherwise)
    lying = forge(ev, "PASS", {**checks, "input_drift": "FAIL"})
    found = _failures(ops, lying)
    assert any("worst of its checks is FAIL" in f for f in found), found
    assert any("another verdict, checks than its evidence" in f for f in found), found
    # a window with the batches left out: nothing to judge, so nothing fails
    empty = {**ev, "batches": [], "counts": {**ev["counts"], "decisions": 0}}
    hidden = forge(empty, ev["verdict"], checks)
    assert any("judges decision batches []" in f for f in _failures(ops, hidden))
    # the batches kept, the count invented
    inflated = forge({**ev, "counts": {**ev["counts"], "decisions": 5000}}, ev["verdict"], checks)
    assert any("its batches hold 30" in f for f in _failures(ops, inflated))


# ---- 10: decision rows against their deployment -----------------------------------------


def test_a_relabelled_shadow_batch_is_named(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go")
    deployments.deploy(ws, "opal", V2, env="production", strategy="shadow", reason="s")
    tokens.issue(ws, "opal", "cal", env="production", reason="cal's app")
    sc = scoring.Scorer.open(ws, "production", "scorer")
    honest = sc.score(applicants(ws, 4), caller="cal")
    assert honest.batch is not None
    mine = ("says arm", "returned=", "names model", "has status", "is attributed to caller")
    assert not [f for f in _failures(ops, honest.batch.seq) if any(m in f for m in mine)]
    sc.score(applicants(ws, 4), caller="cal", flush=False)
    t = pa.concat_tables(sc.log._parts)
    sc.log._parts.clear()
    sh = t.filter(pc.equal(t["arm"], "shadow"))

    def put(tb: Any, name: str, value: Any) -> Any:
        col = pa.array([value] * tb.num_rows, tb.schema.field(name).type)
        return tb.set_column(tb.schema.get_field_index(name), name, col)

    for name, value in (("returned", True), ("arm", "live"), ("model", V1),
                        ("caller", "val-the-regulator"), ("status", "bogus")):  # fmt: skip
        sh = put(sh, name, value)
    batch = decision_log.DecisionLog(ws, "opal", "production").write([sh])
    assert batch is not None
    found = " | ".join(_failures(ops, batch.seq))
    for part in ("says arm 'live'", "returned=True for a shadow", "names model 'credit-risk@1'",
                 "status 'bogus'", "caller 'val-the-regulator'"):  # fmt: skip
        assert part in found, (part, found)


# ---- 11: who may issue a token for whom --------------------------------------------------


def test_only_a_person_issues_tokens_and_only_an_admin_for_the_privileged(ops: Ops) -> None:
    ws = ops.ws
    actors.add(ws, "alice", "mallory", ["operator"])
    for issuer, who in (("scorer", "cal"), ("opal", "mallory"), ("opal", "scorer")):
        with pytest.raises(PermissionDeniedError):
            tokens.issue(ws, issuer, who, env="production", reason="x")
    tokens.issue(ws, "opal", "cal", env="production", reason="a consumer: fine")
    tokens.issue(ws, "alice", "scorer", env="production", reason="an admin: fine")
    assert verification.verify(ws).failures == []


def test_a_token_for_a_peer_recorded_without_the_command_is_named(ops: Ops) -> None:
    from core.operations.serving_events import TokenIssued

    ws = ops.ws

    def commit(s: Any, _: None) -> int:
        t = TokenIssued("tok-0123456789ab", "scorer", "production", "0" * 64)
        return int(s.commit(new_event(s.actor, t, ["token:tok-0123456789ab"], "x")).seq)

    seq = int(command.run(ws, "opal", guards=[needs(action="x")], commit=commit))
    assert any("only an admin issues a token" in f for f in _failures(ops, seq))


# ---- 8: approvals that no longer stand ---------------------------------------------------


def test_a_version_its_validators_rejected_neither_deploys_nor_scores_in_production(
    ops: Ops,
) -> None:
    from core.governance import approvals

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go")
    assert scoring.Scorer.open(ws, "production", "scorer").score(applicants(ws, 2), caller="opal")
    for who in ("tess", "vic"):
        approvals.approve(ws, who, V1, role="validator", reject=True, reason="bias found")
    with ws.session("") as s:
        before = s.catalog.events()[-1].seq
    with pytest.raises(CheckFailedError, match="approvals no longer stand"):
        deployments.deploy(ws, "opal", V1, env="production", reason="again")
    with pytest.raises(CheckFailedError, match="approvals no longer stand"):
        scoring.Scorer.open(ws, "production", "scorer")
    with ws.session("") as s:
        assert s.catalog.events()[-1].seq == before  # refusals record nothing
    deployments.deploy(ws, "opal", V1, env="staging", reason="staging takes it under review")


def test_what_is_deployed_says_which_deployment_scoring_refuses_now_and_why(ops: Ops) -> None:
    """The views ask scoring's own rule: a live row production refuses is never shown plain."""
    from typer.testing import CliRunner

    from app.cli import app
    from core.governance import approvals
    from core.operations import views

    ws = ops.ws
    prod = deployments.deploy(ws, "opal", V1, env="production", reason="go")
    staging = deployments.deploy(ws, "opal", V1, env="staging", reason="review")
    assert views.deployed_at(ws).refused == {}
    for who in ("tess", "vic"):
        approvals.approve(ws, who, V1, role="validator", reject=True, reason="bias found")
    with pytest.raises(CheckFailedError) as refused:
        scoring.Scorer.open(ws, "production", "scorer")
    now = views.deployed_at(ws)
    assert now.refused == {prod.deployment_id: refused.value.msg}  # the same words, one rule
    assert staging.deployment_id not in now.refused  # staging takes versions under review
    rows = {d["deployment_id"]: d for d in now.to_json()["deployments"]}
    assert rows[prod.deployment_id]["refused"] == refused.value.msg
    assert rows[staging.deployment_id]["refused"] is None
    # At a past moment the rule of today is not applied to it: nothing said either way.
    assert views.deployed_at(ws, when=str(prod.row.seq)).refused is None
    shown = CliRunner().invoke(app, ["--workspace", str(ws.root), "deployments"])
    assert shown.exit_code == 0, shown.output
    flat = " ".join(shown.output.split())
    assert "NO: see below" in flat and "yes" in flat
    assert "production: deployed, but scoring there refuses now: " in flat


def test_a_refused_canary_stops_its_environment_and_the_view_says_so_for_every_arm(
    ops: Ops,
) -> None:
    """Scoring refuses a whole environment at its first refused arm: the live arm too."""
    from core.governance import approvals
    from core.operations import views

    ws = ops.ws
    live = deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    canary = deployments.deploy(
        ws, "opal", V2, env="production", strategy="canary", share=0.1, reason="try v2"
    )
    assert views.deployed_at(ws).refused == {}
    for who in ("tess", "vic"):
        approvals.approve(ws, who, V2, role="validator", reject=True, reason="bias found")
    with pytest.raises(CheckFailedError, match="approvals no longer stand"):
        scoring.Scorer.open(ws, "production", "scorer")  # V1 is fine, production still stops
    refused = views.deployed_at(ws).refused
    assert refused is not None and set(refused) == {live.deployment_id, canary.deployment_id}
    assert refused[live.deployment_id].startswith(f"its canary arm ({canary.deployment_id}): ")
    deployments.withdraw(ws, "opal", env="production", arms=["live"], reason="stop v1")
    refused = views.deployed_at(ws).refused
    assert refused == {canary.deployment_id: "production has no live deployment: nothing may "
                       "score there"}  # fmt: skip
    assert (
        "refused" not in views.deployed_at(ws, when=str(live.row.seq)).to_json()["deployments"][0]
    )  # at a past moment today's rule is not asked, and no key says it was


def test_an_edited_stage_is_said_by_the_deployments_view_not_a_crash(ops: Ops) -> None:
    """A catalog row moved to a stage no signed promotion gives stops scoring: the view says so."""
    from core.operations import views

    ws = ops.ws
    dep = deployments.deploy(ws, "opal", V1, env="production", reason="go")
    with ws.session("") as s:
        s.catalog.con.execute(  # the newest promotion (to approved) relabelled in place
            "UPDATE lifecycle SET to_stage = 'validated' "
            "WHERE seq = (SELECT max(seq) FROM lifecycle WHERE model = ?)",
            [V1],
        )
    with pytest.raises(IntegrityError, match="the catalog was edited"):
        scoring.Scorer.open(ws, "production", "scorer")
    refused = views.deployed_at(ws).refused
    assert refused is not None and "the catalog was edited" in refused[dep.deployment_id]
