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
    "backups hold the key store (keystore/: wrapped data keys, never a key-encryption key); "
    "this erasure replaced the workspace's key-encryption key and deleted the old one from "
    "the keyring, so a backup made before it holds keys wrapped under a key that exists "
    "nowhere: nothing encrypted in it can be decrypted, neither the erased data nor the "
    "rest (restore a backup made after the erasure); a plaintext copy in a backup made "
    "before this erasure is not reached (it goes when that backup expires); restoring a "
    "backup re-applies every erasure its ledger records"
)
_METHOD_NOTES = {
    CRYPTO_SHRED: "every copy was encrypted: its data key was destroyed and its ciphertext "
    "deleted; any surviving copy of the ciphertext (a disk block, an old backup of objects/) "
    "is unreadable without the key",
    "delete": "at least one copy was stored in plaintext: it was overwritten, then deleted; "
    "a journaling file system, an SSD or a volume snapshot may still hold old blocks of it",
}


def build(scope: Scope, *, subject: dict[str, Any] | None) -> dict[str, Any]:
    """The receipt of a snapshot erasure, before :func:`complete` adds the event's claims."""
    views = [s.ref for s in scope.snapshots if s.kind == "feature"]
    return {
        "what": {
            "covered": [{"snapshot": r, "why": scope.why[r]} for r in scope.refs],
            "objects": [c.to_json() for c in scope.copies],
            "kept": scope.kept,
        },
        "carried_by": scope.carried,
        "impact": {
            "views": views,
            "models": scope.models,
            "production": scope.production,
            **({"rows_removed": subject["rows_removed"]} if subject else {}),
        },
    }


def complete(
    doc: dict[str, Any],
    payload: Any,
    *,
    workspace: str,
    seq: int,
    ts: str,
    actor: str,
    roles: list[str],
    reason: str,
    decision: dict[str, Any] | None,
    policy_name: str | None,
    policy_version: str | None,
) -> dict[str, Any]:
    """``doc`` with every claim the event makes filled in from the event itself.

    The claims (what, why, method, models, carried_by, subject, replaced_by, who, when,
    which decision) are taken from the payload and the session, so a receipt can never
    claim what its event does not. Lists the caller gave in detail (``what.objects`` with
    each copy's method, ``carried_by`` with each event's action) must name exactly the
    payload's digests and event numbers, in order.

    Raises:
        ValueError: if a detailed list disagrees with the payload (a bug in the caller).
    """
    out = dict(doc)
    what = dict(out.get("what") or {})
    objects = what.get("objects")
    if objects is None:
        objects = [{"sha256": d, "method": payload.method} for d in payload.objects]
    elif [o.get("sha256") for o in objects] != list(payload.objects):
        raise ValueError("the receipt's what.objects are not the event's objects")
    carried = out.get("carried_by")
    if carried is None:
        carried = [{"seq": n} for n in payload.carried_by]
    elif [c.get("seq") for c in carried] != list(payload.carried_by):
        raise ValueError("the receipt's carried_by are not the event's")
    what.update(
        target=payload.target, snapshots=list(payload.snapshots), keys=list(payload.keys),
        objects=objects,
    )  # fmt: skip
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
    approved: dict[str, Any] = {"actor": actor, "roles": roles, "policy": policy}
    if policy is None:
        approved["note"] = "no policy was in force: the erase gate was ungoverned"
    out.update(
        format=FORMAT,
        workspace=workspace,
        event=seq,
        when=ts,
        what=what,
        why={
            "reason": reason,
            "legal_basis": payload.legal_basis,
            "rule": payload.rule,
            "as_of": payload.as_of,
        },
        approved_by=approved,
        method=payload.method,
        method_note=_METHOD_NOTES.get(payload.method, ""),
        carried_by=carried,
        models=list(payload.models),
        subject=payload.subject,
        replaced_by=payload.replaced_by,
    )
    out.setdefault("replicas", REPLICAS)
    out.setdefault("backups", BACKUPS)
    return out
