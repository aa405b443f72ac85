"""The table digest and the one streamed pass over a table's rows that computes it.

The same pass gathers the per-column figures the profile needs (:mod:`core.data.profile`),
so ingest reads its Parquet copy once for both.

**Table digest (v2).** The identity of a table's *content*, independent of its file format,
so the same rows as CSV, Parquet or JSON Lines give the same digest. Each column has a kind:
``int`` (any integer type), ``float`` (FLOAT/DOUBLE), ``bool``, ``date``, ``timestamp``,
``str`` (VARCHAR) or ``other`` (anything else, taken as DuckDB's text cast, then like ``str``).
Per column, three byte streams run over the rows in order:

- *validity*: one byte per row, ``01`` present, ``00`` NULL;
- *values*: eight bytes per row, little-endian: ``int`` as int64; ``float`` as IEEE-754
  binary64 with every NaN written as ``0x7FF8000000000000`` (±Infinity and -0.0 as they are);
  ``bool`` as 0/1; ``date`` as days since 1970-01-01; ``timestamp`` as microseconds since the
  epoch; for ``str``/``other`` the UTF-8 byte length as uint64. NULL writes 0;
- *data*: for ``str``/``other``, the UTF-8 bytes of the non-NULL values, concatenated; empty
  for other kinds.

The table digest is the hex SHA-256 of the canonical JSON
``{"columns": [[name, kind, sha256(validity), sha256(values), sha256(data)], …],
"rows": n, "v": 2}``. NaN, ±Infinity and NULL stay distinct, nothing depends on how a file
chunks its rows, and the whole computation is a few vectorised passes, streamed in bounded
memory.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.data.duck import quote_ident
from storage.canonical import canonical_bytes


@dataclass(frozen=True)
class Column:
    """A column's name, DuckDB type and digest kind."""

    name: str
    type: str
    kind: str


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t in (
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
    ):
        return "int"
    if t in ("FLOAT", "DOUBLE"):
        return "float"
    if t == "BOOLEAN":
        return "bool"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP") and "TIME ZONE" not in t:
        return "timestamp"
    if t == "VARCHAR":
        return "str"
    return "other"


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[Column]:
    """The columns of a table expression."""
    rows = con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
    return [Column(str(r[0]), str(r[1]), _kind(str(r[1]))) for r in rows]


_NORMALISE = {
    "int": "CAST({c} AS BIGINT)",
    "float": "CAST({c} AS DOUBLE)",
    "bool": "CAST({c} AS BIGINT)",
    "date": "date_diff('day', DATE '1970-01-01', {c})",
    "timestamp": "epoch_us({c})",
    "str": "{c}",
    "other": "CAST({c} AS VARCHAR)",
}


