"""Validation findings (SR 11-7): what is wrong with a model version, and its remediation.

A finding is recorded by someone holding a finding role (validator, approver, admin) with a
severity, an owner (the actor who must remediate it), a title and a due date; its id is the
event number of its ``finding.open``. Its status then moves by ``finding.update`` events:

- ``in-remediation``: the owner (and only the owner) reports remediation under way or done;
- ``remediated``: someone else, holding a finding role, checks the fix and closes it;
- ``accepted``: someone else, holding a finding role, accepts the risk until ``--expires``;
- ``open``: someone else, holding a finding role, reopens it (a fix that did not hold).

Separation of duties, chosen here: whoever closes or accepts a finding is neither its owner
nor a developer of the version (trainer, registrant, signer; admins included), so the team
that built a model cannot clear the findings against it. The owner reports, a validator
decides. The attacks and what stops them:

- *the owner closes their own finding*: refused here; the owner may only report
  ``in-remediation``.
- *a developer accepts the risk of their own model*: refused here (the developer list is the
  one separation of duties uses for approvals).
- *an acceptance that never ends*: ``accepted`` needs an expiry; once it passes, the finding
  counts as open again (:func:`open_counts`), so a stale acceptance cannot keep a promotion
  going. The exceptions register and the alerts show it.
- *a row written into the catalog*: ``findings`` is a projected table, so ``audit verify``
  replays the signed ``finding.*`` events and reports the difference; the kinds declare their
  roles, so verify also refuses a closure signed by someone without a finding role.
- *an update appended past this command* (an insider with a key and a script):
  :mod:`core.governance.mrm_verify` re-checks owner, developers and expiry from the signed
  events, so ``audit verify`` names it.

Policies see open findings as ``input.model.findings_open`` (a count by severity, from
:func:`open_counts`), so a rule can refuse promotion while a high or critical one is open.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.governance.events import (
    FINDING_ROLES,
    FINDING_SEVERITIES,
    FINDING_STATUSES,
    FindingOpened,
    FindingUpdated,
)
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import FindingRow
from core.kernel.workspace import Session, Workspace

OPEN = ("open", "in-remediation")
"""Statuses that leave a finding open (an accepted one whose acceptance lapsed is open too)."""


def today_utc() -> dt.date:
    """Today's date in UTC (the day due dates and expiries are compared with)."""
    return dt.datetime.now(dt.UTC).date()


def parse_day(text: str, option: str) -> dt.date:
    """A ``YYYY-MM-DD`` date given as ``option`` (a :class:`UsageError` otherwise)."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date", hint="Use YYYY-MM-DD (UTC).") from None


def is_open(row: FindingRow, today: dt.date | None = None) -> bool:
    """Whether a finding still stands on ``today``.

    Open, in remediation, or accepted past its expiry: an acceptance is an exception with an
    end, not a closure.
    """
    if row.status in OPEN:
        return True
    if row.status == "accepted":
        return row.expires is None or dt.date.fromisoformat(row.expires) < (today or today_utc())
    return False


def rows(s: Session, *, model: str | None = None) -> list[FindingRow]:
    """Findings, oldest first: all of them, or those of one model (``name`` or ``name@N``)."""
    if model is None:
        return s.catalog.rows(FindingRow, "SELECT * FROM findings ORDER BY seq")
    if "@" in model:
        sql = "SELECT * FROM findings WHERE model = ? ORDER BY seq"
    else:
        sql = "SELECT * FROM findings WHERE split_part(model, '@', 1) = ? ORDER BY seq"
    return s.catalog.rows(FindingRow, sql, [model.removeprefix("model:")])


def open_counts(s: Session, ref: str, today: dt.date | None = None) -> dict[str, int]:
    """The facts key ``model.findings_open``: a version's open findings by severity."""
    counts = dict.fromkeys(FINDING_SEVERITIES, 0)
    for row in rows(s, model=ref):
        if is_open(row, today):
            counts[row.severity] = counts.get(row.severity, 0) + 1
    return counts


def standing_by_name(s: Session, today: dt.date | None = None) -> dict[str, int]:
    """How many findings still stand per model name (for the inventory's open findings).

    The same test as the gate facts (:func:`is_open`), so an acceptance that lapsed counts
    here too.
    """
    out: dict[str, int] = {}
    for row in rows(s):
        if is_open(row, today):
            name = row.model.split("@", 1)[0]
            out[name] = out.get(name, 0) + 1
    return out


def finding(s: Session, finding_id: int) -> FindingRow:
    """One finding by id (its ``finding.open`` event number)."""
    found: list[FindingRow] = s.catalog.rows(
        FindingRow, "SELECT * FROM findings WHERE seq = ?", [finding_id]
    )
    if not found:
        raise NotFoundError(
            f"no finding #{finding_id}", hint="`ledgerml finding list` shows them with their ids."
        )
    return found[0]


def to_json(row: FindingRow, today: dt.date | None = None) -> dict[str, Any]:
    """A finding for ``--json`` output, with whether it still stands and is past due."""
    day = today or today_utc()
    standing = is_open(row, day)
    return row.as_dict() | {
        "id": row.seq,
        "standing": standing,
        "overdue": standing and row.status != "accepted" and dt.date.fromisoformat(row.due) < day,
    }


