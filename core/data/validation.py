"""Validation suites: TOML checks compiled into as few DuckDB passes as possible.

A suite is a TOML file::

    [suite]
    name = "german-credit-raw"

    [[checks]]
    type = "null_rate"          # see CHECK_TYPES
    column = "duration_months"
    max = 0.0
    severity = "error"          # or "warn"

Every aggregate check (null rate, range, allowed values, uniqueness, regex, row count, mean,
std, quantile) becomes one expression of a single ``SELECT`` over the snapshot's Parquet copy
(the quantile checks of one column share one ``quantile_cont(x, [q, …])``), so a suite of any
size reads the data once, while the copy is re-hashed against its recorded digest; column
presence and type come from the recorded schema; drift checks read the reference snapshot
too (PSI with the reference's deciles as bins, Kolmogorov-Smirnov via scipy, chi-square via
scipy). The result (each check's observed value,
threshold and verdict) is evidence: canonical JSON in the object store, one
``validation.run`` event linked to the snapshot and the suite's hash. A snapshot counts as
validated for a suite only through such a recorded passing result (:func:`require_passed`).
"""

from __future__ import annotations

import json
import math
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from core.data import snapshots, tables
from core.identity.actors import require
from core.kernel.catalog import Catalog
from core.kernel.errors import CheckFailedError, UsageError
from core.kernel.events import Event
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import SnapshotRow, ValidationRow
from core.kernel.workspace import Workspace
from storage.canonical import canonical_bytes
from storage.objects import sha256_hex

RESULT_MEDIA_TYPE = "application/vnd.ledgerml.validation+json"
SUITE_MEDIA_TYPE = "application/toml"
CHECK_TYPES = {
    "column_present": {"column"},
    "null_rate": {"column", "max"},
    "range": {"column"},
    "allowed_values": {"column", "values"},
    "unique": set(),
    "regex": {"column", "pattern"},
    "row_count": set(),
    "mean": {"column"},
    "std": {"column"},
    "quantile": {"column", "q"},
    "drift": {"column", "reference", "method"},
}
# What each check type may hold besides its required keys, and what every check may hold.
OPTIONAL = {
    "column_present": {"dtype"},
    "null_rate": set(),
    "range": {"min", "max"},
    "allowed_values": {"max"},
    "unique": {"column", "columns", "max"},
    "regex": {"max"},
    "row_count": {"min", "max"},
    "mean": {"min", "max"},
    "std": {"min", "max"},
    "quantile": {"min", "max"},
    "drift": {"max", "min_p"},
}
COMMON = {"type", "name", "severity"}
SUITE_SECTIONS = {"suite", "checks"}
SUITE_KEYS = {"name"}
DTYPES = ("int", "float", "bool", "date", "timestamp", "str", "other")
DRIFT_METHODS = ("psi", "ks", "chi2")
ROLES = ("data-steward", "data-scientist", "validator", "admin")


@dataclass(frozen=True)
class Suite:
    """A parsed suite and the hash of its exact bytes."""

    name: str
    digest: str
    raw: bytes
    checks: list[dict[str, Any]]


