"""What every evidence section judges: a model version and its recorded held-out split.

The split is not redrawn: the test rows, labels, probabilities and sensitive attributes were
stored with the training run, so :func:`load` rebuilds exactly those (and refuses stored
predictions whose digest no longer matches the run's). Sections read this context and
compute nothing shared twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.data import snapshots
from core.kernel.errors import IntegrityError
from core.kernel.rows import ModelRow, RunRow, SnapshotRow
from core.kernel.workspace import Workspace
from core.modelling import models, training
from core.modelling.outcome import Outcome
from core.modelling.spec import Spec


@dataclass(frozen=True)
class EvaluationContext:
    """A model version, its pipeline and its held-out split, as every section sees them."""

    ws: Workspace
    model: ModelRow
    run: RunRow
    snapshot: SnapshotRow
    pipeline: Any
    spec: Spec
    test_rows: Any
    train_rows: Any
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    proba: Any
    pred: Any
    groups: dict[str, Any]
    seed: int
    outcome: Outcome | None
    """The declared meaning of the positive class (None: not declared; fairness refuses)."""
    threshold: float
    """The decision threshold ``pred`` was drawn at: ``pred = proba >= threshold``."""

    @property
    def features(self) -> list[str]:
        """The model's input features, in the spec's order."""
        return list(self.spec.features)


def load(ws: Workspace, model: ModelRow, seed: int) -> EvaluationContext:
    """Rebuild a model version's held-out split from its recorded run."""
    import numpy as np

    with ws.session() as s:
        run = models.resolve_run(s.catalog, model.run_id)
        snap = snapshots.resolve(s.catalog, run.input_ref)
    pipeline = models.load(ws, model.ref, purpose="evaluate")
    spec = training.load_run_spec(ws, run)
    record = training.run_record(ws, run)
    preds = json.loads(ws.objects.read_verified(record.predictions_object))
    frame = training.load_table(ws, snap, [*spec.features, spec.target, *spec.sensitive])
    test_rows = np.asarray(preds["row"])
    train_rows = np.setdiff1d(np.arange(len(frame)), test_rows)
    x_test = frame.iloc[test_rows][spec.features].reset_index(drop=True)
    x_train = frame.iloc[train_rows][spec.features].reset_index(drop=True)
    y_test = np.asarray(preds["y_true"])
    y_train = training.labels(spec, frame.iloc[train_rows][spec.target])
    proba = np.asarray(preds["probability"], dtype=float)
    if hashlib.sha256(proba.astype("<f8").tobytes()).hexdigest() != run.predictions_digest:
        raise IntegrityError("the stored test predictions do not match the run's digest")
    return EvaluationContext(
        ws=ws,
        model=model,
        run=run,
        snapshot=snap,
        pipeline=pipeline,
        spec=spec,
        test_rows=test_rows,
        train_rows=train_rows,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        proba=proba,
        pred=(proba >= spec.threshold).astype(int),
        groups={k: np.asarray(v) for k, v in preds["sensitive"].items()},
        seed=seed,
        outcome=spec.outcome,
        threshold=spec.threshold,
    )
