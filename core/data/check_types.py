"""The validation check types, one declaration each, and the registry of them.

Each declaration names the keys the suite format allows for the type (required and
optional), the SQL that measures it in the suite's single pass, and the verdict. To add a
check type, declare it here and list it in :data:`REGISTRY`, test it in
``tests/core/test_validation.py``, and give it a section on ``docs/formats/validation-suite.md``
(``tests/docs/test_formats.py`` fails until its keys are documented).
"""

from __future__ import annotations

from typing import Any

from core.data.checks import (
    DTYPES,
    NUMERIC,
    Check,
    CheckType,
    Columns,
    Outcome,
    bounds,
    failed,
    finite,
    refuse,
)
from core.data.drift import DRIFT
from core.data.duck import quote_ident
from core.data.profile import round_figure


def _column(check: Check) -> str:
    return quote_ident(check["column"])


def _is_float(check: Check, cols: Columns) -> bool:
    return cols[check["column"]].kind == "float"


# column_present ------------------------------------------------------------------------


def _present_refine(check: Check, where: str) -> None:
    if "dtype" in check and check["dtype"] not in DTYPES:
        raise refuse(where, f"dtype must be one of {', '.join(DTYPES)}")


def _present_judge(check: Check, observed: Any, cols: Columns, base: Outcome) -> Outcome:
    want = check.get("dtype")
    have = cols[str(check.get("column"))].kind
    ok = want is None or want == have
    return {
        **base,
        "observed": have,
        "threshold": {"dtype": want} if want else {},
        "passed": ok,
        "detail": "" if ok else f"column is {have}, expected {want}",
    }


COLUMN_PRESENT = CheckType(
    "column_present",
    frozenset({"column"}),
    frozenset({"dtype"}),
    judge=_present_judge,
    refine=_present_refine,
)

# null_rate -----------------------------------------------------------------------------


def _null_rate_sql(check: Check, cols: Columns, params: list[Any]) -> str:
    c = _column(check)
    return f"(count(*) - count({c})) / greatest(count(*), 1)"


def _null_rate_judge(check: Check, observed: Any, cols: Columns, base: Outcome) -> Outcome:
    return {
        **base,
        "observed": round_figure(float(observed)),
        "threshold": {"max": check["max"]},
        "passed": observed <= check["max"],
        "detail": "",
    }


NULL_RATE = CheckType(
    "null_rate",
    frozenset({"column", "max"}),
    frozenset(),
    judge=_null_rate_judge,
    sql=_null_rate_sql,
)

# checks that count violating rows: range, allowed_values, unique, regex ---------------


def _violating(n: int) -> str:
    return f"{n} row violates it" if n == 1 else f"{n} rows violate it"


def _violations_judge(check: Check, observed: Any, cols: Columns, base: Outcome) -> Outcome:
    """Pass when at most ``max`` rows violate the check (none, for a range)."""
    if observed is None:
        return failed(base, "a column is missing")
    kind = check["type"]
    limit = int(check.get("max", 0))
    threshold: dict[str, Any] = {
        k: check[k] for k in ("min", "max", "values", "pattern") if k in check
    }
    if kind != "range" and "max" in check:
        threshold = {"max_violations": limit, **{k: v for k, v in threshold.items() if k != "max"}}
    allowed = 0 if kind == "range" else limit
    return {
        **base,
        "observed": int(observed),
        "threshold": threshold,
        "passed": int(observed) <= allowed,
        "detail": _violating(int(observed)) if int(observed) > allowed else "",
    }


def _range_where(check: Check, cols: Columns, params: list[Any]) -> str:
    c = _column(check)
    conds = []
    if "min" in check:
        conds.append(f"{c} < ?")
        params.append(check["min"])
    if "max" in check:
        conds.append(f"{c} > ?")
        params.append(check["max"])
    # NaN is outside every range (DuckDB orders NaN above all numbers); only floats have it.
    nan = f" OR isnan({c})" if _is_float(check, cols) else ""
    return f"{' OR '.join(conds) or 'FALSE'}{nan}"


def _counting(where: Any) -> Any:
    """The single pass's expression of a check that counts the rows ``where`` selects."""

    def sql(check: Check, cols: Columns, params: list[Any]) -> str:
        return f"count(*) FILTER (WHERE {where(check, cols, params)})"

    return sql


def _range_refine(check: Check, where: str) -> None:
    if "min" not in check and "max" not in check:
        raise refuse(where, "a range check needs min, max or both")


RANGE = CheckType(
    "range",
    frozenset({"column"}),
    frozenset({"min", "max"}),
    judge=_violations_judge,
    sql=_counting(_range_where),
    refine=_range_refine,
    offending=_range_where,
    kinds=NUMERIC,
)


def _allowed_where(check: Check, cols: Columns, params: list[Any]) -> str:
    c = _column(check)
    params.append([str(v) for v in check["values"]])
    text = f"CAST({c} AS VARCHAR)"
    return f"{c} IS NOT NULL AND NOT list_contains(?, {text})"


