"""The modelling context's event kinds: training runs, registration, signing, reproduction.

Declared once here with typed payloads and their projector handlers. :class:`TrainRun` is
also the run record the CLI shows (``model show``): read it by field, never by key path.
Light on purpose: no scikit-learn here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import EdgeRow, ModelRow, ReproductionRow, RunRow, SignatureRow

TRAIN_ROLES = ("data-scientist", "admin")
"""Who may train and register models."""
SIGN_ROLES = ("data-scientist", "validator", "approver", "admin")
REPRODUCE_ROLES = ("data-scientist", "validator", "admin")


@dataclass(frozen=True)
class RunInput(Payload):
    """The snapshot a run trained on, pinned by its digests."""

    ref: str
    table_digest: str
    parquet_digest: str


@dataclass(frozen=True)
class RunGate(Payload):
    """The passing validation that admitted the input."""

    suite: str
    validation_seq: int
    waivers: list[int] | None = None
    """The waivers (event numbers) that let a failed run of another suite through; absent
    when none was needed, and in runs recorded before waivers existed."""


@dataclass(frozen=True)
class TrainRun(Payload):
    """A training run: what went in, the environment, and what came out (blobs by digest)."""

    run_id: str
    name: str
    spec_digest: str
    input: RunInput
    gate: RunGate
    estimator: str
    seed: int
    environment_digest: str
    freeze_digest: str
    code: dict[str, Any]
    metrics_digest: str
    metrics: dict[str, Any]
    model_digest: str
    predictions_digest: str
    predictions_object: str
    train_rows: int
    test_rows: int


@dataclass(frozen=True)
class ModelRegistered(Payload):
    """A run's model registered as version ``version`` of ``name``."""

    name: str
    version: int
    run_id: str
    model_digest: str

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class ModelSigned(Payload):
    """A DSSE signature over a model (and, for ECDSA keys, an OpenSSF bundle)."""

    envelope: str
    key_id: str
    predicate_type: str
    subject: str
    openssf: str | None = None


@dataclass(frozen=True)
class ReproduceRun(Payload):
    """A retraining's verdict against the recorded run (the full outcome is a blob)."""

    run_id: str
    passed: bool
    result_digest: str
    differences: list[str]


@event_kind("train.run", TrainRun, tables=("runs", "edges"), roles=TRAIN_ROLES)
def _train_run(cat: Catalog, seq: int, body: Body, d: TrainRun) -> None:
    cat.put(
        RunRow(
            run_id=d.run_id,
            seq=seq,
            name=d.name,
            input_ref=d.input.ref,
            input_table_digest=d.input.table_digest,
            spec_digest=d.spec_digest,
            environment_digest=d.environment_digest,
            model_digest=d.model_digest,
            predictions_digest=d.predictions_digest,
            metrics=json.dumps(d.metrics),
            estimator=d.estimator,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    run = f"run:{d.run_id}"
    cat.put_edges(
        [
            EdgeRow(src=run, dst=f"snapshot:{d.input.ref}", relation="trained-on", seq=seq),
            EdgeRow(
                src=run,
                dst=f"validation:{d.gate.validation_seq}",
                relation="gated-by",
                seq=seq,
            ),
        ]
    )


@event_kind(
    "model.register",
    ModelRegistered,
    tables=("models", "edges"),
    evidence_for=("registry",),
    roles=TRAIN_ROLES,
)
def _model_register(cat: Catalog, seq: int, body: Body, d: ModelRegistered) -> None:
    cat.put(
        ModelRow(
            ref=d.ref,
            name=d.name,
            version=d.version,
            run_id=d.run_id,
            model_digest=d.model_digest,
            seq=seq,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges(
        [EdgeRow(src=f"model:{d.ref}", dst=f"run:{d.run_id}", relation="produced-by", seq=seq)]
    )


@event_kind(
    "model.sign",
    ModelSigned,
    tables=("signatures", "edges"),
    evidence_for=("registry",),
    roles=SIGN_ROLES,
)
def _model_sign(cat: Catalog, seq: int, body: Body, d: ModelSigned) -> None:
    cat.put(
        SignatureRow(
            seq=seq,
            subject=d.subject,
            key_id=d.key_id,
            envelope_digest=d.envelope,
            openssf_digest=d.openssf,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges([EdgeRow(src=f"signature:{seq}", dst=d.subject, relation="signs", seq=seq)])


@event_kind(
    "reproduce.run",
    ReproduceRun,
    tables=("reproductions", "edges"),
    evidence_for=("history",),
    roles=REPRODUCE_ROLES,
)
def _reproduce_run(cat: Catalog, seq: int, body: Body, d: ReproduceRun) -> None:
    cat.put(
        ReproductionRow(
            seq=seq,
            run_id=d.run_id,
            passed=d.passed,
            result_digest=d.result_digest,
            differences=json.dumps(d.differences),
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges(
        [EdgeRow(src=f"reproduction:{seq}", dst=f"run:{d.run_id}", relation="reproduces", seq=seq)]
    )


@dataclass(frozen=True)
class ModelExported(Payload):
    """A trusted model's file written out of the workspace (``model export``).

    The model is not data rows, but it is derived from them: an encoder's categories are
    values of its input columns (so a model with PII inputs holds personal data), and a model
    can leak facts about the people it was trained on. So its export is in the access log.
    ``with_signature``: its OpenSSF signature and public key were written beside it.
    """

    model: str
    model_digest: str
    with_signature: bool


@event_kind("model.export", ModelExported, evidence_for=("access-log",))
def _model_export(cat: Catalog, seq: int, body: Body, d: ModelExported) -> None:
    """Only indexed: the event log is the record of who took the model out."""