def load_suite(path: Path) -> Suite:
    """Parse and check a suite file.

    Raises:
        UsageError: naming the first malformed check.
    """
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read suite {path}: {err}") from err
    unknown_sections = sorted(set(doc) - SUITE_SECTIONS)
    if unknown_sections:
        raise UsageError(
            f"suite {path}: unknown section {unknown_sections[0]!r}",
            hint="A suite holds a [suite] table (its name) and [[checks]] tables.",
        )
    header = doc.get("suite", {})
    if not isinstance(header, dict):
        raise UsageError(f"suite {path}: suite must be a [suite] table")
    extra = sorted(set(header) - SUITE_KEYS)
    if extra:
        raise UsageError(
            f"suite {path}: [suite] has no key {extra[0]!r}", hint="[suite] holds only name."
        )
    name = str(header.get("name") or path.stem)
    checks = doc.get("checks")
    if not isinstance(checks, list) or not checks or not all(isinstance(c, dict) for c in checks):
        raise UsageError(
            f"suite {path} has no [[checks]]", hint="Each check is a [[checks]] table with a type."
        )
    seen: set[str] = set()
    for index, check in enumerate(checks, 1):
        kind = check.get("type")
        where = f"check {index} ({check.get('name') or kind})"
        if kind not in CHECK_TYPES:
            raise UsageError(
                f"{where}: unknown type {kind!r}", hint=f"Types: {', '.join(CHECK_TYPES)}."
            )
        missing = CHECK_TYPES[kind] - set(check)
        if missing:
            raise UsageError(f"{where}: missing {', '.join(sorted(missing))}")
        allowed = CHECK_TYPES[kind] | OPTIONAL[kind] | COMMON
        unknown = set(check) - allowed
        if unknown:
            raise UsageError(
                f"{where}: unknown setting {sorted(unknown)[0]!r}",
                hint=f"A {kind} check takes: {', '.join(sorted(allowed))}.",
            )
        for key in ("min", "max", "min_p", "q"):
            value = check.get(key)
            if key in check and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise UsageError(f"{where}: {key} must be a number, not {value!r}")
        for key, kind_ in (
            ("column", str),
            ("pattern", str),
            ("reference", str),
            ("values", list),
            ("columns", list),
        ):
            if key in check and not isinstance(check[key], kind_):
                raise UsageError(f"{where}: {key} must be a {kind_.__name__}")
        if check.setdefault("severity", "error") not in ("error", "warn"):
            raise UsageError(f"{where}: severity must be 'error' or 'warn'")
        if kind == "drift" and check["method"] not in DRIFT_METHODS:
            raise UsageError(f"{where}: drift method must be one of {', '.join(DRIFT_METHODS)}")
        if kind == "drift" and check["method"] == "psi" and "min_p" in check:
            raise UsageError(f"{where}: PSI has no p-value; min_p needs method ks or chi2")
        if kind == "quantile" and not 0 <= check["q"] <= 1:
            raise UsageError(f"{where}: q must be between 0 and 1")
        if kind == "range" and "min" not in check and "max" not in check:
            raise UsageError(f"{where}: a range check needs min, max or both")
        if "dtype" in check and check["dtype"] not in DTYPES:
            raise UsageError(f"{where}: dtype must be one of {', '.join(DTYPES)}")
        if kind == "unique" and not (check.get("column") or check.get("columns")):
            raise UsageError(f"{where}: give column or columns")
        target = check.get("column") or ",".join(check.get("columns", []))
        check.setdefault("name", f"{kind}:{target}" if target else kind)
        if check["name"] in seen:
            raise UsageError(f"{where}: duplicate check name {check['name']!r}")
        seen.add(check["name"])
    return Suite(name=name, digest=sha256_hex(raw), raw=raw, checks=checks)


def _bounds(check: dict[str, Any], observed: Any) -> tuple[bool, dict[str, Any]]:
    lo, hi = check.get("min"), check.get("max")
    ok = observed is not None and not (isinstance(observed, float) and math.isnan(observed))
    if ok and lo is not None:
        ok = observed >= lo
    if ok and hi is not None:
        ok = observed <= hi
    return ok, {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}


def _aggregate_expr(
    check: dict[str, Any], cols: dict[str, tables.Column], params: list[Any]
) -> str | None:
    kind = check["type"]
    col = check.get("column")
    if col is not None and col not in cols:
        return None  # reported as a failed check, not an error: the data lacks the column
    c = tables.quote_ident(col) if col else ""
    numeric = col is not None and cols[col].kind in ("int", "float")
    floating = col is not None and cols[col].kind == "float"
    if kind == "null_rate":
        return f"(count(*) - count({c})) / greatest(count(*), 1)"
    if kind == "range":
        conds = []
        if "min" in check:
            conds.append(f"{c} < ?")
            params.append(check["min"])
        if "max" in check:
            conds.append(f"{c} > ?")
            params.append(check["max"])
        # NaN is outside every range (DuckDB orders NaN above all numbers); only floats have it.
        nan = f" OR isnan({c})" if floating else ""
        return f"count(*) FILTER (WHERE {' OR '.join(conds) or 'FALSE'}{nan})"
    if kind == "allowed_values":
        params.append([str(v) for v in check["values"]])
        text = f"CAST({c} AS VARCHAR)"
        return f"count(*) FILTER (WHERE {c} IS NOT NULL AND NOT list_contains(?, {text}))"
    if kind == "unique":
        names = check.get("columns") or [col]
        if any(n not in cols for n in names):
            return None
        key = ", ".join(tables.quote_ident(n) for n in names)
        return (
            f"count(*) - count(DISTINCT ({key}))"
            if len(names) > 1
            else f"count({c}) - count(DISTINCT {c})"
        )
    if kind == "regex":
        params.append(check["pattern"])
        text = f"CAST({c} AS VARCHAR)"
        return f"count(*) FILTER (WHERE {c} IS NOT NULL AND NOT regexp_full_match({text}, ?))"
    if kind == "row_count":
        return "count(*)"
    if kind in ("mean", "std"):
        if not numeric:
            return None
        fn = {"mean": "favg", "std": "stddev_samp"}[kind]
        return f"{fn}(CAST({c} AS DOUBLE)){_finite(c, floating)}"
    return None