ALLOWED_VALUES = CheckType(
    "allowed_values",
    frozenset({"column", "values"}),
    frozenset({"max"}),
    judge=_violations_judge,
    sql=_counting(_allowed_where),
    offending=_allowed_where,
)


def unique_names(check: Check) -> list[str]:
    """The columns a unique check covers: ``columns``, or its one ``column``."""
    return list(check.get("columns") or [check["column"]])


def _unique_sql(check: Check, cols: Columns, params: list[Any]) -> str | None:
    names = unique_names(check)
    if any(n not in cols for n in names):
        return None
    if len(names) > 1:
        return f"count(*) - count(DISTINCT ({', '.join(quote_ident(n) for n in names)}))"
    c = quote_ident(names[0])
    return f"count({c}) - count(DISTINCT {c})"


def _unique_refine(check: Check, where: str) -> None:
    if not (check.get("column") or check.get("columns")):
        raise refuse(where, "give column or columns")


UNIQUE = CheckType(
    "unique",
    frozenset(),
    frozenset({"column", "columns", "max"}),
    judge=_violations_judge,
    sql=_unique_sql,
    refine=_unique_refine,
    column_must_exist=False,
)


def _regex_where(check: Check, cols: Columns, params: list[Any]) -> str:
    c = _column(check)
    params.append(check["pattern"])
    return f"{c} IS NOT NULL AND NOT regexp_full_match({c}, ?)"


REGEX = CheckType(
    "regex",
    frozenset({"column", "pattern"}),
    frozenset({"max"}),
    judge=_violations_judge,
    sql=_counting(_regex_where),
    offending=_regex_where,
    kinds=("str",),
)

# checks of one figure against [min, max]: row_count, mean, std, quantile ---------------


def _figure_judge(check: Check, observed: Any, cols: Columns, base: Outcome) -> Outcome:
    if check["type"] == "row_count":
        value: Any = int(observed)
    else:
        value = round_figure(float(observed)) if observed is not None else None
    ok, threshold = bounds(check, value)
    if check["type"] == "quantile":
        threshold["q"] = check["q"]
    return {**base, "observed": value, "threshold": threshold, "passed": ok, "detail": ""}


ROW_COUNT = CheckType(
    "row_count",
    frozenset(),
    frozenset({"min", "max"}),
    judge=_figure_judge,
    sql=lambda check, cols, params: "count(*)",
)


def _moment_sql(fn: str) -> Any:
    def sql(check: Check, cols: Columns, params: list[Any]) -> str | None:
        if cols[check["column"]].kind not in NUMERIC:
            return None
        c = _column(check)
        return f"{fn}(CAST({c} AS DOUBLE)){finite(c, _is_float(check, cols))}"

    return sql


MEAN = CheckType(
    "mean",
    frozenset({"column"}),
    frozenset({"min", "max"}),
    judge=_figure_judge,
    sql=_moment_sql("favg"),
    numeric=True,
    kinds=NUMERIC,
)
STD = CheckType(
    "std",
    frozenset({"column"}),
    frozenset({"min", "max"}),
    judge=_figure_judge,
    sql=_moment_sql("stddev_samp"),
    numeric=True,
    kinds=NUMERIC,
)


def _quantile_sql(
    checks: list[Check], cols: Columns, params: list[Any]
) -> list[tuple[list[int], str]]:
    """One ``quantile_cont(x, [q, …])`` per column for all its quantile checks.

    Returns, per column, the indexes of its checks (in the list's order) and the expression;
    the list of quantiles goes to ``params`` (exact doubles, as each check gives them).
    """
    wanted: dict[str, list[int]] = {}
    for index, check in enumerate(checks):
        col = check.get("column")
        if check["type"] == "quantile" and col in cols and cols[col].kind in NUMERIC:
            wanted.setdefault(col, []).append(index)
    out = []
    for col, indexes in wanted.items():
        c = quote_ident(col)
        params.append([float(checks[i]["q"]) for i in indexes])
        expr = f"quantile_cont(CAST({c} AS DOUBLE), ?){finite(c, cols[col].kind == 'float')}"
        out.append((indexes, expr))
    return out


def _quantile_refine(check: Check, where: str) -> None:
    if not 0 <= check["q"] <= 1:
        raise refuse(where, "q must be between 0 and 1")


QUANTILE = CheckType(
    "quantile",
    frozenset({"column", "q"}),
    frozenset({"min", "max"}),
    judge=_figure_judge,
    shared_sql=_quantile_sql,
    refine=_quantile_refine,
    numeric=True,
    kinds=NUMERIC,
)

REGISTRY: dict[str, CheckType] = {
    t.name: t
    for t in (
        COLUMN_PRESENT,
        NULL_RATE,
        RANGE,
        ALLOWED_VALUES,
        UNIQUE,
        REGEX,
        ROW_COUNT,
        MEAN,
        STD,
        QUANTILE,
        DRIFT,
    )
}
"""Every check type by name, in the order the format page lists them."""
