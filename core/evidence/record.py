"""Typed evidence records whose JSON is exactly the bytes already on disk.

Evidence is the product: it is hashed, signed and stored, and old workspaces and bundles hold
it. So a record serialises to the very JSON it was read from: fields in their JSON names,
values untouched (an integer stays an integer, a null stays a null), and a key that some
documents lack (``unmeasured_groups``, a baseline's ``previous``) written back only when it
was there. A key no record declares is refused, so a record never silently drops part of a
signed document when it is re-serialised.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

R = TypeVar("R", bound="Record")


OPTIONAL: Mapping[str, Any] = {"optional": True}
"""Field metadata of a key some documents lack: None when absent, written back only if present.

Use as ``field(default=None, metadata=OPTIONAL)``.
"""


@dataclass(frozen=True)
class Record:
    """Base of evidence records (frozen dataclasses) with a format ``VERSION``."""

    VERSION: ClassVar[int] = 1
    # JSON names that are not Python names, by field name.
    JSON_NAMES: ClassVar[Mapping[str, str]] = {}
    _present: frozenset[str] = field(default=frozenset(), kw_only=True, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The plain JSON value of this record, as it was (or will be) stored."""
        out: dict[str, Any] = {}
        for f in _fields(type(self)):
            value = getattr(self, f.name)
            if f.metadata.get("optional") and value is None and f.name not in self._present:
                continue
            out[self.JSON_NAMES.get(f.name, f.name)] = _dump(value)
        return out

    @classmethod
    def from_json(cls: type[R], data: Mapping[str, Any]) -> R:
        """Read a record back from its JSON (``ValueError`` for a key it does not declare)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__}: expected an object, not {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        by_json = {cls.JSON_NAMES.get(f.name, f.name): f for f in _fields(cls)}
        unknown = sorted(set(data) - set(by_json))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown key {unknown[0]!r}")
        values: dict[str, Any] = {}
        present = set()
        for name, f in by_json.items():
            if name in data:
                values[f.name] = _load(hints[f.name], data[name])
                if f.metadata.get("optional"):
                    present.add(f.name)
            elif not f.metadata.get("optional"):
                raise ValueError(f"{cls.__name__}: missing key {name!r}")
        return cls(**values, _present=frozenset(present))


def _fields(cls: type[Record]) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.name != "_present"]


def _dump(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _load(hint: Any, value: Any) -> Any:
    """Build ``hint`` (a record, a list or dict of them, or a plain type) from JSON."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _load(inner[0], value) if len(inner) == 1 else value
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(hint) or (Any,)
        return [_load(item, v) for v in value]
    if origin is dict and isinstance(value, dict):
        _, item = typing.get_args(hint) or (str, Any)
        return {k: _load(item, v) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_json(value)
    return value
