"""The one check every user-written format makes: refuse names the parser does not know.

A misspelt key in a suite or spec must not be ignored (a misspelt threshold would switch a
gate off without a word), so each parser lists its sections and keys in one constant and
calls :func:`refuse_unknown` with it. The message and hint stay the parser's own, since they
are part of its documented behaviour; what is shared is the rule: the first unknown name in
sorted order is reported, before any work starts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from core.kernel.errors import UsageError

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


def refuse_unknown(
    given: Iterable[str],
    known: Collection[str],
    *,
    message: Callable[[str], str],
    hint: str = "",
) -> None:
    """Raise :class:`UsageError` naming the first of ``given`` (sorted) not in ``known``.

    Args:
        given: the names the file holds (a table's keys, or a document's sections).
        known: every name the format allows.
        message: builds the error from the unknown name.
        hint: what to say instead, e.g. the allowed names.
    """
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise UsageError(message(unknown[0]), hint=hint)


def check_sections(
    doc: Mapping[str, Any], sections: Mapping[str, Collection[str] | None], *, where: str
) -> None:
    """Refuse the common TOML layout's mistakes: unknown sections, plain values, unknown keys.

    ``sections`` maps each allowed section to its keys (``None``: any key, e.g. aliases).
    Sections are checked in the file's order; within one, the first unknown key (sorted).
    """
    for section, value in doc.items():
        if section not in sections:
            raise UsageError(
                f"{where}: unknown section [{section}]", hint=f"Sections: {', '.join(sections)}."
            )
        if not isinstance(value, dict):
            raise UsageError(f"{where}: {section} must be a [{section}] section")
        keys = sections[section]
        unknown = sorted(set(value) - set(keys)) if keys is not None else []
        if unknown:
            raise UsageError(
                f"{where}: [{section}] has no key {unknown[0]!r}",
                hint=f"Keys of [{section}]: {', '.join(sorted(keys or ()))}.",
            )


def parse_strict(model: type[M], doc: Any, *, where: str) -> M:
    """Read a parsed TOML table into a pydantic model that forbids unknown keys.

    The model declares the format (keys, types, bounds) once; this turns pydantic's
    errors into one :class:`UsageError` a user can act on: the key's place in the file, what
    is wrong, and for an unknown key the keys allowed there. Models should set
    ``model_config = ConfigDict(extra="forbid", strict=True)`` (see :class:`StrictTable`).
    """
    from pydantic import ValidationError

    try:
        return model.model_validate(doc)
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"]]
        place = _place(loc)
        if first["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            raise UsageError(
                f"{where}: {place} is not a known key",
                hint=f"Keys allowed there: {', '.join(allowed)}." if allowed else "",
            ) from None
        if first["type"] == "missing":
            raise UsageError(f"{where}: {place} is missing") from None
        raise UsageError(f"{where}: {place}: {first['msg']}") from None


def _place(loc: list[str]) -> str:
    """``['suite', 'missing_values']`` → ``[suite] missing_values``; list items as ``[n]``."""
    if not loc:
        return "the document"
    if len(loc) == 1:
        return repr(loc[0])
    head, *rest = loc
    return f"[{head}] " + ".".join(rest)


def _allowed_keys(model: Any, path: list[str]) -> list[str]:
    """The field names (TOML aliases) of the model reached by ``path``, for the hint."""
    import typing

    current = model
    for part in path:
        if part.isdigit():
            continue
        fields = getattr(current, "model_fields", {})
        field = next(
            (f for name, f in fields.items() if (f.alias or name) == part),
            None,
        )
        if field is None:
            return []
        ann = field.annotation
        # Unwrap list[X] / X | None down to a model class.
        for _ in range(3):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if hasattr(ann, "model_fields") or not args:
                break
            ann = args[0]
        current = ann
    fields = getattr(current, "model_fields", {})
    return sorted((f.alias or name) for name, f in fields.items())


def strict_config() -> Any:
    """The pydantic configuration every user-written format uses: unknown keys are errors.

    ``strict`` stops ``"0.5"`` passing as a number or ``1`` as a flag; TOML already gives
    numbers, text and booleans their own types, so a user never needs the coercion.
    """
    from pydantic import ConfigDict

    return ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)
