"""The profile of a table: the figures a data sheet and a reviewer read about each column.

Most figures come from the digest pass (:func:`core.data.digest.scan`); DuckDB counts
distinct and top values on a second cursor meanwhile, and quantiles and histograms come from
the pass's sample in memory (:func:`digest_and_profile` says what each figure means).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from core.data.digest import Column, Figures, scan
from core.data.duck import parquet_source, quote_ident
from core.data.redaction import redact_stats
from core.kernel.errors import UsageError

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HIST_BINS = 10
TOP_VALUES = 10
TOP_VALUES_MAX_DISTINCT = 10_000
EXACT_ROWS = 1_000_000


def round_figure(value: Any) -> Any:
    """Round floats to 12 significant digits so parallel sums give the same evidence."""
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(f"{value:.12g}")
    return value


def profile(
    con: duckdb.DuckDBPyConnection,
    table: Path | str,
    cols: list[Column],
    pii: Collection[str] = (),
    registered: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The profile alone (see :func:`digest_and_profile`)."""
    return digest_and_profile(con, table, cols, pii, registered)[1]


def digest_and_profile(
    con: duckdb.DuckDBPyConnection,
    table: Path | str,
    cols: list[Column],
    pii: Collection[str] = (),
    registered: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The table digest and the profile of a table, from one pass plus DuckDB queries.

    ``table`` is a Parquet file's path or a DuckDB table expression (an encrypted
    snapshot's registered dataset, :func:`core.data.encryption.table_source`); objects
    registered on ``con`` that the expression names are passed in ``registered``, since a
    DuckDB cursor does not see its connection's registrations and the second cursor below
    needs them too.

    Per column: type, nulls, NaN, ±inf (counted apart), exact distinct count, min/max/mean/
    std, quantiles, a histogram (numeric) and the top values (columns with at most
    :data:`TOP_VALUES_MAX_DISTINCT` distinct values). Up to :data:`EXACT_ROWS` rows every
    figure is exact. Above that, distinct counts use HyperLogLog, and quantiles and histogram
    counts are exact on a systematic sample (every k-th row); the profile records both.
    Means and (sample) standard deviations are over the finite values, summed in fixed blocks
    of rows folded in row order, and rounded to 12 significant digits, so the same table gives
    the same evidence on every run.

    A column named in ``pii`` is profiled by counts alone (type, nulls, NaN/±inf, distinct):
    its top values, extremes, moments, quantiles and histogram are never computed, so no value
    of a name, email or date of birth reaches the stored profile
    (:func:`core.data.redaction.redact_stats`).

    One pass over the rows (:func:`scan`: the digest streams, NULL/NaN/±inf counts, ranges,
    moments, string lengths, the quantile sample) runs in Python while DuckDB counts distinct
    and top values on a second cursor; quantiles and histograms then come from the sample in
    memory (:func:`_quantiles_and_histograms`, the same figures DuckDB's ``quantile_cont`` and
    ``histogram`` give).
    """
    if isinstance(table, Path):
        table = parquet_source(table)
    [(rows,)] = con.execute(f"SELECT count(*) FROM {table}").fetchall()
    step = max(1, -(-rows // EXACT_ROWS))
    with ThreadPoolExecutor(max_workers=1) as pool:  # if the scan fails, the pool still waits
        cursor = con.cursor()
        for name, obj in (registered or {}).items():
            cursor.register(name, obj)
        counting = pool.submit(
            _distinct_and_top, cursor, table, cols, rows <= EXACT_ROWS, frozenset(pii)
        )
        scanned = scan(con, table, cols, step)
        counted = counting.result()
    if scanned.rows != rows:
        raise UsageError(
            f"the Parquet copy changed while it was read ({rows}, {scanned.rows} rows)"
        )
    out: dict[str, Any] = {"rows": rows, "columns": {}}
    if rows > EXACT_ROWS:
        out["distinct_method"] = "hyperloglog (approximate)"
    numeric: list[tuple[Column, Figures]] = []
    for col, fig, (distinct, extremes, top) in zip(cols, scanned.figures, counted, strict=True):
        stats: dict[str, Any] = {
            "type": col.type,
            "kind": col.kind,
            "nulls": fig.nulls,
            "distinct": distinct,
        }
        if col.name in pii:
            if col.kind in ("int", "float"):
                stats.update({"nan": fig.nan, "pos_inf": fig.pos_inf, "neg_inf": fig.neg_inf})
            out["columns"][col.name] = redact_stats(stats)
            continue
        if col.kind in ("int", "float"):
            mean, std = fig.moments.result()
            stats.update(
                {
                    "nan": fig.nan,
                    "pos_inf": fig.pos_inf,
                    "neg_inf": fig.neg_inf,
                    "min": round_figure(fig.lo),
                    "max": round_figure(fig.hi),
                    "mean": round_figure(mean),
                    "std": round_figure(std),
                }
            )
            if fig.lo is not None:
                numeric.append((col, fig))
        elif col.kind == "str":
            stats["min_length"], stats["max_length"] = fig.lo, fig.hi
        else:
            stats["min"], stats["max"] = extremes
        stats["top_values"] = top
        out["columns"][col.name] = stats
    if numeric:
        _quantiles_and_histograms(numeric, out)
        if step > 1:
            out["quantile_sample"] = {"every_kth_row": step, "rows": -(-rows // step)}
    return scanned.digest, out


def _distinct_and_top(
    con: duckdb.DuckDBPyConnection,
    table: str,
    cols: list[Column],
    exact: bool,
    pii: frozenset[str] = frozenset(),
) -> list[tuple[int, tuple[Any, Any], list[list[Any]]]]:
    """Per column: distinct count, (min, max) as text for non-numeric kinds, top values.

    A PII column gets its distinct count only (no extremes, no top values).
    """
    try:
        distinct_fn = "count(DISTINCT {c})" if exact else "approx_count_distinct({c})"
        parts = []
        for col in cols:
            c = quote_ident(col.name)
            parts.append(distinct_fn.format(c=c))
            if col.kind not in ("int", "float", "str") and col.name not in pii:
                parts += [f"CAST(min({c}) AS VARCHAR)", f"CAST(max({c}) AS VARCHAR)"]
        row = con.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchone()
        assert row is not None
        values = list(row)
        out: list[tuple[int, tuple[Any, Any], list[list[Any]]]] = []
        for col in cols:
            distinct = int(values.pop(0))
            extremes = (None, None)
            if col.name in pii:
                out.append((distinct, extremes, []))
                continue
            if col.kind not in ("int", "float", "str"):
                extremes = (values.pop(0), values.pop(0))
            top = _top_values(con, table, col) if distinct <= TOP_VALUES_MAX_DISTINCT else []
            out.append((distinct, extremes, top))
        return out
    finally:
        con.close()


def _quantiles_and_histograms(numeric: list[tuple[Column, Figures]], out: dict[str, Any]) -> None:
    """Quantiles and histogram counts of each numeric column, exact on its sample.

    The sample is the finite values of every k-th row in file order (every row up to
    :data:`EXACT_ROWS` rows). Quantiles interpolate linearly between the closest ranks, as
    DuckDB's ``quantile_cont`` does: with ``h = (n - 1) q`` and ``d = h - floor(h)``, the value
    is ``lo (1 - d) + hi d`` where the first product is fused (rounded once, with the sum).
    Histogram bins are ``(edge[i-1], edge[i]]`` over ten equal bins from min to max, as
    DuckDB's ``histogram`` with those nine inner boundaries counts them.
    """
    for col, fig in numeric:
        values = np.concatenate(fig.sample) if fig.sample else np.empty(0)
        fig.sample = []
        n = int(values.size)
        stats = out["columns"][col.name]
        lo, hi = float(fig.lo), float(fig.hi)
        width = (hi - lo) / HIST_BINS or 1.0
        edges = [lo + i * width for i in range(1, HIST_BINS)]
        stats["histogram"] = {
            "edges": [round_figure(lo + i * width) for i in range(HIST_BINS + 1)],
            "counts": _histogram(values, edges),
        }
        if n == 0:
            stats["quantiles"] = {}
            continue
        ranks = [(n - 1) * q for q in QUANTILES]
        picks = sorted({math.floor(r) for r in ranks} | {math.ceil(r) for r in ranks})
        ordered = np.partition(values, picks)
        quantiles = {}
        for q, rank in zip(QUANTILES, ranks, strict=True):
            low, high = math.floor(rank), math.ceil(rank)
            below = float(ordered[low])
            if low == high:
                quantiles[str(q)] = round_figure(below)
                continue
            d = rank - low
            above = float(ordered[high])
            # lo * (1 - d) + hi * d with the first product fused into the sum: exact
            # rational arithmetic, rounded once to the nearest double.
            fused = float(Fraction(below) * Fraction(1.0 - d) + Fraction(above * d))
            quantiles[str(q)] = round_figure(fused)
        stats["quantiles"] = quantiles


def _histogram(values: np.ndarray, edges: list[float]) -> list[int]:
    """Counts per bin ``(edge[i-1], edge[i]]``, the last bin open above, as a 10-list."""
    bounds = np.unique(np.asarray(edges, dtype=np.float64))  # DuckDB merges equal bounds
    at_most = [int(np.count_nonzero(values <= bound)) for bound in bounds]  # one pass each
    listed = [b - a for a, b in zip([0, *at_most], at_most, strict=False)]
    if values.size > at_most[-1]:  # the bin above the last bound is listed only when not empty
        listed.append(values.size - at_most[-1])
    listed += [0] * (HIST_BINS - len(listed))
    return listed[:HIST_BINS]


def _top_values(con: duckdb.DuckDBPyConnection, table: str, col: Column) -> list[list[Any]]:
    c = quote_ident(col.name)
    rows = con.execute(
        f"SELECT CAST({c} AS VARCHAR) AS v, count(*) AS n FROM {table} "
        f"GROUP BY 1 ORDER BY 2 DESC, 1 NULLS FIRST LIMIT {TOP_VALUES}"
    ).fetchall()
    return [[v, int(n)] for v, n in rows]
