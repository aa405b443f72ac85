"""Governed training: a TOML spec in, a recorded run out.

A spec names its input snapshot, the validation suite that input must have passed (the gate),
the target, the features, the sensitive attributes (kept out of the model unless the spec opts
in by name, and stored beside the test predictions for evaluation), an estimator from
:data:`core.modelling.estimators.ESTIMATORS` with its parameters, preprocessing, a seeded
stratified split and the decision threshold. ``train`` refuses an ungated input, fits,
measures on the held-out split, and records one ``train.run`` event with the model (skops,
never pickle), the spec, the environment, the metrics and the test predictions as objects.

Everything is seeded, so the same spec, snapshot and environment give the same predictions
bit for bit; :func:`fit` is the one function both training and reproduction call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.data import snapshots
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import UsageError
from core.kernel.kinds import new_event
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import RunRow, SnapshotRow
from core.kernel.workspace import Session, Workspace
from core.modelling import environment, estimators
from core.modelling.events import TRAIN_ROLES, RunGate, RunInput, TrainRun
from core.modelling.spec import Spec, load_spec, parse_spec
from storage.canonical import canonical_bytes

SKOPS_MEDIA_TYPE = "application/vnd.skops+zip"
PREDICTIONS_MEDIA_TYPE = "application/vnd.ledgerml.predictions+json"
ROLES = TRAIN_ROLES


def load_table(ws: Workspace, snap: SnapshotRow, columns: list[str]) -> Any:
    """The snapshot's columns as a pandas DataFrame, in file order.

    An encrypted snapshot is read only inside :func:`core.data.encryption.open` for it,
    which records the access.
    """
    known = {c["name"] for c in json.loads(snap.columns)}
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise UsageError(
            f"column {unknown[0]!r} is not in {snap.ref}",
            hint=f"Columns: {', '.join(sorted(known))}.",
        )
    from core.data import encryption, tables  # numpy, pyarrow: not for `model show`

    con = tables.connect(ws.root / "tmp")
    try:
        cols = ", ".join(tables.quote_ident(c) for c in dict.fromkeys(columns))
        # Verified; decrypted in memory if encrypted (under the caller's encryption.open).
        source = encryption.table_source(ws, con, snap)
        return con.execute(f"SELECT {cols} FROM {source}").df()
    finally:
        con.close()


MISSING_GROUP = "missing"
"""The group every missing (NULL/NaN) value of a sensitive attribute is counted in."""


def labels(spec: Spec, target: Any) -> Any:
    """The target as the 0/1 positive class the model learns.

    With a declared ``[outcome]``, 1 is ``target == positive_label`` (so "good"/"bad" text or
    1/2 codes work); without one the target must already be 0/1, as before outcomes existed.
    A missing label is refused naming the column: it is neither class.
    """
    import numpy as np

    column = spec.target
    if bool(target.isna().any()):
        raise UsageError(
            f"target {column!r} has {int(target.isna().sum())} missing values",
            hint="Drop or fill those rows in a feature view; a missing label is neither class.",
        )
    if spec.outcome is None:
        values = target.to_numpy()
        if set(np.unique(values).tolist()) - {0, 1}:
            raise UsageError(
                f"target {column!r} must be binary 0/1",
                hint="Derive a 0/1 column in a feature view, or declare which value is "
                "positive with [outcome] positive_label.",
            )
        return values
    label = spec.outcome.positive_label
    y = (target.astype(object) == label).to_numpy().astype(int)
    if not y.any() or y.all():
        seen = sorted({str(v) for v in target.unique().tolist()})[:5]
        raise UsageError(
            f"target {column!r}: {'no' if not y.any() else 'every'} row has the positive label "
            f"{label!r}",
            hint=f"Values seen: {', '.join(seen)}. Set [outcome] positive_label to one of them "
            "(a number is not the text of a number).",
        )
    return y


def group_values(values: Any, column: str) -> list[str]:
    """A sensitive attribute's values as group names; missing ones form :data:`MISSING_GROUP`.

    Stored as text beside the test predictions, so a NULL must not become "None", "nan" or
    "<NA>" (three names for one group, none of them readable as "not recorded").
    """
    missing = values.isna().to_numpy()
    names = [
        MISSING_GROUP if gone else str(v) for v, gone in zip(values.tolist(), missing, strict=True)
    ]
    if missing.any() and any(
        n == MISSING_GROUP for n, gone in zip(names, missing, strict=True) if not gone
    ):
        raise UsageError(
            f"sensitive attribute {column!r} has both missing values and the value "
            f"{MISSING_GROUP!r}",
            hint="Recode one of them in a feature view; they would be counted as one group.",
        )
    return names


def check_features(spec: Spec, frame: Any) -> None:
    """Refuse a feature with no values at all, naming it (imputation has nothing to learn)."""
    for column in spec.features:
        if len(frame) and bool(frame[column].isna().all()):
            raise UsageError(
                f"feature {column!r} has no values (every row is missing)",
                hint="Remove it from [run] features, or fill it in a feature view.",
            )


def _pipeline(spec: Spec, frame: Any) -> Any:

    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f for f in spec.features if frame[f].dtype.kind in "biuf"]
    categorical = [f for f in spec.features if f not in numeric]
    num_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if spec.scale:
        num_steps.append(("scale", StandardScaler()))
    transformer = ColumnTransformer(
        [
            ("numeric", Pipeline(num_steps), numeric),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            ),
        ]
    )
    estimator_cls = estimators.get(spec.estimator).load_class()
    params = dict(spec.params)
    if "random_state" in estimator_cls().get_params():
        params.setdefault("random_state", spec.seed)
    try:
        estimator = estimator_cls(**params)
    except TypeError as err:
        raise UsageError(f"training spec: {err}") from err
    return Pipeline([("preprocess", transformer), ("model", estimator)])


def _metrics(y: Any, proba: Any, threshold: float) -> dict[str, Any]:
    import numpy as np
    from sklearn import metrics as m

    pred = (proba >= threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in m.confusion_matrix(y, pred, labels=[0, 1]).ravel())
    bins = []
    edges = np.linspace(0, 1, 11)
    for lo, hi in itertools.pairwise(edges):
        mask = (proba >= lo) & ((proba < hi) if hi < 1 else (proba <= hi))
        if mask.any():
            bins.append(
                {
                    "from": round(float(lo), 1),
                    "to": round(float(hi), 1),
                    "count": int(mask.sum()),
                    "mean_predicted": float(proba[mask].mean()),
                    "observed_rate": float(y[mask].mean()),
                }
            )
    return {
        "roc_auc": float(m.roc_auc_score(y, proba)),
        "accuracy": float(m.accuracy_score(y, pred)),
        "precision": float(m.precision_score(y, pred, zero_division=0)),
        "recall": float(m.recall_score(y, pred, zero_division=0)),
        "f1": float(m.f1_score(y, pred, zero_division=0)),
        "brier": float(m.brier_score_loss(y, proba)),
        "log_loss": float(m.log_loss(y, proba, labels=[0, 1])),
        "threshold": threshold,
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "calibration": bins,
        "test_rows": len(y),
        "positive_rate": float(y.mean()),
    }


def fit(
    ws: Workspace, spec: Spec, snap: SnapshotRow, progress: Progress = NO_PROGRESS
) -> dict[str, Any]:
    """Train and measure; return the artifacts as bytes plus their digests (records nothing)."""
    import numpy as np
    from sklearn.model_selection import train_test_split
    from skops.io import dumps

    progress(0, 4, "loading the input")
    frame = load_table(ws, snap, [*spec.features, spec.target, *spec.sensitive])
    y_all = labels(spec, frame[spec.target])
    check_features(spec, frame)
    index = np.arange(len(frame))
    try:
        train_idx, test_idx = train_test_split(
            index, test_size=spec.test_size, stratify=y_all, random_state=spec.seed
        )
    except ValueError as err:  # an empty side, or a class too rare to stratify
        raise UsageError(
            f"cannot split {len(frame)} rows into training and held-out rows: {err}",
            hint="Choose a test_size that leaves both sides rows of each class.",
        ) from err
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    pipeline = _pipeline(spec, frame)
    progress(1, 4, f"fitting {spec.estimator} on {len(train_idx)} rows")
    # Native pools (OpenMP, BLAS) sized to the cores this process may use, not the machine's.
    with environment.native_threads() as threads:
        try:
            pipeline.fit(frame.iloc[train_idx][spec.features], y_all[train_idx])
        except ValueError as err:  # scikit-learn's parameter and data validation
            raise UsageError(
                f"training failed: {err}", hint="Check the estimator parameters in the spec."
            ) from err
        progress(2, 4, "measuring on the held-out split")
        proba = pipeline.predict_proba(frame.iloc[test_idx][spec.features])[:, 1].astype("<f8")
    metrics = _metrics(y_all[test_idx], proba, spec.threshold)
    model_bytes = dumps(pipeline)
    predictions = {
        "row": test_idx.tolist(),
        "y_true": y_all[test_idx].astype(int).tolist(),
        "probability": proba.tolist(),
        "sensitive": {s: group_values(frame.iloc[test_idx][s], s) for s in spec.sensitive},
    }
    progress(3, 4, "done")
    return {
        "model": model_bytes,
        "model_digest": hashlib.sha256(model_bytes).hexdigest(),
        # Bit-for-bit identity of the test predictions: SHA-256 of the float64 LE bytes.
        "predictions_digest": hashlib.sha256(proba.tobytes()).hexdigest(),
        "predictions": canonical_bytes(predictions),
        "metrics": metrics,
        "train_rows": len(train_idx),
        "test_rows": len(test_idx),
        "threads": threads,
    }


def gated_input(ws: Workspace, spec: Spec, actor: str) -> tuple[SnapshotRow, int]:
    """The spec's input snapshot and the passing validation that admits it."""
    resolve = _gate(spec)
    return command.run(
        ws, actor, guards=[needs(*ROLES, action="train models")], commit=lambda s, _: resolve(s)
    )


