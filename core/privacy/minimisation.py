"""Data minimisation (GDPR Art. 5(1)(c)): which stored columns the models actually use.

For the data protection officer: per dataset version, the columns it stores and, for each,
the models that use it and how (``input``: a feature the model reads; ``target``: what it
learns to predict; ``fairness``: a sensitive attribute kept beside the test predictions to
check the model's fairness, never a model input); per model, the columns it reads. Then two
plain verdicts:

- **drop candidates**: PII-tagged or sensitive columns no model uses in any way; unless
  another purpose needs them, they need not be kept;
- **PII used** (a flag): PII-tagged columns a model reads as an input or predicts. The
  model then holds or reflects their values (pseudonymised or not), which its privacy
  review must justify.

A column is used when a model uses it directly (its training spec, read from the run's
recorded spec bytes) or through a feature view: each view's column lineage is traced again
from its recorded SQL (:func:`core.data.column_lineage.derive`, the tracer that carries the
PII tags), so ``checking_account`` of a view marks ``column00`` of the raw snapshot it reads.
When a view's SQL cannot be traced, every column of its inputs counts as used by every one
of its columns, and the report says so: a column is never called unused on a guess.

The figures come from the ledger's own records (models, runs and their specs, snapshots and
their views), so the report is the same wherever it is rendered.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from typing import Any

from core.kernel.rows import ModelRow, RunRow, SnapshotRow
from core.kernel.workspace import Workspace

FORMAT = "ledgerml/minimisation/v1"
HOW = ("input", "target", "fairness")
"""How a model uses a column, strongest first (a column both input and fairness is input)."""


@dataclass(frozen=True)
class ModelUse:
    """What one model reads, from its run's recorded training spec."""

    model: str
    run_id: str
    input: str
    features: list[str]
    target: str
    fairness: list[str]

    def columns(self) -> dict[str, str]:
        """Each column the model reads directly and how (``input`` wins over ``fairness``)."""
        out = dict.fromkeys(self.fairness, "fairness")
        out[self.target] = "target"
        out.update(dict.fromkeys(self.features, "input"))
        return out


@dataclass
class _Uses:
    """Per snapshot and column, the (model, how, via views) uses found so far."""

    by: dict[str, dict[str, set[tuple[str, str, tuple[str, ...]]]]] = field(default_factory=dict)

    def add(self, ref: str, column: str, use: tuple[str, str, tuple[str, ...]]) -> None:
        self.by.setdefault(ref, {}).setdefault(column, set()).add(use)


def model_use(ws: Workspace, model: ModelRow, run: RunRow) -> ModelUse:
    """What a model reads: its run's spec, read back from the verified recorded bytes."""
    spec = tomllib.loads(ws.objects.read_verified(run.spec_digest).decode("utf-8"))
    table = spec.get("run", {})
    return ModelUse(
        model=model.ref,
        run_id=run.run_id,
        input=run.input_ref,
        features=[str(f) for f in table.get("features", [])],
        target=str(table.get("target", "")),
        fairness=[str(f) for f in table.get("sensitive", [])],
    )


def _view_lineage(
    ws: Workspace, view: SnapshotRow, by_ref: dict[str, SnapshotRow]
) -> tuple[dict[str, str], dict[str, frozenset[tuple[str, str]]], str]:
    """A view's inputs (alias to snapshot), its column lineage, and why it is a guess ('')."""
    from core.data.column_lineage import derive
    from core.data.features import recorded_view

    inputs = {str(a): str(r) for a, r in recorded_view(ws, view).get("inputs", {}).items()}
    schemas = {
        a: [c["name"] for c in json.loads(by_ref[r].columns)]
        for a, r in inputs.items()
        if r in by_ref
    }
    outputs = [c["name"] for c in json.loads(view.columns)]
    if view.transform_digest is None or len(schemas) != len(inputs):
        every = frozenset((a, c) for a, cols in schemas.items() for c in cols)
        return inputs, dict.fromkeys(outputs, every), "its SQL or an input is not recorded"
    sql = ws.objects.read_verified(view.transform_digest).decode("utf-8").strip().rstrip(";")
    traced = derive(sql, schemas, outputs)
    return inputs, traced.sources, traced.notice


def report(ws: Workspace, actor: str = "") -> dict[str, Any]:
    """The minimisation report of the workspace: every snapshot, every model version."""
    with ws.session(actor) as s:
        snaps = s.catalog.snapshots()
        runs = {r.run_id: r for r in s.catalog.runs()}
        pairs = [(m, runs[m.run_id]) for m in s.catalog.models() if m.run_id in runs]
    return compute(ws, snaps, pairs)


def for_model(
    ws: Workspace, model: ModelRow, run: RunRow, snaps: list[SnapshotRow]
) -> dict[str, Any]:
    """The report of one model version over the snapshots it reaches (a bundle's own)."""
    return {**compute(ws, snaps, [(model, run)], only_used=True), "model": model.ref}


