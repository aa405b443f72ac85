"""Moments users type: ``--since 2026-03-01``, ``2026-03-01T09:30`` or an age (``7d``).

Shared by every command that filters by time (the audit log, the inventory, the access log),
so each reads the same text the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from core.kernel.errors import UsageError

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> str:
    """Turn ``2026-03-01``, ``2026-03-01T09:30`` or ``90m``/``2h``/``7d``/``1w`` into a bound.

    Raises:
        UsageError: for text that is neither, or a moment no date can hold (before year 1).
    """
    match = _RELATIVE.match(text.strip())
    try:
        if match:
            delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
            moment = datetime.now(UTC) - delta
        else:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except OverflowError as err:
        raise UsageError(
            f"--since {text!r} reaches back further than any date",
            hint="Give an age such as 90m, 2h, 7d or 52w, or a date (2026-03-01); "
            "leave --since out for the whole log.",
        ) from err
    except ValueError as err:
        raise UsageError(
            f"cannot read --since {text!r}",
            hint="Use a date (2026-03-01), a UTC time (2026-03-01T09:30) or an age "
            "(90m, 2h, 7d, 1w).",
        ) from err
