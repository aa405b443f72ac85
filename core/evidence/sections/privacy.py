"""Privacy: does the model give away who it was trained on, or use PII as an input?

A loss-threshold membership-inference probe (training rows against held-out rows) with its
ROC AUC and advantage, and a check, always at error level, that no column tagged PII on the
input snapshot is a model input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.evidence.checks import Checks, clean
from core.evidence.context import EvaluationContext
from core.evidence.record import Record
from core.evidence.sections import BaseSection


@dataclass(frozen=True)
class Privacy(Record):
    """The privacy section."""

    attack: str
    members: int
    non_members: int
    roc_auc: float
    advantage: float
    pii_columns: list[str]
    pii_used_as_inputs: list[str]


class PrivacySection(BaseSection):
    """The ``[privacy]`` table."""

    name = "privacy"
    label = "privacy"
    order = 40
    keys = frozenset({"max_mia_auc", "severity"})
    result = Privacy

    def run(self, ctx: EvaluationContext, cfg: Mapping[str, Any], checks: Checks) -> Privacy:
        """Attack with per-row losses; check its AUC and the PII tags."""
        import numpy as np
        from sklearn.metrics import roc_auc_score, roc_curve

        pipeline = ctx.pipeline

        def losses(x: Any, y: Any) -> Any:
            p = np.clip(pipeline.predict_proba(x)[:, 1], 1e-12, 1 - 1e-12)
            return -(y * np.log(p) + (1 - y) * np.log(1 - p))

        member = losses(ctx.x_train, ctx.y_train)
        outsider = losses(ctx.x_test, ctx.y_test)
        scores = np.concatenate([-member, -outsider])  # low loss looks like a training row
        truth = np.concatenate([np.ones(len(member)), np.zeros(len(outsider))])
        auc = float(roc_auc_score(truth, scores))
        fpr, tpr, _ = roc_curve(truth, scores)
        advantage = float(np.max(tpr - fpr))
        limit = float(cfg.get("max_mia_auc", 0.6))
        checks.add(
            "privacy",
            "membership-inference ROC AUC",
            clean(auc),
            {"max": limit},
            auc <= limit,
            cfg.get("severity", "error"),
        )
        pii = list(ctx.snapshot.pii)
        leaked = sorted(set(pii) & set(ctx.features))
        checks.add(
            "privacy", "PII columns used as model inputs", leaked, {"max": []}, not leaked, "error"
        )
        out = {
            "attack": "loss threshold (Yeom et al. 2018)",
            "members": len(member),
            "non_members": len(outsider),
            "roc_auc": auc,
            "advantage": advantage,
            "pii_columns": pii,
            "pii_used_as_inputs": leaked,
        }
        return Privacy.from_json(clean(out))


SECTION = PrivacySection()
