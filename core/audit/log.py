"""The audit log: events filtered by actor, action, subject and time, oldest first.

``--since`` takes an ISO date or a relative age (``30m``, ``12h``, ``7d``, ``2w``).
"""

from __future__ import annotations

from core.kernel.rows import EventRow
from core.kernel.since import parse_since
from core.kernel.workspace import Workspace

__all__ = ["log", "parse_since"]


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
