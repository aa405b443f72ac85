"""Evaluation contexts from other sources than a model's own held-out split.

:mod:`core.evidence.context` rebuilds what a model trained here was tested on. Two other
sources are judged by the same sections:

- :func:`from_score`: an existing score already in the data (a vendor's or a legacy model's
  probability, or its 0/1 decision), with the label and the sensitive attributes in the same
  snapshot. There is no pipeline and no training rows, so only sections that need no model
  run (fairness) apply; every row of the snapshot is judged.
- :func:`from_snapshot`: a registered model scored on another snapshot (a later or external
  test set) whose columns match the training input's features by name and kind.

Both build an ordinary :class:`~core.evidence.context.EvaluationContext`, so a section cannot
tell where its rows came from and computes nothing differently.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, cast

from core.evidence.context import EvaluationContext
from core.evidence.score_spec import ScoreSpec
from core.kernel.errors import UsageError
from core.kernel.rows import ModelRow, SnapshotRow
from core.kernel.workspace import Workspace
from core.modelling import training

MISSING = "missing"
"""The group of rows whose sensitive attribute is missing (NULL): kept, never dropped."""

# Sections that need a model to run (SHAP, perturbation, membership and attribute inference,
# DP variants of the model, a retrained baseline): an existing score has none.
NEEDS_A_MODEL = (
    "explainability",
    "robustness",
    "privacy",
    "attribute_inference",
    "differential_privacy",
    "baseline",
)


def _context(**fields: Any) -> EvaluationContext:
    """An EvaluationContext from the fields it declares (newer fields only when it has them)."""
    known = {f.name for f in dataclasses.fields(EvaluationContext)}
    return EvaluationContext(**{k: v for k, v in fields.items() if k in known})


def groups_of(frame: Any, columns: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Each sensitive column as group names, by training's rule.

    One explicit ``missing`` group; a column holding both NULLs and the literal value
    "missing" is refused, as training refuses it.
    """
    import numpy as np

    return {c: np.asarray(training.group_values(frame[c], c), dtype=object) for c in columns}


def _shown(values: list[str], column: str, snap: SnapshotRow) -> str:
    """Values for an error message, unless they are a PII column's (then only how many)."""
    if column in snap.pii:
        return f"{len(values)} distinct values (not shown: {column!r} is a PII column)"
    return ", ".join(values[:5]) + ("…" if len(values) > 5 else "")


def _labels(values: Any, spec: ScoreSpec, snap: SnapshotRow) -> Any:
    """The label column as 0/1: 1 where it equals the declared positive label."""
    import numpy as np

    column, ref = spec.label, snap.ref
    if values.isna().any():
        raise UsageError(
            f"label column {column!r} of {ref} has {int(values.isna().sum())} missing values",
            hint="Evaluate a snapshot (or a feature view) without unlabelled rows.",
        )
    positive = spec.outcome.positive_label
    distinct = sorted({str(v) for v in values.unique()})
    if len(distinct) > 2:
        raise UsageError(
            f"label column {column!r} of {ref} is not binary: {_shown(distinct, column, snap)}",
            hint="Derive a two-valued label in a feature view.",
        )
    if isinstance(positive, bool | int) and values.dtype.kind in "biuf":
        y = values.to_numpy() == positive
    else:
        y = values.astype(str).to_numpy() == str(positive)
    if not y.any():
        raise UsageError(
            f"no row of {ref} has the positive label {positive!r} in {column!r}",
            hint=f"Its values: {_shown(distinct, column, snap)}. Check [outcome] positive_label.",
        )
    return np.asarray(y, dtype=int)


def _scores(values: Any, spec: ScoreSpec, ref: str) -> Any:
    """The score column as floats, checked against its declared kind."""
    import numpy as np

    column = spec.column
    if values.isna().any():
        raise UsageError(
            f"score column {column!r} of {ref} has {int(values.isna().sum())} missing values",
            hint="Every judged row needs a score.",
        )
    if values.dtype.kind not in "biuf":
        raise UsageError(
            f"score column {column!r} of {ref} is not numeric ({values.dtype})",
            hint="A probability in [0, 1], or a 0/1 decision.",
        )
    score = values.to_numpy().astype("<f8")
    if spec.kind == "probability" and ((score < 0) | (score > 1)).any():
        bad = score[(score < 0) | (score > 1)]
        raise UsageError(
            f"score column {column!r} of {ref} has {len(bad)} values outside [0, 1] "
            f"(e.g. {bad[0]!r}), so it is not a probability",
            hint='Rescale it in a feature view, or declare kind = "decision" for a 0/1 column.',
        )
    if spec.kind == "decision" and not np.isin(score, (0.0, 1.0)).all():
        bad = sorted(set(score[~np.isin(score, (0.0, 1.0))].tolist()))[:5]
        raise UsageError(
            f"decision column {column!r} of {ref} holds values other than 0 and 1: {bad}",
            hint='1 is the positive class; a score in [0, 1] is kind = "probability".',
        )
    return score


