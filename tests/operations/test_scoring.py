"""Governed scoring on a real workspace: who may score, with what, and what every row gets.

One module fixture scores 300 real German-credit rows once in production (V1 live, V2 as a
30 % canary and as a shadow), with explanations; the refusal tests each take a fresh copy.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.kernel.errors import (
    CheckFailedError,
    IntegrityError,
    KeyStoreError,
    PermissionDeniedError,
    UsageError,
)
from core.operations import decision_keys, decision_log, deployments, incidents, scoring
from tests.operations.applicants import FEATURES, applicants
from tests.operations.conftest import V1, V2, Ops


def head(ws: Any) -> int:
    return int(ws.ledger.head()[0])


def logged(ws: Any) -> int:
    with ws.session() as s:
        return len(decision_log.batches(s))


@dataclass
class Scored:
    ops: Ops
    frame: Any
    answers: Any
    batch: Any
    decisions: Any


@pytest.fixture(scope="module")
def scored(ops_team: Ops, tmp_path_factory: pytest.TempPathFactory) -> Scored:
    root = tmp_path_factory.mktemp("scored") / "ws"
    shutil.copytree(ops_team.root, root)
    ops = Ops(root)
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go live")
    deployments.deploy(ws, "opal", V2, env="production", strategy="canary", share=0.3, reason="c")
    deployments.deploy(ws, "opal", V2, env="production", strategy="shadow", reason="s")
    frame = applicants(ws, 300)
    res = scoring.Scorer.open(ws, "production", "scorer").score(frame, caller="cal", explain=2)
    assert res.batch is not None
    return Scored(ops, frame, res.answers.to_pandas(), res.batch, decision_log.decisions(ws))


def test_every_row_answered_once_and_every_arm_logged(scored: Scored) -> None:
    a, d = scored.answers, scored.decisions.to_pandas()
    assert len(a) == len(scored.frame) and a["request_id"].is_unique
    assert set(a["arm"]) == {"live", "canary"}  # a shadow is never returned
    shadow = d[d["arm"] == "shadow"]
    assert not shadow["returned"].any() and len(shadow) == len(a)  # nothing was throttled
    assert set(shadow["request_id"]) == set(a["request_id"])
    assert scored.batch.count == len(d) == 2 * len(a)
    assert d[d["returned"]]["request_id"].tolist() == a["request_id"].tolist()
    assert set(d["caller"]) == {"cal"} and set(d["env"]) == {"production"}
    assert d["policy_digest"].notna().all() and d["input_hmac"].str.len().eq(64).all()


def test_canary_split_is_deterministic_and_near_its_share(scored: Scored) -> None:
    a = scored.answers
    expected = [scoring.route_fraction(r) < 0.3 for r in a["request_id"]]
    assert (a["arm"] == "canary").tolist() == expected
    assert abs(sum(expected) / len(a) - 0.3) < 0.1  # 300 rows: about 4 standard deviations
    with scored.ops.ws.session() as s:
        canary = next(d for d in deployments.live(s, "production") if d.row.arm == "canary")
    assert set(a[a["arm"] == "canary"]["deployment_id"]) == {canary.deployment_id}


def test_condition_refuses_exactly_the_under_21_rows(scored: Scored) -> None:
    under = scored.frame["age_years"] < 21  # counted independently of DuckDB
    assert under.sum() > 0
    a = scored.answers
    refused = a["status"] == "refused"
    assert refused.tolist() == under.tolist()
    assert a[refused]["detail"].str.contains("not for applicants under 21").all()
    assert a[refused]["score"].isna().all() and a[refused]["decision"].isna().all()
    d = scored.decisions.to_pandas()
    assert (d[d["arm"] == "shadow"]["status"] == "refused").sum() == under.sum()


def test_scores_are_the_verified_models_and_words_its_declared_outcome(scored: Scored) -> None:
    from core.modelling import models

    ws, a, frame = scored.ops.ws, scored.answers, scored.frame
    for ref, arm in ((V1, "live"), (V2, "canary")):
        rows = (a["arm"] == arm) & (a["status"] == "ok")
        pipeline = models.load(ws, ref, purpose="score")
        expected = pipeline.predict_proba(frame[rows.values][FEATURES])[:, 1]
        assert a[rows]["score"].to_numpy() == pytest.approx(expected, abs=1e-12)
    ok = a[a["status"] == "ok"]
    assert (ok["label"] == (ok["score"] >= 0.5)).all()
    assert set(ok[ok["label"] == 1]["decision"]) == {"declined"}  # bad risk is unfavourable
    assert set(ok[ok["label"] == 0]["decision"]) == {"approved"}
    reasons = [json.loads(r) for r in ok["reasons"]]
    assert all(len(r) == 2 and {f for f, _ in r} <= set(FEATURES) for r in reasons)
    assert all(abs(r[0][1]) >= abs(r[1][1]) for r in reasons)  # ranked by |contribution|


def test_bad_rows_are_logged_errors_and_the_rest_is_scored(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="try")
    frame = applicants(ws, 6).astype({"duration_months": object})
    frame.loc[1, "duration_months"] = "twelve"
    frame.loc[2, "checking_account"] = None
    res = scoring.Scorer.open(ws, "staging", "opal").score(frame, caller="opal")
    status = res.answers.column("status").to_pylist()
    detail = res.answers.column("detail").to_pylist()
    assert status == ["ok", "error", "error", "ok", "ok", "ok"]
    assert detail[1] == "duration_months is not a number"
    assert detail[2] == "missing feature checking_account"
    assert res.batch is not None and res.batch.errors == 2
    gone = scoring.Scorer.open(ws, "staging", "opal").score(
        applicants(ws, 3).drop(columns=["savings"]), caller="opal"
    )
    assert set(gone.answers.column("detail").to_pylist()) == {"missing feature savings"}


def test_refusals_are_clear_and_log_nothing(ops: Ops) -> None:
    from core.governance import lifecycle

    ws = ops.ws
    with pytest.raises(CheckFailedError, match="no live deployment"):
        scoring.Scorer.open(ws, "production", "scorer")
    deployments.deploy(ws, "opal", V1, env="production", reason="go")
    for who in ("sam", "cal"):  # a data scientist, a consumer: neither records decisions
        with pytest.raises(PermissionDeniedError, match="lacks the role"):
            scoring.Scorer.open(ws, "production", who)
    before = head(ws)
    lifecycle.promote(ws, "vic", V1, to="retired", reason="superseded")
    with pytest.raises(CheckFailedError, match="retired: production scores with approved"):
        scoring.Scorer.open(ws, "production", "scorer")
    assert head(ws) == before + 1 and logged(ws) == 0


def test_altered_model_bytes_are_refused(ops: Ops) -> None:
    ws = ops.ws
    dep = deployments.deploy(ws, "opal", V1, env="production", reason="go")
    path = ws.objects.path(dep.row.model_digest)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="refusing to load"):
        scoring.Scorer.open(ws, "production", "scorer")
    assert logged(ws) == 0


def test_a_revoked_signing_key_is_refused(ops: Ops) -> None:
    from core.identity.keys import lifecycle as keys

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go")
    with ws.session() as s:
        [sig] = s.catalog.signatures(f"model:{V1}")
    keys.revoke(ws, "alice", sig.key_id, "compromised laptop")
    with pytest.raises(IntegrityError, match="no valid signature from an unrevoked key"):
        scoring.Scorer.open(ws, "production", "scorer")
    assert logged(ws) == 0


def test_a_destroyed_decision_key_stops_scoring(ops: Ops) -> None:
    ws = ops.ws
    dep = deployments.deploy(ws, "opal", V1, env="production", reason="go")
    assert decision_keys.destroy(ws, dep.deployment_id)
    with pytest.raises(KeyStoreError, match="not in this keyring"):
        scoring.Scorer.open(ws, "production", "scorer")


def test_throttle_refuses_beyond_its_share_and_logs_it(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go")
    deployments.deploy(ws, "opal", V2, env="production", strategy="shadow", reason="s")
    deployments.throttle(ws, "opal", env="production", share=0.5, reason="drift incident")
    frame = applicants(ws, 80)
    frame["age_years"] = 30  # no condition refusals here: only the throttle's
    res = scoring.Scorer.open(ws, "production", "scorer").score(frame, caller="cal")
    a = res.answers.to_pandas()
    beyond = [scoring.route_fraction(r) >= 0.5 for r in a["request_id"]]
    assert (a["status"] == "refused").tolist() == beyond and 0 < sum(beyond) < 80
    assert set(a[a["status"] == "refused"]["detail"]) == {scoring.THROTTLED}
    d = decision_log.decisions(ws).to_pandas()
    assert res.batch is not None and res.batch.refused == sum(beyond)
    assert (d["arm"] == "shadow").sum() == 80 - sum(beyond)  # throttled rows are not shadowed


def test_refresh_follows_a_rollback_while_serving(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    deployments.deploy(ws, "opal", V2, env="production", reason="v2")
    scorer = scoring.Scorer.open(ws, "production", "scorer", source="serve")
    frame = applicants(ws, 4).assign(age_years=40)
    first = scorer.score(frame, caller="cal")
    assert {d.row.model for d in scorer.deployments} == {V2}
    deployments.rollback(ws, "opal", env="production", reason="v2 drifts")
    scorer.refresh()
    second = scorer.score(frame, caller="cal")
    assert [d.row.model for d in scorer.deployments] == [V1]
    assert first.answers.column("deployment_id")[0] != second.answers.column("deployment_id")[0]


def test_baseline_rule_scores_in_duckdb(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    rule = deployments.baseline_rule(
        "duration-rule", "CASE WHEN duration_months > 36 THEN 0.7 ELSE 0.2 END", 0.5
    )
    ticket = incidents.open_incident(ws, "opal", env="production", title="t", reason="r")
    deployments.deploy_baseline(
        ws, "opal", env="production", rule=rule, reason="fallback", incident=ticket.seq
    )
    frame = applicants(ws, 50)
    frame.loc[:2, "age_years"] = 19
    res = scoring.Scorer.open(ws, "production", "scorer").score(frame, caller="cal")
    a = res.answers.to_pandas()
    adult = (frame["age_years"] >= 21).to_numpy()
    # the rule keeps the approvers' condition of the model it stands in for
    assert (a["status"] == "refused").to_numpy().tolist() == (~adult).tolist()
    expected = frame["duration_months"].gt(36).map({True: 0.7, False: 0.2})[adult]
    assert a["score"][adult].tolist() == expected.tolist()
    assert a["label"][adult].tolist() == (expected >= 0.5).astype(int).tolist()
    assert a["decision"].isna().all()  # a rule declares no outcome: no words are assumed


def test_request_ids_must_be_fresh(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    scorer = scoring.Scorer.open(ws, "production", "scorer")
    frame = applicants(ws, 3)
    with pytest.raises(UsageError, match="repeat"):
        scorer.score(frame, caller="cal", request_ids=["a", "a", "b"])
    with pytest.raises(UsageError, match="one per row"):
        scorer.score(frame, caller="cal", request_ids=["a"])
    scorer.score(frame, caller="cal", request_ids=["a", "b", "c"])
    before = head(ws)
    with pytest.raises(UsageError, match="already logged"):
        scorer.score(frame, caller="cal", request_ids=["c", "d", "e"])
    assert head(ws) == before


def test_concurrent_callers_each_get_a_committed_batch(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    scorer = scoring.Scorer.open(ws, "production", "scorer", source="serve")
    frame = applicants(ws, 5)
    results: list[Any] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            results.append(scorer.score(frame, caller="cal"))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 4
    assert len({r.batch.seq for r in results}) == 4 and logged(ws) == 4
    ids = [i for r in results for i in r.answers.column("request_id").to_pylist()]
    assert len(set(ids)) == 20
    # a request turned away before scoring (serve: a token without the role) is logged too
    turned = scorer.refuse(frame, caller="mallory", detail="token lacks the consumer role")
    assert set(turned.answers.column("status").to_pylist()) == {"refused"}
    assert turned.answers.column("score").null_count == 5
    assert turned.batch is not None and (turned.batch.count, turned.batch.refused) == (5, 5)


def test_cli_score_writes_answers_after_logging(ops: Ops, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    src = tmp_path / "in.csv"
    applicants(ws, 30).assign(app_id=[f"app-{i}" for i in range(30)]).to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    run = CliRunner().invoke(
        app,
        ["--workspace", str(ops.root), "--as", "scorer", "--json", "score", str(src),
         "--env", "production", "-o", str(out), "--request-id-column", "app_id",
         "--batch-rows", "20"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    summary = json.loads(run.output)
    assert [b["count"] for b in summary["batches"]] == [20, 10]
    import pyarrow.parquet as pq

    answers = pq.read_table(out).to_pandas()
    assert answers["request_id"].tolist() == [f"app-{i}" for i in range(30)]
    bad = CliRunner().invoke(
        app, ["--workspace", str(ops.root), "--as", "scorer", "score", str(src), "--env",
              "staging", "-o", str(tmp_path / "x.csv")],
    )  # fmt: skip
    assert bad.exit_code == 1 and "no live deployment" in bad.output


def test_vectorised_ids_routing_and_columns_match_the_row_by_row_definitions() -> None:
    """Fresh ids are unique and well formed; batch routing is :func:`route_fraction` per id."""
    import numpy as np
    import pyarrow as pa

    ids = scoring._fresh_ids(1200)
    assert len(set(ids.to_pylist())) == 1200
    assert ids[0].as_py().endswith("-0000000") and ids[1199].as_py().endswith("-0001199")
    given = pa.array(["a", "é", "r-1", "x" * 300], pa.string())
    for batch in (ids, given):
        assert scoring.route_fractions(batch).tolist() == [
            scoring.route_fraction(r) for r in batch.to_pylist()
        ]
    values = np.array(["ok", None, "refused", "ok"] * 30 + ["error"], dtype=object)
    assert scoring._strings(values).to_pylist() == values.tolist()
    many = np.array([f"v{i}" for i in range(300)], dtype=object)  # past the dictionary path
    assert scoring._strings(many).to_pylist() == many.tolist()


def test_hmac_only_logs_ranked_names_the_caller_gets_contributions(scored: Scored) -> None:
    """Review #9: a logged SHAP contribution gives a linear model's input back.

    Under ``hmac-only`` the log keeps which features weighed most, in order, and no value;
    the caller's answer keeps the contributions.
    """
    answered = scored.answers.set_index("request_id")
    logged = scored.decisions.to_pandas()
    logged = logged[logged["returned"] & (logged["status"] == "ok")]
    assert len(logged) > 100
    for rid, text in zip(logged["request_id"], logged["reasons"], strict=True):
        names = json.loads(text)
        assert all(isinstance(n, str) for n in names) and len(names) == 2
        assert names == [f for f, _ in json.loads(answered.loc[rid, "reasons"])]


def test_rows_retention_logs_the_contributions(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", retention="rows", reason="go")
    res = scoring.Scorer.open(ws, "production", "scorer").score(
        applicants(ws, 20), caller="cal", explain=2
    )
    logged = decision_log.decisions(ws).to_pandas()
    ok = logged[logged["status"] == "ok"]
    assert (
        ok["reasons"].tolist()
        == res.answers.to_pandas().set_index("request_id").loc[ok["request_id"], "reasons"].tolist()
    )
    assert all(isinstance(json.loads(r)[0][1], float) for r in ok["reasons"])
