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

Two selections share this one implementation: :func:`build`, a model version's export (what
``ledgerml export --format openlineage`` writes and a bundle carries under ``exports/``), and
:func:`for_walk`, the runs a lineage walk reaches, upstream or downstream of any record
(``ledgerml lineage --format openlineage`` and a bundle's ``lineage/openlineage.jsonl``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from core.audit.exports import facts as recorded
from core.audit.exports.facts import Evaluated, ModelFacts
from core.audit.lineage import Lineage
from core.kernel.rows import ModelRow, RunRow, SnapshotRow
from core.kernel.workspace import Workspace

PRODUCER = "https://github.com/ledgerml/ledgerml"
NAMESPACE = "ledgerml"
"""The namespace of every snapshot, model and evidence dataset and of every job."""
MEDIA_TYPE = "application/x-ndjson"
_NAMESPACE = uuid.UUID("0c3b1d57-5c1e-4d7b-8a8e-6f70656e6c69")
FILES = "ledgerml-files"
"""The namespace of raw files, named by their digest."""

Dataset = tuple[str, str, str, list[dict[str, Any]] | None]
"""``(namespace, name, version, columns or None)``."""


def _snapshot(snap: SnapshotRow) -> Dataset:
    columns: list[dict[str, Any]] = json.loads(snap.columns)
    return (NAMESPACE, snap.dataset, snap.table_digest, columns)


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


@dataclass(frozen=True)
class _Actions:
    """The recorded actions the events describe, whichever selection chose them."""

    snapshots: list[SnapshotRow]
    sql: dict[str, str]
    """Per feature-view snapshot ref, the SQL that defines it."""
    sources: dict[str, list[SnapshotRow]]
    """Per feature-view snapshot ref, the snapshots it was derived from."""
    trainings: list[tuple[RunRow, SnapshotRow | None, list[ModelRow]]]
    """Each run, the snapshot it trained on (None if unknown) and the versions it registered."""
    evaluations: list[tuple[ModelRow, Evaluated, SnapshotRow | None]]
    """Each evaluation, of which model version, and the snapshot it judged it on."""


def _events(acts: _Actions) -> list[dict[str, Any]]:
    """Every run's START and COMPLETE events, in the order the ledger recorded the runs."""
    runs: list[tuple[int, list[dict[str, Any]]]] = []
    for snap in acts.snapshots:
        if snap.kind == "feature":
            events = _run(
                f"feature.{snap.dataset}",
                "TRANSFORM",
                f"snapshot:{snap.ref}",
                snap.created_at,
                [_snapshot(x) for x in acts.sources.get(snap.ref, [])],
                [_snapshot(snap)],
                sql=acts.sql.get(snap.ref),
            )
        else:
            raw: list[Dataset] = [(FILES, f"sha256:{snap.raw_digest}", str(snap.raw_digest), None)]
            events = _run(
                f"intake.{snap.dataset}",
                "INTAKE",
                f"snapshot:{snap.ref}",
                snap.created_at,
                raw if snap.raw_digest else [],
                [_snapshot(snap)],
            )
        runs.append((snap.created_seq, events))
    for run, trained_on, registered in acts.trainings:
        source: Dataset = (
            _snapshot(trained_on)
            if trained_on is not None
            else (NAMESPACE, run.input_ref.split("@")[0], run.input_table_digest, None)
        )
        outputs: list[Dataset] = [
            (NAMESPACE, m.name, m.model_digest, None) for m in registered
        ] or [(NAMESPACE, run.name, run.model_digest, None)]
        runs.append(
            (
                run.seq,
                _run(
                    f"train.{run.name}",
                    "TRAINING",
                    f"run:{run.run_id}",
                    run.created_at,
                    [source],
                    outputs,
                ),
            )
        )
    for model, ev, judged in acts.evaluations:
        model_ds: Dataset = (NAMESPACE, model.name, model.model_digest, None)
        runs.append(
            (
                ev.row.seq,
                _run(
                    f"evaluate.{model.name}",
                    "EVALUATION",
                    f"evaluation:{ev.row.seq}",
                    ev.row.created_at,
                    [model_ds, *([_snapshot(judged)] if judged else [])],
                    [(NAMESPACE, f"evidence.{model.name}", ev.row.evidence_digest, None)],
                ),
            )
        )
    return [e for _, events in sorted(runs, key=lambda r: r[0]) for e in events]


def build(facts: ModelFacts) -> list[dict[str, Any]]:
    """A model version's export: every run upstream of it, and each evaluation of it.

    Args:
        facts: the model version's recorded facts.

    Returns:
        RunEvents as plain data, in the order the ledger recorded the runs.
    """
    by_ref = {s.ref: s for s in facts.snapshots}
    return _events(
        _Actions(
            snapshots=facts.snapshots,
            sql=facts.sql,
            sources={
                ref: [by_ref[r] for r in refs if r in by_ref] for ref, refs in facts.sources.items()
            },
            trainings=[(facts.run, facts.training_input, [facts.model])],
            evaluations=[
                (facts.model, ev, by_ref.get(ev.snapshot) or facts.judged.get(ev.snapshot))
                for ev in facts.evaluations
            ],
        )
    )


def for_walk(
    ws: Workspace, walk: Lineage, actor: str = "", *, as_of: int | None = None
) -> list[dict[str, Any]]:
    """The runs a lineage walk reaches, as the export describes them.

    Each snapshot in the walk is its intake or its feature build (with the snapshots it was
    derived from, in the walk or not), each training run its training, and each model
    version its evaluations (judged after the model, so no walk edge reaches them). An
    upstream walk from a model version thus gives the same events as its export.

    Args:
        ws: the workspace.
        walk: the walk, from :func:`core.audit.lineage.walk`.
        actor: who reads (for the workspace's lock only: reading changes nothing).
        as_of: leave out what was recorded after this event (a bundle's checkpoint size).

    Returns:
        RunEvents as plain data, in the order the ledger recorded the runs; none for a walk
        that reaches only raw files, validations or signatures.

    Raises:
        IntegrityError: if a feature view's SQL no longer matches its digest.
    """
    limit = as_of if as_of is not None else 2**63
    nodes = sorted(walk.nodes)
    with ws.session(actor) as s:
        cat = s.catalog
        snaps = sorted(
            (
                x
                for n in nodes
                if n.startswith("snapshot:")
                and (x := cat.snapshot(n.removeprefix("snapshot:"))) is not None
                and x.created_seq <= limit
            ),
            key=lambda x: x.created_seq,
        )
        sources = {
            snap.ref: [
                x
                for e in cat.edges_from(f"snapshot:{snap.ref}")
                if e.relation == "derived-from"
                and (x := cat.snapshot(e.dst.removeprefix("snapshot:"))) is not None
            ]
            for snap in snaps
            if snap.kind == "feature"
        }
        versions = [m for m in cat.models() if m.seq <= limit]
        trainings = [
            (run, cat.snapshot(run.input_ref), [m for m in versions if m.run_id == run.run_id])
            for n in nodes
            if n.startswith("run:") and (run := cat.run(n)) is not None and run.seq <= limit
        ]
        evaluations = [
            (model, ev, cat.snapshot(ev.snapshot))
            for n in nodes
            if n.startswith("model:")
            and (model := cat.model(n.removeprefix("model:"))) is not None
            and model.seq <= limit
            for ev in recorded.evaluations(ws, cat, model.ref, limit)[1]
        ]
    read = ws.objects.read_verified
    sql = {
        snap.ref: read(snap.transform_digest).decode("utf-8")
        for snap in snaps
        if snap.kind == "feature" and snap.transform_digest
    }
    return _events(_Actions(snaps, sql, sources, trainings, evaluations))


def dumps(events: list[dict[str, Any]]) -> str:
    """Events as JSON Lines (one RunEvent per line)."""
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in events)
