"""Reading tabular files: detect the format and CSV dialect, read, copy to Parquet.

What is detected is recorded with the snapshot as a :class:`Dialect`, so the same bytes can
be read again the same way; user overrides arrive as :class:`ReadOptions`. Nothing is fixed
silently: lines skipped above the header, spaces trimmed after a ``", "`` separator and
missing-value codes are recorded in the dialect and reported as notices
(:func:`detect_with_notices`, :mod:`core.data.missing_codes`). The dialect's newer keys
(``skip``, ``trim``, ``names``, ``na_values``, ``column_na_values``) are written only when
set, so a dialect recorded before them keeps its exact bytes.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
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
    """What the user overrides; ``None`` means detect.

    ``na_values`` are codes read as missing in every column, ``column_na_values`` pairs of
    (column, code) for one column only; ``names`` names the columns of a header-less CSV.
    """

    format: str | None = None
    delimiter: str | None = None
    header: bool | None = None
    quote: str | None = None
    encoding: str | None = None
    na_values: tuple[str, ...] = ()
    column_na_values: tuple[tuple[str, str], ...] = ()
    names: tuple[str, ...] = ()


_BASE_KEYS = ("format", "delimiter", "header", "quote", "encoding")


@dataclass(frozen=True)
class Dialect:
    """How a file was read: recorded with the snapshot so it can be read again the same way.

    ``skip``: lines above the header DuckDB's sniffer found and skips (a title or a comment);
    ``trim``: leading spaces after the delimiter are removed from text values; ``names``:
    the column names given for a header-less file; ``na_values`` / ``column_na_values``: the
    codes read as NULL in every column / in one column.
    """

    format: str
    delimiter: str = ""
    header: bool = True
    quote: str = ""
    encoding: str = "utf-8"
    skip: int = 0
    trim: bool = False
    names: tuple[str, ...] = ()
    na_values: tuple[str, ...] = ()
    column_na_values: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The recorded form: the five original keys, and each newer one only when set."""
        out: dict[str, Any] = {k: getattr(self, k) for k in _BASE_KEYS}
        if self.skip:
            out["skip"] = self.skip
        if self.trim:
            out["trim"] = True
        if self.names:
            out["names"] = list(self.names)
        if self.na_values:
            out["na_values"] = list(self.na_values)
        if self.column_na_values:
            out["column_na_values"] = {c: list(codes) for c, codes in self.column_na_values}
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Dialect:
        """A recorded dialect read back (older ones lack the newer keys: their defaults)."""
        return cls(
            **{k: doc[k] for k in (*_BASE_KEYS, "skip", "trim") if k in doc},
            names=tuple(doc.get("names", ())),
            na_values=tuple(doc.get("na_values", ())),
            column_na_values=tuple(
                (c, tuple(codes)) for c, codes in doc.get("column_na_values", {}).items()
            ),
        )

    @property
    def user_read_options(self) -> dict[str, Any]:
        """What the user asked of the read that changes the table (names, missing codes).

        Two snapshots of the same bytes are the same table only if these agree.
        """
        full = self.to_json()
        return {k: full[k] for k in ("names", "na_values", "column_na_values") if k in full}

    @property
    def has_codes(self) -> bool:
        """Whether any missing-value code was declared."""
        return bool(self.na_values or self.column_na_values)


def _bad(path: Path, what: str, hint: str = "") -> UsageError:
    return UsageError(f"cannot read {path.name}: {what}", hint=hint)


def detect(path: Path, opts: ReadOptions) -> Dialect:
    """Work out a file's format and, for CSV, its dialect; the options override each part.

    Raises:
        UsageError: for a missing or empty file, or an unknown format or encoding.
    """
    return detect_with_notices(path, opts)[0]


def detect_with_notices(path: Path, opts: ReadOptions) -> tuple[Dialect, list[str]]:
    """:func:`detect`, and what the reading will do that a user must be told about.

    The notices name lines skipped above the header and spaces trimmed after the delimiter;
    both are also recorded in the dialect, so a re-read does exactly the same.
    """
    dialect, notices = _detect(path, opts)
    codes = _codes(opts)
    every = tuple(dict.fromkeys(opts.na_values))
    return replace(dialect, na_values=every, column_na_values=codes), notices