def _finite(c: str, floating: bool) -> str:
    """The filter to the finite values; integers (NULL aside, which aggregates skip) all are."""
    return f" FILTER (WHERE isfinite({c}))" if floating else ""


def _quantile_exprs(
    checks: list[dict[str, Any]], cols: dict[str, tables.Column], params: list[Any]
) -> list[tuple[list[int], str]]:
    """One ``quantile_cont(x, [q, …])`` per column for all its quantile checks.

    Returns, per column, the indexes of its checks (in the list's order) and the expression;
    the list of quantiles goes to ``params`` (exact doubles, as each check gives them).
    """
    wanted: dict[str, list[int]] = {}
    for index, check in enumerate(checks):
        col = check.get("column")
        if check["type"] == "quantile" and col in cols and cols[col].kind in ("int", "float"):
            wanted.setdefault(col, []).append(index)
    out = []
    for col, indexes in wanted.items():
        c = tables.quote_ident(col)
        params.append([float(checks[i]["q"]) for i in indexes])
        expr = f"quantile_cont(CAST({c} AS DOUBLE), ?){_finite(c, cols[col].kind == 'float')}"
        out.append((indexes, expr))
    return out


def _judge(check: dict[str, Any], observed: Any, cols: dict[str, tables.Column]) -> dict[str, Any]:
    kind = check["type"]
    result: dict[str, Any] = {
        "name": check["name"],
        "type": kind,
        "column": check.get("column"),
        "severity": check["severity"],
    }
    col = check.get("column")
    if col is not None and col not in cols and kind != "unique":
        return {
            **result,
            "observed": None,
            "threshold": {"column": col},
            "passed": False,
            "detail": f"column {col!r} is missing",
        }
    if kind == "column_present":
        want = check.get("dtype")
        have = cols[str(col)].kind
        ok = want is None or want == have
        return {
            **result,
            "observed": have,
            "threshold": {"dtype": want} if want else {},
            "passed": ok,
            "detail": "" if ok else f"column is {have}, expected {want}",
        }
    if (
        observed is None
        and kind in ("mean", "std", "quantile")
        and cols[str(col)].kind not in ("int", "float")
    ):
        return {
            **result,
            "observed": None,
            "threshold": {},
            "passed": False,
            "detail": f"column {col!r} is not numeric",
        }
    if kind == "null_rate":
        ok = observed <= check["max"]
        return {
            **result,
            "observed": tables.round_figure(float(observed)),
            "threshold": {"max": check["max"]},
            "passed": ok,
            "detail": "",
        }
    if kind in ("range", "allowed_values", "regex", "unique"):
        if observed is None:
            return {
                **result,
                "observed": None,
                "threshold": {},
                "passed": False,
                "detail": "a column is missing",
            }
        limit = int(check.get("max", 0))
        threshold: dict[str, Any] = {
            k: check[k] for k in ("min", "max", "values", "pattern") if k in check
        }
        if kind != "range" and "max" in check:
            threshold = {
                "max_violations": limit,
                **{k: v for k, v in threshold.items() if k != "max"},
            }
        allowed = 0 if kind == "range" else limit
        return {
            **result,
            "observed": int(observed),
            "threshold": threshold,
            "passed": int(observed) <= allowed,
            "detail": f"{int(observed)} rows violate it" if int(observed) > allowed else "",
        }
    if kind == "row_count":
        value: Any = int(observed)
    else:
        value = tables.round_figure(float(observed)) if observed is not None else None
    ok, threshold = _bounds(check, value)
    if kind == "quantile":
        threshold["q"] = check["q"]
    return {**result, "observed": value, "threshold": threshold, "passed": ok, "detail": ""}


