"""Explainability (SHAP): which inputs drive the score, in numbers and in plain words.

Global mean |SHAP| per input feature (one-hot columns folded back into their feature),
representative explanations in plain words, stability of the top features across background
samples; explainer, parameters, seed and background digest are recorded. Every estimator
training allows has an exact explainer (linear or tree); one without is refused, since no
surrogate-tree path is implemented (the evidence's ``surrogate`` field stays null).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.evidence.checks import Checks, clean
from core.evidence.context import EvaluationContext
from core.evidence.record import OPTIONAL, Record
from core.evidence.sections import BaseSection
from core.kernel.errors import UsageError
from core.modelling import estimators


@dataclass(frozen=True)
class Importance(Record):
    """A feature's global importance."""

    feature: str
    mean_abs_shap: float


@dataclass(frozen=True)
class Case(Record):
    """One representative explained row, with its top three contributions in words."""

    case: str
    row: int
    probability: float
    top_features: list[str]
    contributions: list[float]
    in_words: list[str]


@dataclass(frozen=True)
class Stability(Record):
    """How much the top features agree across other background samples (the minimum)."""

    seeds: list[int]
    agreement: float


@dataclass(frozen=True)
class Explainability(Record):
    """The explainability section."""

    explainer: str
    background_rows: int
    background_seed: int
    background_digest: str
    sample_rows: int
    sample_seed: int
    output: str
    importance: list[Importance]
    top_features: list[str]
    stability: Stability
    representative: list[Case]
    surrogate: Any
    top_k: int | None = field(default=None, metadata=OPTIONAL)
    """The number of top features compared (the suite's, at most the number of features)."""
    note: str | None = field(default=None, metadata=OPTIONAL)
    """Why ``top_k`` differs from the suite's setting, when it does."""


def _feature_groups(pipeline: Any, features: list[str]) -> list[list[int]]:
    """Indexes of transformed columns belonging to each input feature (one-hot folded)."""
    names = list(pipeline.named_steps["preprocess"].get_feature_names_out())
    groups: list[list[int]] = []
    for feature in features:
        idx = [
            i
            for i, n in enumerate(names)
            if n.split("__", 1)[1] == feature or n.split("__", 1)[1].startswith(feature + "_")
        ]
        groups.append(idx)
    return groups


class _Explainer:
    """SHAP values of the sampled rows against a seeded background, folded per feature."""

    def __init__(self, ctx: EvaluationContext, cfg: Mapping[str, Any]) -> None:
        import numpy as np

        pipeline = ctx.pipeline
        self.est = pipeline.named_steps["model"]
        self.z = np.asarray(pipeline.named_steps["preprocess"].transform(ctx.x_test), dtype=float)
        rng = np.random.default_rng(ctx.seed)
        self.n_sample = min(int(cfg.get("sample", 200)), len(self.z))
        self.sample_idx = np.sort(rng.choice(len(self.z), self.n_sample, replace=False))
        self.n_background = min(int(cfg.get("background", 100)), len(self.z))
        self.fold = _feature_groups(pipeline, ctx.features)

    def explain(self, background_seed: int) -> tuple[Any, dict[str, Any]]:
        import numpy as np
        import shap

        z, est = self.z, self.est
        bg_rng = np.random.default_rng(background_seed)
        background = z[np.sort(bg_rng.choice(len(z), self.n_background, replace=False))]
        kind = type(est).__name__
        record = estimators.by_class(kind)  # each estimator's record names its exact explainer
        if record is None:
            raise UsageError(f"no exact SHAP explainer for {kind}")
        if record.explainer == "linear":
            values = shap.LinearExplainer(est, background).shap_values(z[self.sample_idx])
        else:
            explainer = shap.TreeExplainer(
                est, background, feature_perturbation="interventional", model_output="raw"
            )
            values = explainer.shap_values(z[self.sample_idx], check_additivity=False)
        name = estimators.EXPLAINERS[record.explainer]
        values = np.asarray(values)
        if values.ndim == 3:  # (rows, features, classes): keep the positive class
            values = values[:, :, 1]
        folded = np.stack([values[:, idx].sum(axis=1) for idx in self.fold], axis=1)
        meta = {
            "explainer": name,
            "background_rows": self.n_background,
            "background_seed": background_seed,
            "background_digest": hashlib.sha256(background.astype("<f8").tobytes()).hexdigest(),
        }
        return folded, meta


