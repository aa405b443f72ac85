"""The count-based bootstrap against fairlearn's row bootstrap and against exact counting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame

from core.evidence import cells as bootstrap


def data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1])
    y = (rng.random(n) < np.where(group == "a", 0.4, 0.25)).astype(int)
    pred = (rng.random(n) < np.where(y == 1, 0.7, 0.2)).astype(int)
    return group, y, pred


def cells_of(group: np.ndarray, y: np.ndarray, pred: np.ndarray) -> bootstrap.Cells:
    names = sorted(set(group))
    codes = np.searchsorted(names, group)
    return bootstrap.Cells.of(codes, y, pred, len(names))


def test_point_figures_are_the_exact_rates_per_group() -> None:
    group, y, pred = data(5000, 1)
    exact, diff, ratio = bootstrap.point(cells_of(group, y, pred), favourable=0)
    frame = pd.DataFrame({"g": group, "y": y, "p": pred})
    by = frame.groupby("g")
    selection = by["p"].mean().to_numpy()
    tpr = frame[frame.y == 1].groupby("g")["p"].mean().to_numpy()
    fpr = frame[frame.y == 0].groupby("g")["p"].mean().to_numpy()
    assert np.array_equal(exact["selection_rate"], selection)
    assert np.array_equal(exact["favourable_rate"], 1.0 - selection)
    assert np.array_equal(exact["tpr"], tpr) and np.array_equal(exact["fpr"], fpr)
    assert diff["tpr"] == tpr.max() - tpr.min()
    assert ratio["favourable_rate"] == (1 - selection).min() / (1 - selection).max()


def test_intervals_agree_with_fairlearns_row_bootstrap_in_distribution() -> None:
    """Same distribution, other random stream: the interval ends agree to within the
    Monte Carlo error of 300 resamples (a few thousandths here), not digit by digit."""
    group, y, pred = data(2000, 2)
    reps = 300
    ci = bootstrap.intervals(cells_of(group, y, pred), favourable=1, reps=reps, seed=3)

    def rate(values: np.ndarray) -> float:
        return float(np.mean(values)) if len(values) else float("nan")

    metrics = {
        "selection_rate": lambda t, p: rate(np.asarray(p)),
        "tpr": lambda t, p: rate(np.asarray(p)[np.asarray(t) == 1]),
    }
    boot = MetricFrame(
        metrics=metrics,
        y_true=y,
        y_pred=pred,
        sensitive_features=pd.Series(group, name="g"),
        n_boot=reps,
        ci_quantiles=[0.025, 0.975],
        random_state=3,
    )
    low, high = boot.by_group_ci
    for name in ("selection_rate", "tpr"):
        ours = np.asarray(ci.by_group[name])
        theirs = np.column_stack([low[name].to_numpy(), high[name].to_numpy()])
        assert np.allclose(ours, theirs, atol=0.02), (name, ours, theirs)
        width_ours, width_theirs = ours[:, 1] - ours[:, 0], theirs[:, 1] - theirs[:, 0]
        assert np.allclose(width_ours, width_theirs, rtol=0.25)
    d_lo, d_hi = boot.difference_ci()
    assert ci.difference["tpr"] == pytest.approx([d_lo["tpr"], d_hi["tpr"]], abs=0.03)


def test_a_group_without_rows_has_undefined_intervals_not_a_crash() -> None:
    group, y, pred = data(300, 4)
    codes = np.searchsorted(["a", "b", "c"], group)
    cells = bootstrap.Cells.of(codes, y, pred, 4)  # group 3 is listed but has no rows
    ci = bootstrap.intervals(cells, favourable=0, reps=50, seed=1)
    assert all(np.isnan(v) for v in ci.by_group["selection_rate"][3])
    assert all(np.isfinite(v) for v in ci.by_group["selection_rate"][0])
    exact, diff, _ = bootstrap.point(cells, favourable=0)
    assert np.isnan(exact["tpr"][3]) and np.isfinite(diff["tpr"])


def test_the_same_seed_gives_the_same_intervals() -> None:
    cells = cells_of(*data(1000, 5))
    a = bootstrap.intervals(cells, favourable=1, reps=100, seed=9)
    b = bootstrap.intervals(cells, favourable=1, reps=100, seed=9)
    c = bootstrap.intervals(cells, favourable=1, reps=100, seed=10)
    assert a == b and a != c


def _fairlearn_exact() -> dict[str, object]:
    """What the fairness section gave MetricFrame before it counted cells itself."""
    from fairlearn.metrics import count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import precision_score

    return {
        "count": count,
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "precision": lambda t, p: precision_score(t, p, zero_division=0),
    }


@pytest.mark.parametrize("seed", range(12))
def test_the_counted_table_is_fairlearns_metricframe_bit_for_bit(seed: int) -> None:
    """Random small tables with degenerate groups (no positives, no negatives, no positive
    predictions, empty intersection cells): every figure equals MetricFrame's exactly."""
    import warnings

    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 60))
    groups = {
        "a": rng.choice(["x", "y", "missing", "z"], size=n, p=[0.5, 0.3, 0.15, 0.05]),
        "b": rng.choice(["u", "v"], size=n, p=[0.8, 0.2]),
    }
    y = rng.integers(0, 2, n) * (groups["a"] != "missing")  # "missing": no positives
    pred = rng.integers(0, 2, n) * (groups["b"] == "u")  # "v": no positive predictions
    for attrs in (["a"], ["b"], ["a", "b"]):
        names, codes = bootstrap.group_index(groups, attrs)
        ours = bootstrap.table(bootstrap.Cells.of(codes, y, pred, len(names)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = MetricFrame(
                metrics=_fairlearn_exact(),
                y_true=y,
                y_pred=pred,
                sensitive_features=pd.DataFrame({a: groups[a] for a in attrs}),
            ).by_group
        listed = [tuple(str(v) for v in (k if isinstance(k, tuple) else (k,))) for k in frame.index]
        assert names == listed
        for metric in ("selection_rate", "tpr", "fpr", "precision"):
            theirs = frame[metric].to_numpy(dtype=float)
            assert np.array_equal(ours[metric], theirs, equal_nan=True), (attrs, metric)
        theirs_count = np.nan_to_num(frame["count"].to_numpy(dtype=float)).astype(int)
        assert np.array_equal(ours["count"], theirs_count)
