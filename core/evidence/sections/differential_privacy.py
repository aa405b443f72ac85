"""Differential privacy: the utility DP-trained variants of the model keep, by ε.

Evidence about **variants**, not the model: for each ε of the suite, ``repeats`` variants of
the model's estimator family are trained with ε-differential privacy on the model's own
training rows and features (:mod:`core.evidence.dp`), and each is measured by ROC AUC on
the evaluation's test rows, beside the model's own ROC AUC and that of the same variant
trained without noise (which shows what the bounded preprocessing alone costs). Every draw
is seeded from the suite's seed, so the curve is reproducible.

Training the variants spends privacy budget on the training data: the sum of every ε used
(sequential composition, an upper bound) is recorded in the evidence and in the signed
``model.evaluate`` event (``privacy_budget``), where :mod:`core.evidence.privacy_budget`
adds it up per snapshot. ``max_total_epsilon`` caps that total: an evaluation that would
take the training input past it is refused before any variant is trained.

An estimator without a DP variant here (gradient boosting) gets a section that says "not
applicable" and why, spends nothing, and passes no check it did not run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.evidence import dp
from core.evidence.checks import Checks, clean
from core.evidence.context import EvaluationContext
from core.evidence.record import OPTIONAL, Record
from core.evidence.sections import BaseSection
from core.kernel.errors import UsageError

EPSILONS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)
REPEATS = 5
L2 = 0.01
TREES = 10
DEPTH = 5
SUBJECT = (
    "DP-trained variants of the model (same features and training rows), not the model "
    "itself, which was trained without differential privacy"
)
SCOPE = (
    "epsilon covers each variant's fit on the preprocessed training rows (neighbouring "
    "training sets differ in one row); the preprocessing (imputation, scaling, one-hot "
    "categories) is fitted on the training rows without privacy accounting; numeric inputs "
    f"are standardised and clipped to [-{dp.CLIP:g}, {dp.CLIP:g}]"
)
VARIANTS = {
    "logistic_regression": (
        "logistic regression by objective perturbation (Chaudhuri, Monteleoni & Sarwate "
        "2011, Algorithm 2)"
    ),
    "random_forest": (
        "random decision trees on disjoint shares of the rows, Laplace-noised leaf counts "
        "(after Fletcher & Islam 2017)"
    ),
    "decision_tree": "one random decision tree with Laplace-noised leaf counts",
}
NOT_APPLICABLE = {
    "gradient_boosting": "no differentially private variant of gradient boosting is "
    "available here (nor in diffprivlib): its trees are fitted to residuals of the same rows, "
    "so each would need its own share of the budget",
    "hist_gradient_boosting": "no differentially private variant of histogram gradient "
    "boosting is available here (nor in diffprivlib)",
}


@dataclass(frozen=True)
class CurvePoint(Record):
    """The variants' ROC AUC at one ε, over ``repeats`` seeded draws."""

    epsilon: float
    repeats: int
    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class DifferentialPrivacy(Record):
    """The differential-privacy section (``applicable`` False: ``reason`` says why)."""

    subject: str
    estimator: str
    applicable: bool
    metric: str
    model_utility: float | None
    epsilon_spent: float
    variants_trained: int
    training_input: str
    training_rows: int
    curve: list[CurvePoint]
    variant: str | None = field(default=None, metadata=OPTIONAL)
    reason: str | None = field(default=None, metadata=OPTIONAL)
    reference_utility: float | None = field(default=None, metadata=OPTIONAL)
    """The same variant trained without noise: what the bounded preprocessing alone costs."""
    scope: str | None = field(default=None, metadata=OPTIONAL)
    settings: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)


def _epsilons(cfg: Mapping[str, Any]) -> list[float]:
    return [float(e) for e in cfg.get("epsilons", EPSILONS)]


def planned_spend(cfg: Mapping[str, Any]) -> float:
    """The ε the suite's variants spend: every ε times its repeats (sequential composition)."""
    import math

    return round(math.fsum(_epsilons(cfg)) * int(cfg.get("repeats", REPEATS)), 9)


def _auc(y: Any, p: Any) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def _trainer(estimator: str, cfg: Mapping[str, Any], design: dp.Design) -> Any:
    """A function (ε or None for no noise, rng) -> test-row probabilities of one variant."""
    import numpy as np

    if estimator == "logistic_regression":
        l2 = float(cfg.get("l2", L2))
        train = dp.unit_rows(design.train, design.bound)
        test = dp.unit_rows(design.test, design.bound)

        def logistic(epsilon: float | None, y: Any, rng: Any) -> Any:
            # epsilon None: the same objective without noise (b = 0, Δ = 0).
            w = dp.logistic_regression(train, y, epsilon or float("inf"), l2, rng)
            return dp.logistic_proba(test, w)

        return logistic
    width = design.train.shape[1]
    low = np.concatenate([np.full(design.numeric, -dp.CLIP), np.zeros(width - design.numeric)])
    high = np.concatenate([np.full(design.numeric, dp.CLIP), np.ones(width - design.numeric)])
    trees = 1 if estimator == "decision_tree" else int(cfg.get("trees", TREES))
    depth = int(cfg.get("depth", DEPTH))

    def forest(epsilon: float | None, y: Any, rng: Any) -> Any:
        grown = dp.random_trees(
            design.train, y, epsilon or float("inf"), trees, depth, low, high, rng
        )
        return dp.forest_proba(grown, design.test)

    return forest


