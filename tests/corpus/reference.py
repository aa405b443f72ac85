"""Headline figures recomputed with pandas and numpy alone, to check ledgerml's verdicts.

Nothing here imports ledgerml, fairlearn or scikit-learn: a test that compares these with the
recorded evidence compares two independent computations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GroupFigures:
    """The fairness figures of one attribute, by group."""

    favourable_rate: dict[str, float]
    tpr: dict[str, float]
    fpr: dict[str, float]
    count: dict[str, int]

    @property
    def disparate_impact(self) -> float:
        """Lowest favourable rate over the highest (the four-fifths rule's ratio)."""
        rates = list(self.favourable_rate.values())
        return min(rates) / max(rates)

    @property
    def four_fifths_met(self) -> bool:
        """Whether every group receives the favourable outcome at ≥ 80% of the best rate."""
        return self.disparate_impact >= 0.8

    @property
    def equalized_odds_difference(self) -> float:
        """The larger of the TPR and FPR gaps between groups."""
        tpr, fpr = list(self.tpr.values()), list(self.fpr.values())
        return max(max(tpr) - min(tpr), max(fpr) - min(fpr))


def group_figures(
    y_true: np.ndarray,
    predicted: np.ndarray,
    groups: pd.Series,
    *,
    favourable_prediction: int,
    missing: str = "missing",
) -> GroupFigures:
    """Per-group figures for 0/1 labels and 0/1 predictions; missing groups named ``missing``."""
    frame = pd.DataFrame(
        {
            "y": np.asarray(y_true, dtype=int),
            "p": np.asarray(predicted, dtype=int),
            "g": pd.Series(groups)
            .astype(object)
            .where(pd.Series(groups).notna(), missing)
            .astype(str),
        }
    )
    fav, tpr, fpr, count = {}, {}, {}, {}
    for name, part in frame.groupby("g"):
        key = str(name)
        count[key] = len(part)
        fav[key] = float((part["p"] == favourable_prediction).mean())
        pos, neg = part[part["y"] == 1], part[part["y"] == 0]
        tpr[key] = float(pos["p"].mean()) if len(pos) else float("nan")
        fpr[key] = float(neg["p"].mean()) if len(neg) else float("nan")
    return GroupFigures(fav, tpr, fpr, count)


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half)."""
    y = np.asarray(y_true, dtype=int)
    s = pd.Series(np.asarray(score, dtype=float))
    ranks = s.rank(method="average").to_numpy()
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy(y_true: np.ndarray, predicted: np.ndarray) -> float:
    """Share of predictions equal to the label."""
    return float((np.asarray(y_true, dtype=int) == np.asarray(predicted, dtype=int)).mean())