def add(
    ws: Workspace,
    actor: str,
    ref: str,
    *,
    severity: str,
    owner: str,
    title: str,
    due: str,
    reason: str,
    today: dt.date | None = None,
) -> FindingRow:
    """Record a finding on the model version ``ref`` (validator, approver or admin).

    Raises:
        UsageError: for an unknown severity, no title or reason, a bad or past due date.
        NotFoundError: for an unknown model version or owner.
        PermissionDeniedError: for an actor without a finding role.
    """
    from core.governance.facts import model_row
    from core.identity.signer import authority_of

    if severity not in FINDING_SEVERITIES:
        raise UsageError(
            f"--severity {severity!r} is not a severity",
            hint=f"Severities: {', '.join(FINDING_SEVERITIES)}.",
        )
    if not title.strip():
        raise UsageError("a finding needs a --title: what is wrong?")
    if not reason.strip():
        raise UsageError("a finding needs a --reason (recorded)")
    day = parse_day(due, "--due")
    if day < (today or today_utc()):
        raise UsageError(f"--due {due} is in the past: give the day remediation is due")

    def commit(s: Session, _: None) -> FindingRow:
        model = model_row(s, ref)
        state = authority_of(s).current(owner)
        if state is None or state.status == "removed":
            raise NotFoundError(
                f"--owner {owner!r} is not a registered actor",
                hint="The owner remediates the finding; `ledgerml actor list` shows who can.",
            )
        payload = FindingOpened(model.ref, model.model_digest, severity, title, owner, due)
        entry = s.commit(
            new_event(s.actor, payload, [f"model:{model.ref}", f"actor:{owner}"], reason)
        )
        return finding(s, entry.seq)

    return command.run(
        ws, actor, guards=[needs(*FINDING_ROLES, action="record findings")], commit=commit
    )


def _may_update(s: Session, row: FindingRow, status: str) -> None:
    """Refuse an update this actor may not make (see the module docstring)."""
    from core.governance.facts import developers, model_row
    from core.identity.signer import authority_of

    if status == "in-remediation":
        if s.actor != row.owner:
            raise PermissionDeniedError(
                f"only finding #{row.seq}'s owner ({row.owner}) reports its remediation",
                hint="A validator closes it (remediated) or accepts it once the owner reports.",
            )
        return
    state = authority_of(s).current(s.actor)
    roles = set(state.roles) if state else set()
    if not roles & set(FINDING_ROLES):
        raise PermissionDeniedError(
            f"actor {s.actor!r} lacks a role needed to mark a finding {status} "
            f"({' or '.join(FINDING_ROLES)})"
        )
    if s.actor == row.owner:
        raise PermissionDeniedError(
            f"{s.actor} owns finding #{row.seq} and cannot mark it {status}: someone else "
            "checks the remediation (separation of duties)",
            hint="Report your work with --status in-remediation; a validator closes it.",
        )
    model = s.catalog.model(row.model)
    if model is not None and s.actor in developers(s, model_row(s, row.model)):
        raise PermissionDeniedError(
            f"{s.actor} developed {row.model} and cannot mark its finding #{row.seq} {status} "
            "(separation of duties: admins included)",
            hint="Ask an independent validator.",
        )


def update(
    ws: Workspace,
    actor: str,
    finding_id: int,
    *,
    status: str,
    reason: str,
    expires: str | None = None,
    today: dt.date | None = None,
) -> FindingRow:
    """Move a finding to ``status`` (who may do what: see the module docstring).

    Raises:
        UsageError: for an unknown status, no reason, ``--expires`` missing for ``accepted``
            (or given for another status), a past expiry, or a status it already has.
        NotFoundError: for an unknown finding.
        PermissionDeniedError: for the wrong person (not the owner; the owner or a developer
            closing it; no finding role).
    """
    if status not in FINDING_STATUSES:
        raise UsageError(
            f"--status {status!r} is not a status", hint=f"Statuses: {', '.join(FINDING_STATUSES)}."
        )
    if not reason.strip():
        raise UsageError("a finding update needs a --reason (recorded)")
    day = today or today_utc()
    if status == "accepted":
        if not expires:
            raise UsageError(
                "accepting a finding needs --expires YYYY-MM-DD: an accepted risk has an end",
                hint="After that day the finding counts as open again.",
            )
        if parse_day(expires, "--expires") < day:
            raise UsageError(f"--expires {expires} is in the past")
    elif expires:
        raise UsageError("--expires is for --status accepted only")

    def commit(s: Session, _: None) -> FindingRow:
        row = finding(s, finding_id)
        _may_update(s, row, status)
        if row.status == status and status != "accepted":
            raise UsageError(f"finding #{row.seq} is already {status}: nothing to record")
        payload = FindingUpdated(row.seq, row.model, status, expires)
        s.commit(new_event(s.actor, payload, [f"finding:{row.seq}", f"model:{row.model}"], reason))
        return finding(s, row.seq)

    # Any active actor passes the identity guard; who may make which change depends on the
    # finding (its owner, its model's developers) and is checked under the same lock.
    return command.run(ws, actor, guards=[needs(action="update findings")], commit=commit)


def list_findings(
    ws: Workspace,
    actor: str = "",
    *,
    model: str | None = None,
    open_only: bool = False,
    today: dt.date | None = None,
) -> list[FindingRow]:
    """Findings, oldest first (``open_only``: those that still stand on ``today``)."""
    with ws.session(actor) as s:
        if model is not None and not s.catalog.models(model.split("@")[0].removeprefix("model:")):
            raise NotFoundError(f"no model {model!r}", hint="`ledgerml model list` shows them.")
        found = rows(s, model=model)
    return [r for r in found if is_open(r, today)] if open_only else found
