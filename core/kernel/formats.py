"""The one check every user-written format makes: refuse names the parser does not know.

A misspelt key in a suite or spec must not be ignored (a misspelt threshold would switch a
gate off without a word), so each parser lists its sections and keys in one constant and
calls :func:`refuse_unknown` with it. The message and hint stay the parser's own, since they
are part of its documented behaviour; what is shared is the rule: the first unknown name in
sorted order is reported, before any work starts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

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