def _gate(spec: Spec) -> Callable[[Session], tuple[SnapshotRow, int]]:
    """Resolve the spec's input and the passing validation that admits it (under the lock)."""

    def resolve(s: Session) -> tuple[SnapshotRow, int]:
        from core.data import gates, validation  # with core.data.tables (numpy, pyarrow): to train

        snap = snapshots.resolve(s.catalog, spec.input)
        gates.require(s, [snap], "train")  # no failed latest run of any suite, unless waived
        refuse_pii_groups(snap, spec.sensitive)
        return snap, validation.require_passed(s.catalog, snap, spec.suite).seq

    return resolve


def refuse_pii_groups(snap: SnapshotRow, sensitive: list[str] | tuple[str, ...]) -> None:
    """A sensitive attribute that is PII would put people's values into the evidence.

    Sensitive values are kept with the test predictions and become the group names of every
    fairness table, which hashes-only bundles carry: a PII column (a date of birth, a name)
    there would publish them. A coarse group derived in a feature view (an age band) is the
    way to compare groups of such a column. Training, ``evaluate --on`` and
    ``evaluate --predictions`` all refuse it here.
    """
    both = sorted(set(sensitive) & set(snap.pii))
    if both:
        raise UsageError(
            f"sensitive attribute {both[0]!r} of {snap.ref} is tagged PII: its values would "
            "become the group names of the fairness evidence",
            hint="Derive a coarse group from it in a feature view (e.g. an age band from a "
            "date of birth) and list that under sensitive instead.",
        )