class DifferentialPrivacySection(BaseSection):
    """The ``[differential_privacy]`` table."""

    name = "differential_privacy"
    label = "differential privacy"
    order = 42
    keys = frozenset({"epsilons", "repeats", "l2", "trees", "depth", "max_total_epsilon"})
    result = DifferentialPrivacy

    def validate(self, path: Path, cfg: Mapping[str, Any]) -> None:
        """ε values are positive numbers; counts are whole and at least 1."""
        where = f"{path}: [differential_privacy]"
        values = cfg.get("epsilons", list(EPSILONS))
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(e, int | float) and not isinstance(e, bool) for e in values)
            or not all(e > 0 for e in values)
        ):
            raise UsageError(f"{where} epsilons must be a list of positive numbers")
        for key, least in (("repeats", 1), ("trees", 1), ("depth", 1)):
            value = cfg.get(key, least)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise UsageError(
                    f"{where} {key} must be a whole number of at least {least}, not {value!r}"
                )
        if int(cfg.get("depth", DEPTH)) > 12:
            raise UsageError(f"{where} depth must be at most 12 (2^depth leaves per tree)")
        l2 = cfg.get("l2", L2)
        if isinstance(l2, bool) or not isinstance(l2, int | float) or l2 <= 0:
            raise UsageError(f"{where} l2 must be a positive number, not {l2!r}")

    def precheck(self, ctx: EvaluationContext, cfg: Mapping[str, Any]) -> None:
        """Refuse an evaluation whose variants would overspend the training input's budget."""
        if "max_total_epsilon" not in cfg or ctx.spec.estimator not in VARIANTS:
            return
        from core.evidence import privacy_budget

        limit = float(cfg["max_total_epsilon"])
        planned = planned_spend(cfg)
        earlier = privacy_budget.spent(ctx.ws, ctx.run.input_ref)
        if earlier + planned > limit:
            raise UsageError(
                f"the DP variants would spend epsilon {planned:g} on {ctx.run.input_ref}, "
                f"which has spent {earlier:g} already: more than max_total_epsilon = {limit:g}",
                hint="Fewer or smaller epsilons, fewer repeats, or a budget the data's "
                "steward agrees to raise.",
            )

    def run(
        self, ctx: EvaluationContext, cfg: Mapping[str, Any], checks: Checks
    ) -> DifferentialPrivacy:
        """Train the variants at every ε, measure them, record the budget they spent."""
        import numpy as np

        estimator = ctx.spec.estimator
        epsilons = _epsilons(cfg)
        repeats = int(cfg.get("repeats", REPEATS))
        out: dict[str, Any] = {
            "subject": SUBJECT,
            "estimator": estimator,
            "metric": "roc_auc",
            "model_utility": _auc(ctx.y_test, ctx.proba),
            "training_input": ctx.run.input_ref,
            "training_rows": len(ctx.train_rows),
            "curve": [],
        }
        if estimator not in VARIANTS:
            reason = NOT_APPLICABLE.get(estimator, f"no DP variant of {estimator} here")
            out |= {"applicable": False, "reason": reason, "epsilon_spent": 0.0}
            out["variants_trained"] = 0
            return DifferentialPrivacy.from_json(clean(out))
        from threadpoolctl import threadpool_limits

        design = dp.design(ctx.x_train, ctx.x_test)
        train = _trainer(estimator, cfg, design)
        y = np.asarray(ctx.y_train, dtype=int)
        curve = []
        # One BLAS thread: many small fits, and figures that do not depend on the cores.
        with threadpool_limits(limits=1, user_api="blas"):
            reference = train(None, y, np.random.default_rng([ctx.seed, 0]))
            for i, epsilon in enumerate(epsilons):
                curve.append(
                    [
                        _auc(
                            ctx.y_test,
                            train(epsilon, y, np.random.default_rng([ctx.seed, i + 1, r])),
                        )
                        for r in range(repeats)
                    ]
                )
        for epsilon, aucs in zip(epsilons, curve, strict=True):
            out["curve"].append(
                {
                    "epsilon": epsilon,
                    "repeats": repeats,
                    "mean": float(np.mean(aucs)),
                    "std": float(np.std(aucs)),
                    "min": float(np.min(aucs)),
                    "max": float(np.max(aucs)),
                }
            )
        spent = planned_spend(cfg)
        settings: dict[str, Any] = {"epsilons": epsilons, "repeats": repeats}
        if estimator == "logistic_regression":
            settings["l2"] = float(cfg.get("l2", L2))
        else:
            settings["trees"] = 1 if estimator == "decision_tree" else int(cfg.get("trees", TREES))
            settings["depth"] = int(cfg.get("depth", DEPTH))
        out |= {
            "applicable": True,
            "variant": VARIANTS[estimator],
            "reference_utility": _auc(ctx.y_test, reference),
            "scope": SCOPE,
            "settings": settings,
            "epsilon_spent": spent,
            "variants_trained": len(epsilons) * repeats,
        }
        return DifferentialPrivacy.from_json(clean(out))


SECTION = DifferentialPrivacySection()