def _codes(opts: ReadOptions) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The per-column codes, grouped by column in the order given, each code once."""
    grouped: dict[str, list[str]] = {}
    for column, code in opts.column_na_values:
        if code not in grouped.setdefault(column, []):
            grouped[column].append(code)
    for code in (*opts.na_values, *(c for _, c in opts.column_na_values)):
        if code == "":
            raise UsageError("--na-values needs a code: an empty field is already read as missing")
    return tuple((c, tuple(codes)) for c, codes in grouped.items())


def _detect(path: Path, opts: ReadOptions) -> tuple[Dialect, list[str]]:
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
        if opts.names:
            raise UsageError(
                "--columns names the columns of a header-less CSV file",
                hint=f"{path.name} is {fmt}: its columns have names already.",
            )
        return Dialect(format=fmt), []
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
        if opts.delimiter is None and delimiter == " ":
            delimiter = _before_space(text) or delimiter
    header, skip = _duckdb_sniff(path, delimiter, quote, encoding)
    if skip and opts.delimiter is None:
        # The sniff above saw the junk lines too: look again at the lines below them.
        body = _drop_lines(text, skip)
        try:
            again = csv.Sniffer().sniff(body[: SAMPLE_BYTES // 2], delimiters=",;\t| ")
        except csv.Error:
            again = None
        if again is not None and again.delimiter != delimiter:
            delimiter = again.delimiter
            quote = opts.quote if opts.quote is not None else (again.quotechar or '"')
            header, skip = _duckdb_sniff(path, delimiter, quote, encoding)
    if opts.header is not None:
        header = opts.header
    if opts.names:
        if opts.header:
            raise UsageError(
                "--columns is for a file without a header, and --header says it has one",
                hint="Leave --header out (the names replace DuckDB's column00…).",
            )
        header = False
    body = _drop_lines(text, skip)
    trimmed = _spaced_columns(body, delimiter, quote)
    notices: list[str] = []
    if skip:
        first = text.splitlines()[0] if text.splitlines() else ""
        if header:  # a title above a header: quoting it lets the user check it is one
            shown = repr(first if len(first) <= 60 else first[:59] + "…")
        else:  # above data rows, a skipped line may itself be a person's row: not quoted
            fields = len(first.split(delimiter)) if delimiter else 1
            shown = f"{len(first)} characters, {fields} field{'s' if fields > 1 else ''}"
        notices.append(
            f"skipped {skip} line{'s' if skip > 1 else ''} above the "
            f"{'header' if header else 'data'} (the first: {shown}); recorded as skip = {skip}"
        )
    if trimmed:
        notices.append(
            f"values follow the delimiter {delimiter!r} with a space: leading spaces are trimmed "
            f"from text values and names ({trimmed} column{'s' if trimmed > 1 else ''} had them); "
            "recorded as trim = true"
        )
    dialect = Dialect(
        "csv", delimiter, header, quote, encoding, skip=skip, trim=bool(trimmed), names=opts.names
    )
    if header:
        _check_header(path, body, dialect)
    if opts.names:
        _check_names(path, dialect)
    return dialect, notices


def _before_space(text: str) -> str | None:
    """The delimiter of a ``", "`` file that Python's sniffer took for space-separated.

    When, on (nearly) every line holding a punctuation mark (most lines do), every space
    follows that mark, the spaces are padding after the delimiter, not the delimiter:
    ``a, b, c`` is three values.
    """
    lines = [ln for ln in text.splitlines()[:200] if ln.strip()]
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end inside a line
    for mark in ",;\t|":
        marked = [ln for ln in lines if mark in ln]  # a title line above may have none
        padded = sum(1 for ln in marked if ln.count(mark + " ") == ln.count(" "))
        if marked and 2 * len(marked) >= len(lines) and padded >= 0.9 * len(marked):
            return mark
    return None


def _drop_lines(text: str, n: int) -> str:
    """``text`` without its first ``n`` lines."""
    if not n:
        return text
    parts = text.split("\n", n)
    return parts[n] if len(parts) > n else ""


def _spaced_columns(text: str, delimiter: str, quote: str) -> int:
    """How many columns of the sample have values that begin with a space (a ``", "`` file).

    Counted only when a space follows the delimiter on every sampled line that has one, so
    a stray space in one value is kept (it is data), while a ``", "`` separator is not.
    """
    if delimiter == " ":
        return 0
    lines = [ln for ln in text.splitlines()[:200] if ln.strip()]
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end inside a line
    with_delim = [ln for ln in lines if delimiter in ln]
    if not with_delim or not all(f"{delimiter} " in ln for ln in with_delim):
        return 0
    reader = csv.reader(
        io.StringIO("\n".join(with_delim)), delimiter=delimiter, quotechar=quote or None
    )
    spaced: set[int] = set()
    try:
        for row in reader:
            spaced.update(i for i, v in enumerate(row) if v.startswith(" "))
    except csv.Error:
        return 0
    return len(spaced)


def _check_names(path: Path, dialect: Dialect) -> None:
    """Refuse ``--columns`` names that repeat, or whose count is not the file's."""
    _refuse_duplicates(
        path, list(dialect.names), "--columns repeats", "Give each column its own name."
    )
    plain = replace(dialect, names=())
    con = duckdb.connect()
    try:
        found = len(con.execute(f"DESCRIBE SELECT * FROM {source_sql(path, plain)}").fetchall())
    except duckdb.Error as err:
        raise _bad(path, duckdb_reason(err)) from err
    finally:
        con.close()
    if found != len(dialect.names):
        raise UsageError(
            f"--columns gives {len(dialect.names)} names but {path.name} has {found} columns",
            hint=f"Give exactly {found} comma-separated names, in the file's order.",
        )


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