@dataclass(frozen=True)
class Fitted:
    """What the slow phase of training hands to the commit: the fit and where it came from."""

    snap: SnapshotRow
    gate_seq: int
    result: dict[str, Any]
    code: dict[str, Any]
    environment: dict[str, Any]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    """Chosen before the fit, so the access record of an encrypted input can name it."""

    @classmethod
    def of(
        cls, snap: SnapshotRow, gate_seq: int, result: dict[str, Any], code: dict[str, Any]
    ) -> Fitted:
        """The fit with the environment it ran in (captured now, before the commit)."""
        return cls(snap, gate_seq, result, code, environment.capture(threads=result.get("threads")))


def train(
    ws: Workspace,
    actor: str,
    spec_path: Path,
    *,
    reason: str = "",
    progress: Progress = NO_PROGRESS,
) -> RunRow:
    """Train from a spec and record the run (see the module docstring).

    Through :func:`core.kernel.command.run`: the gate is checked holding the workspace, the
    fit runs without holding it, and the run is recorded holding it again.
    """
    spec = load_spec(spec_path)

    def compute(gated: tuple[SnapshotRow, int]) -> Fitted:
        from core.data import encryption

        snap, gate_seq = gated
        run_id = uuid.uuid4().hex[:12]
        with encryption.open(ws, actor, [snap], "train", target=f"run:{run_id}", reason=reason):
            result = fit(ws, spec, snap, progress)
        code = environment.git_state(spec_path)
        if snap.transform_digest:
            code["transforms"] = [snap.transform_digest]
        return dataclasses.replace(Fitted.of(snap, gate_seq, result, code), run_id=run_id)

    def commit(s: Session, done: Fitted) -> RunRow:
        return _record(ws, s, spec, done, reason)

    return command.run(
        ws,
        actor,
        guards=[needs(*ROLES, action="train models")],
        prepare=_gate(spec),
        compute=compute,
        commit=commit,
    )


