"""The estimators ledgerml trains, explains and loads: one record each.

A record names the spec's ``[estimator] type``, the class to import, the exact SHAP explainer
that fits it (evaluation's explanations section picks by it), and the module prefixes its
skops artifact may contain beyond the pipeline's own (checked before a model is loaded).
Adding an estimator is one record here plus a test; training, model loading and reproduction
(which retrains through :func:`core.modelling.training.fit`) read this table.

Light on purpose: nothing here imports scikit-learn until :meth:`Estimator.load_class`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from core.kernel.errors import UsageError

# What every pipeline holds besides its estimator (preprocessing, NumPy and SciPy types).
PIPELINE_TRUSTED = ("sklearn.", "numpy.", "builtins.", "scipy.")
# The exact SHAP explainers, as evidence names them.
EXPLAINERS = {
    "linear": "LinearExplainer (exact for a linear model, log-odds)",
    "tree": "TreeExplainer (exact, interventional)",
}


@dataclass(frozen=True)
class Estimator:
    """One estimator a spec may name."""

    name: str
    module: str
    cls: str
    explainer: str  # a key of EXPLAINERS
    trusted: tuple[str, ...] = ("sklearn.",)

    @property
    def import_path(self) -> str:
        """``module.Class``."""
        return f"{self.module}.{self.cls}"

    def load_class(self) -> Any:
        """The estimator class (imports scikit-learn)."""
        return getattr(importlib.import_module(self.module), self.cls)


ESTIMATORS: dict[str, Estimator] = {
    e.name: e
    for e in (
        Estimator("logistic_regression", "sklearn.linear_model", "LogisticRegression", "linear"),
        Estimator("random_forest", "sklearn.ensemble", "RandomForestClassifier", "tree"),
        Estimator("gradient_boosting", "sklearn.ensemble", "GradientBoostingClassifier", "tree"),
        Estimator(
            "hist_gradient_boosting", "sklearn.ensemble", "HistGradientBoostingClassifier", "tree"
        ),
        Estimator("decision_tree", "sklearn.tree", "DecisionTreeClassifier", "tree"),
    )
}


def get(name: str) -> Estimator:
    """The estimator a spec names; refuses one that is not in the table."""
    found = ESTIMATORS.get(name)
    if found is None:
        raise UsageError(
            f"training spec: estimator {name!r} is not allowed",
            hint=f"Allowed: {', '.join(ESTIMATORS)}.",
        )
    return found


def by_class(class_name: str) -> Estimator | None:
    """The record of a fitted estimator by its class name (``type(est).__name__``)."""
    return next((e for e in ESTIMATORS.values() if e.cls == class_name), None)


def trusted_prefixes() -> tuple[str, ...]:
    """Every type prefix a ledgerml model may contain: the pipeline's and each estimator's."""
    out = list(PIPELINE_TRUSTED)
    for e in ESTIMATORS.values():
        out += [t for t in e.trusted if t not in out]
    return tuple(out)
