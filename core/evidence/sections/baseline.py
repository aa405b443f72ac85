"""Baseline: is the model better than something simpler, or than its previous version?

A logistic regression on the same features and split, or the model's previous version scored
on this version's held-out rows (with a check that it never trained on them), with a minimum
improvement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.evidence.checks import Checks, clean
from core.evidence.context import EvaluationContext
from core.evidence.record import OPTIONAL, Record
from core.evidence.sections import BaseSection
from core.kernel.errors import UsageError
from core.kernel.rows import ModelRow, RunRow
from core.kernel.workspace import Workspace
from core.modelling import models, training
from core.modelling.spec import Spec

KINDS = ("logistic", "previous")


@dataclass(frozen=True)
class PreviousVersion(Record):
    """The earlier version a ``previous`` baseline scored."""

    ref: str
    digest: str
    run: str


@dataclass(frozen=True)
class Baseline(Record):
    """The baseline section; ``previous`` and the overlap only for ``kind = "previous"``."""

    kind: str
    roc_auc: float
    model_roc_auc: float
    improvement: float
    previous: PreviousVersion | None = field(default=None, metadata=OPTIONAL)
    # None inside a previous baseline: unknown (the previous version used another table).
    trained_on_test_rows: int | None = field(default=None, metadata=OPTIONAL)


def _logistic(ctx: EvaluationContext) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    base_spec = Spec(
        **{**ctx.spec.__dict__, "estimator": "logistic_regression", "params": {"max_iter": 2000}}
    )
    pipeline = training._pipeline(base_spec, ctx.x_train)
    pipeline.fit(ctx.x_train, ctx.y_train)
    auc = float(roc_auc_score(ctx.y_test, pipeline.predict_proba(ctx.x_test)[:, 1]))
    return {
        "kind": "logistic regression, same features and split",
        "label": "a logistic baseline",
        "roc_auc": auc,
    }


def find_previous(
    ws: Workspace, model: ModelRow, cfg: Mapping[str, Any]
) -> tuple[ModelRow, RunRow]:
    """The version a ``previous`` baseline compares with (checked before any section runs)."""
    with ws.session() as s:
        older = [m for m in s.catalog.models(model.name) if m.version < model.version]
        chosen = [m for m in older if m.version == cfg["version"]] if "version" in cfg else older
        if not chosen:
            wanted = f"version {cfg['version']}" if "version" in cfg else "earlier version"
            earlier = ", ".join(m.ref for m in older)
            raise UsageError(
                f"{model.ref} has no {wanted} to compare with",
                hint=f"Earlier versions: {earlier}."
                if earlier
                else 'This is the first version: use kind = "logistic".',
            )
        return chosen[-1], models.resolve_run(s.catalog, chosen[-1].run_id)


def _previous(ctx: EvaluationContext, cfg: Mapping[str, Any], checks: Checks) -> dict[str, Any]:
    """The previous version (or ``version = K``), scored on this version's held-out rows.

    The comparison is fair only if the previous version never trained on those rows; when
    both were trained on the same table, the overlap is counted from the previous run's
    recorded split and checked (a warning by default); on another table it is unknown.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score

    ws, snapshot = ctx.ws, ctx.snapshot
    prev, prev_run = find_previous(ws, ctx.model, cfg)
    prev_spec = training.load_run_spec(ws, prev_run)
    columns = {c["name"] for c in json.loads(snapshot.columns)}
    missing = [f for f in prev_spec.features if f not in columns]
    if missing:
        raise UsageError(
            f"{prev.ref} needs {', '.join(missing)}, which {snapshot.ref} does not have",
            hint='Compare with kind = "logistic" instead.',
        )
    frame = training.load_table(ws, snapshot, list(prev_spec.features))
    x_prev = frame.iloc[ctx.test_rows][list(prev_spec.features)].reset_index(drop=True)
    pipeline = models.load(ws, prev.ref, purpose="evaluate")
    auc = float(roc_auc_score(ctx.y_test, pipeline.predict_proba(x_prev)[:, 1]))
    overlap: int | None = None
    if prev_run.input_table_digest == snapshot.table_digest:
        record = training.run_record(ws, prev_run)
        prev_test = np.asarray(
            json.loads(ws.objects.read_verified(record.predictions_object))["row"]
        )
        prev_train = np.setdiff1d(np.arange(len(frame)), prev_test)
        overlap = int(np.intersect1d(prev_train, ctx.test_rows).size)
    checks.add(
        "baseline",
        f"{prev.ref} never trained on these test rows",
        overlap,
        {"max": 0},
        overlap == 0,
        cfg.get("overlap_severity", "warn"),
    )
    return {
        "kind": "previous version, scored on this version's test rows",
        "label": f"the previous version {prev.ref}",
        "previous": {"ref": prev.ref, "digest": prev.model_digest, "run": prev_run.run_id},
        "roc_auc": auc,
        "trained_on_test_rows": overlap,
    }


class BaselineSection(BaseSection):
    """The ``[baseline]`` table."""

    name = "baseline"
    label = "baseline"
    order = 50
    keys = frozenset({"kind", "version", "min_improvement", "severity", "overlap_severity"})
    result = Baseline

    def validate(self, path: Path, cfg: Mapping[str, Any]) -> None:
        """A known kind; ``version`` only as a whole number with ``kind = "previous"``."""
        kind = cfg.get("kind", "logistic")
        if kind not in KINDS:
            raise UsageError(
                f"{path}: unknown baseline kind {kind!r}",
                hint=f"Kinds: {', '.join(KINDS)}.",
            )
        version = cfg.get("version")
        if version is not None and (
            kind != "previous" or isinstance(version, bool) or not isinstance(version, int)
        ):
            raise UsageError(
                f'{path}: [baseline] version must be a whole number, with kind = "previous"'
            )

    def precheck(self, ctx: EvaluationContext, cfg: Mapping[str, Any]) -> None:
        """Refuse a missing previous version before minutes of other sections."""
        if cfg.get("kind") == "previous":
            find_previous(ctx.ws, ctx.model, cfg)

    def run(self, ctx: EvaluationContext, cfg: Mapping[str, Any], checks: Checks) -> Baseline:
        """Score the baseline on the same held-out rows; check the improvement."""
        from sklearn.metrics import roc_auc_score

        model_auc = float(roc_auc_score(ctx.y_test, ctx.proba))
        kind = cfg.get("kind", "logistic")
        if kind == "logistic":
            found = _logistic(ctx)
        elif kind == "previous":
            found = _previous(ctx, cfg, checks)
        else:
            raise UsageError(
                f"unknown baseline kind {kind!r}", hint='Use kind = "logistic" or "previous".'
            )
        auc = found["roc_auc"]
        minimum = float(cfg.get("min_improvement", 0.0))
        checks.add(
            "baseline",
            f"ROC AUC improvement over {found.pop('label')}",
            clean(model_auc - auc),
            {"min": minimum},
            model_auc - auc >= minimum,
            cfg.get("severity", "error"),
        )
        out = {**found, "model_roc_auc": model_auc, "improvement": model_auc - auc}
        return Baseline.from_json(clean(out))


SECTION = BaselineSection()
