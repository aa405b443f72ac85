"""The catalog's DDL and typed rows are generated from the SQLModel declarations and cannot
drift from them: each is rendered again here and compared with the committed file."""

from __future__ import annotations

import pytest

from core.kernel import schema_gen
from core.kernel.catalog import Catalog
from core.kernel.records import TABLES as DECLARED
from core.kernel.rows import TABLES, EventRow, KeyRow


@pytest.mark.parametrize(
    ("path", "render"),
    [(schema_gen.SQL_PATH, schema_gen.render_sql), (schema_gen.ROWS_PATH, schema_gen.render_rows)],
    ids=["schema.sql", "rows.py"],
)
def test_generated_files_match_the_sqlmodel_declarations(path, render) -> None:
    assert path.read_text() == render(), (
        f"{path.name} is stale: run `python -m core.kernel.schema_gen` and commit the result"
    )


def test_rows_mirror_the_declared_tables() -> None:
    assert [t.__name__ for t in TABLES] == [t.__name__ for t in DECLARED]
    for row, model in zip(TABLES, DECLARED, strict=True):
        assert model.__tablename__ == row.TABLE
        assert tuple(model.model_fields) == row.COLUMNS
        assert tuple(c.name for c in model.__table__.columns) == row.COLUMNS
        assert tuple(c.name for c in model.__table__.primary_key.columns) == row.KEY


def test_the_generated_ddl_creates_every_declared_column() -> None:
    catalog = Catalog.memory()
    try:
        for row in TABLES:
            cur = catalog.con.execute(f"SELECT * FROM {row.TABLE} LIMIT 0")
            assert tuple(d[0] for d in cur.description) == row.COLUMNS
    finally:
        catalog.close()


def test_rows_compare_and_dump_by_field() -> None:
    a = EventRow(
        seq=1, hash="h", ts="t", actor="a", action="x", subjects=["s"], reason="", body="{}"
    )
    b = EventRow(
        seq=1, hash="h", ts="t", actor="a", action="x", subjects=["s"], reason="", body="{}"
    )
    assert a == b and a != EventRow(**{**a.as_dict(), "seq": 2})
    assert list(a.as_dict(exclude=("body",))) == [
        "seq",
        "hash",
        "ts",
        "actor",
        "action",
        "subjects",
        "reason",
    ]
    assert a.as_dict()["subjects"] is not a.subjects
    key = KeyRow(
        key_id="k",
        actor="a",
        purpose="p",
        backend="b",
        algorithm="x",
        label="l",
        handle="h",
        public_key_digest="d",
        public_pem="p",
        status="active",
        created_seq=1,
        created_at="t",
    )
    assert key.status_seq is None and key.replaced_by is None
    assert "key_id='k'" in repr(key)


def test_the_schema_version_is_the_digest_of_the_generated_ddl() -> None:
    import hashlib

    ddl = schema_gen.SQL_PATH.read_text()
    assert Catalog.schema_version() == hashlib.sha256(ddl.encode()).hexdigest()[:16]


def test_a_catalog_at_another_schema_version_is_rebuilt_from_the_ledger(ws) -> None:  # type: ignore[no-untyped-def]
    from core.identity import actors

    with ws.session("alice") as s:
        before = s.catalog.dump()
    catalog = Catalog.open(ws.catalog_path)
    try:  # what a changed declaration (or an older release's catalog) looks like
        catalog.con.execute("UPDATE catalog_meta SET value = '4' WHERE key = 'schema_version'")
        catalog.con.execute("DELETE FROM actors")
        assert not catalog.schema_current()
    finally:
        catalog.close()
    assert [a.name for a in actors.list_actors(ws, "alice")] == ["alice", "bob", "sam"]
    with ws.session("alice") as s:
        assert s.catalog.schema_current()
        assert s.catalog.dump() == before
