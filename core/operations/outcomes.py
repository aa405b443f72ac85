"""Observed outcomes (late labels), joined to logged decisions by request id.

Monitoring's realised performance, calibration and fairness need what actually happened to
the people decided about. Outcomes arrive later, in a file keyed by request id; each value is
mapped to the model's positive class (1) by the outcome it declared (its ``positive_label``,
or its ``positive``/``negative`` words), never by a guess. Request ids no logged decision
has are reported and left out, never invented. One ``outcome.add`` event per file lists a
Parquet object (``request_id``, ``outcome`` int8, ``observed_at``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import UsageError
from core.kernel.events import now_iso
from core.kernel.kinds import new_event
from core.kernel.rows import ModelRow, OutcomeBatchRow
from core.kernel.workspace import Session, Workspace
from core.modelling.outcome import Outcome
from core.operations import decision_log
from core.operations.decision_events import PARQUET_MEDIA_TYPE, SCORE_ROLES, OutcomesAdded


@dataclass(frozen=True)
class Added:
    """What one ``outcome add`` recorded and what it could not match."""

    batch: OutcomeBatchRow | None
    matched: int
    unmatched: list[str]
    """Request ids of the file no logged decision has (reported, not recorded)."""
    by_rule: list[str] = field(default_factory=list)
    """Request ids a baseline rule decided: a rule declares no outcome, so there is no class
    to map their values to (reported, not recorded; the rest of the file is)."""


def read_file(path: Path) -> Any:
    """A CSV or Parquet file as an Arrow table (DuckDB's reader and type detection).

    Raises:
        UsageError: for a missing file, another format, or one DuckDB cannot read.
    """
    import duckdb

    if not path.is_file():
        raise UsageError(f"no file {path}")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise UsageError(f"{path.name}: give a .csv or .parquet file")
    con = duckdb.connect()
    try:
        if suffix == ".csv":
            return con.read_csv(str(path), header=True).to_arrow_table()
        return con.read_parquet(str(path)).to_arrow_table()
    except duckdb.Error as err:
        raise UsageError(f"cannot read {path.name}: {str(err).splitlines()[0]}") from err
    finally:
        con.close()


def _outcome_of(ws: Workspace, model: str) -> Outcome | None:
    from core.modelling import training

    if model.startswith("baseline:"):
        return None
    with ws.session() as s:
        rows = s.catalog.rows(ModelRow, "SELECT * FROM models WHERE ref = ?", [model])
        run = s.catalog.run(rows[0].run_id) if rows else None
    return training.load_run_spec(ws, run).outcome if run is not None else None


def to_positive(value: Any, outcome: Outcome) -> int | None:
    """1 for the positive class, 0 for the other, None for a value that is neither."""
    if value is None:
        return None
    text = str(value).strip()
    label = outcome.positive_label
    if text == str(label) or (isinstance(label, bool) and text.lower() == str(label).lower()):
        return 1
    if text == outcome.positive:
        return 1
    if text == outcome.negative:
        return 0
    if isinstance(label, int) and not isinstance(label, bool) and text.lstrip("-").isdigit():
        return 0  # another code of the target (e.g. 2 where 1 is positive): the other class
    if text in ("0", "1") and str(label) in ("0", "1"):
        return 0
    return None


def add(
    ws: Workspace,
    actor: str,
    path: Path,
    *,
    request_id_column: str = "request_id",
    outcome_column: str = "outcome",
    observed_at_column: str | None = None,
    reason: str = "",
) -> Added:
    """Record the outcomes of ``path`` that match logged decisions (see the module docstring).

    Raises:
        UsageError: a missing column, repeated request ids, a value that is neither class of
            the decision's model, or a model without a declared outcome.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = read_file(path)
    for col in (request_id_column, outcome_column, observed_at_column):
        if col and col not in table.column_names:
            raise UsageError(
                f"{path.name} has no column {col!r}",
                hint=f"Its columns: {', '.join(table.column_names)}.",
            )
    rids = [None if r is None else str(r) for r in table.column(request_id_column).to_pylist()]
    if any(r is None or not r.strip() for r in rids):
        raise UsageError(f"{path.name}: a row has no request id")
    if len(set(rids)) != len(rids):
        raise UsageError(f"{path.name}: request ids repeat; give one outcome per decision")
    values = table.column(outcome_column).to_pylist()
    observed = (
        [str(v) for v in table.column(observed_at_column).to_pylist()]
        if observed_at_column
        else [now_iso()] * len(rids)
    )
    logged = decision_log.decisions(ws)
    returned = logged.filter(logged.column("returned"))
    model_of = dict(
        zip(
            returned.column("request_id").to_pylist(),
            returned.column("model").to_pylist(),
            strict=True,
        )
    )
    outcomes: dict[str, Outcome | None] = {}
    keep_rid, keep_out, keep_at, unmatched, by_rule = [], [], [], [], []
    for rid, value, at in zip(rids, values, observed, strict=True):
        model = model_of.get(str(rid))
        if model is None:
            unmatched.append(str(rid))
            continue
        if model.startswith("baseline:"):
            by_rule.append(str(rid))
            continue
        if model not in outcomes:
            outcomes[model] = _outcome_of(ws, model)
        declared = outcomes[model]
        if declared is None:
            raise UsageError(
                f"{model} declares no outcome: {rid}'s value {value!r} cannot be mapped",
                hint="Outcome meanings are declared in the training spec's [outcome] table.",
            )
        positive = to_positive(value, declared)
        if positive is None:
            raise UsageError(
                f"{path.name}: {rid}'s outcome {value!r} is neither {declared.positive!r} "
                f"({declared.positive_label!r}) nor {declared.negative!r}"
            )
        keep_rid.append(str(rid))
        keep_out.append(positive)
        keep_at.append(at)
    if not keep_rid:
        return Added(None, 0, unmatched, by_rule)
    out = pa.table(
        {
            "request_id": pa.array(keep_rid, pa.string()),
            "outcome": pa.array(keep_out, pa.int8()),
            "observed_at": pa.array(keep_at, pa.string()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(out, sink, compression="zstd")
    data = sink.getvalue()

    def commit(s: Session, _: Any) -> OutcomeBatchRow:
        ref = s.put_blob(data, PARQUET_MEDIA_TYPE)
        payload = OutcomesAdded(ref.sha256, len(rids), len(keep_rid), len(unmatched), path.name)
        entry = s.commit(new_event(s.actor, payload, ["outcomes"], reason, [ref]))
        rows: list[OutcomeBatchRow] = s.catalog.rows(
            OutcomeBatchRow, "SELECT * FROM outcome_batches WHERE seq = ?", [entry.seq]
        )
        return rows[0]

    batch = command.run(
        ws, actor, guards=[needs(*SCORE_ROLES, action="record outcomes")], commit=commit
    )
    return Added(batch, len(keep_rid), unmatched, by_rule)


def read(ws: Workspace) -> Any:
    """Every recorded outcome (request_id, outcome, observed_at, batch_seq), objects checked."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with ws.session() as s:
        rows = s.catalog.rows(OutcomeBatchRow, "SELECT * FROM outcome_batches ORDER BY seq", [])
    tables = []
    for r in rows:
        t = pq.read_table(pa.BufferReader(ws.objects.read_verified(r.object_digest)))
        tables.append(t.append_column("batch_seq", pa.array([r.seq] * t.num_rows, pa.int64())))
    if not tables:
        return pa.table(
            {
                "request_id": pa.array([], pa.string()),
                "outcome": pa.array([], pa.int8()),
                "observed_at": pa.array([], pa.string()),
                "batch_seq": pa.array([], pa.int64()),
            }
        )
    return pa.concat_tables(tables)