def record_run(
    ws: Workspace,
    actor: str,
    spec: Spec,
    snap: SnapshotRow,
    gate_seq: int,
    result: dict[str, Any],
    *,
    code: dict[str, Any],
    reason: str = "",
) -> RunRow:
    """Store a fitted run's artifacts and record its ``train.run`` event."""
    done = Fitted.of(snap, gate_seq, result, code)
    return command.run(
        ws,
        actor,
        guards=[needs(*ROLES, action="train models")],
        commit=lambda s, _: _record(ws, s, spec, done, reason),
    )


def _waivers_used(s: Session, snap: SnapshotRow) -> list[int] | None:
    """The waivers this run relies on, re-read under the commit's lock (the state recorded)."""
    from core.data import gates

    used = sorted({w.seq for w in gates.require(s, [snap], "train")})
    return used or None


def _record(ws: Workspace, s: Session, spec: Spec, done: Fitted, reason: str) -> RunRow:
    """The commit step of training: the run's blobs, then its one ``train.run`` event."""
    result, snap = done.result, done.snap
    env = done.environment
    env_bytes = canonical_bytes(env)
    metrics_bytes = canonical_bytes(result["metrics"])
    run_id = done.run_id
    model_ref = s.put_blob(result["model"], SKOPS_MEDIA_TYPE)
    objects = [
        model_ref,
        s.put_blob(spec.raw, "application/toml"),
        s.put_blob(env_bytes, "application/vnd.ledgerml.environment+json"),
        s.put_blob(metrics_bytes, "application/vnd.ledgerml.metrics+json"),
        s.put_blob(result["predictions"], PREDICTIONS_MEDIA_TYPE),
    ]
    record = TrainRun(
        run_id=run_id,
        name=spec.name,
        spec_digest=spec.digest,
        input=RunInput(
            ref=snap.ref, table_digest=snap.table_digest, parquet_digest=snap.parquet_digest
        ),
        gate=RunGate(
            suite=spec.suite, validation_seq=done.gate_seq, waivers=_waivers_used(s, snap)
        ),
        estimator=spec.estimator,
        seed=spec.seed,
        environment_digest=objects[2].sha256,
        freeze_digest=env["freeze_digest"],
        code=done.code,
        metrics_digest=objects[3].sha256,
        metrics={k: v for k, v in result["metrics"].items() if k != "calibration"},
        model_digest=model_ref.sha256,
        predictions_digest=result["predictions_digest"],
        predictions_object=objects[4].sha256,
        train_rows=result["train_rows"],
        test_rows=result["test_rows"],
    )
    s.commit(new_event(s.actor, record, [f"run:{run_id}", f"snapshot:{snap.ref}"], reason, objects))
    row = s.catalog.run(run_id)
    assert row is not None
    return row


def load_run_spec(ws: Workspace, run: RunRow) -> Spec:
    """The exact spec a run recorded, re-parsed from its stored bytes."""
    raw = ws.objects.read_verified(run.spec_digest)
    return parse_spec(raw, tomllib.loads(raw.decode("utf-8")), strict=False)


def run_event(ws: Workspace, run: RunRow) -> dict[str, Any]:
    """The body of the event that recorded a run."""
    return ws.ledger.entry(run.seq).decode()


def run_record(ws: Workspace, run: RunRow) -> TrainRun:
    """The typed record of a run, read from the event that recorded it."""
    return TrainRun.from_data(run_event(ws, run)["data"])
