"""Generate the catalog's DDL and its plain typed rows from the SQLModel declarations.

:mod:`core.kernel.records` declares every catalog table once, as SQLModel classes. Importing
SQLModel and SQLAlchemy costs more CPU than DuckDB itself, and ``status``, ``audit log`` or
``model list`` only need column names and typed values, so the runtime never imports them.
This module, run at development time, writes what the runtime uses instead:

* ``core/kernel/schema.sql``: the ``CREATE TABLE`` statements SQLAlchemy compiles for the tables
  (PostgreSQL dialect, which DuckDB accepts for VARCHAR, BIGINT, BOOLEAN and VARCHAR[]);
* ``core/kernel/rows.py``: one plain typed row class per table (:class:`core.kernel.row.Row`), with
  the same name, fields, order, types and defaults as its SQLModel class. Catalog reads
  return them and the projector writes them.

A test renders both again and compares them with the committed files byte for byte, so a
change to ``records.py`` that was not regenerated fails the suite. Regenerate with::

    python -m core.kernel.schema_gen
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from core.kernel.records import TABLES

# SQLAlchemy's table objects are untyped; the models are handled as Any here.
_MODELS: tuple[Any, ...] = TABLES

HERE = Path(__file__).resolve().parent
SQL_PATH = HERE / "schema.sql"
ROWS_PATH = HERE / "rows.py"

_ROWS_HEADER = '''\
"""Typed catalog rows, generated from :mod:`core.kernel.records`.

Do not edit: change ``records.py`` and run ``python -m core.kernel.schema_gen`` (a test
compares this file with a fresh rendering). Each class has the same name, fields, order,
types and defaults as its SQLModel declaration, without the CPU cost of importing SQLModel,
SQLAlchemy and pydantic on every command that reads the catalog.
See :mod:`core.kernel.row` for why they are not dataclasses.
"""

from __future__ import annotations

from typing import ClassVar

from core.kernel.row import Row
'''


def _type_name(annotation: Any) -> str:
    """Source text for a field's annotation (``str``, ``list[str]``, ``int | None``)."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        return " | ".join("None" if a is type(None) else _type_name(a) for a in args)
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    raise TypeError(f"no plain-row rendering for the annotation {annotation!r}")


def _key(model: Any) -> str:
    """Source text of the primary key's column names, as a tuple."""
    names = [c.name for c in model.__table__.primary_key.columns]
    return "(" + ", ".join(f'"{n}"' for n in names) + ("," if len(names) == 1 else "") + ")"


def _table_name(model: Any) -> str:
    return str(model.__table__.name)


def render_sql() -> str:
    """The DDL of every catalog table, in declaration order, one statement each."""
    statements = []
    for model in _MODELS:
        ddl = str(CreateTable(model.__table__).compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
        # Trailing blanks after each column's comma are trimmed; nothing else is touched.
        text = "\n".join(line.rstrip() for line in ddl.strip().splitlines())
        statements.append(text + ";\n")
    head = (
        "-- Generated from core/kernel/records.py by `python -m core.kernel.schema_gen`; "
        "do not edit.\n"
    )
    return head + "\n" + "\n".join(statements)


def render_rows() -> str:
    """Python source of the row classes and the ``TABLES`` tuple."""
    out = [_ROWS_HEADER]
    for model in _MODELS:
        doc = (model.__doc__ or "").strip().splitlines()[0]
        fields = model.model_fields
        lines = [
            "",
            "",
            f"class {model.__name__}(Row):",
            f'    """{doc}"""',
            "",
            f'    TABLE: ClassVar[str] = "{_table_name(model)}"',
            "    COLUMNS: ClassVar[tuple[str, ...]] = (",
            *[f'        "{name}",' for name in fields],
            "    )",
            f"    KEY: ClassVar[tuple[str, ...]] = {_key(model)}",
            "    __slots__ = COLUMNS",
            "",
            "    def __init__(",
            "        self,",
            "        *,",
        ]
        for name, info in fields.items():
            # json.dumps quotes strings as ruff's formatter does (repr would use ').
            value = (
                json.dumps(info.default) if isinstance(info.default, str) else repr(info.default)
            )
            default = "" if info.is_required() else f" = {value}"
            lines.append(f"        {name}: {_type_name(info.annotation)}{default},")
        lines.append("    ) -> None:")
        lines += [f"        self.{name} = {name}" for name in fields]
        out.append("\n".join(lines) + "\n")
    out.append("\n\n# Every catalog table, in the order its DDL is created and its rows dumped.\n")
    out.append("TABLES = (\n" + "".join(f"    {m.__name__},\n" for m in _MODELS) + ")\n")
    return "".join(out)


def main() -> None:
    """Write ``schema.sql`` and ``rows.py`` beside this module."""
    SQL_PATH.write_text(render_sql())
    ROWS_PATH.write_text(render_rows())


if __name__ == "__main__":
    main()
