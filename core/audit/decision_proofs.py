"""Decision proofs: one logged decision, provable offline to anyone holding public keys.

A proof carries, for each decision logged for a request id (the answer, and a shadow's
beside it): the row (without ``in.*`` columns), its leaf index and the RFC 6962 audit path
to its batch's Merkle root; the batch's ``decision.batch`` event with its inclusion proof
against a signed checkpoint (:func:`core.audit.proofs.prove`); and the public keys that
signed the event and the checkpoint, each with its certificate by the organisation key.
:func:`verify_proof` checks every link with nothing else: the ``decision-leaf/1`` leaf is
recomputed from the row by the stand-alone code in :mod:`storage.bundle_verifier`.

Every key in a proof came with the proof, so a proof alone shows only that it holds
together: anyone can make a self-consistent one with a key of their own. It is *anchored*
only by a signature that verifies under a public key the verifier brings (``--key``): the
organisation key, under which the checkpoint signer's certificate must verify, or the
checkpoint signer's own key. A key id the envelope merely lists anchors nothing.

Here rather than in the operations context because it builds on the audit context's event
proofs (the layering points that way).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.kernel.errors import IntegrityError
from core.kernel.workspace import Workspace
from core.operations.decision_events import DECISION_LEAF
from core.operations.decision_log import find, leaf_hashes, read_batch
from storage.bundle_verifier import DECISION_FIELDS, decision_included

PROOF_FORMAT = "ledgerml-decision-proof/2"
"""Format 2 adds ``key_records``, each key's certificate; format 1 proofs still verify, but
only the checkpoint signer's own key can anchor them (they carry no certificates)."""
PROOF_FORMATS = ("ledgerml-decision-proof/1", PROOF_FORMAT)
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {c: row[c] for c in DECISION_FIELDS}


def prove(ws: Workspace, request_id: str, *, checkpoint: Path | None = None) -> dict[str, Any]:
    """An offline-checkable proof of a request's returned decision (and any shadow's).

    For each logged decision of the request: the row (without ``in.*``), its leaf index, the
    audit path to its batch's root; then the batch event with its inclusion proof against a
    signed checkpoint (:func:`core.audit.proofs.prove`) and the public keys that signed the
    event and the checkpoint, with their certificates (``key_records``, from the ledger
    records that added them: the catalog keeps only a flag), so that a verifier holding only
    the organisation key can tie each signer to it.

    Raises:
        NotFoundError: for an unknown request id, or no checkpoint covering its batch yet.
    """
    from core.audit import proofs
    from storage import merkle

    found = find(ws, request_id)
    decisions_out = []
    events: dict[int, dict[str, Any]] = {}
    keys: dict[str, str] = {}
    records: dict[str, dict[str, Any]] = {}
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
                    records[key_id] = {
                        "actor": row.actor,
                        "purpose": row.purpose,
                        "algorithm": row.algorithm,
                        "certificate": _certificate(ws, row.created_seq, key_id),
                    }
    return {
        "format": PROOF_FORMAT,
        "leaf": DECISION_LEAF,
        "request_id": request_id,
        "decisions": decisions_out,
        "events": {str(k): v for k, v in events.items()},
        "public_keys": keys,
        "key_records": records,
    }


def _certificate(ws: Workspace, seq: int, key_id: str) -> dict[str, Any] | None:
    """A key's certificate, from the ledger record (event ``seq``) that added it."""
    data = ws.ledger.entry(seq).decode().get("data")
    if not isinstance(data, dict):
        return None
    for record in (data.get("key"), data.get("founder_key")):
        if isinstance(record, dict) and record.get("key_id") == key_id:
            cert = record.get("certificate")
            return cert if isinstance(cert, dict) else None
    return None


def pinned_keys(text: str) -> list[str]:
    """The PEM public keys in an anchor file's text (one or several; none: ValueError)."""
    from core.identity.signing import public_der

    blocks = _PEM.findall(text)
    if not blocks:
        raise ValueError("it holds no PEM public key (-----BEGIN PUBLIC KEY-----)")
    for b in blocks:
        public_der(b)  # ValueError if it is not a public key
    return blocks