SCAN_ROWS = 1 << 17
BLOCK_ROWS = 1 << 16


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of one column's finite values.

    The rows are cut into fixed blocks of :data:`BLOCK_ROWS` row numbers (counted from the
    first row, whatever batches a reader delivers). Each block is summed pairwise by numpy,
    as deviations from the column's first finite value (so a narrow spread far from zero
    keeps its digits), and folded into the running figures in row order (Chan, Golub and
    LeVeque's update). The result depends on the rows alone: the same on every run.
    """

    count: int = 0
    shift: float | None = None
    mean: float = 0.0  # of the deviations from ``shift``
    m2: float = 0.0
    pending: list[np.ndarray] = field(default_factory=list)

    def fold(self) -> None:
        """Fold the values gathered for the current block into the running figures."""
        if not self.pending:
            return
        x = self.pending[0] if len(self.pending) == 1 else np.concatenate(self.pending)
        self.pending = []
        m = int(x.size)
        if m == 0:
            return
        if self.shift is None:
            self.shift = float(x[0])
        d = x - self.shift
        block_mean = float(d.sum()) / m
        d -= block_mean
        d *= d
        block_m2 = float(d.sum())
        total = self.count + m
        delta = block_mean - self.mean
        self.mean += delta * m / total
        self.m2 += block_m2 + delta * delta * self.count * m / total
        self.count = total

    def result(self) -> tuple[float | None, float | None]:
        """The mean and the sample standard deviation (None without enough values)."""
        if not self.count or self.shift is None:
            return None, None
        std = math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else None
        return self.shift + self.mean, std


@dataclass
class Figures:
    """What the pass over the rows gathers about one column for its profile."""

    nulls: int = 0
    nan: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    lo: Any = None  # the finite range (numbers), or the byte length range (strings)
    hi: Any = None
    moments: Moments = field(default_factory=Moments)
    sample: list[np.ndarray] = field(default_factory=list)  # finite values of sampled rows

    def extend(self, lo: Any, hi: Any) -> None:
        """Widen the observed range."""
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)


@dataclass
class Scan:
    """The table digest and the per-column figures of one pass over a table."""

    digest: str
    rows: int
    figures: list[Figures]


def scan(
    con: duckdb.DuckDBPyConnection, table: str, cols: list[Column], sample_every: int = 1
) -> Scan:
    """One streamed pass over a table: its digest (see the module docstring) and figures.

    Besides the three digest streams of every column, it counts NULLs, NaN and ±inf, takes
    the finite range and moments of numeric columns and the byte-length range of strings, and
    keeps the finite values of every ``sample_every``-th row (counted from row 0) of numeric
    columns for quantiles and histograms. Memory: one batch, plus that sample.
    """
    exprs = [_NORMALISE[c.kind].format(c=quote_ident(c.name)) for c in cols]
    hashers = [(hashlib.sha256(), hashlib.sha256(), hashlib.sha256()) for _ in cols]
    figures = [Figures() for _ in cols]
    ones = np.ones(SCAN_ROWS, dtype=np.uint8)
    rows = 0
    reader = con.sql(f"SELECT {', '.join(exprs)} FROM {table}").to_arrow_reader(SCAN_ROWS)
    for batch in reader:
        n = batch.num_rows
        if n > ones.size:
            ones = np.ones(n, dtype=np.uint8)
        # Where this batch's rows cross block boundaries, as offsets into the batch.
        edges = [*range(BLOCK_ROWS - rows % BLOCK_ROWS, n + 1, BLOCK_ROWS)]
        first = (-rows) % sample_every
        for col, array, (h_valid, h_values, h_data), fig in zip(
            cols, batch.columns, hashers, figures, strict=True
        ):
            nulls = array.null_count
            fig.nulls += nulls
            valid = pc.is_valid(array).to_numpy(zero_copy_only=False) if nulls else None
            h_valid.update((ones[:n] if valid is None else valid.view(np.uint8)).data)
            if col.kind in ("str", "other"):
                _scan_text(array, valid, col.kind == "str", h_values, h_data, fig)
                continue
            values = (pc.fill_null(array, 0) if nulls else array).to_numpy(zero_copy_only=False)
            keep = valid
            if col.kind == "float":
                finite = np.isfinite(values)
                if not finite.all():
                    isnan = np.isnan(values)
                    if isnan.any():
                        values = values.copy()
                        values[isnan] = np.nan  # one canonical NaN bit pattern
                        fig.nan += int(np.count_nonzero(isnan))  # NULLs were filled with 0
                    infinite = ~(finite | isnan)
                    positive = int(np.count_nonzero(infinite & (values > 0)))
                    fig.pos_inf += positive
                    fig.neg_inf += int(np.count_nonzero(infinite)) - positive
                    keep = finite if keep is None else keep & finite
                h_values.update(values.astype("<f8", copy=False))
            else:
                h_values.update(values.astype("<i8", copy=False))
                if col.kind != "int":
                    continue
            _scan_numbers(values, keep, edges, first, sample_every, fig)
        rows += n
    for fig in figures:
        fig.moments.fold()
    doc = {
        "v": 2,
        "rows": rows,
        "columns": [
            [c.name, c.kind, hv.hexdigest(), hx.hexdigest(), hd.hexdigest()]
            for c, (hv, hx, hd) in zip(cols, hashers, strict=True)
        ],
    }
    return Scan(hashlib.sha256(canonical_bytes(doc)).hexdigest(), rows, figures)


def _scan_text(
    array: pa.Array,
    valid: np.ndarray | None,
    is_str: bool,
    h_values: Any,
    h_data: Any,
    fig: Figures,
) -> None:
    filled = pc.fill_null(array, "") if valid is not None else array
    wide = pa.types.is_large_string(filled.type)
    offsets = np.frombuffer(filled.buffers()[1], dtype="<i8" if wide else "<i4")
    offsets = offsets[filled.offset : filled.offset + len(filled) + 1]
    lengths = np.diff(offsets).astype("<u8")
    h_values.update(lengths)
    start, end = int(offsets[0]), int(offsets[-1])
    data = filled.buffers()[2]
    if data is not None and end > start:
        h_data.update(memoryview(data)[start:end])
    if is_str:
        present = lengths if valid is None else lengths[valid]
        if present.size:
            fig.extend(int(present.min()), int(present.max()))


def _scan_numbers(
    values: np.ndarray,
    keep: np.ndarray | None,
    edges: list[int],
    first: int,
    sample_every: int,
    fig: Figures,
) -> None:
    """Range, block moments and sample of one batch of a numeric column."""
    as_number = float if values.dtype.kind == "f" else int
    begin = 0
    for end in [*edges, values.size]:
        if end > begin:
            piece = values[begin:end] if keep is None else values[begin:end][keep[begin:end]]
            if piece.size:
                fig.extend(as_number(piece.min()), as_number(piece.max()))
                fig.moments.pending.append(piece)
        if end in edges:
            fig.moments.fold()
        begin = end
    sampled = values[first::sample_every]
    if keep is not None:
        sampled = sampled[keep[first::sample_every]]
    fig.sample.append(sampled.astype(np.float64))


def table_digest(con: duckdb.DuckDBPyConnection, table: str, cols: list[Column]) -> str:
    """The table digest (see the module docstring), streamed in row order."""
    return scan(con, table, cols).digest
