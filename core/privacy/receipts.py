"""Deletion receipts: the canonical JSON document each erasure leaves behind, and its checks.

A receipt (format ``ledgerml/deletion-receipt/v1``, documented key by key in
docs/formats/deletion-receipt.md) says what was made unreadable (snapshots, object digests,
data keys; and what was kept, with why), why (reason, legal basis, rule, as-of date), who
approved it (the actor and the policy decision of the ``erase`` gate), when, how
(crypto-shred or delete), who had carried the data out before (decryptions, reveals, bundle
exports), the models trained on it and the impact, and, plainly, what the erasure cannot
reach (replicas, earlier bundles, blocks of deleted plaintext).

It is stored as an object *before* its ``data.erase`` event, which names its SHA-256 and
repeats its claims: the event is signed by the erasing actor (invariant 9), so signing the
event signs the receipt's digest. Anyone holding both checks them with
:func:`storage.bundle_verifier.receipt_problems`, offline (a bundle carries the receipt as
``privacy/receipt-<seq>.json``).
"""

from __future__ import annotations

from typing import Any

from core.privacy.scope import CRYPTO_SHRED, Scope
from storage.bundle_verifier import RECEIPT_FORMAT, receipt_member

FORMAT = RECEIPT_FORMAT
MEDIA_TYPE = "application/vnd.ledgerml.deletion-receipt+json"
MEMBER = receipt_member

REPLICAS = (
    "none known (no team ledger): this workspace has no replicas that could shred at their "
    "next sync; copies made outside ledgerml are not reached by this erasure"
)
BACKUPS = (
    "backups never hold the key store (keystore/): no backup can bring a destroyed data key "
    "back, so encrypted copies in any backup stay unreadable; a plaintext copy in a backup "
    "made before this erasure is not reached (it goes when that backup expires); restoring "
    "a backup re-applies every erasure its ledger records"
)
_METHOD_NOTES = {
    CRYPTO_SHRED: "every copy was encrypted: its data key was destroyed and its ciphertext "
    "deleted; any surviving copy of the ciphertext (a disk block, an old backup of objects/) "
    "is unreadable without the key",
    "delete": "at least one copy was stored in plaintext: it was overwritten, then deleted; "
    "a journaling file system, an SSD or a volume snapshot may still hold old blocks of it",
}


def build(
    *,
    workspace: str,
    seq: int,
    ts: str,
    actor: str,
    roles: list[str],
    scope: Scope,
    reason: str,
    legal_basis: str,
    rule: str,
    as_of: str | None,
    decision: dict[str, Any] | None,
    policy_name: str | None,
    policy_version: str | None,
    subject: dict[str, Any] | None,
    replaced_by: str | None,
) -> dict[str, Any]:
    """The receipt of one erasure (see the module docstring); plain JSON data."""
    policy: dict[str, Any] | None = None
    if decision is not None:
        policy = {
            "gate": decision.get("gate"),
            "bundle": decision.get("bundle"),
            "name": policy_name,
            "version": policy_version,
            "allow": decision.get("allow"),
            "reasons": decision.get("reasons"),
        }
    views = [s.ref for s in scope.snapshots if s.kind == "feature"]
    return {
        "format": FORMAT,
        "workspace": workspace,
        "event": seq,
        "when": ts,
        "what": {
            "target": f"snapshot:{scope.target.ref}",
            "snapshots": scope.refs,
            "covered": [{"snapshot": r, "why": scope.why[r]} for r in scope.refs],
            "objects": [c.to_json() for c in scope.copies],
            "keys": scope.keys,
            "kept": scope.kept,
        },
        "why": {"reason": reason, "legal_basis": legal_basis, "rule": rule, "as_of": as_of},
        "approved_by": {
            "actor": actor,
            "roles": roles,
            "policy": policy,
            **({} if policy else {"note": "no policy was in force: the erase gate was ungoverned"}),
        },
        "method": scope.method,
        "method_note": _METHOD_NOTES[scope.method],
        "carried_by": scope.carried,
        "models": scope.models,
        "impact": {
            "views": views,
            "models": scope.models,
            "production": scope.production,
            **({"rows_removed": subject["rows_removed"]} if subject else {}),
        },
        "subject": subject,
        "replaced_by": replaced_by,
        "replicas": REPLICAS,
        "backups": BACKUPS,
    }
