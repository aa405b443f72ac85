"""The governance a bundle carries: approvals, the policy in force, decisions, the history.

For the bundled model version, from the ledger excerpt (so exactly what the checkpoint
covers, never a catalog row written after it):

- ``signatures/approval-<seq>.dsse.json``: each approval's (or rejection's) DSSE envelope,
  signed by the approver's own key, as stored (the ``model.approve`` event names its digest);
- ``policy/<hex>.json``: the stored canonical blob of every policy bundle a bundled decision
  names, every one in force when a bundled governed event was recorded, and every one an
  approval was signed under; its SHA-256 is its name, which ``policy.install`` recorded;
- ``governance/decisions.json``: each bundled event's policy decision (gate, bundle, allow,
  reasons; the input the policy saw stays in the signed event itself);
- ``governance/history.json``: the version's lifecycle (risk assessments of its name,
  approvals, rejections, promotions, refusals), oldest first, and its stage at the checkpoint.

The stand-alone verifier (:mod:`storage.bundle_verifier`) re-checks all of it offline; these
members are what lets it do so without Rego and without the workspace.
"""

from __future__ import annotations

from typing import Any

from core.audit.bundle_members import Bundling, Members
from core.governance.policy import MEDIA_TYPE as POLICY_MEDIA_TYPE
from storage.bundle_verifier import approval_member, policy_member
from storage.canonical import canonical_bytes

DSSE = "application/vnd.dsse.envelope.v1+json"
HISTORY = "governance/history.json"
DECISIONS = "governance/decisions.json"
HISTORY_FORMAT = "ledgerml/governance-history/v1"
_WHAT = {
    "model.risk": "risk",
    "model.approve": "approve",
    "model.promote": "promote",
    "policy.deny": "deny",
}


def _events(b: Bundling) -> list[tuple[int, dict[str, Any]]]:
    return [(q, b.event_body(q)) for q in b.seqs]


def _about(body: dict[str, Any], ref: str, name: str) -> bool:
    """Whether a governance event is about this version (a risk tier: about its name)."""
    subjects = [str(x) for x in body.get("subjects", [])]
    if body.get("action") == "model.risk":
        return f"model:{name}" in subjects
    data = body.get("data") or {}
    return data.get("model") == ref or f"model:{ref}" in subjects


def _entry(seq: int, body: dict[str, Any]) -> dict[str, Any]:
    action = str(body.get("action"))
    data = body.get("data") or {}
    decision = body.get("policy") if isinstance(body.get("policy"), dict) else None
    what = _WHAT[action]
    if action == "model.approve" and data.get("decision") == "reject":
        what = "reject"
    entry: dict[str, Any] = {
        "seq": seq,
        "ts": body.get("ts"),
        "actor": body.get("actor"),
        "what": what,
        "reason": body.get("reason", ""),
        "policy": decision.get("bundle") if decision else None,
        "allow": decision.get("allow") if decision else None,
    }
    if action == "model.risk":
        entry.update(
            {k: data.get(k) for k in ("name", "tier", "impact", "likelihood", "rationale", "dpia")}
        )
    elif action == "model.approve":
        entry.update(
            {
                "stage": data.get("stage"),
                "decision": data.get("decision"),
                "approver": data.get("approver"),
                "role": data.get("role"),
                "key_id": data.get("key_id"),
                "conditions": list(data.get("conditions") or []),
                "imported": bool(data.get("imported")),
                "envelope": approval_member(seq),
            }
        )
    elif action == "model.promote":
        entry.update(
            {
                "from_stage": data.get("from_stage"),
                "to_stage": data.get("to_stage"),
                "approvals": list(data.get("approvals") or []),
                "break_glass": bool(data.get("break_glass")),
            }
        )
    else:  # policy.deny
        entry.update(
            {"gate": data.get("gate"), "reasons": list((decision or {}).get("reasons", []))}
        )
    return entry


def _in_force(installs: list[tuple[int, str]], seq: int) -> str | None:
    found = None
    for at, digest in installs:
        if at < seq:
            found = digest
    return found


def governance(b: Bundling, members: Members) -> None:
    """Approval envelopes, policy bundles, decisions and the version's lifecycle history."""
    ref, name = b.model.ref, b.model.name
    events = _events(b)
    installs = [
        (q, str((body.get("data") or {}).get("digest")))
        for q, body in events
        if body.get("action") == "policy.install"
    ]
    policies: set[str] = set()
    decisions: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    stage = "candidate"
    for seq, body in events:
        action, data = body.get("action"), body.get("data") or {}
        decision = body.get("policy")
        if isinstance(decision, dict):
            policies.add(str(decision.get("bundle")))
            decisions.append(
                {
                    "seq": seq,
                    "action": action,
                    "gate": decision.get("gate"),
                    "bundle": decision.get("bundle"),
                    "allow": decision.get("allow"),
                    "reasons": list(decision.get("reasons") or []),
                }
            )
            in_force = _in_force(installs, seq)
            if in_force:
                policies.add(in_force)
        if action not in _WHAT or not _about(body, ref, name):
            continue
        history.append(_entry(seq, body))
        if action == "model.approve":
            members.add(approval_member(seq), b.read(str(data["envelope"])), DSSE, True)
            policies.add(str(data.get("policy")))
            in_force = _in_force(installs, seq)
            if in_force:
                policies.add(in_force)
        elif action == "model.promote":
            stage = str(data.get("to_stage"))
            in_force = _in_force(installs, seq)
            if in_force:
                policies.add(in_force)
    installed = {digest for _, digest in installs}
    for digest in sorted(policies & installed):
        members.add(
            policy_member(digest), b.read(digest.removeprefix("sha256:")), POLICY_MEDIA_TYPE, True
        )
    if not installs and not history:
        return  # an ungoverned workspace: nothing to say, as before governance
    doc = {"format": HISTORY_FORMAT, "model": ref, "stage": stage, "events": history}
    members.add(HISTORY, canonical_bytes(doc), "application/json")
    members.add(DECISIONS, canonical_bytes(decisions), "application/json")