def compute(
    ws: Workspace,
    snaps: list[SnapshotRow],
    pairs: list[tuple[ModelRow, RunRow]],
    *,
    only_used: bool = False,
) -> dict[str, Any]:
    """Per snapshot its columns and their uses by these models, per model its reads.

    ``only_used`` lists only the snapshots some model reaches.
    """
    by_ref = {snap.ref: snap for snap in snaps}
    used = [model_use(ws, m, run) for m, run in pairs]
    uses = _Uses()
    for m in used:
        for column, how in m.columns().items():
            uses.add(m.input, column, (m.model, how, ()))
    notes: list[str] = []
    # Views are recorded after their inputs: walking them newest first carries each use
    # down to the inputs before those inputs are themselves looked at.
    for view in sorted(
        (v for v in snaps if v.kind == "feature"), key=lambda v: v.created_seq, reverse=True
    ):
        found = uses.by.get(view.ref)
        if not found:
            continue
        inputs, sources, guess = _view_lineage(ws, view, by_ref)
        if guess:
            notes.append(
                f"{view.ref}: column lineage not traced ({guess}); every column of its inputs "
                "counts as used by each of its columns"
            )
        for column, column_uses in found.items():
            for alias, source in sources.get(column, frozenset()):
                if alias in inputs:
                    for model, how, via in column_uses:
                        uses.add(inputs[alias], source, (model, how, (view.ref, *via)))
    listed = [s for s in snaps if not only_used or s.ref in uses.by]
    return {
        "format": FORMAT,
        "snapshots": [_snapshot_entry(snap, uses.by.get(snap.ref, {})) for snap in listed],
        "models": [
            {
                "model": m.model,
                "run": m.run_id,
                "input": m.input,
                "features": m.features,
                "target": m.target,
                "fairness": m.fairness,
                "pii_inputs": sorted(
                    set(by_ref[m.input].pii) & {*m.features, m.target}
                    if m.input in by_ref
                    else set()
                ),
            }
            for m in used
        ],
        "notes": notes,
    }


def _snapshot_entry(
    snap: SnapshotRow, found: dict[str, set[tuple[str, str, tuple[str, ...]]]]
) -> dict[str, Any]:
    """One snapshot: each column with its tags and uses, and the verdicts."""
    pseudonymised = set(json.loads(snap.pseudonyms)) if snap.pseudonyms else set()
    columns = []
    for c in json.loads(snap.columns):
        name = c["name"]
        entries = sorted(
            ({"model": m, "as": how, "via": list(via)} for m, how, via in found.get(name, set())),
            key=lambda e: (e["model"], HOW.index(e["as"]), e["via"]),
        )
        columns.append(
            {
                "name": name,
                "type": c["type"],
                "pii": name in snap.pii,
                "sensitive": name in snap.sensitive,
                "pseudonymised": name in pseudonymised,
                "used_by": entries,
            }
        )
    tagged = [c for c in columns if c["pii"] or c["sensitive"]]
    drop = [c["name"] for c in tagged if not c["used_by"]]
    pii_used = [
        c["name"]
        for c in columns
        if c["pii"] and any(e["as"] in ("input", "target") for e in c["used_by"])
    ]
    unused = [c["name"] for c in columns if not c["used_by"]]
    return {
        "snapshot": snap.ref,
        "kind": snap.kind,
        "rows": snap.rows,
        "erased": snap.erased_seq is not None,
        "used": any(c["used_by"] for c in columns),
        "columns": columns,
        "unused": unused,
        "drop_candidates": drop,
        "pii_used": pii_used,
        "verdicts": _verdicts(snap, columns, drop, pii_used),
    }


def _verdicts(
    snap: SnapshotRow, columns: list[dict[str, Any]], drop: list[str], pii_used: list[str]
) -> list[str]:
    """What the DPO reads first about a snapshot, in words; never kinder than the figures."""
    out = []
    if pii_used:
        out.append(f"FLAG: {_columns('PII', pii_used)} used by a model as input or target")
    if drop:
        out.append(
            f"DROP CANDIDATES: {_columns('PII or sensitive', drop)} stored but used by no model"
        )
    if not any(c["used_by"] for c in columns):
        out.append(f"no model uses {snap.ref}: every column it stores is unused by models")
    tagged = [c for c in columns if c["pii"] or c["sensitive"]]
    if not out:
        out.append(
            "OK: every PII and sensitive column stored is used by a model"
            if tagged
            else "OK: no PII or sensitive column is stored"
        )
    return out


def _columns(kind: str, names: list[str]) -> str:
    """``PII column age is`` or ``PII columns age, sex are``: the names, in the right number."""
    if len(names) == 1:
        return f"{kind} column {names[0]} is"
    return f"{kind} columns {', '.join(names)} are"