def _drift(
    con: duckdb.DuckDBPyConnection,
    check: dict[str, Any],
    cur: str,
    ref: str,
    cur_cols: dict[str, tables.Column],
) -> dict[str, Any]:
    from scipy import stats

    col, method = check["column"], check["method"]
    base = {
        "name": check["name"],
        "type": "drift",
        "column": col,
        "severity": check["severity"],
        "method": method,
        "reference": check["reference"],
    }
    if col not in cur_cols:
        return {
            **base,
            "observed": None,
            "threshold": {},
            "passed": False,
            "detail": f"column {col!r} is missing",
        }
    c = tables.quote_ident(col)
    numeric = cur_cols[col].kind in ("int", "float")
    observed: dict[str, Any]
    if method == "ks":
        if not numeric:
            return {
                **base,
                "observed": None,
                "threshold": {},
                "passed": False,
                "detail": "KS needs a numeric column",
            }
        q = f"SELECT CAST({c} AS DOUBLE) AS v FROM {{}} WHERE isfinite(CAST({c} AS DOUBLE))"
        a = con.execute(q.format(ref)).fetchnumpy()["v"]
        b = con.execute(q.format(cur)).fetchnumpy()["v"]
        res = stats.ks_2samp(a, b, method="asymp")
        observed = {
            "statistic": tables.round_figure(float(res.statistic)),
            "p_value": tables.round_figure(float(res.pvalue)),
        }
    elif method == "psi" and numeric:
        edges_row = con.execute(
            f"SELECT quantile_cont(CAST({c} AS DOUBLE), [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]) "
            f"FROM {ref} WHERE isfinite(CAST({c} AS DOUBLE))"
        ).fetchone()
        edges = sorted(set(edges_row[0])) if edges_row and edges_row[0] else []
        expected = _binned(con, ref, c, edges)
        actual = _binned(con, cur, c, edges)
        observed = {"statistic": tables.round_figure(_psi(expected, actual)), "bins": len(expected)}
    else:
        q = f"SELECT CAST({c} AS VARCHAR), count(*) FROM {{}} GROUP BY 1"
        ref_counts = dict(con.execute(q.format(ref)).fetchall())
        cur_counts = dict(con.execute(q.format(cur)).fetchall())
        keys = sorted(set(ref_counts) | set(cur_counts), key=lambda k: (k is None, str(k)))
        expected = [int(ref_counts.get(k, 0)) for k in keys]
        actual = [int(cur_counts.get(k, 0)) for k in keys]
        if method == "psi":
            observed = {"statistic": tables.round_figure(_psi(expected, actual)), "bins": len(keys)}
        else:
            if len(keys) < 2:
                observed = {"statistic": 0.0, "p_value": 1.0}
            else:
                chi = stats.chi2_contingency([expected, actual])
                observed = {
                    "statistic": tables.round_figure(float(chi.statistic)),
                    "p_value": tables.round_figure(float(chi.pvalue)),
                }
    threshold = {k: check[k] for k in ("max", "min_p") if k in check}
    ok = True
    if "max" in check:
        ok = observed["statistic"] <= check["max"]
    if "min_p" in check and "p_value" in observed:
        ok = ok and observed["p_value"] >= check["min_p"]
    return {
        **base,
        "observed": observed,
        "threshold": threshold,
        "passed": ok,
        "detail": "" if ok else "distribution shifted beyond the threshold",
    }


def _binned(con: duckdb.DuckDBPyConnection, table: str, c: str, edges: list[float]) -> list[int]:
    if not edges:
        total = con.execute(
            f"SELECT count(*) FROM {table} WHERE isfinite(CAST({c} AS DOUBLE))"
        ).fetchone()
        return [int(total[0]) if total else 0]
    row = con.execute(
        f"SELECT histogram(CAST({c} AS DOUBLE), ?) FROM {table} "
        f"WHERE isfinite(CAST({c} AS DOUBLE))",
        [edges],
    ).fetchone()
    counts = row[0] if row and row[0] else {}
    bounds = [*edges, math.inf]
    return [int(counts.get(b, 0)) for b in bounds]


def _psi(expected: list[int], actual: list[int], eps: float = 1e-4) -> float:
    """Population stability index, with empty bins floored at ``eps``."""
    te, ta = sum(expected) or 1, sum(actual) or 1
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe, pa = max(e / te, eps), max(a / ta, eps)
        total += (pa - pe) * math.log(pa / pe)
    return total


