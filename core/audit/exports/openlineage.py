"""OpenLineage RunEvents for a model version: intake, feature views, training, evaluation.

Each recorded action upstream of the model and each evaluation of it is one OpenLineage run
with a START and a COMPLETE event: snapshot intake (``intake.<dataset>``, from the raw
file's digest to the snapshot), a feature view's build (``feature.<view>``, with the SQL
that defines it as a ``sql`` job facet), the training run (``train.<name>``) and each
evaluation (``evaluate.<name>``, from the model and the snapshot it was judged on to the
evidence). Every dataset carries its version (the table, model or evidence digest) and,
for snapshots, a ``schema`` facet with the recorded column names and types; every job a
``jobType`` facet.

The ledger records the moment an action was committed, not when its work began, so both
events of a run carry that one time. Run ids are derived from the records (UUID v5), so the
same ledger always gives the same events. The events are built with openlineage-python's
typed classes and its serialiser, so their shape follows the library's spec version; the
tests validate them against the official JSON schemas.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from core.audit.exports.facts import ModelFacts
from core.audit.lineage import NAMESPACE, PRODUCER
from core.kernel.rows import SnapshotRow

MEDIA_TYPE = "application/x-ndjson"
_NAMESPACE = uuid.UUID("0c3b1d57-5c1e-4d7b-8a8e-6f70656e6c69")
FILES = "ledgerml-files"
"""The namespace of raw files, named by their digest."""

Dataset = tuple[str, str, str, list[dict[str, Any]] | None]
"""``(namespace, name, version, columns or None)``."""


def _snapshot(snap: SnapshotRow, facts: ModelFacts) -> Dataset:
    return (NAMESPACE, snap.dataset, snap.table_digest, facts.columns(snap))


def _facets(version: str, columns: list[dict[str, Any]] | None) -> dict[str, Any]:
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
    from openlineage.client.generated.schema_dataset import (
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )

    facets: dict[str, Any] = {
        "version": DatasetVersionDatasetFacet(datasetVersion=f"sha256:{version}", producer=PRODUCER)
    }
    if columns is not None:
        facets["schema"] = SchemaDatasetFacet(
            fields=[
                SchemaDatasetFacetFields(
                    name=str(c["name"]), type=str(c.get("type", "")), ordinal_position=i
                )
                for i, c in enumerate(columns, start=1)
            ],
            producer=PRODUCER,
        )
    return facets


def _run(
    job: str,
    job_type: str,
    key: str,
    when: str,
    inputs: list[Dataset],
    outputs: list[Dataset],
    sql: str | None = None,
) -> list[dict[str, Any]]:
    """The START and COMPLETE events of one run, as plain data."""
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.generated.job_type_job import JobTypeJobFacet
    from openlineage.client.generated.sql_job import SQLJobFacet
    from openlineage.client.serde import Serde

    job_facets: dict[str, Any] = {
        "jobType": JobTypeJobFacet(
            processingType="BATCH", integration="LEDGERML", jobType=job_type, producer=PRODUCER
        )
    }
    if sql is not None:
        job_facets["sql"] = SQLJobFacet(query=sql, dialect="duckdb", producer=PRODUCER)
    run_id = str(uuid.uuid5(_NAMESPACE, key))
    events = []
    for state in (RunState.START, RunState.COMPLETE):
        event = RunEvent(
            eventType=state,
            eventTime=when,
            producer=PRODUCER,
            run=Run(runId=run_id),
            job=Job(namespace=NAMESPACE, name=job, facets=job_facets),
            inputs=[
                InputDataset(namespace=ns, name=name, facets=_facets(version, cols))
                for ns, name, version, cols in inputs
            ],
            outputs=[
                OutputDataset(namespace=ns, name=name, facets=_facets(version, cols))
                for ns, name, version, cols in outputs
            ],
        )
        events.append(Serde.to_dict(event))
    return events


def build(facts: ModelFacts) -> list[dict[str, Any]]:
    """Every run's START and COMPLETE events, in the order the ledger recorded the runs.

    Args:
        facts: the model version's recorded facts.

    Returns:
        RunEvents as plain data.
    """
    by_ref = {s.ref: s for s in facts.snapshots}
    events: list[dict[str, Any]] = []
    for snap in facts.snapshots:
        if snap.kind == "feature":
            events += _run(
                f"feature.{snap.dataset}",
                "TRANSFORM",
                f"snapshot:{snap.ref}",
                snap.created_at,
                [
                    _snapshot(by_ref[r], facts)
                    for r in facts.sources.get(snap.ref, [])
                    if r in by_ref
                ],
                [_snapshot(snap, facts)],
                sql=facts.sql.get(snap.ref),
            )
        else:
            raw: list[Dataset] = [(FILES, f"sha256:{snap.raw_digest}", str(snap.raw_digest), None)]
            events += _run(
                f"intake.{snap.dataset}",
                "INTAKE",
                f"snapshot:{snap.ref}",
                snap.created_at,
                raw if snap.raw_digest else [],
                [_snapshot(snap, facts)],
            )
    model, run = facts.model, facts.run
    model_ds: Dataset = (NAMESPACE, model.name, model.model_digest, None)
    events += _run(
        f"train.{run.name}",
        "TRAINING",
        f"run:{run.run_id}",
        run.created_at,
        [_snapshot(facts.training_input, facts)],
        [model_ds],
    )
    for ev in facts.evaluations:
        judged = by_ref.get(ev.snapshot) or facts.judged.get(ev.snapshot)
        events += _run(
            f"evaluate.{model.name}",
            "EVALUATION",
            f"evaluation:{ev.row.seq}",
            ev.row.created_at,
            [model_ds, *([_snapshot(judged, facts)] if judged else [])],
            [(NAMESPACE, f"evidence.{model.name}", ev.row.evidence_digest, None)],
        )
    return events


def dumps(events: list[dict[str, Any]]) -> str:
    """Events as JSON Lines (one RunEvent per line)."""
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in events)
