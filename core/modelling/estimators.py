"""The estimators ledgerml trains, explains and loads: one record each.

A record names the spec's ``[estimator] type``, the class to import, the exact SHAP explainer
that fits it (evaluation's explanations section picks by it), and the exact types its skops
artifact holds beyond those skops trusts by itself (checked before a model is loaded: a type
not named here, even from scikit-learn or NumPy, refuses the load).
Adding an estimator is one record here plus a test; training, model loading and reproduction
(which retrains through :func:`core.modelling.training.fit`) read this table.

Light on purpose: nothing here imports scikit-learn until :meth:`Estimator.load_class`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from core.kernel.errors import UsageError

# What every pipeline's archive holds beyond skops's own trusted types, whatever its estimator.
PIPELINE_TRUSTED = ("numpy.dtype",)
_TREE = "sklearn.tree._tree.Tree"
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
    trusted: tuple[str, ...] = ()  # exact type names, as skops.io.get_untrusted_types gives

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
        Estimator("random_forest", "sklearn.ensemble", "RandomForestClassifier", "tree", (_TREE,)),
        Estimator(
            "gradient_boosting", "sklearn.ensemble", "GradientBoostingClassifier", "tree", (_TREE,)
        ),
        Estimator(
            "hist_gradient_boosting",
            "sklearn.ensemble",
            "HistGradientBoostingClassifier",
            "tree",
            ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",),
        ),
        Estimator("decision_tree", "sklearn.tree", "DecisionTreeClassifier", "tree", (_TREE,)),
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


def trusted_types() -> tuple[str, ...]:
    """Every type a ledgerml model may hold beyond skops's own, by exact name."""
    out = list(PIPELINE_TRUSTED)
    for e in ESTIMATORS.values():
        out += [t for t in e.trusted if t not in out]
    return tuple(out)
