"""The drift check: a column's distribution against a reference snapshot's.

PSI bins by the reference's deciles (numeric columns) or by value; Kolmogorov-Smirnov and
chi-square come from scipy, imported only when a suite has a drift check.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from core.data.checks import Check, CheckType, Measuring, Outcome, refuse
from core.data.duck import quote_ident
from core.data.profile import round_figure

DRIFT_METHODS = ("psi", "ks", "chi2")


def _measure(m: Measuring, check: Check) -> Outcome:
    """PSI, Kolmogorov-Smirnov or chi-square of the column against the reference."""
    con, cur, ref, cur_cols = m.con, m.source, m.reference, m.columns

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
    numeric = cur_cols[col].kind in ("int", "float")
    if method == "ks" and not numeric:
        return {
            **base,
            "observed": None,
            "threshold": {},
            "passed": False,
            "detail": "KS needs a numeric column",
        }
    observed = measure(con, ref, cur, col, method, numeric=numeric)
    if observed["statistic"] is None:
        return {
            **base,
            "observed": None,
            "threshold": {},
            "passed": False,
            "detail": "no finite values to compare",
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


def measure(
    con: duckdb.DuckDBPyConnection,
    ref: str,
    cur: str,
    col: str,
    method: str,
    *,
    numeric: bool,
    cur_col: str | None = None,
) -> dict[str, Any]:
    """One drift statistic of ``col`` in table ``cur`` against table ``ref``.

    ``ref`` and ``cur`` are DuckDB table expressions on ``con``; ``cur_col`` names the column
    in ``cur`` when it differs (the decision log keeps inputs as ``in.COLUMN``). Shared by
    validation suites and operations monitoring, so both report the same figure for the same
    data. KS needs a numeric column (the caller checks); PSI bins a numeric column by the
    reference's deciles and any other by value; chi-square compares value counts.
    """
    if method not in DRIFT_METHODS:
        raise ValueError(f"unknown drift method {method!r}")
    if method == "ks":
        return ks(con, ref, cur, col, cur_col=cur_col)
    if method == "psi":
        return psi(con, ref, cur, col, numeric=numeric, cur_col=cur_col)
    return chi2(con, ref, cur, col, cur_col=cur_col)


def ks(
    con: duckdb.DuckDBPyConnection, ref: str, cur: str, col: str, *, cur_col: str | None = None
) -> dict[str, Any]:
    """Two-sample Kolmogorov-Smirnov over the finite values (asymptotic p-value)."""
    return ks_of(finite(con, ref, col), finite(con, cur, cur_col or col))


def ks_of(a: Any, b: Any) -> dict[str, Any]:
    """Two-sample KS of two arrays of finite values."""
    from scipy import stats

    if len(a) == 0 or len(b) == 0:
        return {"statistic": None, "p_value": None}
    res = stats.ks_2samp(a, b, method="asymp")
    return {
        "statistic": round_figure(float(res.statistic)),
        "p_value": round_figure(float(res.pvalue)),
    }


def finite(con: duckdb.DuckDBPyConnection, table: str, col: str) -> Any:
    """The finite values of ``col`` as a float64 array (what KS compares)."""
    c = quote_ident(col)
    return con.execute(
        f"SELECT CAST({c} AS DOUBLE) AS v FROM {table} WHERE isfinite(CAST({c} AS DOUBLE))"
    ).fetchnumpy()["v"]


def psi(
    con: duckdb.DuckDBPyConnection,
    ref: str,
    cur: str,
    col: str,
    *,
    numeric: bool,
    cur_col: str | None = None,
) -> dict[str, Any]:
    """Population stability index: reference deciles (numeric) or values as the bins."""
    if numeric:
        c = quote_ident(col)
        edges_row = con.execute(
            f"SELECT quantile_cont(CAST({c} AS DOUBLE), [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]) "
            f"FROM {ref} WHERE isfinite(CAST({c} AS DOUBLE))"
        ).fetchone()
        edges = sorted(set(edges_row[0])) if edges_row and edges_row[0] else []
        expected = _binned(con, ref, c, edges)
        actual = _binned(con, cur, quote_ident(cur_col or col), edges)
        return {"statistic": round_figure(_psi(expected, actual)), "bins": len(expected)}
    _, expected, actual = counts(con, ref, cur, col, cur_col=cur_col)
    return psi_of(expected, actual)


def psi_of(expected: list[int], actual: list[int]) -> dict[str, Any]:
    """PSI of two count vectors over the same bins."""
    return {"statistic": round_figure(_psi(expected, actual)), "bins": len(expected)}


def chi2(
    con: duckdb.DuckDBPyConnection, ref: str, cur: str, col: str, *, cur_col: str | None = None
) -> dict[str, Any]:
    """Chi-square test of independence of the value counts (NULL is a value of its own)."""
    _, expected, actual = counts(con, ref, cur, col, cur_col=cur_col)
    return chi2_of(expected, actual)


def chi2_of(expected: list[int], actual: list[int]) -> dict[str, Any]:
    """Chi-square test of two count vectors over the same values."""
    from scipy import stats

    if len(expected) < 2:
        return {"statistic": 0.0, "p_value": 1.0}
    chi = stats.chi2_contingency([expected, actual])
    return {
        "statistic": round_figure(float(chi.statistic)),
        "p_value": round_figure(float(chi.pvalue)),
    }


def counts(
    con: duckdb.DuckDBPyConnection, ref: str, cur: str, col: str, *, cur_col: str | None = None
) -> tuple[list[Any], list[int], list[int]]:
    """The values of ``col`` in either table (as text, NULL last) and their two counts."""
    q = "SELECT CAST({c} AS VARCHAR), count(*) FROM {t} GROUP BY 1"
    ref_counts = dict(con.execute(q.format(c=quote_ident(col), t=ref)).fetchall())
    cur_counts = dict(con.execute(q.format(c=quote_ident(cur_col or col), t=cur)).fetchall())
    keys = sorted(set(ref_counts) | set(cur_counts), key=lambda k: (k is None, str(k)))
    return (
        keys,
        [int(ref_counts.get(k, 0)) for k in keys],
        [int(cur_counts.get(k, 0)) for k in keys],
    )


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


def _refine(check: Check, where: str) -> None:
    if check["method"] not in DRIFT_METHODS:
        raise refuse(where, f"drift method must be one of {', '.join(DRIFT_METHODS)}")
    if check["method"] == "psi" and "min_p" in check:
        raise refuse(where, "PSI has no p-value; min_p needs method ks or chi2")


DRIFT = CheckType(
    "drift",
    frozenset({"column", "reference", "method"}),
    frozenset({"max", "min_p"}),
    measure=_measure,
    refine=_refine,
    needs_reference=True,
)
