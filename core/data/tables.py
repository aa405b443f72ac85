"""Tabular files through DuckDB: detect, read, copy to Parquet, digest and profile.

Everything streams through an in-memory DuckDB with a memory limit and a spill folder, so a
file larger than memory ingests in bounded space; nothing is loaded into pandas.

This module is the one door the rest of ledgerml uses; the work is done in four modules,
one per seam:

- :mod:`core.data.duck`: the bounded DuckDB connection and safe quoting;
- :mod:`core.data.reading`: format and CSV dialect detection, reading, the Parquet copy;
- :mod:`core.data.digest`: the table digest (v2, specified there) and the one pass over the
  rows that computes it together with the profile's figures;
- :mod:`core.data.profile`: the profile built from that pass plus DuckDB's counts.
"""

from __future__ import annotations

from core.data.digest import (
    BLOCK_ROWS,
    SCAN_ROWS,
    Column,
    Figures,
    Scan,
    columns,
    scan,
    table_digest,
)
from core.data.duck import connect, duckdb_reason, parquet_source, quote_ident, sql_text
from core.data.profile import (
    EXACT_ROWS,
    HIST_BINS,
    QUANTILES,
    TOP_VALUES,
    TOP_VALUES_MAX_DISTINCT,
    digest_and_profile,
    profile,
    round_figure,
)
from core.data.reading import (
    ENCODINGS,
    FORMATS,
    SAMPLE_BYTES,
    Dialect,
    ParquetSink,
    ReadOptions,
    arrow_batches,
    copy_to_parquet,
    detect,
    detect_with_notices,
    source_sql,
)

__all__ = [
    "BLOCK_ROWS",
    "ENCODINGS",
    "EXACT_ROWS",
    "FORMATS",
    "HIST_BINS",
    "QUANTILES",
    "SAMPLE_BYTES",
    "SCAN_ROWS",
    "TOP_VALUES",
    "TOP_VALUES_MAX_DISTINCT",
    "Column",
    "Dialect",
    "Figures",
    "ParquetSink",
    "ReadOptions",
    "Scan",
    "arrow_batches",
    "columns",
    "connect",
    "copy_to_parquet",
    "detect",
    "detect_with_notices",
    "digest_and_profile",
    "duckdb_reason",
    "parquet_source",
    "profile",
    "quote_ident",
    "round_figure",
    "scan",
    "source_sql",
    "sql_text",
    "table_digest",
]
