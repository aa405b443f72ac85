"""Robustness: does the score hold up under noise, flipped categories and odd inputs?

The metric (ROC AUC) under Gaussian noise on numeric features and random category flips at
several strengths, and out-of-distribution probes (out-of-range values, unseen categories,
missing values) with crashes and invalid scores counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.evidence.checks import Checks, clean
from core.evidence.context import EvaluationContext
from core.evidence.record import OPTIONAL, Record
from core.evidence.sections import BaseSection


@dataclass(frozen=True)
class CurvePoint(Record):
    """The metric at one perturbation strength."""

    strength: float
    roc_auc: float
    drop: float


@dataclass(frozen=True)
class Probe(Record):
    """One out-of-distribution input: a score (and whether it is valid) or a crash."""

    probe: str
    crashed: bool
    probability: float | None = field(default=None, metadata=OPTIONAL)
    valid: bool | None = field(default=None, metadata=OPTIONAL)
    error: str | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True)
class Robustness(Record):
    """The robustness section: one curve per perturbation kind, and the probes."""

    metric: str
    baseline: float
    curves: dict[str, list[CurvePoint]]
    probes: list[Probe]
    crashes: int


def _perturb(
    x: Any, strength: float, kind: str, rng: Any, numeric: list[str], categorical: list[str]
) -> Any:
    out = x.copy()
    if kind == "noise":
        for col in numeric:
            values = out[col].astype(float)
            scale = float(values.std()) or 1.0
            out[col] = values + rng.normal(0, strength * scale, len(values))
    else:
        for col in categorical:
            levels = sorted(map(str, out[col].dropna().unique()))
            flip = rng.random(len(out)) < strength
            out.loc[flip, col] = rng.choice(levels, int(flip.sum())) if levels else None
    return out


def _probes(
    ctx: EvaluationContext, numeric: list[str], categorical: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """Score one seeded row made extreme, unseen or missing in each feature in turn."""
    import numpy as np

    x_test, pipeline = ctx.x_test, ctx.pipeline
    probes: list[dict[str, Any]] = []
    crashes = 0
    rng = np.random.default_rng(ctx.seed)
    row = x_test.iloc[[int(rng.integers(0, len(x_test)))]].copy()
    probe_rows = []
    for col in numeric:
        high = row.copy()
        high[col] = float(x_test[col].max()) * 10 + 1
        low = row.copy()
        low[col] = -abs(float(x_test[col].max())) * 10 - 1
        probe_rows += [(f"{col} far above range", high), (f"{col} far below range", low)]
    for col in categorical:
        unseen = row.copy()
        unseen[col] = "__never_seen__"
        probe_rows.append((f"{col} unseen category", unseen))
    for col in ctx.features:
        missing = row.copy()
        missing[col] = None if col in categorical else float("nan")
        probe_rows.append((f"{col} missing", missing))
    for label, frame in probe_rows:
        try:
            p = float(pipeline.predict_proba(frame)[0, 1])
            ok = 0.0 <= p <= 1.0
            probes.append({"probe": label, "crashed": False, "probability": p, "valid": ok})
            crashes += 0 if ok else 1
        except Exception as err:  # noqa: BLE001 - a probe that crashes is the finding
            crashes += 1
            probes.append({"probe": label, "crashed": True, "error": type(err).__name__})
    return probes, crashes


class RobustnessSection(BaseSection):
    """The ``[robustness]`` table."""

    name = "robustness"
    label = "robustness"
    order = 30
    keys = frozenset({"noise", "flip", "max_auc_drop", "max_crashes", "severity"})
    result = Robustness

    def run(self, ctx: EvaluationContext, cfg: Mapping[str, Any], checks: Checks) -> Robustness:
        """Perturb the held-out rows at each strength, then probe; check both."""
        import numpy as np
        from sklearn.metrics import roc_auc_score

        x_test, y, pipeline, features = ctx.x_test, ctx.y_test, ctx.pipeline, ctx.features
        numeric = [f for f in features if x_test[f].dtype.kind in "biuf"]
        categorical = [f for f in features if f not in numeric]
        curves: dict[str, list[dict[str, Any]]] = {}
        base = float(roc_auc_score(y, pipeline.predict_proba(x_test)[:, 1]))
        for kind, levels in (
            ("noise", cfg.get("noise", [0.0, 0.1, 0.25, 0.5])),
            ("flip", cfg.get("flip", [0.0, 0.05, 0.1, 0.2])),
        ):
            curve = []
            for strength in levels:
                rng = np.random.default_rng([ctx.seed, int(strength * 1000)])
                perturbed = _perturb(x_test, float(strength), kind, rng, numeric, categorical)
                auc = float(roc_auc_score(y, pipeline.predict_proba(perturbed)[:, 1]))
                curve.append({"strength": float(strength), "roc_auc": auc, "drop": base - auc})
            curves[kind] = curve
        probes, crashes = _probes(ctx, numeric, categorical)
        limit = cfg.get("max_auc_drop")
        if limit is not None:
            worst = max(p["drop"] for c in curves.values() for p in c)
            checks.add(
                "robustness",
                "worst ROC AUC drop under perturbation",
                clean(worst),
                {"max": limit},
                worst <= limit,
                cfg.get("severity", "error"),
            )
        checks.add(
            "robustness",
            "out-of-distribution probes that crashed",
            crashes,
            {"max": int(cfg.get("max_crashes", 0))},
            crashes <= int(cfg.get("max_crashes", 0)),
            cfg.get("severity", "error"),
        )
        out = {
            "metric": "roc_auc",
            "baseline": base,
            "curves": curves,
            "probes": probes,
            "crashes": crashes,
        }
        return Robustness.from_json(clean(out))


SECTION = RobustnessSection()