def evaluate(
    ws: Workspace,
    snap: SnapshotRow,
    suite: Suite,
    references: dict[str, SnapshotRow],
    progress: Progress = NO_PROGRESS,
) -> dict[str, Any]:
    """Run a suite against a snapshot; return the result document (nothing recorded)."""
    con = tables.connect(ws.root / "tmp")
    try:
        src = tables.parquet_source(ws.objects.path(snap.parquet_digest))
        cols = {
            c["name"]: tables.Column(c["name"], c["type"], c["kind"])
            for c in json.loads(snap.columns)
        }
        params: list[Any] = []
        exprs: list[tuple[int, str]] = []
        for index, check in enumerate(suite.checks):
            if check["type"] in ("column_present", "drift", "quantile"):
                continue
            expr = _aggregate_expr(check, cols, params)
            if expr is not None:
                exprs.append((index, expr))
        quantiles = _quantile_exprs(suite.checks, cols, params)
        progress(0, 2, "one pass for the aggregate checks")
        values: dict[int, Any] = {}
        if exprs or quantiles:
            # The Parquet copy is re-hashed while the query reads it; a result counts only
            # if the bytes it was computed from are the recorded ones.
            with ThreadPoolExecutor(max_workers=1) as pool:
                checking = pool.submit(snapshots.parquet_path, ws, snap)
                try:
                    row = con.execute(
                        f"SELECT {', '.join([e for _, e in exprs] + [e for _, e in quantiles])} "
                        f"FROM {src}",
                        params,
                    ).fetchall()[0]
                except duckdb.Error as err:
                    checking.result()  # a missing or altered copy says so first
                    raise UsageError(
                        f"suite {suite.name!r} cannot run: {tables.duckdb_reason(err)}",
                        hint="Check the patterns and values in the suite.",
                    ) from err
                checking.result()
            values = {index: value for (index, _), value in zip(exprs, row, strict=False)}
            for (indexes, _), listed in zip(quantiles, row[len(exprs) :], strict=True):
                for index, value in zip(indexes, listed or [None] * len(indexes), strict=True):
                    values[index] = value
        else:
            snapshots.parquet_path(ws, snap)
        results = []
        for index, check in enumerate(suite.checks):
            if check["type"] == "drift":
                progress(1, 2, f"drift of {check['column']}")
                reference = references[check["reference"]]
                ref_src = tables.parquet_source(snapshots.parquet_path(ws, reference))
                outcome = _drift(con, check, src, ref_src, cols)
                outcome["reference"] = reference.ref
                results.append(outcome)
            else:
                results.append(_judge(check, values.get(index), cols))
    finally:
        con.close()
    errors = sum(1 for r in results if not r["passed"] and r["severity"] == "error")
    warnings = sum(1 for r in results if not r["passed"] and r["severity"] == "warn")
    progress(2, 2, "done")
    return {
        "type": "ledgerml/validation/v1",
        "snapshot": {"ref": snap.ref, "table_digest": snap.table_digest},
        "suite": {"name": suite.name, "digest": suite.digest},
        "checks": results,
        "passed": errors == 0,
        "errors": errors,
        "warnings": warnings,
    }


def run(
    ws: Workspace,
    actor: str,
    ref: str,
    suite_path: Path,
    *,
    reason: str = "",
    progress: Progress = NO_PROGRESS,
) -> tuple[ValidationRow, dict[str, Any]]:
    """Validate a snapshot with a suite and record the result as evidence.

    The run is recorded whether it passes or fails: a failing result is evidence too. The
    caller turns ``passed = False`` into exit code 1.
    """
    suite = load_suite(suite_path)
    with ws.session(actor) as s:
        require(s, *ROLES, action="validate data")
        snap = snapshots.resolve(s.catalog, ref)
        references = {
            c["reference"]: snapshots.resolve(s.catalog, c["reference"])
            for c in suite.checks
            if c["type"] == "drift"
        }
    # The heavy pass runs without holding the workspace; snapshots are immutable.
    result = evaluate(ws, snap, suite, references, progress)
    data = canonical_bytes(result)
    with ws.session(actor) as s:
        require(s, *ROLES, action="validate data")
        result_ref = s.put_blob(data, RESULT_MEDIA_TYPE)
        suite_ref = s.put_blob(suite.raw, SUITE_MEDIA_TYPE)
        entry = s.commit(
            Event(
                actor,
                "validation.run",
                [f"snapshot:{snap.ref}", f"suite:{suite.name}"],
                {
                    "snapshot": snap.ref,
                    "suite_name": suite.name,
                    "suite_digest": suite.digest,
                    "result_digest": result_ref.sha256,
                    "passed": result["passed"],
                    "errors": result["errors"],
                    "warnings": result["warnings"],
                    "checks": len(result["checks"]),
                },
                reason,
                [result_ref, suite_ref],
            )
        )
        row = next(v for v in s.catalog.validations(snap.ref) if v.seq == entry.seq)
    return row, result


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


def load_result(ws: Workspace, row: ValidationRow) -> dict[str, Any]:
    """A recorded validation result, read back from its verified object."""
    value = json.loads(ws.objects.read_verified(row.result_digest))
    assert isinstance(value, dict)
    return value
