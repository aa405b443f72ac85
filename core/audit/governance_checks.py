"""``audit verify``'s governance checks: every approval and every promotion to ``approved``.

The signature checks before these prove each event was signed by its actor's key and that
the actor's roles allowed the action. They cannot see what an approval *means*, so this
re-reads the signed events themselves (never the catalog) and checks:

For every ``model.approve``:
  the envelope is one of the event's objects and its bytes match the digest; its signature
  verifies with the event's ``key_id``, which was the approver's own certified actor key,
  usable at that position; the statement's subject is the digest the version was registered
  with; its predicate equals the event (model, stage, decision, approver, role, conditions,
  policy) and names this workspace; the approver was an active person holding the role
  then; an approval (not a rejection) is not by a developer of that version (trainer,
  registrant, signer before it); the event's actor is the approver unless it is ``imported``;
  the policy it names is the one in force at that position.

For every ``model.promote`` to ``approved`` without ``break_glass``:
  :func:`storage.bundle_verifier.approval_check` over the version's approvals recorded
  before it, under the tiers of the policy in force at that position, with the tier, the
  developers, the actors' kinds and the newest evidence as they stood then, is ok at the
  promotion's time, and every approval the promotion lists is one the check counts.

Attacks: an approval row written into the catalog (compared elsewhere: the table differs from
the ledger), an approval event forged in another actor's name or signed by a non-approver
(the envelope does not verify with the named approver's key, or the role was not held),
replayed from another model or bound to an older digest (subject), relabelled fields
(predicate), a self-approval, and a promotion counting approvals that do not add up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from core.identity.authority import Authority
from core.kernel.workspace import Workspace

Fail = Callable[[str, int], None]


class _Ledger:
    """What the checks need from the signed events, indexed once."""

    def __init__(self, events: Sequence[tuple[int, dict[str, Any]]]) -> None:
        self.registered: dict[str, tuple[int, str, str, str]] = {}  # ref -> seq, digest, run, by
        self.trainers: dict[str, str] = {}  # run id -> actor
        self.inputs: dict[str, str] = {}  # run id -> input snapshot
        self.signers: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.risk: dict[str, list[tuple[int, int]]] = defaultdict(list)  # name -> (seq, tier)
        self.evidence: list[tuple[int, str, str]] = []  # (seq, kind, key: snapshot/run/model)
        self.approvals: dict[int, dict[str, Any]] = {}
        self.promotions: list[tuple[int, dict[str, Any]]] = []
        for seq, body in events:
            action, data = body.get("action"), body.get("data") or {}
            if not isinstance(data, dict):
                continue
            if action == "model.register":
                ref = f"{data.get('name')}@{data.get('version')}"
                self.registered[ref] = (
                    seq,
                    str(data.get("model_digest")),
                    str(data.get("run_id")),
                    str(body.get("actor")),
                )
            elif action == "train.run":
                run = str(data.get("run_id"))
                self.trainers[run] = str(body.get("actor"))
                self.inputs[run] = str((data.get("input") or {}).get("ref", ""))
            elif action == "model.sign":
                self.signers[str(data.get("subject", "")).removeprefix("model:")].append(
                    (seq, str(body.get("actor")))
                )
            elif action == "model.risk":
                self.risk[str(data.get("name"))].append((seq, int(data.get("tier", 0))))
            elif action == "validation.run":
                self.evidence.append((seq, "snapshot", str(data.get("snapshot"))))
            elif action == "reproduce.run":
                self.evidence.append((seq, "run", str(data.get("run_id"))))
            elif action == "model.evaluate":
                self.evidence.append((seq, "model", str(data.get("model"))))
            elif action == "model.approve":
                self.approvals[seq] = body
            elif action == "model.promote":
                self.promotions.append((seq, body))

    def developers(self, ref: str, before: int) -> set[str]:
        reg = self.registered.get(ref)
        if reg is None:
            return set()
        people = {reg[3]}
        if reg[2] in self.trainers:
            people.add(self.trainers[reg[2]])
        people |= {who for seq, who in self.signers.get(ref, []) if seq < before}
        return people

    def tier(self, name: str, before: int) -> int | None:
        found = [t for seq, t in self.risk.get(name, []) if seq < before]
        return found[-1] if found else None

    def newest_evidence(self, ref: str, before: int) -> int | None:
        reg = self.registered.get(ref)
        if reg is None:
            return None
        keys = {("model", ref), ("run", reg[2]), ("snapshot", self.inputs.get(reg[2], ""))}
        found = [seq for seq, kind, key in self.evidence if seq < before and (kind, key) in keys]
        return max(found) if found else None


def check(
    ws: Workspace, auth: Authority, events: Sequence[tuple[int, dict[str, Any]]], fail: Fail
) -> int:
    """Run the checks over the state events ``events``; report each problem with ``fail``.

    Returns:
        How many approvals and promotions were checked.
    """
    ledger = _Ledger(events)
    for seq, body in sorted(ledger.approvals.items()):
        why = _approval(ws, auth, ledger, seq, body)
        if why:
            fail(f"event #{seq} (model.approve) {why}", seq)
    for seq, body in ledger.promotions:
        why = _promotion(ws, auth, ledger, seq, body)
        if why:
            fail(f"event #{seq} (model.promote) {why}", seq)
    return len(ledger.approvals) + len(ledger.promotions)


def _approval(
    ws: Workspace, auth: Authority, ledger: _Ledger, seq: int, body: dict[str, Any]
) -> str | None:
    from core.governance import statement

    data = body.get("data") or {}
    try:
        ref, envelope = str(data["model"]), str(data["envelope"])
        approver, decision = str(data["approver"]), str(data["decision"])
        expect = {
            "model": ref,
            "model_digest": str(data["model_digest"]),
            "stage": str(data["stage"]),
            "decision": decision,
            "approver": approver,
            "role": str(data["role"]),
            "conditions": list(data["conditions"]),
            "policy": str(data["policy"]),
        }
        key_id = str(data["key_id"])
    except (KeyError, TypeError) as err:
        return f"is malformed: {err!r}"
    reg = ledger.registered.get(ref)
    if reg is None or reg[0] >= seq:
        return f"approves {ref}, which was not registered before it"
    if expect["model_digest"] != reg[1]:
        return f"is bound to digest {expect['model_digest'][:16]}…, not {ref}'s registered one"
    if not data.get("imported") and body.get("actor") != approver:
        return f"was recorded by {body.get('actor')!r} in {approver!r}'s name without import"
    listed = {str(o.get("sha256")) for o in body.get("objects", []) if isinstance(o, dict)}
    if envelope not in listed:
        return "does not name its envelope among its objects"
    in_force = auth.policy_at(seq)
    if in_force is None or in_force[1] != expect["policy"]:
        return "names a policy that was not in force at that position"
    from core.kernel.errors import IntegrityError

    try:
        raw = ws.objects.read_verified(envelope)
    except (OSError, ValueError, LookupError, IntegrityError) as err:
        return f"has an envelope that cannot be read: {err}"
    why = statement.problem(
        auth,
        raw,
        seq=seq,
        ts=str(body.get("ts", "")),
        workspace=auth.workspace_id,
        key_id=key_id,
        expect=expect,
    )
    if why:
        return why
    if decision == "approve" and approver in ledger.developers(ref, seq):
        return f"is by {approver}, who developed {ref} (separation of duties)"
    return None


def _promotion(
    ws: Workspace, auth: Authority, ledger: _Ledger, seq: int, body: dict[str, Any]
) -> str | None:
    from core.governance.policy import PolicyBundle, PolicyError
    from core.governance.rules import parse
    from core.kernel.errors import IntegrityError, UsageError
    from storage.bundle_verifier import approval_check

    data = body.get("data") or {}
    if data.get("to_stage") != "approved" or data.get("break_glass"):
        return None
    ref = str(data.get("model"))
    reg = ledger.registered.get(ref)
    if reg is None:
        return f"promotes {ref}, which was never registered"
    in_force = auth.policy_at(seq)
    if in_force is None:
        return "promotes to approved with no policy in force"
    try:
        bundle = PolicyBundle.from_bytes(
            ws.objects.read_verified(in_force[1].removeprefix("sha256:"))
        )
        rules = parse(bundle.data, where=f"policy {bundle.name}")
    except (OSError, ValueError, LookupError, PolicyError, UsageError, IntegrityError) as err:
        return f"cannot be checked: the policy in force cannot be read ({err})"
    name = ref.split("@", 1)[0]
    tier = ledger.tier(name, seq) or rules.untiered
    approvals = [
        {
            "seq": a_seq,
            "approver": a["data"].get("approver"),
            "role": a["data"].get("role"),
            "decision": a["data"].get("decision"),
            "model_digest": a["data"].get("model_digest"),
            "stage": a["data"].get("stage"),
            "ts": a.get("ts"),
        }
        for a_seq, a in sorted(ledger.approvals.items())
        if a_seq < seq and a["data"].get("model") == ref and a["data"].get("stage") == "approved"
    ]
    kinds = {}
    for a in approvals:
        state = auth.actor_at(str(a["approver"]), seq)
        kinds[str(a["approver"])] = state.kind if state else "unknown"
    result = approval_check(
        rules.model_dump(),
        tier,
        reg[1],
        sorted(ledger.developers(ref, seq)),
        approvals,
        kinds=kinds,
        newest_evidence_seq=ledger.newest_evidence(ref, seq),
        now=str(body.get("ts", "")),
    )
    if not result["ok"]:
        return f"moved {ref} to approved without the approvals: " + "; ".join(result["problems"])
    extra = sorted(set(data.get("approvals") or []) - set(result["counted"]))
    if extra:
        return f"counts approvals {extra} that do not count"
    return None
