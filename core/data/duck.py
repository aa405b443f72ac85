"""DuckDB connections for heavy work and the quoting every query over user data needs.

Kept apart from reading and profiling so that modules which only query a Parquet copy
(training, validation, data sheets) get the bounded, spilling connection and safe quoting
without the file-format detection or the digest pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from storage.fsutil import private_dir


def connect(spill_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for heavy work, bounded in memory, spilling to ``spill_dir``."""
    # DuckDB draws a progress bar on stdout for queries over two seconds, which would break
    # `--json` output and the TUI: ledgerml reports progress itself.
    con = duckdb.connect(config={"memory_limit": os.environ.get("LEDGERML_MEMORY", "1GB")})
    con.execute("SET enable_progress_bar = false")
    if spill_dir is not None:
        private_dir(spill_dir)
        con.execute(f"SET temp_directory = '{sql_text(str(spill_dir))}'")
    return con


def sql_text(text: str) -> str:
    """Text for a single-quoted DuckDB string literal (paths, options)."""
    return text.replace("'", "''")


def parquet_source(path: Path) -> str:
    """A DuckDB table expression reading a Parquet file, its path safely quoted."""
    return f"read_parquet('{sql_text(str(path))}')"


def quote_ident(name: str) -> str:
    """A DuckDB identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def duckdb_reason(err: Exception) -> str:
    """DuckDB's error in a line or three a user can read (no echoed SQL, no caret)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("Original Line", "LINE ", "^"))]
    text = " ".join(keep[:3]) or type(err).__name__
    return text if len(text) < 400 else text[:400] + "…"
