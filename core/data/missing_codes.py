"""Missing-value codes declared at snapshot time: applied in the canonical copy, and counted.

A ``?`` or ``-999`` that means "not recorded" is a value to every reader unless it becomes
NULL once, where the canonical Parquet copy is made: profiles, suites, views and training
all read that copy, so they all see NULL. The codes are part of the snapshot's dialect (and
so of its signed ``snapshot.add`` event). Codes for every column of a CSV file are DuckDB's
``nullstr`` (:func:`core.data.reading.source_sql`); codes for one column, and codes for
Parquet or JSON input, are a ``CASE`` in the copy's ``SELECT`` (:func:`projection`), after
which a text column left holding only numbers takes the number type DuckDB would have
inferred without the codes. :func:`count` reports how often each code occurred, and a
code that never occurs, so a misspelt code is seen rather than silently accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from core.data.duck import duckdb_reason, quote_ident, sql_text
from core.kernel.errors import UsageError

if TYPE_CHECKING:
    import duckdb

    from core.data.reading import Dialect

_TEXT = ("VARCHAR",)


def _columns(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]


def _codes_of(dialect: Dialect, name: str) -> list[str]:
    """The codes replaced in the ``SELECT`` for one column (CSV-wide codes are nullstr)."""
    codes = dict(dialect.column_na_values).get(name, ())
    wide = () if dialect.format == "csv" else dialect.na_values
    return list(dict.fromkeys((*wide, *codes)))


def _check_columns(dialect: Dialect, names: list[str]) -> None:
    unknown = [c for c, _ in dialect.column_na_values if c not in names]
    if unknown:
        raise UsageError(
            f"--na-values names column {unknown[0]!r}, which is not in the file",
            hint=f"Columns: {', '.join(names)}.",
        )


def _in(codes: list[str]) -> str:
    return "(" + ", ".join(f"'{sql_text(c)}'" for c in codes) + ")"


def projection(
    con: duckdb.DuckDBPyConnection,
    source: str,
    dialect: Dialect,
    pseudonyms: Mapping[str, int] | None = None,
) -> str:
    """The select list of the canonical copy: ``*``, or each column trimmed and de-coded.

    ``pseudonyms`` (column to key version) replaces those columns' values, once trimmed and
    de-coded, by their keyed pseudonyms (:func:`core.data.pseudonyms.sql`; the keys are bound
    on ``con``); such a column stays text.

    Raises:
        UsageError: for a code given for a column the file does not have.
    """
    from core.data import pseudonyms as pseudo

    pseudonyms = pseudonyms or {}
    per_column = dialect.column_na_values or (dialect.format != "csv" and dialect.na_values)
    if not (dialect.trim or per_column or pseudonyms):
        return "*"
    cols = _columns(con, source)
    _check_columns(dialect, [n for n, _ in cols])
    exprs: dict[str, str] = {}
    replaced: list[str] = []
    for name, type_ in cols:
        e = quote_ident(name)
        if dialect.trim and type_ in _TEXT:
            e = f"ltrim({e}, ' ')"
        codes = _codes_of(dialect, name)
        if codes:
            e = f"CASE WHEN CAST({e} AS VARCHAR) IN {_in(codes)} THEN NULL ELSE {e} END"
            if type_ in _TEXT:
                replaced.append(name)
        exprs[name] = e
    kept_text = {n: exprs[n] for n in replaced if n not in pseudonyms}
    for name, number in _number_types(con, source, kept_text).items():
        exprs[name] = f"CAST({exprs[name]} AS {number})"
    for name, version in pseudonyms.items():
        exprs[name] = pseudo.sql(exprs[name], version)
    return ", ".join(f"{e} AS {quote_ident(n)}" for n, e in exprs.items())


def _number_types(
    con: duckdb.DuckDBPyConnection, source: str, exprs: dict[str, str]
) -> dict[str, str]:
    """The text columns that hold only numbers once their codes are NULL: BIGINT or DOUBLE."""
    if not exprs:
        return {}
    checks = []
    for e in exprs.values():
        for number in ("BIGINT", "DOUBLE"):
            checks.append(f"bool_and(({e}) IS NULL OR TRY_CAST(({e}) AS {number}) IS NOT NULL)")
    row = con.execute(f"SELECT {', '.join(checks)} FROM {source}").fetchone() or ()
    out = {}
    for i, name in enumerate(exprs):
        as_int, as_float = row[2 * i], row[2 * i + 1]
        if as_int:
            out[name] = "BIGINT"
        elif as_float:
            out[name] = "DOUBLE"
    return out


def count(con: duckdb.DuckDBPyConnection, path: Path, dialect: Dialect) -> list[str]:
    """Notices saying how many cells each declared code turned into NULL, and where.

    Counted on the file's text (every column read as text, trimmed as the copy is), so a
    code is counted exactly where the copy replaces it.

    Raises:
        UsageError: for a code given for a column the file does not have.
    """
    import duckdb

    from core.data.reading import source_sql

    if not dialect.has_codes:
        return []
    source = source_sql(path, dialect, as_text=dialect.format == "csv")
    try:
        cols = [n for n, _ in _columns(con, source)]
    except duckdb.Error as err:
        raise UsageError(f"cannot read {path.name}: {duckdb_reason(err)}") from err
    _check_columns(dialect, cols)
    pairs: list[tuple[str, str]] = [(c, code) for code in dialect.na_values for c in cols]
    pairs += [(c, code) for c, codes in dialect.column_na_values for code in codes]
    aggregates = []
    wide_count = len(dialect.na_values) * len(cols)
    for index, (column, code) in enumerate(pairs):
        e = f"CAST({quote_ident(column)} AS VARCHAR)"
        if index < wide_count and dialect.format == "csv":
            # nullstr matches the field exactly: the code, or after a ", " the space and code
            texts = [code, " " + code] if dialect.trim else [code]
            aggregates.append(f"count(*) FILTER (WHERE {e} IN {_in(texts)})")
            continue
        if dialect.trim:
            e = f"ltrim({e}, ' ')"  # as the copy's projection trims it before the CASE
        aggregates.append(f"count(*) FILTER (WHERE {e} = '{sql_text(code)}')")
    try:
        row = con.execute(f"SELECT {', '.join(aggregates)} FROM {source}").fetchone() or ()
    except duckdb.Error as err:
        raise UsageError(f"cannot read {path.name}: {duckdb_reason(err)}") from err
    found: dict[tuple[str, str | None], dict[str, int]] = {}
    wide = set(dialect.na_values)
    for (column, code), n in zip(pairs, row, strict=True):
        bucket = found.setdefault((code, None) if code in wide else (code, column), {})
        if n:
            bucket[column] = int(n)
    notices = []
    for (code, scope), where in found.items():
        if not where:
            place = f"column {scope!r}" if scope else "any column"
            notices.append(f"missing-value code {code!r} never occurs in {place}: nothing replaced")
            continue
        total = sum(where.values())
        cells = ", ".join(f"{c} {n}" for c, n in where.items())
        noun = "cell" if total == 1 else "cells"
        notices.append(f"missing-value code {code!r} read as NULL in {total} {noun} ({cells})")
    return notices
