"""Retention periods and the instants they end: ``90d``, ``26w``, ``18m``, ``7y``.

A period runs from an event's own time (a snapshot's ``created_at``, the event that ended a
deployment) and ends at the same time of day ``n`` days, weeks, calendar months or calendar
years later. Months and years are calendar arithmetic, not a fixed number of days: 31 January
plus one month is the last day of February, and 29 February plus one year is 28 February of
the next year (the day does not exist there; the period ends on the last day of that month,
never spills into March). That is what ``dateutil.relativedelta`` and pandas' ``DateOffset``
compute, which the tests hold this code to; written here (a dozen lines) so that listing
what expires never imports pandas.

An instant is UTC. ``--as-of`` takes a date (``2033-12-02``: the start of that day, UTC, so a
date never makes anything expire earlier than its exact time would) or an ISO timestamp.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from core.kernel.errors import UsageError

UNITS = {"d": "day", "w": "week", "m": "month", "y": "year"}
_PERIOD = re.compile(r"^(\d+)([dwmy])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def parse(period: str) -> tuple[int, str]:
    """``"7y"`` as ``(7, "y")``.

    Raises:
        UsageError: for anything but a number and one of d, w, m, y.
    """
    m = _PERIOD.match(period.strip())
    if not m:
        raise UsageError(
            f"invalid retention period {period!r}",
            hint="Give a number and a unit: 90d (days), 26w (weeks), 18m (months), 7y (years).",
        )
    return int(m.group(1)), m.group(2)


def describe(period: str) -> str:
    """``"7y"`` as ``"7 years"``."""
    n, unit = parse(period)
    return f"{n} {UNITS[unit]}{'' if n == 1 else 's'}"


def _add_months(start: datetime, months: int) -> datetime:
    year, month0 = divmod(start.month - 1 + months, 12)
    year += start.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return start.replace(year=year, month=month0 + 1, day=min(start.day, last))


NEVER = datetime.max.replace(tzinfo=UTC)
"""What a period reaching past the year 9999 ends at: it never expires in practice."""


def ends(start: datetime, period: str) -> datetime:
    """The instant ``period`` after ``start`` (calendar months and years; see the module)."""
    n, unit = parse(period)
    try:
        if unit == "d":
            return start + timedelta(days=n)
        if unit == "w":
            return start + timedelta(weeks=n)
        return _add_months(start, n if unit == "m" else 12 * n)
    except (OverflowError, ValueError):
        return NEVER


def instant(ts: str) -> datetime:
    """An event time (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) as an aware UTC datetime."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)


def iso(when: datetime) -> str:
    """An instant in the ledger's own format (sortable as text)."""
    return when.astimezone(UTC).strftime(ISO)


def as_of(text: str | None) -> datetime | None:
    """What ``--as-of`` gave: a date (its first instant, UTC) or an ISO timestamp; None: now.

    Raises:
        UsageError: for anything else, or a timestamp without a timezone.
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        if _DATE.match(text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise UsageError(
            f"invalid --as-of {text!r}: {err}",
            hint="Give a date (2033-12-02, read as 00:00 UTC) or a timestamp with a zone "
            "(2033-12-02T09:30:00Z).",
        ) from err
    if when.tzinfo is None:
        raise UsageError(
            f"--as-of {text!r} has no timezone",
            hint="Add Z for UTC (2033-12-02T09:30:00Z), or give a date.",
        )
    return when.astimezone(UTC)
