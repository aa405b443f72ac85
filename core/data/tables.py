"""Tabular files through DuckDB: detect, read, copy to Parquet, digest and profile.

Everything streams through an in-memory DuckDB with a memory limit and a spill folder, so a
file larger than memory ingests in bounded space; nothing is loaded into pandas.

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

**Profile.** The same pass over the rows (:func:`scan`) gathers most of the profile (NULL,
NaN and ±inf counts, ranges, moments, string lengths, the quantile sample) while DuckDB
counts distinct and top values on a second cursor (:func:`digest_and_profile` says what each
figure means); ingest reads its Parquet copy once for both.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.kernel.errors import UsageError
from storage.canonical import canonical_bytes

FORMATS = ("csv", "parquet", "jsonl")
ENCODINGS = ("utf-8", "utf-16", "latin-1")
SAMPLE_BYTES = 1 << 16
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HIST_BINS = 10
TOP_VALUES = 10
TOP_VALUES_MAX_DISTINCT = 10_000
EXACT_ROWS = 1_000_000
_EXT = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".data": "csv",
    ".dat": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


@dataclass(frozen=True)
class ReadOptions:
    """What the user overrides; ``None`` means detect."""

    format: str | None = None
    delimiter: str | None = None
    header: bool | None = None
    quote: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class Dialect:
    """How a file was read: recorded with the snapshot so it can be read again the same way."""

    format: str
    delimiter: str = ""
    header: bool = True
    quote: str = ""
    encoding: str = "utf-8"

    def to_json(self) -> dict[str, Any]:
        """The recorded form."""
        return asdict(self)


@dataclass(frozen=True)
class Column:
    """A column's name, DuckDB type and digest kind."""

    name: str
    type: str
    kind: str


def connect(spill_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for heavy work, bounded in memory, spilling to ``spill_dir``."""
    # DuckDB draws a progress bar on stdout for queries over two seconds, which would break
    # `--json` output and the TUI: ledgerml reports progress itself.
    con = duckdb.connect(config={"memory_limit": os.environ.get("LEDGERML_MEMORY", "1GB")})
    con.execute("SET enable_progress_bar = false")
    if spill_dir is not None:
        spill_dir.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = '{_sql_text(str(spill_dir))}'")
    return con


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def parquet_source(path: Path) -> str:
    """A DuckDB table expression reading a Parquet file, its path safely quoted."""
    return f"read_parquet('{_sql_text(str(path))}')"


def quote_ident(name: str) -> str:
    """A DuckDB identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def _bad(path: Path, what: str, hint: str = "") -> UsageError:
    return UsageError(f"cannot read {path.name}: {what}", hint=hint)


def _duckdb_reason(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("Original Line", "LINE ", "^"))]
    text = " ".join(keep[:3]) or type(err).__name__
    return text if len(text) < 400 else text[:400] + "…"


