"""Monitoring verdicts never kinder than the data: fairness coverage, a service not answering.

Fairness by group never passes on attributes or groups it could not judge.

A window of 200 decisions declares three sensitive attributes: ``sex`` (two big groups,
judged), ``age_band`` (25 bands: more than ``MAX_GROUPS``, not judged) and ``nationality``
(190 local, 10 foreign who are never favoured: one group too small to judge), plus
``religion``, which the log does not keep. The rates are recomputed with pandas, not with the
code under test; the check must be INCONCLUSIVE naming each gap, and ``fairness_ratio`` must
not satisfy an SLO while it still shows a breach. A window where every request was refused
(a throttle at 0) must breach a ``decisions`` minimum and fail the refusal check.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from core.kernel.verdict import INCONCLUSIVE, PASS, WARN
from core.operations import monitoring
from core.operations.monitoring import MIN_ROWS, Reference, evaluate, judge_slo

N = 200
DIGEST = "a" * 64
FAVOURABLE = 0


def _window() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(N)],
            "ts": [f"2026-03-01T10:00:00.{i:06d}Z" for i in range(N)],
            "env": "staging",
            "arm": "live",
            "returned": True,
            "model": "m@1",
            "model_digest": DIGEST,
            "status": "ok",
            "score": rng.uniform(size=N),
            "latency_ms": np.nan,
            "in.sex": ["f" if i % 4 < 2 else "m" for i in range(N)],
            "in.age_band": [f"b{i % 25}" for i in range(N)],
            "in.nationality": ["local"] * 190 + ["foreign"] * 10,
        }
    )
    df["label"] = (df["score"] >= 0.5).astype("int8")
    df.loc[df["in.nationality"] == "foreign", "label"] = 1  # never the favourable decision
    return df


def _run(df: pd.DataFrame, sensitive: list[str]) -> dict[str, Any]:
    con = duckdb.connect()
    try:
        con.register("decisions", df)
        rng = np.random.default_rng(1)
        p = rng.uniform(size=100)
        ref = Reference(
            table="decisions",
            features=[],
            y_true=(rng.random(100) < p).astype(int).tolist(),
            probability=p.tolist(),
            threshold=0.5,
            favourable=FAVOURABLE,
            sensitive=sensitive,
        )
        return evaluate(con, ref, "decisions", None, DIGEST)
    finally:
        con.close()


def _pandas_rates(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Decisions and favourable-decision rate per group, without the code under test."""
    fav = (df["label"] == FAVOURABLE).astype(float)
    return pd.DataFrame({"g": df[column], "fav": fav}).groupby("g")["fav"].agg(["count", "mean"])


def _slo(metric_min: float) -> dict[str, Any]:
    return {
        "objectives": [
            {"name": "fair", "metric": "fairness_ratio", "min": metric_min, "verdict": "FAIL"}
        ]
    }


