"""``ledgerml retention run``: erase what has expired, skip what a legal hold keeps, say so.

A run takes the schedule (:func:`core.privacy.retention.schedule`) at ``as_of`` (default:
now) and, oldest first:

- erases every snapshot whose period has run out (created_at + period <= as_of), is not
  erased yet and is not held, through the same path as a request
  (:func:`core.privacy.erasure.erase`, rule ``retention 7y``, legal basis
  :data:`~core.privacy.retention.LEGAL_BASIS`): one ``data.erase`` event each, with its
  receipt and the policy's ``erase`` gate. An erasure covers the views derived from the
  snapshot, so a hold on one of those views holds the snapshot too;
- erases every deployment's decision log whose ``decisions:ENV`` period, counted from the
  deployment's end, has run out (:mod:`core.privacy.decision_retention`): one ``data.erase``
  each, then its decision key destroyed and its stored input values deleted;
- then records one ``retention.run`` event: the erasures it made, what holds kept (``held by
  #N: reason``) and what was refused and why. A run that erased nothing records it too: it
  is the evidence that retention is enforced on schedule, not only when something is due.

``--dry-run`` computes the same lists and records nothing. ``--as-of`` counts expiry at
another instant, so that the campaign can be exercised without waiting years; it is
recorded in every erasure and in the run, and the retention log flags an erasure made
before its period had run out by the wall clock. Erasure is a governed, irreversible act:
each one is its own command, so a refusal (a policy denial, a hold placed meanwhile) stops
that one only, and a crash leaves every erasure before it whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.identity.actors import needs, require
from core.kernel import command
from core.kernel.errors import IdentityError, LedgerError, PermissionDeniedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.workspace import Session, Workspace
from core.privacy import periods
from core.privacy.events import ERASE_ROLES, RetentionRun
from core.privacy.retention import LEGAL_BASIS, Item, held_text, schedule


@dataclass
class RunResult:
    """What a run did (or, dry, would do)."""

    as_of: str
    """The instant expiry was counted at."""
    given_as_of: bool
    dry_run: bool
    erased: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    decision_logs: list[dict[str, Any]] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    """Decision-log erasures an earlier, interrupted run had committed and this one finished."""
    seq: int | None = None
    """The ``retention.run`` event (None for a dry run)."""

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "as_of": self.as_of,
            "as_of_given": self.given_as_of,
            "dry_run": self.dry_run,
            "erased": self.erased,
            "held": self.held,
            "refused": self.refused,
            "decision_logs": self.decision_logs,
            "completed": self.completed,
            "seq": self.seq,
        }


def _held_entry(item: Item) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "target": item.target,
        "holds": [h.seq for h in item.holds],
        "text": held_text(item.holds),
    }


def _snapshot_entry(item: Item, erasure: int | None) -> dict[str, Any]:
    return {
        "snapshot": item.target,
        "erasure": erasure,
        "rule": item.rule,
        "source": item.source,
        "created_at": item.start,
        "expires_at": item.expires_at,
        "covers": item.covers,
    }


def _log_entry(item: Item, erasure: int | None) -> dict[str, Any]:
    return {
        "deployment_id": item.target,
        "env": item.scope,
        "erasure": erasure,
        "rule": item.rule,
        "source": item.source,
        "ended_at": item.start,
        "expires_at": item.expires_at,
        "retention_class": item.retention_class,
    }


def _fresh(ws: Workspace, item: Item, when: datetime) -> Item | None:
    """The item as the catalog has it now (an earlier erasure of this run may cover it)."""
    from core.privacy.retention import decision_items, snapshot_items

    items = snapshot_items if item.kind == "snapshot" else decision_items
    with ws.session() as s:
        found = items(s.catalog, when, only=item.target)
    return found[0] if found else None


def run(
    ws: Workspace,
    actor: str,
    *,
    reason: str,
    as_of: str | None = None,
    dry_run: bool = False,
) -> RunResult:
    """Erase what has expired at ``as_of`` (default now) and is not held (see the module).

    Raises:
        UsageError: without a reason (a dry run needs none), or for a bad ``as_of``.
        PermissionDeniedError / IdentityError: for an actor who may not erase.
    """
    given = periods.as_of(as_of)
    when = given or datetime.now(UTC)
    given_iso = periods.iso(given) if given else None
    if not dry_run and not reason.strip():
        raise UsageError(
            "a retention run needs a reason (--reason): it is recorded with every erasure",
            hint="e.g. --reason 'monthly retention run (policy R-12)'.",
        )
    result = RunResult(as_of=periods.iso(when), given_as_of=given is not None, dry_run=dry_run)
    with ws.session(actor) as s:
        if dry_run:
            require(s, *ERASE_ROLES, action="plan retention runs")
        else:
            needs(*ERASE_ROLES, action="run retention")(s)
        due = [
            i
            for i in schedule(s.catalog, when)
            if i.expired and i.erased_seq is None and i.period and i.start
        ]
    if not dry_run:
        from core.privacy import decision_retention

        result.completed = decision_retention.complete_pending(ws)
    for item in due:
        if dry_run:
            _plan(result, item)
            continue
        current = _fresh(ws, item, when)
        if current is None or current.erased_seq is not None:
            continue  # erased meanwhile (with the snapshot it derives from)
        if current.holds:
            result.held.append(_held_entry(current))
            continue
        try:
            seq = _erase(ws, actor, current, reason=reason, as_of=given_iso)
        except (IdentityError, PermissionDeniedError):
            raise
        except LedgerError as err:
            again = _fresh(ws, item, when)
            if again is not None and again.holds:
                result.held.append(_held_entry(again))
            else:
                result.refused.append({"kind": item.kind, "target": item.target, "error": err.msg})
            continue
        if item.kind == "snapshot":
            result.erased.append(_snapshot_entry(current, seq))
        else:
            result.decision_logs.append(_log_entry(current, seq))
    if not dry_run:
        result.seq = _record(ws, actor, result, reason=reason, as_of=given_iso)
    return result


def _plan(result: RunResult, item: Item) -> None:
    if item.holds:
        result.held.append(_held_entry(item))
    elif item.kind == "snapshot":
        result.erased.append(_snapshot_entry(item, None))
    else:
        result.decision_logs.append(_log_entry(item, None))


def _erase(ws: Workspace, actor: str, item: Item, *, reason: str, as_of: str | None) -> int:
    """Erase one expired item through its erase path; the ``data.erase`` event's number."""
    if item.kind == "decisions":
        from core.privacy import decision_retention

        return decision_retention.erase_log(ws, actor, item, reason=reason, as_of=as_of)
    from core.privacy import erasure

    done = erasure.erase(
        ws,
        actor,
        item.target,
        reason=reason,
        legal_basis=LEGAL_BASIS,
        rule=item.rule,
        as_of=as_of,
    )
    return int(done.seq)


def _record(ws: Workspace, actor: str, result: RunResult, *, reason: str, as_of: str | None) -> int:
    payload = RetentionRun(
        erased=result.erased,
        held=result.held,
        refused=result.refused,
        decision_logs=result.decision_logs,
        as_of=as_of,
    )
    subjects = sorted(
        {f"snapshot:{e['snapshot']}" for e in result.erased}
        | {f"snapshot:{h['target']}" for h in result.held if h["kind"] == "snapshot"}
        | {f"env:{d['env']}" for d in result.decision_logs}
        | {f"deployment:{d['deployment_id']}" for d in result.decision_logs}
    ) or ["retention"]

    def commit(s: Session, _: None) -> int:
        return s.commit(new_event(s.actor, payload, subjects, reason)).seq

    return command.run(
        ws, actor, guards=[needs(*ERASE_ROLES, action="run retention")], commit=commit
    )
