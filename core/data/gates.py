"""Gates on every stage: nothing is built or trained from an input whose latest run FAILED.

For each suite ever run on an input snapshot, the latest run counts. If it failed, building a
feature view (stage ``view``) or training (stage ``train``) from that snapshot is refused,
naming the failing run (its event number, the suite, the checks that failed), until either a
later run of the same suite on the same snapshot passes, or an approver records a signed
waiver (:func:`waive`, a ``validation.waive`` event) of that run, for that stage, that has not
expired. A waiver counts only for the run it names, so a later failure needs a new decision.

:func:`require` returns the waivers it relied on, so the build can name them in its event and
its data sheet can show them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.data.events import WAIVE_ROLES, ValidationWaived
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import SnapshotRow, ValidationRow
from core.kernel.workspace import Session, Workspace
from storage.errors import CheckFailedError

STAGES = ("view", "train")
"""The stages a waiver may cover."""


@dataclass(frozen=True)
class Waiver:
    """A recorded waiver of one failed run."""

    seq: int
    actor: str
    snapshot: str
    suite: str
    waives: int
    reason: str
    scope: tuple[str, ...]
    expires: str

    def covers(self, run: ValidationRow, stage: str, today: dt.date) -> bool:
        """Whether it lets ``stage`` through past ``run`` on ``today`` (the expiry day counts)."""
        return (
            self.waives == run.seq
            and self.suite == run.suite_name
            and stage in self.scope
            and today <= dt.date.fromisoformat(self.expires)
        )

    def to_json(self) -> dict[str, Any]:
        """How a build's event names the waiver it used."""
        return {
            "seq": self.seq,
            "by": self.actor,
            "snapshot": self.snapshot,
            "suite": self.suite,
            "waives": self.waives,
            "reason": self.reason,
            "expires": self.expires,
        }


def latest_failures(runs: Iterable[ValidationRow]) -> list[ValidationRow]:
    """Per suite, its latest run, when that run failed; a suite is its exact bytes.

    A failure is cleared only by a later passing run of the same suite digest: a laxer suite
    under the same ``[suite] name`` passes on its own, but leaves the stricter one's failure
    standing (it needs a waiver, or the strict suite passing).
    """
    latest: dict[tuple[str, str], ValidationRow] = {}
    for run in sorted(runs, key=lambda r: r.seq):
        latest[(run.suite_name, run.suite_digest)] = run
    return sorted((r for r in latest.values() if not r.passed), key=lambda r: r.seq)


def twins(s: Session, snap: SnapshotRow) -> list[SnapshotRow]:
    """Every snapshot holding the very same table (the same bytes under another name too).

    Validation is about the table: re-ingesting failed data as another dataset must not
    leave its failures behind.
    """
    same = [
        t
        for t in s.catalog.snapshots_by_digest(snap.table_digest)
        if t.table_digest == snap.table_digest
    ]
    return same or [snap]


def _runs_and_waivers(s: Session, snap: SnapshotRow) -> tuple[list[ValidationRow], list[Waiver]]:
    runs: list[ValidationRow] = []
    recorded: list[Waiver] = []
    for twin in twins(s, snap):
        runs += s.catalog.validations(twin.ref)
        recorded += waivers(s, twin)
    return runs, sorted(recorded, key=lambda w: w.seq)


def waivers(s: Session, snap: SnapshotRow) -> list[Waiver]:
    """Every waiver recorded for a snapshot, oldest first."""
    out = []
    for row in s.catalog.events(action="validation.waive", subject=f"snapshot:{snap.ref}"):
        body = json.loads(row.body)
        d = ValidationWaived.from_data(body["data"])
        out.append(
            Waiver(
                row.seq,
                row.actor,
                d.snapshot,
                d.suite,
                d.waives,
                d.reason,
                tuple(d.scope),
                d.expires,
            )
        )
    return out


def _failed_checks(s: Session, run: ValidationRow) -> list[str]:
    from core.data import validation

    try:
        return validation.read_result(s.workspace, run).failed
    except (OSError, ValueError, KeyError) as err:  # still refuse; say the result is unreadable
        return [f"(result unreadable: {err})"]


