"""Monitoring's figures against independent computations, on generated and on real data.

The drift part runs on Parquet files of the decision-log schema written here (a known shift,
and the very same data); PSI and KS are recomputed with numpy and scipy, not with the code
under test. CBPE is reconciled with realised accuracy on the German credit data scored by
the real registered model, with the real outcomes. A monitoring run through the catalog
records one ``monitor.run`` whose evidence blob is what the run returned.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from core.data import duck
from core.kernel.verdict import FAIL, INCONCLUSIVE, PASS
from core.operations import monitoring
from core.operations.monitoring import Reference, evaluate
from tests.operations.conftest import V1, Ops

N = 3000
CATS = ["A11", "A12", "A13", "A14"]


def _decisions(rows: dict[str, Any], n: int, *, inputs: bool, seed: int) -> pa.Table:
    """A decision batch of the agreed schema; ``rows`` are the inputs (``in.*`` if kept)."""
    rng = np.random.default_rng(seed)
    score = rng.beta(2, 5, n)
    cols: dict[str, Any] = {
        "request_id": [f"req-{seed}-{i:06d}" for i in range(n)],
        "ts": [f"2026-03-0{1 + i % 3}T10:00:00.{i:06d}Z" for i in range(n)],
        "caller": ["opal"] * n,
        "env": ["staging"] * n,
        "deployment_id": ["dep-000000000001"] * n,
        "arm": ["live"] * n,
        "returned": [True] * n,
        "model": ["m@1"] * n,
        "model_digest": ["ab" * 32] * n,
        "policy_digest": [None] * n,
        "input_hmac": ["00" * 32] * n,
        "status": ["ok"] * n,
        "score": score,
        "label": pa.array((score >= 0.5).astype("int8"), pa.int8()),
        "decision": ["declined" if s >= 0.5 else "approved" for s in score],
        "detail": [None] * n,
        "reasons": [None] * n,
        "latency_ms": rng.gamma(2.0, 3.0, n),
    }
    if inputs:
        cols |= {f"in.{k}": v for k, v in rows.items()}
    return pa.table(cols)


def _reference_rows(seed: int, n: int, shift: float = 0.0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    probs = [0.4, 0.3, 0.2, 0.1] if shift == 0 else [0.1, 0.2, 0.3, 0.4]
    return {
        "duration_months": np.round(rng.gamma(4.0, 5.0, n) + shift * 10).astype("int64"),
        "credit_amount": rng.lognormal(8.0 + shift * 0.5, 0.6, n),
        "checking_account": rng.choice(CATS, n, p=probs),
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("monitor")
    ref = _reference_rows(1, N)
    pq.write_table(pa.table(ref), folder / "reference.parquet")
    same = _decisions(ref, N, inputs=True, seed=1)
    shifted = _decisions(_reference_rows(2, N, shift=1.0), N, inputs=True, seed=2)
    bare = _decisions(ref, N, inputs=False, seed=3)
    for name, table in (("same", same), ("shifted", shifted), ("bare", bare)):
        pq.write_table(table, folder / f"{name}.parquet", compression="zstd")
    return {p.stem: p for p in folder.glob("*.parquet")}


def _reference(path: Path) -> Reference:
    rng = np.random.default_rng(7)
    p = rng.beta(2, 5, 400)
    y = (rng.random(400) < p).astype(int)
    return Reference(
        table=duck.parquet_source(path),
        features=["duration_months", "credit_amount", "checking_account"],
        y_true=y.tolist(),
        probability=p.tolist(),
        threshold=0.5,
        favourable=0,
    )


def _evaluate(generated: dict[str, Path], which: str) -> dict[str, Any]:
    con = duck.connect()
    try:
        con.execute(
            f"CREATE VIEW decisions AS SELECT * FROM {duck.parquet_source(generated[which])}"
        )
        return evaluate(con, _reference(generated["reference"]), "decisions", None, "ab" * 32)
    finally:
        con.close()


def _numpy_psi(ref: np.ndarray, cur: np.ndarray) -> float:
    """PSI over the reference's deciles, computed without DuckDB or the code under test."""
    edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    e = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1)
    a = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1)
    pe, pa_ = np.maximum(e / e.sum(), 1e-4), np.maximum(a / a.sum(), 1e-4)
    return float(np.sum((pa_ - pe) * np.log(pa_ / pe)))


def _numpy_cat_psi(ref: np.ndarray, cur: np.ndarray) -> float:
    keys = sorted(set(ref) | set(cur))
    e = np.array([(ref == k).sum() for k in keys])
    a = np.array([(cur == k).sum() for k in keys])
    pe, pa_ = np.maximum(e / e.sum(), 1e-4), np.maximum(a / a.sum(), 1e-4)
    return float(np.sum((pa_ - pe) * np.log(pa_ / pe)))


