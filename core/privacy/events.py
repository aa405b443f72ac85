"""The privacy context's event kinds: erasures, legal holds.

An erasure is one ``data.erase`` event: it projects into ``erasures`` and marks each snapshot
it covers as erased (``snapshots.erased_seq``), so every reader refuses it by a catalog
lookup. Every bundle carries every erasure (with its receipt, ``privacy/receipt-<seq>.json``):
the retention and deletion log is the organisation's, not one model's. A hold is
``data.hold``; lifting it is ``data.release``.

Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import ErasureRow, HoldRow

ERASE_ROLES = ("data-steward", "admin")
"""Who may erase data: the steward who holds it, an admin; whether it may go is the policy's."""
HOLD_ROLES = ("data-steward", "approver", "admin")
"""Who may place or lift a legal hold."""
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


@event_kind(
    "data.erase",
    Erased,
    tables=("erasures", "snapshots"),
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
