"""The one check every user-written format makes: refuse names the parser does not know.

A misspelt key in a suite or spec must not be ignored (a misspelt threshold would switch a
gate off without a word), so each parser lists its sections and keys in one constant and
calls :func:`refuse_unknown` with it. The message and hint stay the parser's own, since they
are part of its documented behaviour; what is shared is the rule: the first unknown name in
sorted order is reported, before any work starts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from core.kernel.errors import UsageError


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