def _by_name(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in found["checks"]}


def test_a_known_shift_is_detected_with_the_figures_scipy_gives(
    generated: dict[str, Path],
) -> None:
    found = _evaluate(generated, "shifted")
    checks = _by_name(found)
    ref = pq.read_table(generated["reference"]).to_pydict()
    cur = pq.read_table(generated["shifted"]).to_pydict()
    for f in ("duration_months", "credit_amount"):
        r, c = np.asarray(ref[f], float), np.asarray(cur[f"in.{f}"], float)
        got = checks[f"drift:{f}"]
        assert got["verdict"] == FAIL
        assert math.isclose(got["observed"]["psi"], _numpy_psi(r, c), rel_tol=1e-4)
        ks = stats.ks_2samp(r, c, method="asymp")
        assert math.isclose(got["observed"]["ks"], float(ks.statistic), rel_tol=1e-4)
    r, c = np.asarray(ref["checking_account"]), np.asarray(cur["in.checking_account"])
    got = checks["drift:checking_account"]
    assert got["verdict"] == FAIL
    assert math.isclose(got["observed"]["psi"], _numpy_cat_psi(r, c), rel_tol=1e-4)
    table = [[(r == k).sum() for k in CATS], [(c == k).sum() for k in CATS]]
    assert math.isclose(
        got["observed"]["chi2"], float(stats.chi2_contingency(table).statistic), rel_tol=1e-4
    )
    assert found["metrics"]["drift_psi"] >= 0.25
    # larger amounts than training ever saw: domain skew names its feature
    assert found["metrics"]["skew_rate"] > 0


def test_identical_data_is_not_drift(generated: dict[str, Path]) -> None:
    found = _evaluate(generated, "same")
    checks = _by_name(found)
    for f in ("duration_months", "credit_amount", "checking_account"):
        assert checks[f"drift:{f}"]["verdict"] == PASS, checks[f"drift:{f}"]
        assert checks[f"drift:{f}"]["observed"]["psi"] == pytest.approx(0.0, abs=1e-9)
        assert checks[f"drift:{f}"]["observed"]["p_value"] == pytest.approx(1.0)
    assert checks["skew"]["verdict"] == PASS and found["metrics"]["skew_rate"] == 0.0
    assert found["counts"]["served"] == N
    lat = np.asarray(pq.read_table(generated["same"]).column("latency_ms").to_numpy())
    assert found["metrics"]["latency_p99_ms"] == pytest.approx(np.quantile(lat, 0.99), rel=1e-3)


def test_without_inputs_input_drift_is_inconclusive_never_a_pass(
    generated: dict[str, Path],
) -> None:
    found = _evaluate(generated, "bare")
    checks = _by_name(found)
    assert checks["input_drift"]["verdict"] == INCONCLUSIVE
    assert "hmac-only" in checks["input_drift"]["detail"]
    assert checks["skew"]["verdict"] == INCONCLUSIVE
    assert found["metrics"]["drift_psi"] is None and "retention" in found["unmeasured"]["drift_psi"]
    # the scores are still there: prediction drift and CBPE are measured
    assert checks["prediction_drift"]["verdict"] in (PASS, "WARN", FAIL)
    assert found["metrics"]["estimated_accuracy"] is not None