def test_partial_coverage_is_inconclusive_and_names_what_was_not_judged() -> None:
    df = _window()
    found = _run(df, ["sex", "age_band", "nationality", "religion"])
    check = {c["name"]: c for c in found["checks"]}["fairness"]
    sex = _pandas_rates(df, "in.sex")
    expected = round(float(sex["mean"].min() / sex["mean"].max()), 6)
    assert expected >= 0.8  # what made the check PASS before: sex alone was judged
    assert check["verdict"] == INCONCLUSIVE
    assert check["observed"]["ratio"] == pytest.approx(expected)
    assert set(check["observed"]["not_judged"]) == {"age_band", "nationality", "religion"}
    for words in ("age_band", "25 distinct values", "religion", "foreign (10 decisions)",
                  "too few to judge"):  # fmt: skip
        assert words in check["detail"], words
    # the small group is shown with its own figures, never silently dropped
    nat = _pandas_rates(df, "in.nationality")
    foreign = next(g for g in found["groups"]["nationality"]["groups"] if g["group"] == "foreign")
    assert foreign["decisions"] == int(nat.loc["foreign", "count"]) == 10 < MIN_ROWS
    assert foreign["favourable_rate"] == float(nat.loc["foreign", "mean"]) == 0.0
    assert foreign["judged"] is False and "too few to judge" in foreign["detail"]
    assert check["observed"]["too_few_to_judge"]["nationality"] == [
        {"group": "foreign", "decisions": 10, "favourable": 0.0}
    ]
    # the figure over part of the data satisfies no objective, yet still shows a breach
    assert found["metrics"]["fairness_ratio"] == pytest.approx(expected)
    assert "fairness_ratio" in found["partial"]
    (met,) = judge_slo(_slo(0.8), found["metrics"], found["unmeasured"], found["partial"])
    assert met["verdict"] == INCONCLUSIVE and not met["breached"]
    assert "not judged" in met["detail"]
    (low,) = judge_slo(_slo(0.999), found["metrics"], found["unmeasured"], found["partial"])
    assert low["breached"] and low["verdict"] == "FAIL"


def test_full_coverage_passes_and_a_judged_disparity_warns() -> None:
    df = _window().iloc[:190]  # the local applicants only: every group is big enough
    found = _run(df, ["sex"])
    check = {c["name"]: c for c in found["checks"]}["fairness"]
    sex = _pandas_rates(df, "in.sex")
    expected = round(float(sex["mean"].min() / sex["mean"].max()), 6)
    assert check["verdict"] == PASS and found["partial"] == {}
    assert found["metrics"]["fairness_ratio"] == pytest.approx(expected)
    (met,) = judge_slo(_slo(0.8), found["metrics"], found["unmeasured"], found["partial"])
    assert met["verdict"] == PASS
    unfair = df.copy()
    unfair.loc[(unfair["in.sex"] == "f") & (unfair.index % 3 == 0), "label"] = 1
    rates = _pandas_rates(unfair, "in.sex")
    found = _run(unfair, ["sex"])
    check = {c["name"]: c for c in found["checks"]}["fairness"]
    assert check["observed"]["ratio"] == pytest.approx(rates["mean"].min() / rates["mean"].max())
    assert check["observed"]["ratio"] < 0.8 and check["verdict"] == WARN


def test_nothing_judged_is_inconclusive_with_no_figure() -> None:
    df = _window()
    found = _run(df, ["age_band", "nationality"])
    check = {c["name"]: c for c in found["checks"]}["fairness"]
    assert check["verdict"] == INCONCLUSIVE and found["metrics"]["fairness_ratio"] is None
    assert "age_band" in check["detail"] and "nationality" in check["detail"]
    (met,) = judge_slo(_slo(0.8), found["metrics"], found["unmeasured"], found["partial"])
    assert met["verdict"] == INCONCLUSIVE
    assert monitoring.FAIRNESS_WARN == 0.8


def test_a_service_that_refuses_everything_breaches_the_decisions_objective() -> None:
    df = _window().iloc[:100].copy()
    df["status"], df["score"], df["label"] = "refused", np.nan, None
    shadow = _window().iloc[100:].assign(arm="shadow", returned=False)
    found = _run(pd.concat([df, shadow], ignore_index=True), [])
    assert found["counts"]["decisions"] == 200 and found["counts"]["ok"] == 0
    assert found["metrics"]["decisions"] == 0.0  # answered, not logged rows
    slo = {"objectives": [{"name": "still-answering", "metric": "decisions", "min": 50,
                           "verdict": "FAIL"}]}  # fmt: skip
    (met,) = judge_slo(slo, found["metrics"], found["unmeasured"], found["partial"])
    assert met["breached"] and met["verdict"] == "FAIL"
    check = {c["name"]: c for c in found["checks"]}["refusal_rate"]
    assert check["verdict"] == "FAIL" and "nothing was answered" in check["detail"]