def require(
    s: Session, snaps: Iterable[SnapshotRow], stage: str, today: dt.date | None = None
) -> list[Waiver]:
    """Refuse ``stage`` from any snapshot whose latest run of a suite failed, unless waived.

    Returns:
        The waivers relied on (empty when every latest run passed).

    Raises:
        CheckFailedError: naming every failing run no waiver covers.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    day = today or dt.datetime.now(dt.UTC).date()
    used: list[Waiver] = []
    refused: list[str] = []
    first: tuple[SnapshotRow, ValidationRow] | None = None
    for snap in snaps:
        runs, recorded = _runs_and_waivers(s, snap)
        failing = latest_failures(runs)
        for run in failing:
            cover = next((w for w in reversed(recorded) if w.covers(run, stage, day)), None)
            if cover is not None:
                used.append(cover)
                continue
            checks = ", ".join(_failed_checks(s, run)) or "no check named"
            where = (
                snap.ref
                if run.snapshot == snap.ref
                else f"{snap.ref} (same table as {run.snapshot})"
            )
            refused.append(
                f"{where}: the latest run of suite {run.suite_name!r} FAILED "
                f"(event #{run.seq}; failed: {checks})"
            )
            first = first or (snap, run)
    if refused:
        assert first is not None
        snap, run = first
        what = "build a feature view" if stage == "view" else "train"
        raise CheckFailedError(
            f"cannot {what} from a failed input: " + "; ".join(refused),
            hint=f"Fix the data and run `ledgerml validate {snap.ref} --suite FILE` again, or "
            f"ask an approver for a waiver: `ledgerml waiver add {snap.ref} --suite "
            f"{run.suite_name} --reason TEXT --expires YYYY-MM-DD --scope {stage}`.",
        )
    return used


def list_waivers(ws: Workspace, ref: str, actor: str = "") -> list[Waiver]:
    """The waivers recorded for a snapshot, oldest first."""
    from core.data import snapshots

    with ws.session(actor) as s:
        return waivers(s, snapshots.resolve(s.catalog, ref))


def _expiry(expires: str, today: dt.date) -> str:
    try:
        day = dt.date.fromisoformat(expires)
    except ValueError:
        raise UsageError(f"--expires {expires!r} is not a date (YYYY-MM-DD)") from None
    if len(expires) != 10:
        raise UsageError(f"--expires {expires!r} is not a date (YYYY-MM-DD)")
    if day < today:
        raise UsageError(f"--expires {expires} is in the past: a waiver must end after today")
    return day.isoformat()


def waive(
    ws: Workspace,
    actor: str,
    ref: str,
    *,
    suite: str,
    reason: str,
    expires: str,
    scope: Iterable[str] = STAGES,
) -> Waiver:
    """Record an approver's waiver of the latest (failed) run of ``suite`` on ``ref``.

    Raises:
        UsageError: for no reason, an unknown stage, a date that is not one or is past, or a
            suite whose latest run on the snapshot did not fail (nothing to waive).
        PermissionDeniedError: for an actor who is not an approver.
    """
    from core.data import snapshots

    stages = sorted(set(scope))
    unknown = [st for st in stages if st not in STAGES]
    if unknown or not stages:
        raise UsageError(
            f"--scope {','.join(unknown) or '(empty)'}: not a stage",
            hint=f"Stages: {', '.join(STAGES)}.",
        )
    if not reason.strip():
        raise UsageError("a waiver needs a --reason: why may this failed input be used?")
    day = _expiry(expires, dt.datetime.now(dt.UTC).date())

    def commit(s: Session, _: None) -> Waiver:
        snap = snapshots.resolve(s.catalog, ref)
        runs = [v for v in _runs_and_waivers(s, snap)[0] if v.suite_name == suite]
        if not runs:
            raise UsageError(f"{snap.ref} has no recorded run of suite {suite!r}")
        failing = latest_failures(runs)
        if not failing:
            raise UsageError(
                f"the latest run of suite {suite!r} on {snap.ref} passed (event #{runs[-1].seq}):"
                " there is nothing to waive"
            )
        payload = ValidationWaived(
            snapshot=snap.ref,
            suite=suite,
            waives=failing[-1].seq,
            reason=reason,
            scope=stages,
            expires=day,
        )
        entry = s.commit(
            new_event(
                s.actor,
                payload,
                [f"snapshot:{snap.ref}", f"validation:{failing[-1].seq}"],
                reason,
            )
        )
        return Waiver(
            entry.seq, s.actor, snap.ref, suite, failing[-1].seq, reason, tuple(stages), day
        )

    return command.run(
        ws, actor, guards=[needs(*WAIVE_ROLES, action="waive failed validations")], commit=commit
    )
