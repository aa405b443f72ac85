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
