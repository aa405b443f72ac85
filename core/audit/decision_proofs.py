"""Decision proofs: one logged decision, provable offline to anyone holding public keys.

A proof carries, for each decision logged for a request id (the answer, and a shadow's
beside it): the row (without ``in.*`` columns), its leaf index and the RFC 6962 audit path
to its batch's Merkle root; the batch's ``decision.batch`` event with its inclusion proof
against a signed checkpoint (:func:`core.audit.proofs.prove`); and the public keys that
signed the event and the checkpoint. :func:`verify_proof` checks every link with nothing
else: the ``decision-leaf/1`` leaf is recomputed from the row by the stand-alone code in
:mod:`storage.bundle_verifier`. Here rather than in the operations context because it builds
on the audit context's event proofs (the layering points that way).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.kernel.errors import IntegrityError
from core.kernel.workspace import Workspace
from core.operations.decision_events import DECISION_LEAF
from core.operations.decision_log import find, leaf_hashes, read_batch
from storage.bundle_verifier import DECISION_FIELDS, decision_included

PROOF_FORMAT = "ledgerml-decision-proof/1"


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {c: row[c] for c in DECISION_FIELDS}


def prove(ws: Workspace, request_id: str, *, checkpoint: Path | None = None) -> dict[str, Any]:
    """An offline-checkable proof of a request's returned decision (and any shadow's).

    For each logged decision of the request: the row (without ``in.*``), its leaf index, the
    audit path to its batch's root; then the batch event with its inclusion proof against a
    signed checkpoint (:func:`core.audit.proofs.prove`) and the public keys that signed the
    event and the checkpoint.

    Raises:
        NotFoundError: for an unknown request id, or no checkpoint covering its batch yet.
    """
    from core.audit import proofs
    from storage import merkle

    found = find(ws, request_id)
    decisions_out = []
    events: dict[int, dict[str, Any]] = {}
    keys: dict[str, str] = {}
    for f in found:
        table = read_batch(ws, f.batch)
        leaves = leaf_hashes(table)
        path = merkle.inclusion_proof(f.index, leaves)
        decisions_out.append(
            {
                "decision": _plain(f.row),
                "batch_seq": f.batch.seq,
                "index": f.index,
                "batch_size": len(leaves),
                "merkle_root": f.batch.merkle_root,
                "audit_path": [p.hex() for p in path],
            }
        )
        if f.batch.seq not in events:
            events[f.batch.seq] = proofs.prove(ws, f.batch.seq, checkpoint_path=checkpoint)
    with ws.session() as s:
        for doc in events.values():
            wanted = [s["keyid"] for s in doc["checkpoint"].get("signatures", [])]
            sealed = _seal_key(doc["line"])
            if sealed:
                wanted.append(sealed)
            for key_id in wanted:
                row = s.catalog.key(key_id)
                if row is not None:
                    keys[key_id] = row.public_pem
    return {
        "format": PROOF_FORMAT,
        "leaf": DECISION_LEAF,
        "request_id": request_id,
        "decisions": decisions_out,
        "events": {str(k): v for k, v in events.items()},
        "public_keys": keys,
    }


def _seal_key(line: str) -> str | None:
    from core.kernel.events import split_sealed

    body = line.split(" ", 2)[2].encode()
    sealed = split_sealed(body)
    return sealed[1].key_id if sealed else None


@dataclass(frozen=True)
class ProofCheck:
    """What checking a decision proof found: every link checked, and the anchor."""

    checked: list[str]
    anchored: bool
    """Whether the keys were pinned by the verifier (else only the proof's own keys)."""


def verify_proof(doc: dict[str, Any], *, trusted: Sequence[str] = ()) -> ProofCheck:
    """Check a decision proof offline with only the public keys it carries.

    Each decision's leaf leads by its audit path to its batch's root; that root is the one
    in the batch event's text; the event is signed by its actor's key (the key id is the
    SHA-256 of the key); the event is included in the signed checkpoint. ``trusted`` key ids
    (obtained through another channel) anchor it: without them the proof is self-consistent
    only, which :class:`ProofCheck` says.

    Raises:
        IntegrityError: naming the first link that does not hold.
    """
    from core.audit import proofs
    from core.identity.signing import key_id_for, public_der, verify_raw
    from core.kernel.events import signing_input, split_sealed

    try:
        if doc.get("format") != PROOF_FORMAT or doc.get("leaf") != DECISION_LEAF:
            raise IntegrityError(f"not a {PROOF_FORMAT} document over {DECISION_LEAF} leaves")
        keys: dict[str, str] = dict(doc["public_keys"])
        for key_id, pem in keys.items():
            if key_id_for(public_der(pem)) != key_id:
                raise IntegrityError(f"key {key_id[:16]}… is not the id of the key given for it")
        checked = []
        for event_seq, event in doc["events"].items():
            proofs.verify_proof(event, keys)
            body = str(event["line"]).split(" ", 2)[2].encode()
            sealed = split_sealed(body)
            if sealed is None or sealed[1].key_id not in keys:
                raise IntegrityError(f"event #{event_seq} is not signed by a key in the proof")
            if not verify_raw(
                keys[sealed[1].key_id], signing_input(sealed[0]), sealed[1].signature
            ):
                raise IntegrityError(f"event #{event_seq}'s signature does not match its text")
            checked.append(f"event #{event_seq} is signed and in the signed checkpoint")
        for d in doc["decisions"]:
            event = doc["events"][str(d["batch_seq"])]
            body = json.loads(str(event["line"]).split(" ", 2)[2])
            data = body["data"]
            if body.get("action") != "decision.batch" or data.get("leaf") != DECISION_LEAF:
                raise IntegrityError(f"event #{d['batch_seq']} is not a decision batch")
            if data["merkle_root"] != d["merkle_root"] or int(data["count"]) != int(
                d["batch_size"]
            ):
                raise IntegrityError(
                    f"the proof's root or size is not the one event #{d['batch_seq']} signs"
                )
            row = d["decision"]
            if not decision_included(
                row,
                int(d["index"]),
                int(d["batch_size"]),
                list(d["audit_path"]),
                str(d["merkle_root"]),
            ):
                raise IntegrityError(
                    f"decision {row.get('request_id')!r} ({row.get('arm')}) is not leaf "
                    f"{d['index']} of batch #{d['batch_seq']}: it was altered"
                )
            checked.append(
                f"decision {row['request_id']} ({row['arm']}, {row['status']}) is leaf "
                f"{d['index']} of {d['batch_size']} in batch #{d['batch_seq']}"
            )
        if not doc["decisions"]:
            raise IntegrityError("the proof proves no decision")
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise IntegrityError(f"malformed decision proof: {err!r}") from err
    signers = {
        s["keyid"] for e in doc["events"].values() for s in e["checkpoint"].get("signatures", [])
    }
    anchored = bool(trusted) and bool(signers & set(trusted))
    return ProofCheck(checked, anchored)