def _seal_key(line: str) -> str | None:
    from core.kernel.events import split_sealed

    body = line.split(" ", 2)[2].encode()
    sealed = split_sealed(body)
    return sealed[1].key_id if sealed else None


@dataclass(frozen=True)
class ProofCheck:
    """What checking a decision proof found: every link checked, the anchor, and the gaps."""

    checked: list[str]
    anchored: bool
    """Whether a checkpoint signature verified under a key the verifier brought itself."""
    anchor: str = ""
    """What anchors it (which pinned key, which certificate), or why nothing does."""
    unchecked: list[str] = field(default_factory=list)
    """What this proof cannot show with the keys given (said, never passed over)."""


def verify_proof(doc: dict[str, Any], *, pinned: Sequence[str] = ()) -> ProofCheck:
    """Check a decision proof offline; anchor it only on keys the verifier brings.

    Each decision is of the proof's request; its leaf leads by its audit path to its batch's
    root; that root is the one in the batch event's text; the event is signed by the key its
    seal names and is included in the signed checkpoint. All of that uses the keys the proof
    carries, so it shows only self-consistency. ``pinned`` (PEM texts obtained through
    another channel) anchors it: a checkpoint is anchored when its signature verifies under
    a pinned key itself, or under a key whose certificate verifies under a pinned
    (organisation) key. Never on the key ids an envelope lists: DSSE skips signatures by
    unknown keys, so a junk entry under a trusted id would otherwise count. When the anchor
    is the organisation key, each batch event's signer must also be certified by it for the
    event's actor; otherwise :attr:`ProofCheck.unchecked` says that it was not checked.

    Raises:
        IntegrityError: naming the first link that does not hold.
    """
    from core.audit import proofs
    from core.identity.signing import key_id_for, public_der, verify_raw
    from core.kernel.events import signing_input, split_sealed

    try:
        pins = {key_id_for(public_der(pem)): pem for pem in pinned}
    except (ValueError, TypeError) as err:
        raise IntegrityError(f"a pinned key is not a PEM public key: {err}") from err
    try:
        if doc.get("format") not in PROOF_FORMATS or doc.get("leaf") != DECISION_LEAF:
            raise IntegrityError(f"not a {PROOF_FORMAT} document over {DECISION_LEAF} leaves")
        keys: dict[str, str] = dict(doc["public_keys"])
        records: dict[str, Any] = dict(doc.get("key_records") or {})
        for key_id, pem in keys.items():
            if key_id_for(public_der(pem)) != key_id:
                raise IntegrityError(f"key {key_id[:16]}… is not the id of the key given for it")
        checked: list[str] = []
        anchors: list[str] = []
        unanchored: list[str] = []
        unchecked: list[str] = []
        for event_seq, event in doc["events"].items():
            line = str(event["line"])
            if (
                line.split(" ", 1)[0] != str(event_seq)
                or int(event["leaf_index"]) != int(event_seq) - 1
            ):
                raise IntegrityError(f"the proof's event #{event_seq} is another event")
            body_bytes = line.split(" ", 2)[2].encode()
            sealed = split_sealed(body_bytes)
            if sealed is None or sealed[1].key_id not in keys:
                raise IntegrityError(f"event #{event_seq} is not signed by a key in the proof")
            if not verify_raw(
                keys[sealed[1].key_id], signing_input(sealed[0]), sealed[1].signature
            ):
                raise IntegrityError(f"event #{event_seq}'s signature does not match its text")
            proofs.verify_proof(event, keys)
            checked.append(f"event #{event_seq} is signed and in the signed checkpoint")
            body = json.loads(body_bytes)
            signer, why = _anchor(event["checkpoint"], keys, records, pins)
            if signer is None:
                unanchored.append(f"event #{event_seq}'s checkpoint: {why}")
                continue
            anchors.append(why)
            workspace = str(_checkpoint_payload(event["checkpoint"])["workspace"])
            problem = _uncertified(
                records, pins, workspace, sealed[1].key_id, str(body.get("actor"))
            )
            if problem is None:
                checked.append(
                    f"event #{event_seq} is signed by {body.get('actor')}'s own key, certified "
                    "by the organisation key you pinned"
                )
            elif signer == "organisation":
                raise IntegrityError(
                    f"event #{event_seq} is by {body.get('actor')!r} but signed by key "
                    f"{sealed[1].key_id[:16]}…, which the organisation key you pinned does not "
                    f"certify as theirs: {problem}"
                )
            else:
                unchecked.append(
                    f"event #{event_seq}'s signer is not checked against {body.get('actor')}'s "
                    "certified key (pin the organisation key with --key to check it); the "
                    "checkpoint you pinned includes the event"
                )
        request_id = str(doc["request_id"])
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
            if row.get("request_id") != request_id:
                raise IntegrityError(
                    f"the proof is about request {request_id!r} but proves a decision of "
                    f"{row.get('request_id')!r}"
                )
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
    if unanchored or not anchors:
        why = "; ".join(unanchored) or "the proof carries no event"
        return ProofCheck(checked, False, why, unchecked)
    unchecked.append(
        "whether a key was rotated or revoked after it signed is not in the proof "
        "(`ledgerml audit verify` and `bundle verify` check it)"
    )
    return ProofCheck(checked, True, "; ".join(sorted(set(anchors))), unchecked)