@pytest.fixture(scope="module")
def scored(ops_team: Ops, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The German credit rows the model trained on, scored by the real model, with outcomes."""
    from core.modelling import models
    from core.modelling.training import load_run_spec, load_table, run_record

    ws = ops_team.ws
    with ws.session("") as s:
        model = s.catalog.model(V1)
        assert model is not None
        run = s.catalog.run(model.run_id)
        assert run is not None
        spec = load_run_spec(ws, run)
        snap = s.catalog.snapshot(run.input_ref)
        assert snap is not None
        record = run_record(ws, run)
    preds = json.loads(ws.objects.read_verified(record.predictions_object))
    frame = load_table(ws, snap, [*spec.features, spec.target, *spec.sensitive])
    train_rows = sorted(set(range(len(frame))) - set(preds["row"]))
    frame = frame.iloc[train_rows].reset_index(drop=True)
    pipeline = models.load(ws, V1, actor="opal")
    score = pipeline.predict_proba(frame[spec.features])[:, 1]
    n = len(frame)
    table = _decisions({}, n, inputs=False, seed=9)
    table = table.set_column(table.schema.get_field_index("score"), "score", pa.array(score))
    label = (score >= spec.threshold).astype("int8")
    table = table.set_column(
        table.schema.get_field_index("label"), "label", pa.array(label, pa.int8())
    )
    for col in ("sex", "age_group", "age_years"):
        table = table.append_column(f"in.{col}", pa.array(frame[col].astype(str).tolist()))
    outcome = frame[spec.target].astype("int8").to_numpy()
    folder = tmp_path_factory.mktemp("scored")
    pq.write_table(table, folder / "decisions.parquet")
    outcomes = pa.table(
        {
            "request_id": table.column("request_id"),
            "outcome": pa.array(outcome, pa.int8()),
            "observed_at": ["2026-03-09T00:00:00.000000Z"] * n,
        }
    )
    pq.write_table(outcomes, folder / "outcomes.parquet")
    ref = Reference(
        table=duck.parquet_source(Path(folder / "decisions.parquet")),
        features=list(spec.features),
        y_true=preds["y_true"],
        probability=preds["probability"],
        threshold=spec.threshold,
        favourable=0,
        sensitive=["sex", "age_group", "age_years"],
    )
    return {
        "folder": folder,
        "ref": ref,
        "score": score,
        "label": label,
        "outcome": outcome,
    }


def test_cbpe_is_reconciled_with_realised_accuracy_on_real_outcomes(
    scored: dict[str, Any],
) -> None:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import accuracy_score

    folder, ref = scored["folder"], scored["ref"]
    con = duck.connect()
    try:
        con.execute(
            "CREATE VIEW decisions AS SELECT * FROM "
            + duck.parquet_source(folder / "decisions.parquet")
        )
        con.execute(
            "CREATE VIEW outcomes AS SELECT * FROM "
            + duck.parquet_source(folder / "outcomes.parquet")
        )
        found = evaluate(con, ref, "decisions", "outcomes", "ab" * 32)
    finally:
        con.close()
    checks = _by_name(found)
    realised = accuracy_score(scored["outcome"], scored["label"])
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(
        ref.probability, ref.y_true
    )
    c = iso.predict(scored["score"])
    estimated = float(np.where(scored["label"] == 1, c, 1 - c).mean())
    rec = checks["cbpe_reconciliation"]["observed"]
    assert rec["realised"] == pytest.approx(realised, abs=1e-6)
    assert rec["estimated"] == pytest.approx(estimated, abs=1e-6)
    assert rec["gap"] == pytest.approx(estimated - realised, abs=1e-6)
    # the model's confidence, calibrated on held-out rows, predicts its accuracy within 0.05
    assert abs(rec["gap"]) <= 0.05 and checks["cbpe_reconciliation"]["verdict"] == PASS
    assert found["metrics"]["accuracy"] == pytest.approx(realised, abs=1e-6)
    assert checks["calibration"]["observed"]["ece"] < 0.15
    # fairness by group: the favourable (approved) rate per sex, against a direct count
    sexes = {g["group"]: g for g in found["groups"]["sex"]["groups"]}
    assert sum(g["decisions"] for g in sexes.values()) == len(scored["label"])
    assert 0 < found["metrics"]["fairness_ratio"] <= 1
    ratios = [found["groups"][a]["ratio"] for a in ("sex", "age_group")]
    assert found["metrics"]["fairness_ratio"] == min(ratios)
    # age in years is a number, not a grouping: reported, not judged
    assert found["groups"]["age_years"]["ratio"] is None
    assert "not judged" in found["groups"]["age_years"]["detail"]
    series = found["series"]
    assert sum(day["labelled"] for day in series) == len(scored["label"])


def test_a_recorded_run_with_no_decisions_is_inconclusive_and_evidence_is_kept(
    ops: Ops,
) -> None:
    from core.operations import deployments

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="stage it")
    before = int(ws.ledger.head()[0])
    result = monitoring.run(ws, "scorer", env="staging", window="7d")
    assert int(ws.ledger.head()[0]) == before + 1  # one monitor.run, no alert without an SLO
    assert result.row.verdict == INCONCLUSIVE and result.row.created_by == "scorer"
    assert monitoring.evidence_of(ws, result.row) == result.evidence
    assert result.evidence["reference"]["model"] == V1
    assert json.loads(result.row.checks)["decisions"] == INCONCLUSIVE
    with pytest.raises(Exception, match="lacks the role"):
        monitoring.run(ws, "cal", env="staging")
    with pytest.raises(Exception, match="no live deployment"):
        monitoring.run(ws, "opal", env="production")
    with pytest.raises(Exception, match="invalid window"):
        monitoring.run(ws, "opal", env="staging", window="7 days")


SLO_DRIFT = """
[slo]
name = "staging-model"

[[objectives]]
name = "stable-inputs"
metric = "drift_psi"
max = 0.25

[[objectives]]
name = "accuracy-floor"
metric = "accuracy"
min = 0.6
"""

PLAYBOOK_ROLLBACK = """
[playbook]
name = "staging-drift"

[[steps]]
on = "stable-inputs"
action = "rollback"
auto = true
runbook = "Inputs moved away from training: return to the previous approved model."
"""


def test_real_scored_batches_drift_breach_and_rollback(ops: Ops, tmp_path: Path) -> None:
    """Scored by the real Scorer: the same population is not drift, a shifted batch is; its
    SLO breach opens an incident whose playbook rolls back; outcomes give realised accuracy;
    a decision object altered on disk stops the next run."""
    from core.data import snapshots
    from core.kernel.errors import IntegrityError
    from core.modelling import training
    from core.operations import deployments, ops_config, outcomes, scoring
    from tests.operations.conftest import V2

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="v1", retention="rows")
    deployments.deploy(ws, "opal", V2, env="staging", reason="v2", retention="rows")
    slo, book = tmp_path / "slo.toml", tmp_path / "pb.toml"
    slo.write_text(SLO_DRIFT, encoding="utf-8")
    book.write_text(PLAYBOOK_ROLLBACK, encoding="utf-8")
    ops_config.install(ws, "opal", "slo", slo, env="staging", reason="drift objective")
    ops_config.install(ws, "opal", "playbook", book, env="staging", reason="drift playbook")
    with ws.session() as s:
        snap = snapshots.resolve(s.catalog, "german-credit-features@1")
        run = s.catalog.run(s.catalog.model(V2).run_id)  # type: ignore[union-attr]
    spec = training.load_run_spec(ws, run)  # type: ignore[arg-type]
    frame = training.load_table(ws, snap, [*spec.features, "age_years", "sex", spec.target])
    frame = frame.sample(400, random_state=3).reset_index(drop=True)
    scorer = scoring.Scorer.open(ws, "staging", "scorer")
    first = scorer.score(frame.drop(columns=[spec.target]), caller="opal")
    answers = first.answers.to_pandas()
    labels = tmp_path / "outcomes.csv"
    labels.write_text(
        "request_id,outcome\n"
        + "".join(
            f"{r},{int(y)}\n"
            for r, y in zip(answers["request_id"], frame[spec.target], strict=True)
        ),
        encoding="utf-8",
    )
    outcomes.add(ws, "opal", labels, reason="repayment records")
    calm = monitoring.run(ws, "scorer", env="staging", window="1d")
    checks = {c["name"]: c for c in calm.evidence["checks"]}
    assert not [c for c in checks if c.startswith("drift:") and checks[c]["verdict"] == FAIL]
    assert calm.incidents == [] and calm.evidence["deployment"]["model"] == V2
    ok = answers["status"] == "ok"
    realised = float((answers[ok]["label"] == frame[ok][spec.target]).mean())
    assert checks["accuracy"]["observed"]["realised"] == pytest.approx(realised, abs=1e-6)
    assert checks["accuracy"]["observed"]["labelled"] == int(ok.sum())
    assert checks["cbpe_reconciliation"]["verdict"] in (PASS, "WARN")
    # a shifted population: longer and larger loans than training ever saw
    shifted = frame.drop(columns=[spec.target]).copy()
    shifted["duration_months"] = shifted["duration_months"] * 3
    shifted["credit_amount"] = shifted["credit_amount"] * 4
    scorer.score(shifted, caller="opal")
    hot = monitoring.run(ws, "scorer", env="staging", window="1d")
    checks = {c["name"]: c for c in hot.evidence["checks"]}
    assert checks["drift:duration_months"]["verdict"] == FAIL
    assert checks["drift:credit_amount"]["verdict"] == FAIL
    assert checks["skew"]["verdict"] == FAIL  # amounts beyond the training range
    assert hot.row.verdict == FAIL and [a.slo for a in hot.alerts] == ["stable-inputs"]
    [incident] = hot.incidents
    [action] = hot.actions
    assert action.automatic and action.status == "done" and action.incident == incident.seq
    with ws.session() as s:
        now = next(d for d in deployments.live(s, "staging") if d.row.arm == "live")
    assert now.row.model == V1 and now.row.seq == action.caused_seq
    # the evidence names the batches it read; alter one on disk and the next run refuses
    digest = hot.evidence["batches"][0]["object"]
    path = ws.objects.path(digest)
    path.chmod(0o600)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="altered"):
        monitoring.run(ws, "scorer", env="staging", window="1d")