def _cases(ctx: EvaluationContext, folded: Any, sample_idx: Any) -> list[dict[str, Any] | None]:
    """Median cases: of each prediction, and of each value of each sensitive attribute.

    The words come from the declared outcome (``positive``/``negative``), or are neutral
    ("class 1") without one: nothing says risk or approval unless the spec does.
    """
    import numpy as np

    outcome = ctx.outcome
    positive = outcome.positive if outcome else "the positive class (1)"
    negative = outcome.negative if outcome else "the negative class (0)"
    features = ctx.features
    sample_proba = ctx.proba[sample_idx]
    x_sample = ctx.x_test.iloc[sample_idx].reset_index(drop=True)

    def describe(i: int, label: str) -> dict[str, Any]:
        contrib = folded[i]
        ranked = list(np.argsort(-np.abs(contrib), kind="stable")[:3])
        words = []
        for j in ranked:
            direction = "raised" if contrib[j] > 0 else "lowered"
            words.append(
                f"{features[j]} = {x_sample.iloc[i][features[j]]} {direction} the "
                f"log-odds of {positive} by {abs(float(contrib[j])):.3f}"
            )
        return {
            "case": label,
            "row": int(sample_idx[i]),
            "probability": float(sample_proba[i]),
            "top_features": [features[j] for j in ranked],
            "contributions": [float(contrib[j]) for j in ranked],
            "in_words": words,
        }

    def median_case(mask: Any, label: str) -> dict[str, Any] | None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return None
        order_ = idx[np.argsort(sample_proba[idx], kind="stable")]
        return describe(int(order_[len(order_) // 2]), label)

    cases = [
        median_case(sample_proba >= ctx.threshold, f"median case predicted {positive}"),
        median_case(sample_proba < ctx.threshold, f"median case predicted {negative}"),
    ]
    for attr, values in ctx.groups.items():
        sample_values = np.asarray(values)[sample_idx]
        if len(set(sample_values)) > 8:  # a numeric attribute (age): bands, not every value
            continue
        for value in sorted(set(sample_values)):
            cases.append(median_case(sample_values == value, f"median case of {attr} = {value}"))
    return cases


class ExplainabilitySection(BaseSection):
    """The ``[explainability]`` table."""

    name = "explainability"
    label = "explainability (SHAP)"
    order = 20
    keys = frozenset(
        {"sample", "background", "top_k", "stability_seeds", "min_rank_agreement", "severity"}
    )
    result = Explainability

    def run(self, ctx: EvaluationContext, cfg: Mapping[str, Any], checks: Checks) -> Explainability:
        """Explain the sampled rows, check the top features' stability, pick cases."""
        import numpy as np

        features = ctx.features
        explainer = _Explainer(ctx, cfg)
        base_seed = ctx.seed
        folded, meta = explainer.explain(base_seed)
        importance = np.abs(folded).mean(axis=0)
        order = list(np.argsort(-importance, kind="stable"))
        asked = int(cfg.get("top_k", 5))
        # More than there are features would compare every feature and call it unstable.
        top_k = max(1, min(asked, len(features)))
        note = (
            f"top_k = {asked} is more than the model's {len(features)} features: "
            f"compared all {top_k}"
            if asked > top_k
            else None
        )
        top = [features[i] for i in order[:top_k]]
        stability_seeds = [
            int(s) for s in cfg.get("stability_seeds", [base_seed + 1, base_seed + 2])
        ]
        agreements = []
        for s in stability_seeds:
            other, _ = explainer.explain(s)
            other_top = [
                features[i] for i in np.argsort(-np.abs(other).mean(axis=0), kind="stable")[:top_k]
            ]
            agreements.append(len(set(top) & set(other_top)) / top_k)
        agreement = float(min(agreements)) if agreements else 1.0
        cases = _cases(ctx, folded, explainer.sample_idx)
        minimum = float(cfg.get("min_rank_agreement", 0.6))
        checks.add(
            "explainability",
            f"top-{top_k} feature agreement across backgrounds",
            clean(agreement),
            {"min": minimum},
            agreement >= minimum,
            cfg.get("severity", "warn"),
        )
        out = {
            **meta,
            "sample_rows": explainer.n_sample,
            "sample_seed": ctx.seed,
            "output": "log-odds",
            "importance": [
                {"feature": features[i], "mean_abs_shap": float(importance[i])} for i in order
            ],
            "top_features": top,
            "stability": {"seeds": stability_seeds, "agreement": agreement},
            "representative": [c for c in cases if c is not None],
            "surrogate": None,
            "top_k": top_k,
            **({"note": note} if note else {}),
        }
        return Explainability.from_json(clean(out))


SECTION = ExplainabilitySection()
