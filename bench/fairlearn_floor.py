"""The fairlearn side of the fairness benches: MetricFrame alone, as the floor to beat."""

from __future__ import annotations

from typing import Any


def fairness_metrics(favourable: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """fairlearn MetricFrame metrics for the fairness figures: exact, and for a row bootstrap.

    The floor the benches hold ledgerml's count-based figures
    against: exact per group as the fairness section once computed them, and the numpy
    one-liners a ``MetricFrame(n_boot=…)`` row bootstrap needs. ``favourable`` is the
    predicted class (0 or 1) favourable to the person.
    """
    import numpy as np
    from fairlearn.metrics import count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import precision_score

    def rate(values: Any) -> float:
        return float(np.mean(values)) if len(values) else float("nan")

    fast = {
        "selection_rate": lambda t, p: rate(np.asarray(p)),
        # 1 - rate(p) rather than rate(p == 0): the very floats evidence had before outcomes.
        "favourable_rate": (
            (lambda t, p: rate(np.asarray(p)))
            if favourable
            else (lambda t, p: 1.0 - rate(np.asarray(p)))
        ),
        "tpr": lambda t, p: rate(np.asarray(p)[np.asarray(t) == 1]),
        "fpr": lambda t, p: rate(np.asarray(p)[np.asarray(t) == 0]),
    }
    exact = {
        "count": count,
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "precision": lambda t, p: precision_score(t, p, zero_division=0),
    }
    return exact, fast
