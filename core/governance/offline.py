"""Approvals signed off the machine: a request file out, a signed envelope back in.

1. ``request`` (on the workstation) writes what is to be approved as canonical JSON: the
   workspace id, the model version and its digest, the evidence (digests and verdicts), the
   policy in force and what its tier demands, and the people who may approve it with their
   registered public keys (and where their private halves live on their own accounts).
2. ``sign`` (on the approver's machine, possibly air-gapped) needs no workspace: it signs the
   approval statement with the approver's own key from their keyring, token or passphrase
   file, and writes the DSSE envelope. Nothing of the request is trusted for the signature:
   the statement binds its digest, and the import checks everything again.
3. ``import_approval`` (on the workstation) checks the envelope before recording it as a
   ``model.approve`` event with ``imported`` (by an approver, validator or admin):

   - *forge*: the signature must verify with the key the ledger certified for the approver,
     usable at this point of the ledger (not rotated, revoked or compromised);
   - *replay*: the statement's workspace must be this workspace (the ledger's id), its
     subject the version's *current* digest (an approval of another model or an older build
     is refused), the policy the one in force now;
   - *usurp*: the approver must hold the role now, be a person, and not have developed it.

   Importing the same envelope twice records it once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.governance import policy, separation, statement
from core.governance.approvals import (
    approval_role,
    check_conditions,
    check_stage,
    row_at,
)
from core.governance.events import APPROVER_ROLES, IMPORT_ROLES, ModelApproved
from core.governance.facts import model_facts, model_row, stage_of
from core.governance.risk import rules_in_force
from core.identity.actors import needs
from core.identity.signing import (
    INTOTO_PAYLOAD_TYPE,
    canonical_payload,
    envelope,
    pae,
)
from core.identity.signing import (
    statement as in_toto_statement,
)
from core.kernel import command
from core.kernel.errors import (
    IntegrityError,
    PermissionDeniedError,
    UsageError,
)
from core.kernel.events import now_iso
from core.kernel.kinds import new_event
from core.kernel.paths import write_output
from core.kernel.rows import ApprovalRow
from core.kernel.workspace import Session, Workspace
from storage.canonical import canonical_bytes

REQUEST_FORMAT = "ledgerml/approval-request/v1"
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"


def _approvers(s: Session, developers: Sequence[str]) -> dict[str, dict[str, Any]]:
    """People who may approve (an approval role, active, not a developer), with their keys."""
    from core.identity.signer import authority_of

    auth = authority_of(s)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(auth.actors):
        state = auth.current(name)
        if state is None or state.status != "active" or state.kind != "person":
            continue
        roles = [r for r in state.roles if r in APPROVER_ROLES]
        key = auth.signing_key(name)
        if not roles or name in developers or key is None:
            continue
        out[name] = {
            "roles": roles,
            "key": {
                "key_id": key.key_id,
                "algorithm": key.algorithm,
                "backend": key.backend,
                "handle": key.handle,
                "public_pem": key.public_pem,
            },
        }
    return out


def request(ws: Workspace, actor: str, ref: str, *, stage: str, out: Path) -> Path:
    """Write the approval request for ``ref`` and ``stage`` to ``out`` (records nothing).

    Raises:
        NotFoundError: for an unknown version.
        UsageError: for a bad stage or a retired version.
        CheckFailedError: with no policy in force.
    """
    from core.identity.signer import authority_of

    check_stage(stage)
    with ws.session(actor) as s:
        bundle, rules = rules_in_force(s, action="approving")
        model = model_row(s, ref)
        if stage_of(s, model.ref) == "retired":
            raise UsageError(f"{model.ref} is retired: it is approved for nothing any more")
        m = model_facts(s, model.ref, untiered=rules.untiered)
        tier = rules.tier(int(m["tier"]))
        doc = {
            "format": REQUEST_FORMAT,
            "workspace": authority_of(s).workspace_id,
            "model": m["ref"],
            "subject": statement.subject_name(m["ref"]),
            "model_digest": m["digest"],
            "stage": stage,
            "evidence": [
                {"kind": e["kind"], "digest": e["digest"], "verdict": e["verdict"]}
                for e in m["evidence"]
            ],
            "verdicts": m["verdicts"],
            "policy": {"digest": bundle.digest, "name": bundle.name, "version": bundle.version},
            "tier": tier.tier,
            "k": tier.k,
            "roles": list(tier.roles),
            "developers": m["developers"],
            "approvers": _approvers(s, m["developers"]),
            "requested_at": now_iso(),
            "requested_by": actor,
        }
    write_output(out, canonical_bytes(doc))
    return out


def read_request(path: Path) -> tuple[dict[str, Any], str]:
    """A request file and the SHA-256 of its bytes.

    Raises:
        UsageError: if it cannot be read or is not an approval request.
    """
    try:
        raw = path.read_bytes()
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != REQUEST_FORMAT:
            raise ValueError(f"it is not a {REQUEST_FORMAT} document")
        for name in ("workspace", "model", "model_digest", "stage", "evidence", "policy"):
            if name not in doc:
                raise ValueError(f"it has no {name!r}")
        str(doc["policy"]["digest"])
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise UsageError(
            f"cannot read the approval request {path}: {err}",
            hint="Ask for a new one: `ledgerml approval request NAME@N --for STAGE -o FILE`.",
        ) from err
    return doc, hashlib.sha256(raw).hexdigest()


def _key_from_file(path: Path) -> dict[str, Any]:
    from core.identity.keys.lifecycle import REQUEST_TYPE

    try:
        doc = json.loads(path.read_text())
        if doc.get("type") != REQUEST_TYPE:
            raise ValueError(f"its type is {doc.get('type')!r}, not {REQUEST_TYPE!r}")
        return {k: str(doc[k]) for k in ("key_id", "algorithm", "backend", "handle", "public_pem")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise UsageError(
            f"cannot read the key file {path}: {err}",
            hint="Give the key request `ledgerml key generate` wrote for you.",
        ) from err


def sign(
    request_path: Path,
    out: Path,
    *,
    approver: str,
    role: str | None,
    reason: str,
    conditions: Sequence[str] = (),
    reject: bool = False,
    key_ref: str | None = None,
) -> Path:
    """Sign an approval of the request at ``request_path`` as ``approver``; write the envelope.

    Needs no workspace: the key is the approver's own (``key_ref``: the key request file
    ``ledgerml key generate`` wrote; default: the approver's registered key as the request
    names it), used through its backend on this account.

    Raises:
        UsageError: for a malformed request, an approver or key it does not know, a bad role.
        IdentityError: if this account does not hold the key's secret.
    """
    from core.identity.keys.backends import backend
    from storage.bundle_verifier import verify_signature

    if not reason.strip():
        raise UsageError("an approval needs a --reason", hint="Say what you checked.")
    doc, digest = read_request(request_path)
    conds = check_conditions(conditions)
    listed = (
        doc.get("approvers", {}).get(approver) if isinstance(doc.get("approvers"), dict) else None
    )
    if key_ref:
        key = _key_from_file(Path(key_ref))
    elif listed:
        key = dict(listed["key"])
    else:
        raise UsageError(
            f"the request names no key for {approver!r} (not an approver of this version?)",
            hint="Give your key request file with --key.",
        )
    roles = [str(r) for r in (listed or {}).get("roles", [])] or ([role] if role else [])
    chosen = approval_role(roles, approver, role)
    pred = statement.predicate(
        workspace=str(doc["workspace"]),
        model=str(doc["model"]),
        stage=str(doc["stage"]),
        decision="reject" if reject else "approve",
        approver=approver,
        role=chosen,
        reason=reason,
        conditions=conds,
        evidence=list(doc["evidence"]),
        policy=str(doc["policy"]["digest"]),
        signed_at=now_iso(),
        request=f"sha256:{digest}",
    )
    body = in_toto_statement(
        [(statement.subject_name(str(doc["model"])), str(doc["model_digest"]))],
        statement.PREDICATE_TYPE,
        pred,
    )
    payload = canonical_payload(body)
    signer = backend(key["backend"]).unlock(key["handle"], key["algorithm"], approver)
    sig = signer(pae(INTOTO_PAYLOAD_TYPE, payload))
    if not verify_signature(key["public_pem"], pae(INTOTO_PAYLOAD_TYPE, payload), sig):
        raise UsageError(
            f"the key this account holds is not {approver}'s registered key {key['key_id'][:16]}…"
        )
    write_output(out, canonical_payload(envelope(INTOTO_PAYLOAD_TYPE, payload, key["key_id"], sig)))
    return out


def _read_envelope(path: Path) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The envelope, the key id it names and its (not yet verified) statement."""
    import base64

    try:
        env = json.loads(path.read_bytes())
        key_id = str(env["signatures"][0]["keyid"])
        doc = json.loads(base64.b64decode(env["payload"], validate=True))
        if not isinstance(doc, dict) or not isinstance(doc.get("predicate"), dict):
            raise ValueError("its payload is not a statement")
    except (OSError, ValueError, TypeError, KeyError, IndexError) as err:
        raise UsageError(
            f"cannot read the signed approval {path}: {err}",
            hint="It is the file `ledgerml approval sign` wrote.",
        ) from err
    return env, key_id, doc


