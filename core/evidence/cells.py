"""Group figures and their bootstrap from cell counts: one pass over the rows, then counts.

:func:`table` gives each group's count, positive-prediction rate, TPR, FPR and precision with
fairlearn's conventions, so the figures are those ``MetricFrame`` gives, from one
``bincount`` instead of a scikit-learn call per group and metric (about 27 CPU seconds per
attribute at a million rows).

Every rate the fairness section bootstraps (the positive-prediction rate, the favourable
rate, TPR and FPR per group, and their differences and ratios between groups) depends on the
data only through the counts of the cells (group, label, prediction). Resampling N rows with
replacement, as fairlearn's ``MetricFrame(n_boot=…)`` does, draws those cell counts from a
multinomial distribution over the cells with the observed shares; drawing the counts directly
gives the same bootstrap distribution at a cost that does not grow with the rows (fairlearn
re-groups every resample: about 30 CPU seconds per resample and attribute at a million rows,
so 200 resamples took hours). Quantiles follow fairlearn's: per group, NaN-skipping
(``nanquantile``), for differences and ratios plain ``quantile``, linear interpolation. The
random stream differs from fairlearn's, so intervals agree in distribution, not digit by
digit; point figures are exact counts and do not depend on the draws.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

RATES = ("selection_rate", "favourable_rate", "tpr", "fpr")
QUANTILES = (0.025, 0.975)


@dataclass(frozen=True)
class Cells:
    """Counts per (group, label, prediction): ``counts[g, y, p]``."""

    counts: Any  # int64 array, shape (groups, 2, 2)

    @classmethod
    def of(cls, codes: Any, y: Any, pred: Any, groups: int) -> Cells:
        """Count the rows of each cell; ``codes`` is each row's group number (0..groups-1)."""
        flat = np.asarray(codes, dtype=np.int64) * 4 + np.asarray(y, dtype=np.int64) * 2
        flat += np.asarray(pred, dtype=np.int64)
        return cls(np.bincount(flat, minlength=groups * 4).reshape(groups, 2, 2))


def rates(counts: Any, favourable: int) -> dict[str, Any]:
    """Each rate per group from counts of shape (..., groups, 2, 2); NaN where undefined.

    ``favourable`` is the favourable prediction (0 or 1); its rate is written ``1 - rate``
    for 0, the very floats the fairness section recorded before outcomes were declared.
    """
    c = np.asarray(counts, dtype=np.float64)
    n = c.sum(axis=(-1, -2))
    positives = c[..., 1, 1] + c[..., 0, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        selection = positives / n
        tpr = c[..., 1, 1] / (c[..., 1, 0] + c[..., 1, 1])
        fpr = c[..., 0, 1] / (c[..., 0, 0] + c[..., 0, 1])
    favourable_rate = selection if favourable else 1.0 - selection
    return {"selection_rate": selection, "favourable_rate": favourable_rate, "tpr": tpr, "fpr": fpr}


def _spread(values: Any) -> tuple[Any, Any]:
    """Between-group difference (max − min) and ratio (min / max), skipping undefined groups."""
    with np.errstate(invalid="ignore", divide="ignore"), _quiet():
        hi, lo = np.nanmax(values, axis=-1), np.nanmin(values, axis=-1)
        return hi - lo, lo / hi


@contextmanager
def _quiet() -> Iterator[None]:
    """NumPy warns about an all-NaN slice (an attribute with no measured group)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass(frozen=True)
class Intervals:
    """The bootstrap's 95% intervals: per group and rate, and of each difference and ratio."""

    by_group: dict[str, list[list[float]]]  # rate -> [[low, high] per group]
    difference: dict[str, list[float]]
    ratio: dict[str, list[float]]


def intervals(cells: Cells, favourable: int, reps: int, seed: int) -> Intervals:
    """Draw ``reps`` multinomial resamples of the cell counts; return the 95% intervals."""
    counts = cells.counts
    total = int(counts.sum())
    shares = counts.reshape(-1) / total
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(total, shares, size=reps).reshape((reps, *counts.shape))
    sampled = rates(draws, favourable)
    by_group: dict[str, list[list[float]]] = {}
    difference: dict[str, list[float]] = {}
    ratio: dict[str, list[float]] = {}
    with _quiet():
        for name in RATES:
            per_group = np.nanquantile(sampled[name], QUANTILES, axis=0)  # (2, groups)
            by_group[name] = [[float(a), float(b)] for a, b in per_group.T]
            diff, rat = _spread(sampled[name])
            difference[name] = [float(v) for v in np.quantile(diff, QUANTILES)]
            ratio[name] = [float(v) for v in np.quantile(rat, QUANTILES)]
    return Intervals(by_group, difference, ratio)


def point(
    cells: Cells, favourable: int
) -> tuple[dict[str, Any], dict[str, float], dict[str, float]]:
    """The exact rates per group and their between-group differences and ratios."""
    exact = rates(cells.counts, favourable)
    diffs, ratios = {}, {}
    for name in RATES:
        d, r = _spread(exact[name])
        diffs[name], ratios[name] = float(d), float(r)
    return exact, diffs, ratios


def table(cells: Cells) -> dict[str, Any]:
    """Each group's exact figures, as fairlearn's ``MetricFrame`` gives them.

    ``count`` per group; ``selection_rate`` (positive predictions), ``tpr``, ``fpr`` and
    ``precision`` of the positive class. Where a group has rows but nothing to divide by (no
    positives for TPR, no negatives for FPR, no positive predictions for precision) the
    figure is 0.0, fairlearn's (and scikit-learn's ``zero_division=0``) convention; a group
    with no rows has NaN everywhere.
    """
    c = np.asarray(cells.counts, dtype=np.int64)
    n = c.sum(axis=(1, 2))
    tp, fn, fp, tn = c[:, 1, 1], c[:, 1, 0], c[:, 0, 1], c[:, 0, 0]

    def ratio(num: Any, den: Any) -> Any:
        out = np.zeros(len(n), dtype=np.float64)
        np.divide(num, den, out=out, where=den > 0)
        out[n == 0] = np.nan
        return out

    return {
        "count": n,
        "selection_rate": ratio(tp + fp, n),
        "tpr": ratio(tp, tp + fn),
        "fpr": ratio(fp, fp + tn),
        "precision": ratio(tp, tp + fp),
    }


def group_index(groups: dict[str, Any], attrs: list[str]) -> tuple[list[tuple[str, ...]], Any]:
    """The groups of one attribute or intersection, and each row's group number.

    Groups are listed as fairlearn lists them: each attribute's values sorted, and for an
    intersection every combination (also those no row has), in lexicographic order.
    """
    import itertools

    levels, codes = [], []
    for a in attrs:
        values, inverse = np.unique(np.asarray(groups[a]).astype(str), return_inverse=True)
        levels.append([str(v) for v in values])
        codes.append(inverse.astype(np.int64))
    row = np.zeros(len(codes[0]), dtype=np.int64)
    for level, code in zip(levels, codes, strict=True):
        row = row * len(level) + code
    return list(itertools.product(*levels)), row
