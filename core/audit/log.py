"""The audit log: events filtered by actor, action, subject and time, oldest first.

``--since`` takes an ISO date or a relative age (``30m``, ``12h``, ``7d``, ``2w``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from core.kernel.errors import UsageError
from core.kernel.rows import EventRow
from core.kernel.workspace import Workspace

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


def log(
    ws: Workspace,
    *,
    since: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    limit: int | None = None,
    as_actor: str = "",
) -> list[EventRow]:
    """Events matching the filters, oldest first (``limit`` keeps the newest)."""
    bound = parse_since(since) if since else None
    with ws.session(as_actor) as s:
        rows = s.catalog.events(
            since=bound,
            actor=actor,
            action=action,
            subject=subject,
            limit=limit,
            newest_first=limit is not None,
        )
    return sorted(rows, key=lambda r: r.seq)