def _checkpoint_payload(env: dict[str, Any]) -> dict[str, Any]:
    import base64

    return dict(json.loads(base64.b64decode(env["payload"], validate=True)))


def _anchor(
    env: dict[str, Any],
    keys: dict[str, str],
    records: dict[str, Any],
    pins: dict[str, str],
) -> tuple[str | None, str]:
    """How a checkpoint is anchored: (``"direct"``/``"organisation"``, what) or (None, why not).

    Each check verifies the envelope against one key alone, a pinned one or one certified
    under a pinned one, so only a signature that verified under it counts. A listed
    signature by a pinned key that does not verify is tampering (IntegrityError).
    """
    from core.identity import certify
    from core.identity.signing import CHECKPOINT_PAYLOAD_TYPE, verify_envelope

    if not pins:
        return None, "no key pinned: the keys came with the proof"
    listed = [str(s["keyid"]) for s in env.get("signatures", [])]
    for kid in listed:
        if kid in pins:
            verify_envelope(env, {kid: pins[kid]}, expected_type=CHECKPOINT_PAYLOAD_TYPE)
            return "direct", f"checkpoint signed by the key you pinned ({kid[:16]}…)"
    workspace = str(_checkpoint_payload(env)["workspace"])
    reasons = []
    for kid in listed:
        if kid not in keys:
            continue
        record = records.get(kid)
        if not isinstance(record, dict):
            reasons.append(f"key {kid[:16]}… comes with no certificate")
            continue
        problem = certify.check(
            record.get("certificate"),
            pins,
            workspace,
            actor=str(record.get("actor")),
            key_id=kid,
            purpose="actor",
            algorithm=str(record.get("algorithm")),
        )
        if problem is not None:
            reasons.append(f"key {kid[:16]}… of {record.get('actor')!r}: {problem}")
            continue
        verify_envelope(env, {kid: keys[kid]}, expected_type=CHECKPOINT_PAYLOAD_TYPE)
        by = certify.signer_of(record["certificate"])
        return "organisation", (
            f"checkpoint signed by {record.get('actor')}'s key {kid[:16]}…, certified by the "
            f"organisation key you pinned ({by[:16]}…)"
        )
    return None, (
        "its signature verifies under no key you pinned, nor under a key certified by one"
        + (f" ({'; '.join(reasons)})" if reasons else "")
    )


def _uncertified(
    records: dict[str, Any], pins: dict[str, str], workspace: str, key_id: str, actor: str
) -> str | None:
    """Why ``key_id`` is not certified under a pinned key as ``actor``'s; None if it is."""
    from core.identity import certify

    record = records.get(key_id)
    if not isinstance(record, dict):
        return "the proof carries no certificate for it"
    return certify.check(
        record.get("certificate"),
        pins,
        workspace,
        actor=actor,
        key_id=key_id,
        purpose="actor",
        algorithm=str(record.get("algorithm")),
    )
