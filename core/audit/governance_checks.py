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

from core.governance.events import MOVES
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
        self.evidence_at: dict[int, tuple[str, str]] = {}  # seq -> (facts kind, digest)
        self.decided: list[tuple[int, dict[str, Any]]] = []  # events carrying a decision
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
                self.evidence_at[seq] = ("validation", str(data.get("result_digest")))
            elif action == "reproduce.run":
                self.evidence.append((seq, "run", str(data.get("run_id"))))
                self.evidence_at[seq] = ("reproduction", str(data.get("result_digest")))
            elif action == "model.evaluate":
                self.evidence.append((seq, "model", str(data.get("model"))))
                self.evidence_at[seq] = ("evaluation", str(data.get("evidence")))
            elif action == "model.approve":
                self.approvals[seq] = body
            elif action == "model.promote":
                self.promotions.append((seq, body))
            if isinstance(body.get("policy"), dict):
                self.decided.append((seq, body))

    def developers(self, ref: str, before: int) -> set[str]:
        reg = self.registered.get(ref)
        if reg is None:
            return set()
        people = {reg[3]}
        if reg[2] in self.trainers:
            people.add(self.trainers[reg[2]])
        people |= {who for seq, who in self.signers.get(ref, []) if seq < before}
        return people

    def evidence_about(self, ref: str, before: int) -> set[int]:
        """The evidence events about a version before ``before`` (what its facts must list)."""
        reg = self.registered.get(ref)
        run = reg[2] if reg else ""
        keys = {("model", ref), ("run", run), ("snapshot", self.inputs.get(run, ""))}
        return {seq for seq, kind, key in self.evidence if seq < before and (kind, key) in keys}

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
    stages = _replay_stages(ws, auth, ledger, fail)
    for seq, body in ledger.decided:
        why = _input(auth, ledger, stages, seq, body)
        if why:
            fail(f"event #{seq} ({body.get('action')}) carries a decision whose input {why}", seq)
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
    from storage.bundle_verifier import approval_check

    data = body.get("data") or {}
    if data.get("to_stage") != "approved" or data.get("break_glass"):
        return None
    ref = str(data.get("model"))
    reg = ledger.registered.get(ref)
    if reg is None:
        return f"promotes {ref}, which was never registered"
    found = _rules_at(ws, auth, seq)
    if found is None:
        return "promotes to approved with no policy in force"
    if isinstance(found, str):
        return f"cannot be checked: the policy in force cannot be read ({found})"
    _, rules = found
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


def _replay_stages(
    ws: Workspace, auth: Authority, ledger: _Ledger, fail: Fail
) -> dict[str, list[tuple[int, str]]]:
    """Each version's stage history from its signed promotions, checking every move.

    A promotion must start from the stage the ledger had reached (an edited catalog cannot
    make a retired version look validated), make an allowed move, name the registered
    digest, and, when it breaks glass, be by an actor holding one of the break-glass roles
    of the policy in force then.

    Returns:
        Per version, ``(seq, stage)`` after each promotion, oldest first.
    """
    stages: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for seq, body in ledger.promotions:
        data = body.get("data") or {}
        ref, to = str(data.get("model")), str(data.get("to_stage"))
        now = stages[ref][-1][1] if stages[ref] else "candidate"
        reg = ledger.registered.get(ref)
        what = f"event #{seq} (model.promote)"
        if reg is None or reg[0] >= seq:
            fail(f"{what} promotes {ref}, which was not registered before it", seq)
        elif str(data.get("model_digest")) != reg[1]:
            fail(f"{what} names a digest of {ref} other than the registered one", seq)
        if str(data.get("from_stage")) != now:
            fail(
                f"{what} moves {ref} from {data.get('from_stage')!r}, but the signed ledger "
                f"had it {now!r} (the catalog's stage was edited, or the event forged)",
                seq,
            )
        if to not in MOVES.get(now, ()):
            allowed = ", ".join(MOVES.get(now, ())) or "nothing (retired is final)"
            fail(f"{what} moves {ref} from {now} to {to}; from {now} only: {allowed}", seq)
        if data.get("break_glass"):
            why = _break_glass(ws, auth, seq, str(body.get("actor")))
            if why:
                fail(f"{what} breaks glass {why}", seq)
        stages[ref].append((seq, to))
    return stages


def _break_glass(ws: Workspace, auth: Authority, seq: int, actor: str) -> str | None:
    found = _rules_at(ws, auth, seq)
    if found is None:
        return "with no policy in force"
    if isinstance(found, str):
        return f"but the policy in force cannot be read ({found})"
    bundle, rules = found
    allowed = rules.break_glass_roles
    state = auth.actor_at(actor, seq)
    held = set(state.roles) if state else set()
    if not held & set(allowed):
        return (
            f"by {actor}, who held {', '.join(sorted(held)) or 'no role'} then, none of the "
            f"break-glass roles {', '.join(allowed)} of policy {bundle.name} {bundle.version}"
        )
    return None