def import_approval(ws: Workspace, actor: str, path: Path, reason: str) -> ApprovalRow:
    """Check a signed approval from ``path`` and record it (see the module docstring).

    Raises:
        UsageError: for an unreadable file, no reason, a retired version, a bad stage.
        IntegrityError: for an envelope that does not verify or was made for something else.
        PermissionDeniedError: for an approver who lacks the role, is a service or developed it.
        PolicyDeniedError: if the policy refuses (the refusal is recorded).
    """
    from core.identity.signer import authority_of

    if not reason.strip():
        raise UsageError("importing an approval needs a --reason", hint="Say how it reached you.")
    seen: dict[str, Any] = {}

    def check(s: Session) -> None:
        env, key_id, doc = _read_envelope(path)
        pred = doc["predicate"]
        try:
            ref = str(pred["model"])
            stage, decision = check_stage(str(pred["stage"])), str(pred["decision"])
            approver, role = str(pred["approver"]), str(pred["role"])
            conds = [str(c) for c in pred["conditions"]]
        except (KeyError, TypeError) as err:
            raise UsageError(f"the signed approval lacks {err}") from err
        if decision not in statement.DECISIONS:
            raise UsageError(f"the signed approval's decision {decision!r} is unknown")
        model = model_row(s, ref)
        if stage_of(s, model.ref) == "retired":
            raise UsageError(f"{model.ref} is retired: it is approved for nothing any more")
        bundle, rules = rules_in_force(s, action="approving")
        auth = authority_of(s)
        raw = canonical_payload(env)
        head = s.workspace.ledger.head()[0]
        why = statement.problem(
            auth,
            raw,
            seq=head + 1,
            ts=now_iso(),
            workspace=auth.workspace_id,
            key_id=key_id,
            expect={
                "model": model.ref,
                "model_digest": model.model_digest,
                "stage": stage,
                "decision": decision,
                "approver": approver,
                "role": role,
                "conditions": conds,
                "policy": bundle.digest,
            },
        )
        if why:
            if "did not hold" in why or "only people" in why or "not an active" in why:
                raise PermissionDeniedError(f"the signed approval {why}")
            raise IntegrityError(
                f"the signed approval {why}",
                hint="Nothing was recorded. Ask the approver to sign a new request.",
            )
        m = model_facts(s, model.ref, untiered=rules.untiered)
        if approver in m["developers"]:
            raise PermissionDeniedError(
                f"{approver} developed {model.ref}: their approval cannot count "
                "(separation of duties)"
            )
        seen.update(
            env=raw, key_id=key_id, pred=pred, model=model, facts=m, bundle=bundle, rules=rules
        )
        seen.update(stage=stage, decision=decision, approver=approver, role=role, conds=conds)

    def facts(s: Session) -> dict[str, Any]:
        m = seen["facts"]
        return {
            "model": m,
            "request": {
                "stage": seen["stage"],
                "decision": seen["decision"],
                "role": seen["role"],
                "conditions": seen["conds"],
                "approver": seen["approver"],
                "imported": True,
            },
            "approvals": separation.member(s, m, seen["stage"], seen["rules"]),
        }

    def commit(s: Session, _: None) -> ApprovalRow:
        digest = hashlib.sha256(seen["env"]).hexdigest()
        existing = s.catalog.rows(
            ApprovalRow, "SELECT * FROM approvals WHERE envelope_digest = ?", [digest]
        )
        if existing:
            return existing[0]  # type: ignore[no-any-return]
        ref = s.put_blob(seen["env"], DSSE_MEDIA_TYPE)
        m = seen["facts"]
        payload = ModelApproved(
            model=m["ref"],
            model_digest=m["digest"],
            stage=seen["stage"],
            decision=seen["decision"],
            role=seen["role"],
            approver=seen["approver"],
            key_id=seen["key_id"],
            envelope=ref.sha256,
            policy=seen["bundle"].digest,
            evidence=[str(e["digest"]) for e in seen["pred"].get("evidence", [])],
            conditions=seen["conds"],
            imported=True,
        )
        names = [f"model:{m['ref']}", f"key:{seen['key_id']}", f"actor:{seen['approver']}"]
        entry = s.commit(new_event(s.actor, payload, names, reason, [ref]))
        return row_at(s, entry.seq)

    return command.run(
        ws,
        actor,
        guards=[
            needs(*IMPORT_ROLES, action="import approvals"),
            check,
            policy.gate("approve", lambda _: f"model:{seen['model'].ref}", facts, required=True),
        ],
        commit=commit,
    )