def from_score(ws: Workspace, snap: SnapshotRow, spec: ScoreSpec, seed: int) -> EvaluationContext:
    """Every row of a snapshot holding an existing score, as the sections see a test split."""
    import numpy as np

    frame = training.load_table(ws, snap, spec.columns)
    training.refuse_pii_groups(snap, spec.sensitive)
    y = _labels(frame[spec.label], spec, snap)
    proba = _scores(frame[spec.column], spec, snap.ref)
    threshold = spec.threshold if spec.threshold is not None else 0.5
    rows = np.arange(len(frame))
    return _context(
        ws=ws,
        model=cast(ModelRow, None),  # no model: the score is the subject (see ScoreInfo)
        run=None,
        snapshot=snap,
        pipeline=None,
        spec=None,
        test_rows=rows,
        train_rows=np.zeros(0, dtype=int),
        x_train=None,
        y_train=np.zeros(0, dtype=int),
        x_test=None,
        y_test=y,
        proba=proba,
        pred=(proba >= threshold).astype(int),
        groups=groups_of(frame, spec.sensitive),
        seed=seed,
        outcome=spec.outcome,
        threshold=threshold,
    )


def from_snapshot(
    ws: Workspace, model: ModelRow, other: SnapshotRow, seed: int
) -> EvaluationContext:
    """A model version judged on every row of another snapshot; its training rows as recorded.

    The caller has checked the schema (:func:`schema_differences`). The training rows (for
    the privacy and baseline sections) are the run's own, rebuilt by
    :func:`core.evidence.context.load`; the test rows, labels, scores and groups are
    ``other``'s, scored by the verified model.
    """
    import numpy as np

    from core.evidence import context

    own = context.load(ws, model, seed)
    spec = own.spec
    frame = training.load_table(ws, other, [*spec.features, spec.target, *spec.sensitive])
    training.refuse_pii_groups(other, spec.sensitive)
    # The label as the positive class, by the spec's own declaration (as training read it).
    y_test = training.labels(spec, frame[spec.target])
    x_test = frame[spec.features].reset_index(drop=True)
    proba = own.pipeline.predict_proba(x_test)[:, 1].astype("<f8")
    return dataclasses.replace(
        own,
        snapshot=other,
        test_rows=np.arange(len(frame)),
        x_test=x_test,
        y_test=np.asarray(y_test, dtype=int),
        proba=proba,
        pred=(proba >= spec.threshold).astype(int),
        groups=groups_of(frame, spec.sensitive),
    )


def summary(ctx: EvaluationContext, kind: str) -> dict[str, Any]:
    """Discrimination and calibration of the score: ROC AUC, accuracy, Brier (probabilities)."""
    from sklearn import metrics as m

    y, proba, pred = ctx.y_test, ctx.proba, ctx.pred
    both = len(set(y.tolist())) == 2
    return {
        "rows": len(y),
        "positive_rate": float(y.mean()) if len(y) else None,
        "roc_auc": float(m.roc_auc_score(y, proba)) if both else None,
        "accuracy": float(m.accuracy_score(y, pred)),
        "brier": float(m.brier_score_loss(y, proba)) if kind == "probability" else None,
    }


def schema_differences(train: SnapshotRow, other: SnapshotRow, features: list[str]) -> list[str]:
    """How ``other``'s columns differ from the training input's, for the model's features.

    A feature missing from ``other``, or of another kind there (text against a number), is
    named; extra columns do not matter. An empty list means the model can score it.
    """
    kinds = {c["name"]: c for c in json.loads(train.columns)}
    theirs = {c["name"]: c for c in json.loads(other.columns)}
    out = []
    for name in features:
        if name not in theirs:
            out.append(f"{name!r} is missing")
            continue
        want, got = _kind(kinds.get(name, {})), _kind(theirs[name])
        if want != got:
            out.append(f"{name!r} is {got} there, {want} in the training input")
    return out


def _kind(column: dict[str, Any]) -> str:
    """A column's broad kind: number, text, boolean, date (from its recorded type)."""
    dtype = str(column.get("type") or column.get("dtype") or "").upper()
    if dtype.startswith(("BIGINT", "INT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINT")):
        return "number"
    if dtype.startswith(("DOUBLE", "FLOAT", "DECIMAL", "REAL", "UHUGEINT")):
        return "number"
    if dtype.startswith("BOOL"):
        return "boolean"
    if dtype.startswith(("DATE", "TIME")):
        return "date"
    return "text"