def detect(path: Path, opts: ReadOptions) -> Dialect:
    """Work out a file's format and, for CSV, its dialect; the options override each part.

    Raises:
        UsageError: for a missing or empty file, or an unknown format or encoding.
    """
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise _bad(path, "the file is empty")
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    fmt = opts.format
    if fmt is None:
        if sample[:4] == b"PAR1":
            fmt = "parquet"
        elif path.suffix.lower() in _EXT:
            fmt = _EXT[path.suffix.lower()]
        elif b"\0" in sample and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise _bad(
                path,
                "unknown format (binary content)",
                "Supported: CSV, Parquet, JSON Lines; or give --format.",
            )
        else:
            fmt = "jsonl" if sample.lstrip()[:1] == b"{" else "csv"
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"Choose one of {', '.join(FORMATS)}.")
    if fmt != "csv":
        return Dialect(format=fmt)
    encoding = opts.encoding or _detect_encoding(path, sample)
    if encoding not in ENCODINGS:
        raise UsageError(
            f"unsupported encoding {encoding!r}", hint=f"Supported: {', '.join(ENCODINGS)}."
        )
    text = _decode_sample(path, sample, encoding)
    _check_char("delimiter", opts.delimiter, may_be_empty=False)
    _check_char("quote", opts.quote, may_be_empty=True)
    delimiter, quote = opts.delimiter, opts.quote
    if delimiter is None or quote is None:
        try:
            sniffed = csv.Sniffer().sniff(text[: SAMPLE_BYTES // 2], delimiters=",;\t| ")
            delimiter = delimiter or sniffed.delimiter
            quote = quote if quote is not None else (sniffed.quotechar or '"')
        except csv.Error:
            delimiter, quote = delimiter or ",", quote if quote is not None else '"'
    header = opts.header
    if header is None:
        header = _duckdb_has_header(path, delimiter, quote, encoding)
    dialect = Dialect("csv", delimiter, header, quote, encoding)
    if header:
        _check_header(path, text, dialect)
    return dialect


def _check_char(option: str, value: str | None, *, may_be_empty: bool) -> None:
    """Refuse a CSV delimiter or quote that is not one character (``quote`` may be none).

    Python's csv module, which checks the header, takes exactly one character, and a line
    break cannot separate or quote fields.
    """
    if value is None or (len(value) == 1 and value not in "\r\n"):
        return
    if not value and may_be_empty:
        return
    raise UsageError(
        f"--{option} must be one character, not {value!r}",
        hint="A CSV file is read with a one-character delimiter and quote (for a tab, give a "
        "real tab character: $'\\t' in bash); leave the option out to detect it.",
    )


def _detect_encoding(path: Path, sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # A sample may end inside a multi-byte character; ignore only that tail.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError as err:
        raise _bad(
            path,
            f"it is not valid UTF-8 (byte {err.start}: {sample[err.start : err.start + 1]!r})",
            "If it is Latin-1 or UTF-16, say so with --encoding latin-1 or --encoding utf-16.",
        ) from err
    return "utf-8"


def _decode_sample(path: Path, sample: bytes, encoding: str) -> str:
    codec = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "latin-1": "latin-1"}[encoding]
    try:
        return codecs.getincrementaldecoder(codec)(errors="replace").decode(sample, final=False)
    except UnicodeError as err:  # UTF-16 without a byte-order mark: its byte order is unknown
        raise _bad(
            path,
            f"it is not {encoding} text ({err})",
            "Leave --encoding out to detect it, or give the file's own: utf-8, utf-16 (with "
            "a byte-order mark) or latin-1.",
        ) from err


def _duckdb_has_header(path: Path, delimiter: str, quote: str, encoding: str) -> bool:
    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT HasHeader FROM sniff_csv(?, delim = ?, quote = ?, encoding = ?)",
            [str(path), delimiter, quote or "", encoding],
        ).fetchone()
    except duckdb.Error as err:
        raise _bad(path, _duckdb_reason(err)) from err
    finally:
        con.close()
    return bool(row and row[0])


def _check_header(path: Path, text: str, dialect: Dialect) -> None:
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(
        io.StringIO(text), delimiter=dialect.delimiter, quotechar=dialect.quote or None
    )
    try:
        names = next(reader)
    except (StopIteration, csv.Error) as err:
        raise _bad(path, f"its header cannot be parsed ({err})") from err
    seen: dict[str, str] = {}
    for name in names:
        key = name.strip().lower()  # DuckDB identifiers are case-insensitive
        if key in seen:
            raise _bad(
                path,
                f"the header repeats the column name {name!r}"
                + (f" (as {seen[key]!r})" if seen[key] != name else ""),
                "Rename the duplicate columns; a table needs unique column names.",
            )
        seen[key] = name


def source_sql(path: Path, dialect: Dialect, *, full_sample: bool = False) -> str:
    """A DuckDB table expression reading the file as the dialect says."""
    p = _sql_text(str(path))
    if dialect.format == "parquet":
        return f"read_parquet('{p}')"
    if dialect.format == "jsonl":
        return f"read_json('{p}', format = 'newline_delimited')"
    quote = _sql_text(dialect.quote)
    sample = ", sample_size = -1" if full_sample else ""
    return (
        f"read_csv('{p}', delim = '{_sql_text(dialect.delimiter)}', quote = '{quote}', "
        f"escape = '{quote}', header = {str(dialect.header).lower()}, "
        f"encoding = '{dialect.encoding}', strict_mode = true{sample})"
    )


def copy_to_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, dialect: Dialect, target: Path
) -> None:
    """Stream the file into a canonical Parquet copy (zstd, fixed row groups).

    Raises:
        UsageError: with DuckDB's reason when the file cannot be read as the dialect says.
    """
    t = _sql_text(str(target))
    options = "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
    try:
        con.execute(f"COPY (SELECT * FROM {source_sql(path, dialect)}) TO '{t}' {options}")
    except duckdb.ConversionException:
        # The type guess from the first rows did not hold further down: look at every row.
        try:
            con.execute(
                f"COPY (SELECT * FROM {source_sql(path, dialect, full_sample=True)}) "
                f"TO '{t}' {options}"
            )
        except duckdb.Error as err:
            raise _bad(path, _duckdb_reason(err)) from err
    except duckdb.Error as err:
        hint = ""
        if dialect.format == "csv":
            hint = (
                "Detected " + f"delimiter {dialect.delimiter!r}, quote {dialect.quote!r}, "
                f"header {dialect.header}, encoding {dialect.encoding}; override with "
                "--delimiter, --quote, --header/--no-header, --encoding."
            )
        raise _bad(path, _duckdb_reason(err), hint) from err


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
class _Moments:
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
class _Figures:
    """What the pass over the rows gathers about one column for its profile."""

    nulls: int = 0
    nan: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    lo: Any = None  # the finite range (numbers), or the byte length range (strings)
    hi: Any = None
    moments: _Moments = field(default_factory=_Moments)
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
    figures: list[_Figures]


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
    figures = [_Figures() for _ in cols]
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
    fig: _Figures,
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
    fig: _Figures,
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


