"""The register of exceptions: every standing departure from the rules, with its end.

Three kinds of exception are recorded in the ledger, each by a named person with a reason:

- **waivers** of failed validation runs (``validation.waive``: scope, approver, expiry);
- **accepted findings** (``finding.update`` to ``accepted``: a known weakness tolerated
  until an expiry, after which the finding counts as open again);
- **break-glass promotions** (``model.promote`` with ``break_glass``): open until reviewed.

Each entry has a status: ``active``, ``expiring`` (ends within ``soon_days``), ``expired``
(its last day has passed: it no longer lets anything through), or for break-glass ``open``
and ``reviewed``. Expiry days are the last day an exception counts (UTC), as the waiver gate
and :func:`core.governance.findings.is_open` read them. The register is computed from the
catalog's projections of signed events, never stored, so it cannot disagree with them.

Waivers are read from the event index (the governance context does not import the data
context that records them); their payload keys are the ``validation.waive`` kind's.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

from core.governance import breakglass, findings
from core.kernel.workspace import Session, Workspace

SOON_DAYS = 30
"""An exception ending within this many days is reported as ``expiring``."""
STATUSES = ("active", "expiring", "expired", "open", "reviewed")


@dataclass(frozen=True)
class ExceptionEntry:
    """One line of the register."""

    kind: str
    """``waiver``, ``accepted-finding`` or ``break-glass``."""
    seq: int
    """The event that granted it (the waiver, the acceptance, the promotion)."""
    subject: str
    by: str
    granted_at: str
    expires: str | None
    status: str
    detail: str
    reason: str
    days_left: int | None = None

    def to_json(self) -> dict[str, object]:
        """For ``--json`` output."""
        return asdict(self)


def expiry_status(expires: str, today: dt.date, soon_days: int = SOON_DAYS) -> tuple[str, int]:
    """``active``, ``expiring`` or ``expired`` for a last day, and the days left.

    Days left are negative once it lapsed (the days since).
    """
    left = (dt.date.fromisoformat(expires) - today).days
    if left < 0:
        return "expired", left
    return ("expiring" if left <= soon_days else "active"), left


def _waivers(s: Session, today: dt.date, soon_days: int) -> list[ExceptionEntry]:
    out = []
    for row in s.catalog.events(action="validation.waive"):
        body = json.loads(row.body)
        data, reason = body.get("data", {}), str(body.get("reason", ""))
        expires = str(data.get("expires", ""))
        try:
            status, left = expiry_status(expires, today, soon_days)
        except ValueError:  # an unreadable expiry is no exception that counts: say so
            status, left = "expired", None
        scope = ",".join(str(x) for x in data.get("scope", []))
        out.append(
            ExceptionEntry(
                "waiver",
                row.seq,
                f"snapshot:{data.get('snapshot', '?')}",
                row.actor,
                row.ts,
                expires,
                status,
                f"failed run #{data.get('waives', '?')} of suite {data.get('suite', '?')!r} "
                f"may be used for {scope}",
                reason,
                left,
            )
        )
    return out


def _accepted(s: Session, today: dt.date, soon_days: int) -> list[ExceptionEntry]:
    out = []
    for row in findings.rows(s):
        if row.status != "accepted" or row.expires is None:
            continue
        status, left = expiry_status(row.expires, today, soon_days)
        out.append(
            ExceptionEntry(
                "accepted-finding",
                row.updated_seq,
                f"model:{row.model}",
                row.updated_by,
                row.updated_at,
                row.expires,
                status,
                f"finding #{row.seq} ({row.severity}): {row.title}; owner {row.owner}",
                row.reason,
                left,
            )
        )
    return out


def _break_glass(s: Session) -> list[ExceptionEntry]:
    out = []
    for b in breakglass.promotions(s):
        p, r = b.promotion, b.review
        detail = f"{p.from_stage} -> {p.to_stage} by break-glass (an emergency: reviewed after)"
        if r is not None:
            detail += f"; reviewed #{r.seq} by {r.created_by}: {r.outcome}"
        out.append(
            ExceptionEntry(
                "break-glass",
                p.seq,
                f"model:{p.model}",
                p.created_by,
                p.created_at,
                None,
                "open" if r is None else "reviewed",
                detail,
                p.reason,
            )
        )
    return out


def register(
    s: Session, *, today: dt.date | None = None, soon_days: int = SOON_DAYS
) -> list[ExceptionEntry]:
    """Every exception in the workspace, in the order they were granted."""
    day = today or findings.today_utc()
    entries = _waivers(s, day, soon_days) + _accepted(s, day, soon_days) + _break_glass(s)
    return sorted(entries, key=lambda e: e.seq)


def list_exceptions(
    ws: Workspace, actor: str = "", *, today: dt.date | None = None, soon_days: int = SOON_DAYS
) -> list[ExceptionEntry]:
    """The exceptions register (see :func:`register`)."""
    with ws.session(actor) as s:
        return register(s, today=today, soon_days=soon_days)
