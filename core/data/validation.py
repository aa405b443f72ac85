"""Validation suites: TOML checks compiled into as few DuckDB passes as possible.

A suite is a TOML file (parsed by :mod:`core.data.suites`)::

    [suite]
    name = "german-credit-raw"

    [[checks]]
    type = "null_rate"          # see CHECK_TYPES
    column = "duration_months"
    max = 0.0
    severity = "error"          # or "warn"

Each check type is one declaration in :mod:`core.data.check_types` (its keys, its SQL, its
verdict). Every aggregate check (null rate, range, allowed values, uniqueness, regex, row
count, mean, std, quantile) becomes one expression of a single ``SELECT`` over the snapshot's
Parquet copy (the quantile checks of one column share one ``quantile_cont(x, [q, …])``), so a
suite of any size reads the data once, while the copy is re-hashed against its recorded
digest; column presence and type come from the recorded schema; drift checks read the
reference snapshot too (:mod:`core.data.drift`). The result (each check's observed value,
threshold and verdict) is evidence: canonical JSON in the object store, one
``validation.run`` event linked to the snapshot and the suite's hash. A snapshot counts as
validated for a suite only through such a recorded passing result (:func:`require_passed`).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb

from core.data import snapshots, tables
from core.data.check_types import REGISTRY, unique_names
from core.data.checks import (
    COMMON,
    NUMERIC,
    Check,
    Columns,
    Measuring,
    Outcome,
    failed,
    wrong_kind,
)
from core.data.events import VALIDATION_ROLES, ValidationRun
from core.data.redaction import observed_shown
from core.data.suites import SUITE_KEYS, Suite, load_suite
from core.data.validation_result import CheckOutcome, ValidationResult
from core.identity.actors import needs
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import CheckFailedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import SnapshotRow, ValidationRow
from core.kernel.workspace import Session, Workspace
from storage.canonical import canonical_bytes

RESULT_MEDIA_TYPE = "application/vnd.ledgerml.validation+json"
SUITE_MEDIA_TYPE = "application/toml"
# The keys each check type requires, and what else it may hold: read from the declarations.
CHECK_TYPES = {name: set(t.required) for name, t in REGISTRY.items()}
OPTIONAL = {name: set(t.optional) for name, t in REGISTRY.items()}
ROLES = VALIDATION_ROLES

__all__ = [
    "CHECK_TYPES",
    "COMMON",
    "OPTIONAL",
    "RESULT_MEDIA_TYPE",
    "ROLES",
    "SUITE_KEYS",
    "SUITE_MEDIA_TYPE",
    "ValidationResult",
    "evaluate",
    "load_suite",
    "read_result",
    "require_passed",
    "run",
]


def _verdict(check: Check, observed: Any, cols: Columns) -> Outcome:
    """Judge one check measured by the single pass (or by the recorded schema)."""
    declared = REGISTRY[check["type"]]
    base: Outcome = {
        "name": check["name"],
        "type": check["type"],
        "column": check.get("column"),
        "severity": check["severity"],
    }
    col = check.get("column")
    names = unique_names(check) if check["type"] == "unique" else [col] if col else []
    absent = [n for n in names if n not in cols]
    if absent:
        where = {"column": col} if col else {"columns": names}
        return failed(base, _missing(absent, cols), where)
    if col is not None and declared.kinds and cols[col].kind not in declared.kinds:
        return failed(base, wrong_kind(check, cols[col], declared.kinds))
    if declared.numeric and observed is None and cols[str(col)].kind not in NUMERIC:
        return failed(base, wrong_kind(check, cols[str(col)], NUMERIC))
    assert declared.judge is not None
    return declared.judge(check, observed, cols, base)


def _missing(absent: list[str], cols: Columns) -> str:
    """``column 'agee' is missing (closest: 'age')``: a misspelt name says so, with a guess."""
    import difflib

    parts = []
    for name in absent:
        close = difflib.get_close_matches(name, list(cols), n=1)
        parts.append(f"column {name!r} is missing" + (f" (closest: {close[0]!r})" if close else ""))
    return "; ".join(parts)


def _measurable(check: Check, cols: Columns) -> bool:
    """Whether the single pass can measure a check: its columns exist and are of its kind."""
    declared = REGISTRY[check["type"]]
    names = unique_names(check) if check["type"] == "unique" else [check.get("column")]
    if any(n is not None and n not in cols for n in names):
        return False
    col = check.get("column")
    return not (col is not None and declared.kinds and cols[col].kind not in declared.kinds)


TOP_OFFENDING = 5
"""How many offending values a failed check names (the most frequent, with their counts)."""


def _offending(
    con: duckdb.DuckDBPyConnection, src: str, check: Check, cols: Columns, pii: set[str]
) -> str:
    """The most frequent values a failed counting check found, as ``'?' (10), 'x' (2)``.

    Values of a PII-tagged column are never named: the result is evidence that reports and
    bundles carry, and it must not leak what the tag protects.
    """
    if check["type"] == "unique":
        return _duplicated(con, src, unique_names(check), pii)
    declared = REGISTRY[check["type"]]
    assert declared.offending is not None
    col = check["column"]
    if col in pii:
        return f"values not shown: {col!r} is a PII column"
    params: list[Any] = []
    where = declared.offending(check, cols, params)
    c = tables.quote_ident(col)
    rows = con.execute(
        f"SELECT CAST({c} AS VARCHAR) AS v, count(*) AS n FROM {src} WHERE {where} "
        f"GROUP BY v ORDER BY n DESC, v LIMIT {TOP_OFFENDING}",
        params,
    ).fetchall()
    shown = ", ".join(f"{_short(v)} ({n})" for v, n in rows)
    return f"most frequent: {shown}" if shown else ""


def _duplicated(con: duckdb.DuckDBPyConnection, src: str, names: list[str], pii: set[str]) -> str:
    """The most repeated values (or combinations) of a failed unique check, with counts."""
    hidden = [n for n in names if n in pii]
    if hidden:
        return f"values not shown: {hidden[0]!r} is a PII column"
    key = ", ".join(tables.quote_ident(n) for n in names)
    value = f"CAST(({key}) AS VARCHAR)" if len(names) > 1 else f"CAST({key} AS VARCHAR)"
    nulls = " AND ".join(f"{tables.quote_ident(n)} IS NOT NULL" for n in names)
    rows = con.execute(
        f"SELECT {value} AS v, count(*) AS n FROM {src} WHERE {nulls} GROUP BY {key} "
        f"HAVING count(*) > 1 ORDER BY n DESC, v LIMIT {TOP_OFFENDING}"
    ).fetchall()
    shown = ", ".join(f"{_short(v)} ({n})" for v, n in rows)
    return f"most repeated: {shown}" if shown else ""


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value) if value is not None else "NULL"
    return text if len(text) <= limit else text[: limit - 1] + "…"


Pass = list[tuple[list[int] | int, str]]
"""The single ``SELECT``'s expressions, each with the check it measures (an index) or the
checks a shared expression measures (a list of indexes; its value is a list, one each)."""


def _single_pass(checks: list[Check], cols: Columns, params: list[Any]) -> Pass:
    """The expressions of the one ``SELECT`` over the snapshot.

    Per-check expressions come first, in the suite's order, then the shared ones; ``params``
    receives the query's parameters in the same order.
    """
    exprs: Pass = []
    for index, check in enumerate(checks):
        declared = REGISTRY[check["type"]]
        if declared.sql is None or not _measurable(check, cols):
            continue  # a missing column or one of another kind is a failed check, not an error
        expr = declared.sql(check, cols, params)
        if expr is not None:
            exprs.append((index, expr))
    for declared in REGISTRY.values():
        if declared.shared_sql is not None:
            exprs += declared.shared_sql(checks, cols, params)
    return exprs


def evaluate(
    ws: Workspace,
    snap: SnapshotRow,
    suite: Suite,
    references: dict[str, SnapshotRow],
    progress: Progress = NO_PROGRESS,
) -> ValidationResult:
    """Run a suite against a snapshot; return the result (nothing recorded)."""
    snapshots.refuse_erased(snap)
    con = tables.connect(ws.root / "tmp")
    try:
        src = tables.parquet_source(ws.objects.path(snap.parquet_digest))
        cols = {
            c["name"]: tables.Column(c["name"], c["type"], c["kind"])
            for c in json.loads(snap.columns)
        }
        params: list[Any] = []
        exprs = _single_pass(suite.checks, cols, params)
        progress(0, 2, "one pass for the aggregate checks")
        values: dict[int, Any] = {}
        if exprs:
            # The Parquet copy is re-hashed while the query reads it; a result counts only
            # if the bytes it was computed from are the recorded ones.
            with ThreadPoolExecutor(max_workers=1) as pool:
                checking = pool.submit(snapshots.parquet_path, ws, snap)
                try:
                    row = con.execute(
                        f"SELECT {', '.join(e for _, e in exprs)} FROM {src}",
                        params,
                    ).fetchall()[0]
                except duckdb.Error as err:
                    checking.result()  # a missing or altered copy says so first
                    raise UsageError(
                        f"suite {suite.name!r} cannot run: {tables.duckdb_reason(err)}",
                        hint="Check the patterns and values in the suite.",
                    ) from err
                checking.result()
            for (measured, _), value in zip(exprs, row, strict=True):
                if isinstance(measured, int):
                    values[measured] = value
                    continue
                for index, one in zip(measured, value or [None] * len(measured), strict=True):
                    values[index] = one
        else:
            snapshots.parquet_path(ws, snap)
        results = []
        for index, check in enumerate(suite.checks):
            declared = REGISTRY[check["type"]]
            if declared.measure is None:
                results.append(_verdict(check, values.get(index), cols))
                continue
            progress(1, 2, f"{check['type']} of {check['column']}")
            reference = references[check["reference"]] if declared.needs_reference else None
            ref_src = (
                tables.parquet_source(snapshots.parquet_path(ws, reference)) if reference else ""
            )
            try:
                outcome = declared.measure(Measuring(con, src, ref_src, cols), check)
            except duckdb.Error as err:  # e.g. the column is missing from the reference
                outcome = {
                    **failed(
                        {
                            "name": check["name"],
                            "type": check["type"],
                            "column": check.get("column"),
                            "severity": check["severity"],
                        },
                        f"{check['type']} check {check['name']!r} on column "
                        f"{check.get('column')!r} cannot be measured: {tables.duckdb_reason(err)}",
                    ),
                    "method": check.get("method"),
                }
            if reference is not None:
                outcome["reference"] = reference.ref
            results.append(outcome)
        pii = set(snap.pii)
        for index, check in enumerate(suite.checks):
            outcome = results[index]
            if (
                (REGISTRY[check["type"]].offending is not None or check["type"] == "unique")
                and not outcome["passed"]
                and isinstance(outcome["observed"], int)
                and outcome["observed"] > 0
            ):
                named = _offending(con, src, check, cols, pii)
                if named:
                    outcome["detail"] = f"{outcome['detail']}; {named}"
            # A measured value of a PII column (a range's extreme, a quantile) is a person's
            # value: the stored result keeps the verdict and counts, never the value.
            outcome["observed"] = observed_shown(
                check["type"], outcome.get("column"), outcome["observed"], pii
            )
    finally:
        con.close()
    progress(2, 2, "done")
    return ValidationResult(
        snapshot_ref=snap.ref,
        table_digest=snap.table_digest,
        suite_name=suite.name,
        suite_digest=suite.digest,
        checks=tuple(CheckOutcome.from_json(r) for r in results),
    )


def run(
    ws: Workspace,
    actor: str,
    ref: str,
    suite_path: Path,
    *,
    reason: str = "",
    progress: Progress = NO_PROGRESS,
) -> tuple[ValidationRow, ValidationResult]:
    """Validate a snapshot with a suite and record the result as evidence.

    The run is recorded whether it passes or fails: a failing result is evidence too. The
    caller turns ``passed = False`` into exit code 1.
    """
    suite = load_suite(suite_path)

    def resolve(s: Session) -> tuple[SnapshotRow, dict[str, SnapshotRow]]:
        snap = snapshots.resolve(s.catalog, ref)
        references = {
            c["reference"]: snapshots.resolve(s.catalog, c["reference"])
            for c in suite.checks
            if REGISTRY[c["type"]].needs_reference
        }
        return snap, references

    def measure(
        resolved: tuple[SnapshotRow, dict[str, SnapshotRow]],
    ) -> tuple[SnapshotRow, ValidationResult]:
        snap, references = resolved  # snapshots are immutable: no need to hold the workspace
        return snap, evaluate(ws, snap, suite, references, progress)

    def record(
        s: Session, measured: tuple[SnapshotRow, ValidationResult]
    ) -> tuple[ValidationRow, ValidationResult]:
        snap, result = measured
        result_ref = s.put_blob(canonical_bytes(result.to_json()), RESULT_MEDIA_TYPE)
        suite_ref = s.put_blob(suite.raw, SUITE_MEDIA_TYPE)
        run = ValidationRun(
            snapshot=snap.ref,
            suite_name=suite.name,
            suite_digest=suite.digest,
            result_digest=result_ref.sha256,
            passed=result.passed,
            errors=result.errors,
            warnings=result.warnings,
            checks=len(result.checks),
        )
        entry = s.commit(
            new_event(
                actor,
                run,
                [f"snapshot:{snap.ref}", f"suite:{suite.name}"],
                reason,
                [result_ref, suite_ref],
            )
        )
        row = next(v for v in s.catalog.validations(snap.ref) if v.seq == entry.seq)
        return row, result

    return command.run(
        ws,
        actor,
        guards=[needs(*ROLES, action="validate data")],
        prepare=resolve,
        compute=measure,
        commit=record,
    )


def require_passed(catalog: Catalog, snap: SnapshotRow, suite: str) -> ValidationRow:
    """The latest passing validation of ``snap`` by a suite (name or digest), or refuse.

    Raises:
        CheckFailedError: if no recorded run of that suite passed on this snapshot.
    """
    runs = [v for v in catalog.validations(snap.ref) if suite in (v.suite_name, v.suite_digest)]
    passing = [v for v in runs if v.passed]
    if not passing:
        state = "only failing runs" if runs else "no recorded run"
        raise CheckFailedError(
            f"{snap.ref} has {state} of suite {suite!r}: it is not validated",
            hint=f"Run `ledgerml validate {snap.ref} --suite <file>` and fix what fails.",
        )
    return passing[-1]


def read_result(ws: Workspace, row: ValidationRow) -> ValidationResult:
    """A recorded validation result, typed, read back from its verified object."""
    return ValidationResult.from_json(json.loads(ws.objects.read_verified(row.result_digest)))
