"""The privacy context's event kinds: erasures, legal holds, retention rules and runs.

An erasure is one ``data.erase`` event: it projects into ``erasures`` and marks each snapshot
it covers as erased (``snapshots.erased_seq``), so every reader refuses it by a catalog
lookup. Every bundle carries every erasure (with its receipt, ``privacy/receipt-<seq>.json``):
the retention and deletion log is the organisation's, not one model's. A hold is
``data.hold``; lifting it is ``data.release``. A retention rule is ``retention.set``; a
``retention run`` records each erasure it makes as its own event and then one
``retention.run`` saying what it did and left. A deployment's decision log past its
retention is a ``data.erase`` too (no snapshots; its deployment in ``decision_keys``, the
batch objects it replaced by copies without inputs in ``stripped``).

Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import (
    ErasureRow,
    HoldRow,
    RetentionRuleRow,
    RetentionRunRow,
)

ERASE_ROLES = ("data-steward", "admin")
"""Who may erase data: the steward who holds it, an admin; whether it may go is the policy's."""
HOLD_ROLES = ("data-steward", "approver", "admin")
"""Who may place or lift a legal hold."""
RETENTION_ROLES = ("data-steward", "compliance", "admin")
"""Who may set a retention rule: the steward who holds the data, compliance, an admin."""
METHODS = ("crypto-shred", "delete")
"""How the bytes were made unreadable: their data keys destroyed (encrypted copies), or the
plaintext objects deleted (copies that were never encrypted: blocks may survive on disk)."""


@dataclass(frozen=True)
class Erased(Payload):
    """Data made unreadable for good, and the receipt that proves what, why and how.

    ``target`` is what was asked for (``snapshot:NAME@N``); ``snapshots`` every version the
    erasure covers (the target and views derived from it); ``keys`` the data keys destroyed;
    ``objects`` the digests of the copies made unreadable (shredded or deleted); ``models``
    the models trained on them, flagged. For a subject erasure, ``subject`` holds the column
    and a keyed commitment to the value (never the value), ``replaced_by`` the new version
    without that person's rows. ``receipt_digest`` names the receipt blob.
    """

    target: str
    snapshots: list[str]
    method: str
    legal_basis: str
    rule: str
    keys: list[str]
    objects: list[str]
    models: list[str]
    receipt_digest: str
    carried_by: list[int]
    """Events (bundle exports, data exports, reads) that took the data out before."""
    subject: dict[str, Any] | None = None
    replaced_by: str | None = None
    decision_keys: list[str] | None = None
    """Deployments whose decision keys were destroyed with it (decision-log retention)."""
    as_of: str | None = None
    """The date a retention run judged expiry by, when it was not the event's own time."""
    stripped: list[dict[str, Any]] | None = None
    """Decision batches whose object was replaced by a copy without the erased input values:
    ``{batch, from, to}`` (the batch event, the object it was read from, the copy, which is
    among the event's objects); the copy's rows recompute the batch's signed Merkle root."""


@event_kind(
    "data.erase",
    Erased,
    tables=("erasures", "snapshots", "decision_batches"),
    roles=ERASE_ROLES,
    in_every_bundle=True,
    evidence_for=("retention",),
)
def _erase(cat: Catalog, seq: int, body: Body, d: Erased) -> None:
    cat.put(
        ErasureRow(
            seq=seq,
            target=d.target,
            snapshots=d.snapshots,
            method=d.method,
            legal_basis=d.legal_basis,
            rule=d.rule,
            receipt_digest=d.receipt_digest,
            subject_column=(d.subject or {}).get("column"),
            replaced_by=d.replaced_by,
            models=d.models,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body.get("reason", ""),
        )
    )
    if d.snapshots:
        cat.con.execute(
            "UPDATE snapshots SET erased_seq = ? WHERE erased_seq IS NULL AND ref IN "
            f"({', '.join('?' for _ in d.snapshots)})",
            [seq, *d.snapshots],
        )
    for copy in d.stripped or []:
        cat.con.execute(
            "UPDATE decision_batches SET stored_digest = ? WHERE seq = ?",
            [str(copy["to"]), int(copy["batch"])],
        )


