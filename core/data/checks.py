"""What a validation check type is: one declaration of its keys, its SQL and its verdict.

The suite parser (:mod:`core.data.suites`), the runner (:mod:`core.data.validation`) and the
format page's test (``tests/docs/test_formats.py``, through ``validation.CHECK_TYPES``) all
read the registry in :mod:`core.data.check_types`, so a new check type is one declaration
there, plus its test and its row on ``docs/formats/validation-suite.md``.

A check type is measured in one of three ways:

- ``sql``: one expression of the suite's single ``SELECT`` over the snapshot (most types);
- ``shared_sql``: expressions shared by all checks of the type (quantiles of one column
  share one ``quantile_cont``);
- ``measure``: its own queries, for a check that reads more than the snapshot (drift).

Types with none of these (``column_present``) are judged from the recorded schema alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.kernel.errors import UsageError

if TYPE_CHECKING:
    import duckdb

    from core.data.digest import Column

Check = dict[str, Any]
"""One ``[[checks]]`` table as parsed (with ``name`` and ``severity`` filled in)."""
Columns = dict[str, "Column"]
Outcome = dict[str, Any]
"""One entry of a result's ``checks``: the canonical JSON of a check's verdict."""

# The type of every key a check may hold; a check type lists which of them it takes.
NUMBER_KEYS = ("min", "max", "min_p", "q")
TYPED_KEYS: tuple[tuple[str, type], ...] = (
    ("column", str),
    ("pattern", str),
    ("reference", str),
    ("values", list),
    ("columns", list),
)
# What each key's value must be, for the suite's pydantic models (core.data.suites).
# Numbers are TOML integers or floats, never booleans; values are scalars compared as text.
KEY_TYPES: dict[str, Any] = {
    "min": int | float,
    "max": int | float,
    "min_p": int | float,
    "q": int | float,
    "column": str,
    "columns": list[str],
    "pattern": str,
    "reference": str,
    "method": str,
    "dtype": str,
    "values": list[str | int | float | bool],
}
COMMON = frozenset({"type", "name", "severity"})
SEVERITIES = ("error", "warn")
DTYPES = ("int", "float", "bool", "date", "timestamp", "str", "other")
NUMERIC = ("int", "float")


@dataclass(frozen=True)
class Measuring:
    """What a check that runs its own queries gets: the connection and both tables."""

    con: duckdb.DuckDBPyConnection
    source: str
    reference: str
    columns: Columns


@dataclass(frozen=True)
class CheckType:
    """One check type: the keys it takes, how it is measured, and how it is judged.

    ``refine`` adds the type's own parse rules (raising :class:`UsageError` with ``where``);
    ``judge`` turns the observed value into an outcome (``base`` carries name, type, column
    and severity); ``numeric`` fails a check on a non-numeric column before ``judge``;
    ``column_must_exist`` fails a check whose ``column`` is missing before ``judge`` (a type
    that names its columns otherwise judges that itself); ``needs_reference`` has the
    runner resolve the check's ``reference`` snapshot and pass it to ``measure``.
    ``offending`` is the ``WHERE`` condition of the rows a failed check counts, so the runner
    can name the most frequent offending values; ``kinds`` lists the column kinds the type
    can measure (empty: any), so a check on a column of another kind fails naming the check,
    the column and its type instead of reaching DuckDB.
    """

    name: str
    required: frozenset[str]
    optional: frozenset[str]
    judge: Callable[[Check, Any, Columns, Outcome], Outcome] | None = None
    sql: Callable[[Check, Columns, list[Any]], str | None] | None = None
    shared_sql: Callable[[list[Check], Columns, list[Any]], list[tuple[list[int], str]]] | None = (
        None
    )
    measure: Callable[[Measuring, Check], Outcome] | None = None
    refine: Callable[[Check, str], None] | None = None
    offending: Callable[[Check, Columns, list[Any]], str] | None = None
    kinds: tuple[str, ...] = ()
    numeric: bool = False
    column_must_exist: bool = True
    needs_reference: bool = False

    @property
    def keys(self) -> frozenset[str]:
        """Every key a check of this type may hold."""
        return self.required | self.optional | COMMON


def refuse(where: str, message: str) -> UsageError:
    """The error for a malformed check, naming it."""
    return UsageError(f"{where}: {message}")


def bounds(check: Check, observed: Any) -> tuple[bool, dict[str, Any]]:
    """Whether ``observed`` lies in the check's ``[min, max]``, and the threshold shown."""
    lo, hi = check.get("min"), check.get("max")
    ok = observed is not None and not (isinstance(observed, float) and math.isnan(observed))
    if ok and lo is not None:
        ok = observed >= lo
    if ok and hi is not None:
        ok = observed <= hi
    return ok, {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}


def finite(c: str, floating: bool) -> str:
    """The filter to the finite values; integers (NULL aside, which aggregates skip) all are."""
    return f" FILTER (WHERE isfinite({c}))" if floating else ""


def wrong_kind(check: Check, column: Column, kinds: tuple[str, ...]) -> str:
    """Why a check cannot measure a column of this kind, naming the check, column and type."""
    wanted = "numeric" if set(kinds) <= set(NUMERIC) else " or ".join(kinds)
    return (
        f"{check['type']} check {check['name']!r} needs a {wanted} column; "
        f"column {column.name!r} is {column.kind} ({column.type})"
    )


def failed(base: Outcome, detail: str, threshold: dict[str, Any] | None = None) -> Outcome:
    """A check that could not be measured: failed, with nothing observed."""
    return {
        **base,
        "observed": None,
        "threshold": threshold or {},
        "passed": False,
        "detail": detail,
    }
