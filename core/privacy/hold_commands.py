"""``ledgerml hold add|remove|list``: place and lift legal holds.

A legal hold (litigation, an investigation, a regulator's request) suspends erasure: while a
hold covers data, neither ``data erase`` nor ``retention run`` may destroy it, whatever its
retention says. A hold names

- ``dataset:NAME``: every version of the dataset, present and future;
- ``NAME@N`` (or ``snapshot:NAME@N``): one version;
- ``decisions:ENV``: the decision logs of every deployment in an environment.

Placing one is a ``data.hold`` event, lifting it a ``data.release`` naming the hold's event
number; both need a reason (it is what a court or an auditor reads) and one of
:data:`~core.privacy.events.HOLD_ROLES`. Several holds may cover the same data (two matters
can hold it at once): each is lifted on its own, and the data stays held until the last is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.identity.actors import needs
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import NotFoundError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import HoldRow
from core.kernel.workspace import Session, Workspace
from core.privacy.events import HOLD_ROLES, HoldPlaced, HoldReleased

FORMS = "dataset:NAME, NAME@N (one version) or decisions:ENV (an environment's decision logs)"


@dataclass(frozen=True)
class Hold:
    """One hold as the catalog has it, for the front doors."""

    row: HoldRow

    @property
    def active(self) -> bool:
        """Whether it is still in force."""
        return self.row.released_seq is None

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        r = self.row
        return {
            "hold": r.seq,
            "target": r.target,
            "active": self.active,
            "placed_at": r.created_at,
            "placed_by": r.created_by,
            "reason": r.reason,
            "released_seq": r.released_seq,
            "released_by": r.released_by,
            "released_reason": r.released_reason,
        }


def _has_deployments(catalog: Catalog, env: str) -> bool:
    return bool(
        catalog.con.execute("SELECT 1 FROM deployments WHERE env = ? LIMIT 1", [env]).fetchall()
    )


def resolve_target(catalog: Catalog, text: str) -> str:
    """The canonical form of a hold (or retention) target, checked against the catalog.

    Raises:
        UsageError: for a form that is none of :data:`FORMS`.
        NotFoundError: for a dataset, version or environment the workspace does not have.
    """
    from core.data.snapshots import check_dataset_name
    from core.operations.deployments import check_env

    text = text.strip()
    if text.startswith("dataset:"):
        name = check_dataset_name(text.removeprefix("dataset:"))
        if not catalog.snapshots(name):
            raise NotFoundError(
                f"no dataset named {name!r}", hint="`ledgerml snapshot list` shows datasets."
            )
        return f"dataset:{name}"
    if text.startswith("decisions:"):
        env = check_env(text.removeprefix("decisions:"))
        if not _has_deployments(catalog, env):
            raise NotFoundError(
                f"no deployment was ever made to {env!r}: it has no decision log",
                hint="`ledgerml deployments` lists the environments.",
            )
        return f"decisions:{env}"
    ref = text.removeprefix("snapshot:")
    if "@" in ref and ":" not in ref:
        snap = catalog.snapshot(ref)
        if snap is None:
            known = [s.ref for s in catalog.snapshots(ref.split("@", 1)[0])]
            raise NotFoundError(
                f"no snapshot {ref}",
                hint=f"Known versions: {', '.join(known)}."
                if known
                else "`ledgerml snapshot list` shows datasets.",
            )
        return f"snapshot:{snap.ref}"
    raise UsageError(f"cannot hold {text!r}", hint=f"Give {FORMS}.")


def subjects_of(target: str) -> list[str]:
    """The event subjects of a hold or rule on ``target``.

    A decision log's environment too, so that bundles of the models that served there
    carry it.
    """
    if target.startswith("decisions:"):
        return [target, "env:" + target.removeprefix("decisions:")]
    return [target]


def _needs_reason(reason: str, what: str) -> None:
    if not reason.strip():
        raise UsageError(
            f"{what} needs a reason (--reason): it is what a court or an auditor reads",
            hint="Name the matter, e.g. --reason 'litigation hold, case 2026-114'.",
        )


def place(ws: Workspace, actor: str, target: str, *, reason: str) -> Hold:
    """Place a legal hold on ``target`` (see the module for its forms): one ``data.hold``.

    Raises:
        UsageError: without a reason, for a malformed target or an erased version.
        NotFoundError: for a target the workspace does not have.
        PermissionDeniedError: for an actor without a hold role.
    """
    _needs_reason(reason, "a legal hold")

    def commit(s: Session, _: None) -> Hold:
        canonical = resolve_target(s.catalog, target)
        if canonical.startswith("snapshot:"):
            snap = s.catalog.snapshot(canonical.removeprefix("snapshot:"))
            if snap is not None and snap.erased_seq is not None:
                raise UsageError(
                    f"{snap.ref} was erased at #{snap.erased_seq}: there is nothing left to hold",
                    hint=f"Hold dataset:{snap.dataset} to keep its later versions.",
                )
        entry = s.commit(
            new_event(s.actor, HoldPlaced(target=canonical), subjects_of(canonical), reason)
        )
        return Hold(_row(s.catalog, entry.seq))

    return command.run(
        ws, actor, guards=[needs(*HOLD_ROLES, action="place legal holds")], commit=commit
    )


def release(ws: Workspace, actor: str, hold: int, *, reason: str) -> Hold:
    """Lift the hold placed by event ``hold``: one ``data.release``.

    Raises:
        UsageError: without a reason, or for a hold already lifted.
        NotFoundError: for an event number that placed no hold.
        PermissionDeniedError: for an actor without a hold role.
    """
    _needs_reason(reason, "lifting a legal hold")

    def commit(s: Session, _: None) -> Hold:
        rows = s.catalog.rows(HoldRow, "SELECT * FROM holds WHERE seq = ?", [hold])
        if not rows:
            raise NotFoundError(
                f"event #{hold} placed no legal hold", hint="`ledgerml hold list` shows the holds."
            )
        row: HoldRow = rows[0]
        if row.released_seq is not None:
            raise UsageError(
                f"hold #{hold} on {row.target} was already lifted at #{row.released_seq} "
                f"by {row.released_by}",
                hint="`ledgerml hold list` shows the holds in force.",
            )
        s.commit(
            new_event(s.actor, HoldReleased(hold=hold, target=row.target), [row.target], reason)
        )
        return Hold(_row(s.catalog, hold))

    return command.run(
        ws, actor, guards=[needs(*HOLD_ROLES, action="lift legal holds")], commit=commit
    )


def _row(catalog: Catalog, seq: int) -> HoldRow:
    rows: list[HoldRow] = catalog.rows(HoldRow, "SELECT * FROM holds WHERE seq = ?", [seq])
    return rows[0]


def list_holds(ws: Workspace, actor: str = "", *, active_only: bool = False) -> list[Hold]:
    """Every hold, oldest first (only those in force with ``active_only``)."""
    sql = "SELECT * FROM holds" + (" WHERE released_seq IS NULL" if active_only else "")
    with ws.session(actor) as s:
        return [Hold(r) for r in s.catalog.rows(HoldRow, sql + " ORDER BY seq")]


def blocking_log(catalog: Catalog, env: str) -> list[HoldRow]:
    """The holds in force on the decision logs of ``env`` (oldest first)."""
    return catalog._rows(
        HoldRow,
        "SELECT * FROM holds WHERE released_seq IS NULL AND target = ? ORDER BY seq",
        [f"decisions:{env}"],
    )