def _rules_at(ws: Workspace, auth: Authority, seq: int) -> tuple[Any, Any] | str | None:
    """The policy bundle in force at ``seq`` and its rules (None before any install).

    A string says why it cannot be read. Read from this workspace's store each time, never
    from the gate's process cache: what verify checks is the bytes on disk now.
    """
    from core.governance.policy import PolicyBundle
    from core.governance.rules import parse
    from core.kernel.errors import LedgerError

    in_force = auth.policy_at(seq)
    if in_force is None:
        return None
    try:
        raw = ws.objects.read_verified(in_force[1].removeprefix("sha256:"))
        bundle = PolicyBundle.from_bytes(raw)
        return bundle, parse(bundle.data, where=f"policy {bundle.name}")
    except (OSError, ValueError, LookupError, LedgerError) as err:
        return str(err)


def _stage_before(stages: dict[str, list[tuple[int, str]]], ref: str, seq: int) -> str:
    found = [stage for at, stage in stages.get(ref, []) if at < seq]
    return found[-1] if found else "candidate"


def _input(
    auth: Authority,
    ledger: _Ledger,
    stages: dict[str, list[tuple[int, str]]],
    seq: int,
    body: dict[str, Any],
) -> str | None:
    """Why a decision's recorded input disagrees with the signed ledger, or None.

    The gate gathers its facts from the catalog, which an insider can edit; re-evaluating the
    recorded input (``policy_checks``) proves only that the policy said what it said about
    that input. This proves the input was the truth: the actor's roles, and for a model its
    digest, developers, tier, stage and every piece of evidence about it (none invented,
    none left out), as the signed events before it have them.
    """
    member = body.get("policy") or {}
    doc = member.get("input") if isinstance(member, dict) else None
    if not isinstance(doc, dict):
        return None
    given = doc.get("actor")
    actor: dict[str, Any] = given if isinstance(given, dict) else {}
    state = auth.actor_at(str(body.get("actor")), seq)
    ledger_roles = sorted(state.roles) if state else []
    if sorted(actor.get("roles") or []) != ledger_roles:
        return (
            f"gives {body.get('actor')} the roles {sorted(actor.get('roles') or [])}, but the "
            f"ledger had {ledger_roles}"
        )
    model = doc.get("model")
    if not isinstance(model, dict):
        return None
    ref = str(model.get("ref"))
    reg = ledger.registered.get(ref)
    # A refused registration decided on the version it would have created: what is checkable
    # of it is its tier, stage and that its evidence exists.
    prospective = (reg is None or reg[0] > seq) and member.get("gate") == "register"
    if not prospective:
        if reg is None or reg[0] > seq:
            return f"is about {ref}, which the ledger had not registered"
        if str(model.get("digest")) != reg[1]:
            return f"gives {ref} a digest other than its registered one"
        developers = sorted(ledger.developers(ref, seq))
        if sorted(model.get("developers") or []) != developers:
            return f"names {ref}'s developers {model.get('developers')}, not {developers}"
    tier = ledger.tier(ref.split("@", 1)[0], seq)
    if tier is None and model.get("tier_assessed"):
        return f"says {ref} was risk-assessed, but no model.risk event precedes it"
    if tier is not None and (model.get("tier") != tier or not model.get("tier_assessed")):
        return f"gives {ref} tier {model.get('tier')}, but the ledger's risk assessment says {tier}"
    stage = _stage_before(stages, ref, seq)
    if model.get("stage") != stage:
        return f"says {ref} was {model.get('stage')!r}, but the ledger had it {stage!r}"
    listed: dict[int, tuple[str, str]] = {}
    for item in model.get("evidence") or []:
        if not isinstance(item, dict):
            return "lists malformed evidence"
        at = item.get("seq")
        found = ledger.evidence_at.get(at) if isinstance(at, int) else None
        if (
            not isinstance(at, int)
            or found is None
            or found != (item.get("kind"), item.get("digest"))
        ):
            return (
                f"lists {item.get('kind')} evidence #{at} ({str(item.get('digest'))[:16]}…), "
                "which is not that event of the ledger"
            )
        listed[at] = found
    missing = [] if prospective else sorted(ledger.evidence_about(ref, seq) - set(listed))
    if missing:
        return f"leaves out evidence about {ref} recorded before it: {missing}"
    return None