def _round(value: Any) -> Any:
    """Round floats to 12 significant digits so parallel sums give the same evidence."""
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(f"{value:.12g}")
    return value


def profile(con: duckdb.DuckDBPyConnection, parquet: Path, cols: list[Column]) -> dict[str, Any]:
    """The profile alone (see :func:`digest_and_profile`)."""
    return digest_and_profile(con, parquet, cols)[1]


def digest_and_profile(
    con: duckdb.DuckDBPyConnection, parquet: Path, cols: list[Column]
) -> tuple[str, dict[str, Any]]:
    """The table digest and the profile of a Parquet file, from one pass plus DuckDB queries.

    Per column: type, nulls, NaN, ±inf (counted apart), exact distinct count, min/max/mean/
    std, quantiles, a histogram (numeric) and the top values (columns with at most
    :data:`TOP_VALUES_MAX_DISTINCT` distinct values). Up to :data:`EXACT_ROWS` rows every
    figure is exact. Above that, distinct counts use HyperLogLog, and quantiles and histogram
    counts are exact on a systematic sample (every k-th row); the profile records both.
    Means and (sample) standard deviations are over the finite values, summed in fixed blocks
    of rows folded in row order, and rounded to 12 significant digits, so the same table gives
    the same evidence on every run.

    One pass over the rows (:func:`scan`: the digest streams, NULL/NaN/±inf counts, ranges,
    moments, string lengths, the quantile sample) runs in Python while DuckDB counts distinct
    and top values on a second cursor; quantiles and histograms then come from the sample in
    memory (:func:`_quantiles_and_histograms`, the same figures DuckDB's ``quantile_cont`` and
    ``histogram`` give).
    """
    table = parquet_source(parquet)
    [(rows,)] = con.execute(f"SELECT count(*) FROM {table}").fetchall()
    step = max(1, -(-rows // EXACT_ROWS))
    with ThreadPoolExecutor(max_workers=1) as pool:  # if the scan fails, the pool still waits
        counting = pool.submit(_distinct_and_top, con.cursor(), table, cols, rows <= EXACT_ROWS)
        scanned = scan(con, table, cols, step)
        counted = counting.result()
    if scanned.rows != rows:
        raise UsageError(
            f"the Parquet copy changed while it was read ({rows}, {scanned.rows} rows)"
        )
    out: dict[str, Any] = {"rows": rows, "columns": {}}
    if rows > EXACT_ROWS:
        out["distinct_method"] = "hyperloglog (approximate)"
    numeric: list[tuple[Column, _Figures]] = []
    for col, fig, (distinct, extremes, top) in zip(cols, scanned.figures, counted, strict=True):
        stats: dict[str, Any] = {
            "type": col.type,
            "kind": col.kind,
            "nulls": fig.nulls,
            "distinct": distinct,
        }
        if col.kind in ("int", "float"):
            mean, std = fig.moments.result()
            stats.update(
                {
                    "nan": fig.nan,
                    "pos_inf": fig.pos_inf,
                    "neg_inf": fig.neg_inf,
                    "min": _round(fig.lo),
                    "max": _round(fig.hi),
                    "mean": _round(mean),
                    "std": _round(std),
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
    con: duckdb.DuckDBPyConnection, table: str, cols: list[Column], exact: bool
) -> list[tuple[int, tuple[Any, Any], list[list[Any]]]]:
    """Per column: distinct count, (min, max) as text for non-numeric kinds, top values."""
    try:
        distinct_fn = "count(DISTINCT {c})" if exact else "approx_count_distinct({c})"
        parts = []
        for col in cols:
            c = quote_ident(col.name)
            parts.append(distinct_fn.format(c=c))
            if col.kind not in ("int", "float", "str"):
                parts += [f"CAST(min({c}) AS VARCHAR)", f"CAST(max({c}) AS VARCHAR)"]
        row = con.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchone()
        assert row is not None
        values = list(row)
        out = []
        for col in cols:
            distinct = int(values.pop(0))
            extremes = (None, None)
            if col.kind not in ("int", "float", "str"):
                extremes = (values.pop(0), values.pop(0))
            top = _top_values(con, table, col) if distinct <= TOP_VALUES_MAX_DISTINCT else []
            out.append((distinct, extremes, top))
        return out
    finally:
        con.close()


def _quantiles_and_histograms(numeric: list[tuple[Column, _Figures]], out: dict[str, Any]) -> None:
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
            "edges": [_round(lo + i * width) for i in range(HIST_BINS + 1)],
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
                quantiles[str(q)] = _round(below)
                continue
            d = rank - low
            above = float(ordered[high])
            # lo * (1 - d) + hi * d with the first product fused into the sum: exact
            # rational arithmetic, rounded once to the nearest double.
            fused = float(Fraction(below) * Fraction(1.0 - d) + Fraction(above * d))
            quantiles[str(q)] = _round(fused)
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