def stored_copies(events: Iterable[tuple[int, dict[str, Any]]]) -> dict[str, str]:
    """Original batch object digest → the copy its rows are read from now, from the events.

    Follows chains (a copy stripped again by a later erasure) to the last copy. Only a copy
    the event lists among its objects counts (the ledger scan checks those bytes). For the
    checks and bundles that read batches from the ledger rather than the catalog.
    """
    step: dict[str, str] = {}
    for _, body in events:
        data = body.get("data")
        if body.get("action") != "data.erase" or not isinstance(data, dict):
            continue
        listed = {str(o.get("sha256")) for o in body.get("objects", []) if isinstance(o, dict)}
        for copy in data.get("stripped") or []:
            if isinstance(copy, dict) and str(copy.get("to")) in listed:
                step[str(copy.get("from"))] = str(copy.get("to"))
    out = {}
    for start in step:
        seen, at = {start}, step[start]
        while at in step and at not in seen:
            seen.add(at)
            at = step[at]
        out[start] = at
    return out


@dataclass(frozen=True)
class HoldPlaced(Payload):
    """A legal hold: ``target`` (``dataset:NAME`` or ``snapshot:NAME@N``) may not be erased."""

    target: str


@dataclass(frozen=True)
class HoldReleased(Payload):
    """A hold lifted: ``hold`` is the event number that placed it."""

    hold: int
    target: str


@event_kind(
    "data.hold", HoldPlaced, tables=("holds",), roles=HOLD_ROLES, evidence_for=("retention",)
)
def _hold(cat: Catalog, seq: int, body: Body, d: HoldPlaced) -> None:
    cat.put(
        HoldRow(
            seq=seq,
            target=d.target,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body.get("reason", ""),
        )
    )


@event_kind(
    "data.release", HoldReleased, tables=("holds",), roles=HOLD_ROLES, evidence_for=("retention",)
)
def _release(cat: Catalog, seq: int, body: Body, d: HoldReleased) -> None:
    cat.con.execute(
        "UPDATE holds SET released_seq = ?, released_by = ?, released_reason = ? "
        "WHERE seq = ? AND released_seq IS NULL",
        [seq, body["actor"], body.get("reason", ""), d.hold],
    )


@dataclass(frozen=True)
class RetentionSet(Payload):
    """A retention rule: ``target`` (``dataset:NAME`` or ``decisions:ENV``) kept ``period``.

    ``previous`` is the period of the rule it replaces (None: the first rule for it).
    """

    target: str
    period: str
    previous: str | None = None


@event_kind(
    "retention.set",
    RetentionSet,
    tables=("retention_rules",),
    roles=RETENTION_ROLES,
    evidence_for=("retention",),
)
def _retention_set(cat: Catalog, seq: int, body: Body, d: RetentionSet) -> None:
    cat.put(
        RetentionRuleRow(
            target=d.target,
            period=d.period,
            previous=d.previous,
            seq=seq,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body.get("reason", ""),
        )
    )


@dataclass(frozen=True)
class RetentionRun(Payload):
    """What one ``retention run`` did: the erasures it made and what it left, and why.

    ``erased``: ``{snapshot, erasure, rule, source, created_at, expires_at}`` per snapshot
    erased (``erasure`` is its ``data.erase`` event; ``source`` says whether the dataset's
    rule or the snapshot's own tag applied). ``held``: ``{target, holds}`` per expired item a
    legal hold kept. ``refused``: ``{target, error}`` per erasure that was refused (a policy
    denial, a missing key). ``decision_logs``: ``{deployment_id, env, erasure, rule,
    ended_at, expires_at}`` per decision log erased. ``as_of`` is the instant the run
    counted expiry at when it was not the event's own time (``--as-of``).
    """

    erased: list[dict[str, Any]]
    held: list[dict[str, Any]]
    refused: list[dict[str, Any]]
    decision_logs: list[dict[str, Any]]
    as_of: str | None = None


@event_kind(
    "retention.run",
    RetentionRun,
    tables=("retention_runs",),
    roles=ERASE_ROLES,
    evidence_for=("retention",),
)
def _retention_run(cat: Catalog, seq: int, body: Body, d: RetentionRun) -> None:
    cat.put(
        RetentionRunRow(
            seq=seq,
            as_of=d.as_of,
            erased=json.dumps(d.erased, sort_keys=True),
            held=json.dumps(d.held, sort_keys=True),
            refused=json.dumps(d.refused, sort_keys=True),
            decision_logs=json.dumps(d.decision_logs, sort_keys=True),
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body.get("reason", ""),
        )
    )
