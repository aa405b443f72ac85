"""The base of the catalog's typed rows, which :mod:`core.kernel.schema_gen` generates.

The rows (:mod:`core.kernel.rows`, from the SQLModel declarations in :mod:`core.kernel.records`) are
plain slotted classes with an explicit keyword-only ``__init__`` written out by the generator,
not dataclasses: creating thirteen dataclasses costs about 15 ms of CPU at import on Python
3.11 (each generated method goes through ``exec``), paid by every command. Like the SQLModel
rows they stand in for, they are mutable and compare field by field.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Row:
    """A catalog row: its table, its columns (the fields, in order), equality, a dict."""

    __slots__ = ()
    TABLE: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    KEY: ClassVar[tuple[str, ...]]  # the primary key's columns

    def as_dict(self, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        """The fields as a new dict (lists copied), for JSON output."""
        out: dict[str, Any] = {}
        for name in self.COLUMNS:
            if name not in exclude:
                value = getattr(self, name)
                out[name] = list(value) if isinstance(value, list) else value
        return out

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.COLUMNS)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the SQLModel rows are

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.COLUMNS)
        return f"{type(self).__name__}({fields})"