def _duckdb_sniff(path: Path, delimiter: str, quote: str, encoding: str) -> tuple[bool, int]:
    """DuckDB's sniffer: whether the file has a header, and how many lines it skips above it."""
    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT HasHeader, SkipRows FROM sniff_csv(?, delim = ?, quote = ?, encoding = ?)",
            [str(path), delimiter, quote or "", encoding],
        ).fetchone()
    except duckdb.Error as err:
        raise _bad(path, duckdb_reason(err)) from err
    finally:
        con.close()
    return bool(row and row[0]), int(row[1]) if row and row[1] else 0


def _check_header(path: Path, text: str, dialect: Dialect) -> None:
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(
        io.StringIO(text), delimiter=dialect.delimiter, quotechar=dialect.quote or None
    )
    try:
        names = next(reader)
    except (StopIteration, csv.Error) as err:
        raise _bad(path, f"its header cannot be parsed ({err})") from err
    _refuse_duplicates(
        path,
        names,
        "the header repeats",
        "Rename the duplicate columns; a table needs unique column names.",
    )


def _refuse_duplicates(path: Path, names: list[str], what: str, hint: str) -> None:
    """Refuse repeated column names, naming every one (DuckDB names are case-insensitive)."""
    first: dict[str, str] = {}
    repeats: dict[str, list[str]] = {}
    for name in names:
        key = name.strip().lower()
        if key in first:
            repeats.setdefault(key, []).append(name)
        else:
            first[key] = name
    if not repeats:
        return
    described = []
    for key, again in ((k, repeats[k]) for k in first if k in repeats):
        others = sorted({n for n in again if n != first[key]})
        times = len(again) + 1
        described.append(
            f"{first[key]!r} ({times} times"
            + (f", also as {', '.join(map(repr, others))})" if others else ")")
        )
    noun = "column name" if len(described) == 1 else "column names"
    raise _bad(path, f"{what} the {noun} {', '.join(described)}", hint)


def source_sql(
    path: Path,
    dialect: Dialect,
    *,
    full_sample: bool = False,
    as_text: bool = False,
    text_columns: Sequence[str] = (),
) -> str:
    """A DuckDB table expression reading the file as the dialect says.

    Codes declared for every column of a CSV file are DuckDB's ``nullstr`` (so they are NULL
    before types are inferred: a numeric column with ``?`` codes reads as numbers); with
    ``trim``, a code or an empty field after the delimiter's space is one too. ``as_text``
    reads every column as text without the codes, to count them; ``text_columns`` reads
    those CSV columns as text whatever they hold (pseudonymised columns: the characters in
    the file, so ``00123`` is not the number 123).
    """
    p = sql_text(str(path))
    if dialect.format == "parquet":
        return f"read_parquet('{p}')"
    if dialect.format == "jsonl":
        return f"read_json('{p}', format = 'newline_delimited')"
    quote = sql_text(dialect.quote)
    sample = ", sample_size = -1" if full_sample else ""
    extra = ""
    if dialect.skip:
        extra += f", skip = {dialect.skip}"
    if dialect.names:
        extra += f", names = {_text_list(dialect.names)}"
    if as_text:
        extra += ", all_varchar = true"
    elif text_columns:
        extra += ", types = {" + ", ".join(f"'{sql_text(c)}': 'VARCHAR'" for c in text_columns)
        extra += "}"
    else:
        nulls = [""]
        if dialect.trim:
            nulls.append(" ")
        for code in dialect.na_values:
            nulls += [code, " " + code] if dialect.trim else [code]
        if len(nulls) > 1:
            extra += f", nullstr = {_text_list(nulls)}"
    return (
        f"read_csv('{p}', delim = '{sql_text(dialect.delimiter)}', quote = '{quote}', "
        f"escape = '{quote}', header = {str(dialect.header).lower()}, "
        f"encoding = '{dialect.encoding}', strict_mode = true{sample}{extra})"
    )


