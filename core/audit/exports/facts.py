"""What every standard export of a model version is built from, read once from the ledger.

:func:`gather` fixes, under one hold of the workspace, the model version, its training run
and the run's record (the ``train`` event), the recorded environment, every snapshot
upstream of the model (its training input and what that was derived from), the feature
views' SQL, and the model's evaluations with the newest evidence. Every value is a recorded
one (an event, or an object the ledger names, read with its digest checked); nothing is
recomputed, so the same ledger always gives the same exports.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from typing import Any

from core.evidence.document import Evidence
from core.evidence.events import ModelEvaluated
from core.kernel.catalog import Catalog
from core.kernel.rows import EvaluationRow, ModelRow, RunRow, SnapshotRow
from core.kernel.workspace import Workspace
from core.modelling import models, training
from core.modelling.events import TrainRun


@dataclass(frozen=True)
class Evaluated:
    """One recorded evaluation of the model: its row and the snapshot it was judged on."""

    row: EvaluationRow
    snapshot: str
    verdict: str


@dataclass(frozen=True)
class ModelFacts:
    """The recorded facts behind a model version's standard exports."""

    model: ModelRow
    run: RunRow
    record: TrainRun
    environment: dict[str, Any]
    spec: dict[str, Any]
    snapshots: list[SnapshotRow]
    """Every snapshot upstream of the model, oldest first."""
    sql: dict[str, str]
    """Per feature-view snapshot ref, the SQL that defines it."""
    sources: dict[str, list[str]]
    """Per feature-view snapshot ref, the snapshots it was derived from."""
    evaluations: list[Evaluated]
    judged: dict[str, SnapshotRow]
    """Snapshots an evaluation judged the model on that are not upstream of it, by ref."""
    evidence: Evidence | None
    """The newest evaluation's evidence, or None when the model was never evaluated."""
    as_of: int | None = None
    """The last event the facts may reflect (None: the ledger's head)."""

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's held-out metrics as recorded."""
        return dict(self.record.metrics)

    @property
    def training_input(self) -> SnapshotRow:
        """The snapshot the run trained on."""
        return next(s for s in self.snapshots if s.ref == self.record.input.ref)

    def columns(self, snap: SnapshotRow) -> list[dict[str, Any]]:
        """A snapshot's columns as recorded (name, engine type, kind)."""
        cols: list[dict[str, Any]] = json.loads(snap.columns)
        return cols


def _data(ws: Workspace, seq: int) -> dict[str, Any]:
    """An event's data member."""
    data = ws.ledger.entry(seq).decode()["data"]
    return data if isinstance(data, dict) else {}


def evaluations(
    ws: Workspace, catalog: Catalog, model_ref: str, limit: int
) -> tuple[list[EvaluationRow], list[Evaluated]]:
    """A model version's evaluations up to event ``limit``, as the catalog and the ledger have them.

    Returns the catalog's rows, and those whose recorded event is an evaluation, each with
    the snapshot it judged the model on.

    The catalog is an index, not the truth: a row whose event is no evaluation (a row invented
    in the catalog) is left out of the second list, for the checks that reject it by name.
    """
    rows = [r for r in catalog.evaluations(model_ref) if r.seq <= limit]
    evaluated = []
    for r in rows:
        try:
            body = ModelEvaluated.from_data(_data(ws, r.seq))
        except (KeyError, ValueError, TypeError):
            continue
        verdict = body.verdict or ("PASS" if r.passed else "FAIL")
        evaluated.append(Evaluated(row=r, snapshot=body.snapshot, verdict=verdict))
    return rows, evaluated


def gather(ws: Workspace, ref: str, actor: str = "", *, as_of: int | None = None) -> ModelFacts:
    """Read the facts behind a model version's exports.

    Args:
        ws: the workspace.
        ref: ``name@N`` (or ``name``: its latest version).
        actor: who reads (for the workspace's lock only: reading changes nothing).
        as_of: leave out what was recorded after this event (a bundle's checkpoint size).

    Returns:
        The facts, every object read with its digest checked.

    Raises:
        NotFoundError: for an unknown model or version.
        IntegrityError: if a stored object no longer matches its digest.
    """
    with ws.session(actor) as s:
        model = models.resolve(s.catalog, ref)
        run = models.resolve_run(s.catalog, model.run_id)
        edges = s.catalog.lineage(f"model:{model.ref}")
        names = sorted({e.dst for e in edges} | {e.src for e in edges})
        found = [
            s.catalog.snapshot(n.removeprefix("snapshot:"))
            for n in names
            if n.startswith("snapshot:")
        ]
        limit = as_of if as_of is not None else 2**63
        snaps = sorted(
            (x for x in found if x is not None and x.created_seq <= limit),
            key=lambda x: x.created_seq,
        )
        sources = {
            snap.ref: sorted(
                e.dst.removeprefix("snapshot:")
                for e in s.catalog.edges_from(f"snapshot:{snap.ref}")
                if e.relation == "derived-from"
            )
            for snap in snaps
            if snap.kind == "feature"
        }
        rows, evaluated = evaluations(ws, s.catalog, model.ref, limit)
        upstream = {x.ref for x in snaps}
        judged = {
            b.snapshot: row
            for b in evaluated
            if b.snapshot not in upstream and (row := s.catalog.snapshot(b.snapshot)) is not None
        }
    record = training.run_record(ws, run)
    read = ws.objects.read_verified
    return ModelFacts(
        model=model,
        run=run,
        record=record,
        environment=json.loads(read(run.environment_digest)),
        spec=tomllib.loads(read(run.spec_digest).decode("utf-8")),
        snapshots=snaps,
        sql={
            snap.ref: read(snap.transform_digest).decode("utf-8")
            for snap in snaps
            if snap.kind == "feature" and snap.transform_digest
        },
        sources=sources,
        evaluations=evaluated,
        judged=judged,
        evidence=Evidence.from_bytes(read(rows[-1].evidence_digest)) if rows else None,
        as_of=as_of,
    )
