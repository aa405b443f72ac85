"""The signed approval statement, and the one check of it every reader runs.

An approval is an in-toto Statement v1 in a DSSE envelope signed by the *approver's own*
actor key (never the workspace's, never the importer's)::

    subject:       [{"name": "model:NAME@N", "digest": {"sha256": <model digest>}}]
    predicateType: https://ledgerml.dev/approval/v1
    predicate:     {workspace, model, stage, decision, approver, role, reason, conditions,
                    evidence: [{kind, digest, verdict}], policy, signed_at, request}

:func:`problem` is what the gate (which counts only approvals whose statement checks out,
so a row written straight into the catalog counts for nothing), ``approval import`` and
``audit verify`` ask of a recorded approval. Attacks it answers, each by one comparison:

- *forge*: a statement not signed by a key the ledger certified for the named approver;
- *relabel*: an event or row whose fields (model, digest, stage, decision, role, approver,
  conditions, policy) differ from what was signed;
- *replay*: a statement signed for another workspace, another model or an older build;
- *usurp*: signed by someone who did not hold the role (or was not active) at that point
  of the ledger, or whose key was rotated, revoked or compromised by then.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.identity.authority import Authority
from core.identity.signing import INTOTO_PAYLOAD_TYPE, STATEMENT_TYPE, verify_envelope
from core.kernel.errors import IntegrityError

PREDICATE_TYPE = "https://ledgerml.dev/approval/v1"
DECISIONS = ("approve", "reject")


def subject_name(ref: str) -> str:
    """The statement's subject name for a model version."""
    return f"model:{ref.removeprefix('model:')}"


def predicate(
    *,
    workspace: str,
    model: str,
    stage: str,
    decision: str,
    approver: str,
    role: str,
    reason: str,
    conditions: list[str],
    evidence: list[dict[str, Any]],
    policy: str,
    signed_at: str,
    request: str | None,
) -> dict[str, Any]:
    """The approval predicate (the fields an approver signs)."""
    return {
        "workspace": workspace,
        "model": model,
        "stage": stage,
        "decision": decision,
        "approver": approver,
        "role": role,
        "reason": reason,
        "conditions": list(conditions),
        "evidence": [
            {"kind": e["kind"], "digest": e["digest"], "verdict": e["verdict"]} for e in evidence
        ],
        "policy": policy,
        "signed_at": signed_at,
        "request": request,
    }


def open_statement(raw: bytes, pem_by_key: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Verify an envelope's signature and return ``(key_id, statement)``.

    Raises:
        IntegrityError: if it is malformed, signed by no key given, or not an approval.
    """
    try:
        env = json.loads(raw)
    except ValueError as err:
        raise IntegrityError(f"the approval envelope is not JSON: {err}") from err
    if not isinstance(env, dict):
        raise IntegrityError("the approval envelope is not a JSON object")
    verified = verify_envelope(env, pem_by_key, expected_type=INTOTO_PAYLOAD_TYPE)
    try:
        doc = verified.json()
    except ValueError as err:
        raise IntegrityError(f"the signed approval is not JSON: {err}") from err
    if (
        not isinstance(doc, dict)
        or doc.get("_type") != STATEMENT_TYPE
        or doc.get("predicateType") != PREDICATE_TYPE
        or not isinstance(doc.get("predicate"), dict)
    ):
        raise IntegrityError("the envelope does not carry a ledgerml approval statement")
    return verified.key_id, doc


def problem(
    auth: Authority,
    raw: bytes,
    *,
    seq: int,
    ts: str,
    workspace: str,
    key_id: str,
    expect: Mapping[str, Any],
) -> str | None:
    """Why a recorded approval does not stand; None if it does.

    ``raw`` is the envelope, ``seq``/``ts`` the ledger position that records it, ``key_id``
    the key the record names, and ``expect`` the record's own fields: ``model`` (``NAME@N``),
    ``model_digest`` (hex), ``stage``, ``decision``, ``approver``, ``role``, ``conditions``,
    ``policy``.
    """
    approver = str(expect["approver"])
    key = auth.keys.get(key_id)
    if key is None:
        return f"is signed by key {key_id[:16]}…, which the ledger never registered"
    if key.actor != approver or key.purpose != "actor":
        return f"is signed by a key of {key.actor!r} ({key.purpose}), not {approver}'s own key"
    if not key.certified:
        return f"is signed by key {key_id[:16]}…, which the organisation never certified"
    when = key.problem_at(seq, ts)
    if when:
        return f"is signed by a key that could not sign then: {when}"
    try:
        _, doc = open_statement(raw, {key.key_id: key.public_pem})
    except IntegrityError as err:
        return f"does not verify: {err.msg}"
    model = str(expect["model"])
    wanted_subject = [
        {"name": subject_name(model), "digest": {"sha256": str(expect["model_digest"])}}
    ]
    if doc.get("subject") != wanted_subject:
        return f"was signed for {doc.get('subject')!r}, not {model} with its recorded digest"
    pred = doc["predicate"]
    if pred.get("workspace") != workspace:
        return f"was signed for workspace {pred.get('workspace')!r}, not this one (replayed)"
    for name in ("model", "stage", "decision", "approver", "role", "conditions", "policy"):
        if pred.get(name) != expect[name]:
            return f"records {name} {expect[name]!r} but the approver signed {pred.get(name)!r}"
    state = auth.actor_at(approver, seq)
    if state is None or state.status != "active":
        return f"is by {approver!r}, who was not an active actor then"
    if expect["role"] not in state.roles:
        return f"is given as {expect['role']} by {approver}, who did not hold that role then"
    if state.kind != "person":
        return f"is by {approver}, a {state.kind} actor: only people approve"
    return None
