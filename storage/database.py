"""DuckDB connection handling: open with a busy wait, transactions, generic rows, the meta table.

A :class:`Database` is one short-lived connection to one DuckDB file. It knows nothing of the
domain: a subclass names its DDL (``SCHEMA_SQL``) and its tables (``TABLES``, classes that
carry ``TABLE``, ``COLUMNS`` and ``KEY``), and gets schema management keyed by a digest of that
DDL, atomic transactions (with the projection failpoints), and generic row writes and dumps.
The read model built on it (the catalog) lives in ``core.kernel.catalog``.

The schema version is the SHA-256 of the DDL text: a changed declaration gives a different
version, and a database at another version is dropped and recreated empty (its owner
replays it from the ledger). No migration is ever written.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

import duckdb

from storage import failpoints
from storage.errors import WorkspaceBusyError
from storage.lock import busy_timeout, describe_pid

META_TABLE = "catalog_meta"
_PID = re.compile(r"PID (\d+)")
# Below this many rows a plain multi-row INSERT beats building an Arrow table (and spares
# a small write the import of pyarrow).
ARROW_FROM = 256


class TableRow(Protocol):
    """What a row class declares about its table (the catalog's generated rows do)."""

    TABLE: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    KEY: ClassVar[tuple[str, ...]]


def schema_version(ddl: str) -> str:
    """The version of a schema: the SHA-256 of its DDL text (first 16 hex digits)."""
    return hashlib.sha256(ddl.encode("utf-8")).hexdigest()[:16]


class Database:
    """A short-lived connection to a DuckDB file with a declared, digest-versioned schema."""

    SCHEMA_SQL: ClassVar[Path]
    TABLES: ClassVar[tuple[type[TableRow], ...]] = ()
    _version: ClassVar[str | None] = None

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        """Wrap an open connection; use :meth:`open` instead."""
        self.con = con
        # No progress bar on stdout from a long query (a large rebuild): it would break --json.
        con.execute("SET enable_progress_bar = false")

    @classmethod
    def schema_version(cls) -> str:
        """The code's schema version: the digest of ``SCHEMA_SQL`` (read once)."""
        if cls._version is None:
            cls._version = schema_version(cls.SCHEMA_SQL.read_text())
        return cls._version

    @classmethod
    def open(
        cls, path: Path | str, *, timeout: float | None = None, read_only: bool = False
    ) -> Self:
        """Open (creating if needed) the file, waiting briefly if another process holds it.

        Raises:
            WorkspaceBusyError: if the file stays locked by another process.
        """
        wait = busy_timeout() if timeout is None else timeout
        deadline = time.monotonic() + wait
        while True:
            try:
                created = not read_only and not Path(path).exists()
                db = cls(duckdb.connect(str(path), read_only=read_only))
                if created:  # the catalog indexes personal data: owner-only, like the blobs
                    os.chmod(path, 0o600)
                return db
            except duckdb.IOException as err:
                text = str(err)
                if "lock" not in text.lower():
                    raise
                if time.monotonic() >= deadline:
                    match = _PID.search(text)
                    holder = describe_pid(int(match.group(1))) if match else "another process"
                    raise WorkspaceBusyError(
                        f"workspace busy: the catalog is held by {holder}",
                        hint=f"Waited {wait:g} s. Retry when it has finished.",
                    ) from None
                time.sleep(0.05)

    @classmethod
    def memory(cls) -> Self:
        """An empty in-memory database with the current schema (for checks and tests)."""
        db = cls(duckdb.connect())
        db.drop_all()
        return db

    def close(self) -> None:
        """Close the connection, releasing the file for other processes."""
        self.con.close()

    # -- schema and the meta table ----------------------------------------------------------

    def ensure_schema(self) -> bool:
        """Create the tables if missing or outdated; return True when (re)created empty."""
        if self.schema_current():
            return False
        self.drop_all()
        return True

    def schema_current(self) -> bool:
        """Whether the tables exist at the code's schema version (a read-only check)."""
        tables = {
            r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        if not tables >= {t.TABLE for t in self.TABLES}:
            return False
        row = self.con.execute(
            f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
        ).fetchone()
        return bool(row and row[0] == self.schema_version())

    def drop_all(self) -> None:
        """Drop every table and create the current schema, empty."""
        self.con.execute("BEGIN")
        for (name,) in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            self.con.execute(f'DROP TABLE "{name}"')
        # DuckDB accepts the PostgreSQL DDL SQLAlchemy compiles (VARCHAR, BIGINT, VARCHAR[]).
        self.con.execute(self.SCHEMA_SQL.read_text())
        self.con.execute(
            f"INSERT INTO {META_TABLE} VALUES ('schema_version', ?), ('last_seq', '0'), "
            "('last_hash', ?)",
            [self.schema_version(), "0" * 64],
        )
        self.con.execute("COMMIT")

    def set_applied(self, seq: int, entry_hash: str) -> None:
        """Record the last ledger event folded in (part of the surrounding transaction)."""
        self.con.execute(f"UPDATE {META_TABLE} SET value = ? WHERE key = 'last_seq'", [str(seq)])
        self.con.execute(f"UPDATE {META_TABLE} SET value = ? WHERE key = 'last_hash'", [entry_hash])

    def applied(self) -> tuple[int, str]:
        """The last event folded in: ``(seq, hash)``."""
        rows = dict(
            self.con.execute(
                f"SELECT key, value FROM {META_TABLE} WHERE key IN ('last_seq', 'last_hash')"
            ).fetchall()
        )
        return int(rows.get("last_seq", 0)), rows.get("last_hash", "0" * 64)

    # -- writes ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """Run writes atomically; the applied position is part of the same commit."""
        self.con.execute("BEGIN")
        try:
            yield self
            failpoints.hit("projection.before-commit")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        failpoints.hit("projection.after-commit")

    def put(self, row: TableRow) -> None:
        """Insert or replace one row by its primary key.

        A DELETE by key then an INSERT: the same rows as DuckDB's INSERT OR REPLACE (the key
        is each table's only constraint), at about half its CPU cost, which verification and
        rebuilds pay once per state event.
        """
        model = type(row)
        cols = model.COLUMNS
        names = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        where = " AND ".join(f'"{c}" = ?' for c in model.KEY)
        self.con.execute(
            f"DELETE FROM {model.TABLE} WHERE {where}", [getattr(row, c) for c in model.KEY]
        )
        self.con.execute(
            f"INSERT INTO {model.TABLE} ({names}) VALUES ({marks})",
            [getattr(row, c) for c in cols],
        )

    def insert_or_ignore(self, table: str, values: Sequence[Any]) -> None:
        """Insert one row unless its key is present (the first writer's row stays)."""
        marks = ", ".join("?" for _ in values)
        self.con.execute(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", list(values))

    def insert_many(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[dict[str, Any]],
        arrow_types: dict[str, str],
    ) -> None:
        """Bulk-insert rows (dicts by column), through Arrow when there are many.

        ``arrow_types`` maps a column to ``"int64"`` or ``"list<string>"``; every other column
        is a string. executemany is orders of magnitude slower than either path.
        """
        if not rows:
            return
        if len(rows) < ARROW_FROM:
            marks = ", ".join(["(" + ", ".join("?" for _ in columns) + ")"] * len(rows))
            self.con.execute(
                f"INSERT INTO {table} VALUES {marks}", [r[c] for r in rows for c in columns]
            )
            return
        import pyarrow as pa

        types = {"int64": pa.int64(), "list<string>": pa.list_(pa.string())}
        arrays = {c: [r[c] for r in rows] for c in columns}
        schema = pa.schema([(c, types.get(arrow_types.get(c, ""), pa.string())) for c in columns])
        batch = pa.table(arrays, schema=schema)  # noqa: F841  (read by DuckDB's replacement scan)
        self.con.execute(f"INSERT INTO {table} SELECT * FROM batch")

    # -- generic reads ---------------------------------------------------------------------

    def rows(self, model: type[Any], sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of a query, each built as ``model(**columns)``."""
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description or []]
        return [model(**dict(zip(names, r, strict=True))) for r in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        """Row counts of every declared table."""
        out: dict[str, int] = {}
        for model in self.TABLES:
            row = self.con.execute(f"SELECT count(*) FROM {model.TABLE}").fetchone()
            out[model.TABLE] = int(row[0]) if row else 0
        return out

    def dump(self, only: Sequence[str] = ()) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows (or ``only`` those tables') in key order.

        Two databases answer every query alike exactly when their dumps are equal.
        """
        out: dict[str, list[tuple[Any, ...]]] = {}
        for model in self.TABLES:
            if only and model.TABLE not in only:
                continue
            cols = ", ".join(f'"{c}"' for c in model.COLUMNS)
            out[model.TABLE] = self.con.execute(
                f"SELECT {cols} FROM {model.TABLE} ORDER BY ALL"
            ).fetchall()
        return out
