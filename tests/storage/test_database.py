"""storage.database: DuckDB primitives with a digest-versioned schema, no domain in sight."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from storage import database
from storage.database import Database, TableRow


class Thing:
    TABLE: ClassVar[str] = "things"
    COLUMNS: ClassVar[tuple[str, ...]] = ("name", "n")
    KEY: ClassVar[tuple[str, ...]] = ("name",)

    def __init__(self, *, name: str, n: int) -> None:
        self.name, self.n = name, n


def _db_class(tmp_path: Path, ddl: str) -> type[Database]:
    sql = tmp_path / "schema.sql"
    sql.write_text(
        "CREATE TABLE catalog_meta (key VARCHAR NOT NULL, value VARCHAR NOT NULL, "
        "PRIMARY KEY (key));\n" + ddl
    )

    class Things(Database):
        SCHEMA_SQL: ClassVar[Path] = sql
        TABLES: ClassVar[tuple[type[TableRow], ...]] = (Thing,)

    return Things


def test_put_replaces_by_key_and_dump_orders_rows(tmp_path: Path) -> None:
    db = _db_class(
        tmp_path, "CREATE TABLE things (name VARCHAR NOT NULL, n BIGINT, PRIMARY KEY (name));"
    ).memory()
    try:
        with db.transaction():
            db.put(Thing(name="b", n=1))
            db.put(Thing(name="a", n=2))
            db.put(Thing(name="b", n=3))
            db.set_applied(7, "f" * 64)
        assert db.dump() == {"things": [("a", 2), ("b", 3)]}
        assert db.counts() == {"things": 2}
        assert db.applied() == (7, "f" * 64)
        assert [t.n for t in db.rows(Thing, "SELECT * FROM things ORDER BY name")] == [2, 3]
    finally:
        db.close()


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    db = _db_class(
        tmp_path, "CREATE TABLE things (name VARCHAR NOT NULL, n BIGINT, PRIMARY KEY (name));"
    ).memory()
    try:
        with pytest.raises(RuntimeError), db.transaction():
            db.put(Thing(name="a", n=1))
            raise RuntimeError("boom")
        assert db.dump() == {"things": []}
    finally:
        db.close()


def test_a_changed_ddl_is_another_version_and_recreates_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    (tmp_path / "1").mkdir()
    old = _db_class(
        tmp_path / "1",
        "CREATE TABLE things (name VARCHAR NOT NULL, n BIGINT, PRIMARY KEY (name));",
    )
    db = old.open(path)
    assert db.ensure_schema() is True
    db.put(Thing(name="a", n=1))
    assert db.ensure_schema() is False
    db.close()
    (tmp_path / "2").mkdir()
    new = _db_class(
        tmp_path / "2",
        "CREATE TABLE things (name VARCHAR NOT NULL, n BIGINT, note VARCHAR, PRIMARY KEY (name));",
    )
    assert new.schema_version() != old.schema_version()
    assert new.schema_version() == database.schema_version(new.SCHEMA_SQL.read_text())
    db = new.open(path)
    try:
        assert not db.schema_current()
        assert db.ensure_schema() is True
        assert db.counts() == {"things": 0}
    finally:
        db.close()