def _text_list(values: Any) -> str:
    """A DuckDB list literal of text values, each safely quoted."""
    return "[" + ", ".join(f"'{sql_text(v)}'" for v in values) + "]"


ParquetSink = Callable[[duckdb.DuckDBPyConnection, str], None]
"""Writes the rows of a ``SELECT`` somewhere as Parquet (an encrypted copy, say); it raises
``duckdb.Error`` for rows that cannot be read (:func:`arrow_batches` turns a reader's errors
into those)."""


def arrow_batches(con: duckdb.DuckDBPyConnection, select: str, batch_rows: int) -> Any:
    """The rows of ``select`` as a pyarrow RecordBatchReader that raises DuckDB's errors.

    DuckDB's own reader raises a plain ``OSError`` for a value that does not convert; this
    one raises the ``duckdb`` exception its text names, so callers handle one kind of error
    whether DuckDB writes the file or pyarrow does.
    """
    import pyarrow as pa

    inner = con.sql(select).to_arrow_reader(batch_rows)

    def batches() -> Any:
        try:
            yield from inner
        except OSError as err:
            text = str(err)
            if text.startswith("Conversion Error"):
                raise duckdb.ConversionException(text) from None
            raise duckdb.InvalidInputException(text) from None

    return pa.RecordBatchReader.from_batches(inner.schema, batches())


def copy_to_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    dialect: Dialect,
    target: Path | ParquetSink,
    *,
    pseudonyms: Mapping[str, tuple[int, bytes]] | None = None,
) -> None:
    """Stream the file into a canonical Parquet copy (zstd, fixed row groups).

    ``target`` is a file DuckDB writes, or a :data:`ParquetSink` given the ``SELECT`` (an
    encrypted copy: DuckDB here cannot write encrypted Parquet itself). A sink may be called
    twice: the second time with every row sampled for types; it replaces what it wrote.
    ``pseudonyms`` maps columns to (key version, key): their values are replaced by keyed
    pseudonyms in the copy (:mod:`core.data.pseudonyms`); the keys are on the connection only
    while it is written.

    Raises:
        UsageError: with DuckDB's reason when the file cannot be read as the dialect says,
            or for a pseudonymised column the file does not have.
    """
    from core.data import pseudonyms as pseudo
    from core.data.missing_codes import projection

    options = "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
    versions = {column: version for column, (version, _) in (pseudonyms or {}).items()}
    keys = dict((pseudonyms or {}).values())
    text = tuple(versions) if dialect.format == "csv" else ()

    def write(source: str) -> None:
        select = f"SELECT {projection(con, source, dialect, versions)} FROM {source}"
        if isinstance(target, Path):
            con.execute(f"COPY ({select}) TO '{sql_text(str(target))}' {options}")
        else:
            target(con, select)

    try:
        if versions:
            found = con.execute(f"DESCRIBE SELECT * FROM {source_sql(path, dialect)}").fetchall()
            pseudo.check_columns(list(versions), [str(r[0]) for r in found])
            pseudo.bind(con, keys)
        write(source_sql(path, dialect, text_columns=text))
    except duckdb.ConversionException:
        # The type guess from the first rows did not hold further down: look at every row.
        try:
            write(source_sql(path, dialect, full_sample=True, text_columns=text))
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
    finally:
        if keys:
            pseudo.unbind(con, keys)
