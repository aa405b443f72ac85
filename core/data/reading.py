"""Reading tabular files: detect the format and CSV dialect, read, copy to Parquet.

What is detected is recorded with the snapshot as a :class:`Dialect`, so the same bytes can
be read again the same way; user overrides arrive as :class:`ReadOptions`.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from core.data.duck import duckdb_reason, sql_text
from core.kernel.errors import UsageError

FORMATS = ("csv", "parquet", "jsonl")
ENCODINGS = ("utf-8", "utf-16", "latin-1")
SAMPLE_BYTES = 1 << 16
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


def _bad(path: Path, what: str, hint: str = "") -> UsageError:
    return UsageError(f"cannot read {path.name}: {what}", hint=hint)


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
        raise _bad(path, duckdb_reason(err)) from err
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
    p = sql_text(str(path))
    if dialect.format == "parquet":
        return f"read_parquet('{p}')"
    if dialect.format == "jsonl":
        return f"read_json('{p}', format = 'newline_delimited')"
    quote = sql_text(dialect.quote)
    sample = ", sample_size = -1" if full_sample else ""
    return (
        f"read_csv('{p}', delim = '{sql_text(dialect.delimiter)}', quote = '{quote}', "
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
    t = sql_text(str(target))
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
            raise _bad(path, duckdb_reason(err)) from err
    except duckdb.Error as err:
        hint = ""
        if dialect.format == "csv":
            hint = (
                "Detected " + f"delimiter {dialect.delimiter!r}, quote {dialect.quote!r}, "
                f"header {dialect.header}, encoding {dialect.encoding}; override with "
                "--delimiter, --quote, --header/--no-header, --encoding."
            )
        raise _bad(path, duckdb_reason(err), hint) from err
