"""``audit verify``'s check of the policy decisions the ledger records.

Every governed action's event carries the decision that let it through (its ``policy``
member: gate, bundle digest, allow, reasons and the whole input), and every refusal is a
``policy.deny`` attempt event carrying the same. The event's signature covers the member, so
a decision edited after signing breaks the signature (the signature check reports that).
What a signature cannot show, this module checks, from the ledger alone:

- **the bundle named is the one in force** at that position (signed authority state,
  :meth:`Authority.policy_at`). Attack: an insider holding an actor's key forges an event
  whose decision says "allow" under a laxer bundle they wrote (or one installed earlier).
- **the gate matches the action** (:data:`storage.bundle_verifier.GOVERNED`; a refusal may
  name any gate). Attack: an allow decision from a laxer gate (``export``) stuck on a
  promotion.
- **the decision is about this action**: its input names the event's actor and one of its
  subjects. Attack: an allow decision copied from another actor's or model's event.
- **a governed action recorded while a policy was in force carries an allow decision.**
  Attack: an event written with the member stripped (or by a build that skips the gate)
  and re-signed by the actor: the gate was bypassed.
- **re-evaluating the recorded input with the recorded bundle gives the recorded answer**
  (regopy): the same allow and the same reasons. Attack: a forged "allow" over an input the
  bundle denies.

The input itself is what the workstation said it saw; its facts can be replayed against the
catalog at that position, which is the lifecycle and bundle parts' concern.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from core.governance import policy
from core.identity.authority import Authority
from core.kernel.errors import IntegrityError, UsageError
from core.kernel.workspace import Workspace
from storage.bundle_verifier import DECIDED_BY, GOVERNED
from storage.ledger import body_object

DENY_ACTION = "policy.deny"
_MARKERS = (b'"policy":{"allow":', *(b'{"action":"' + a.encode() + b'"' for a in GOVERNED))
"""A decision's start in canonical JSON (its keys sorted: allow first), and each governed
action's body start."""
MAX_REPORTED = 5


def problems(ws: Workspace, auth: Authority, upto: int) -> list[tuple[int, str]]:
    """Every event up to ``upto`` whose decision (or lack of one) does not hold, and why."""
    bundles: dict[str, policy.PolicyBundle | str] = {}
    out: list[tuple[int, str]] = []
    for seq, raw in _candidates(ws, upto):
        try:
            body = body_object(raw)
        except ValueError:
            continue  # the scan reports malformed bodies
        why = _check(ws, auth, seq, body, bundles)
        if why is not None:
            out.append((seq, why))
    return out


def _candidates(ws: Workspace, upto: int) -> Iterator[tuple[int, bytes]]:
    """The events that carry a decision or are of a governed action, found by byte search.

    Reading every event through the ledger's iterator costs about 1 s of CPU per 200,000
    events; ``bytes.find`` for each marker over a segment's bytes finds the few lines that
    matter at memory speed. The chain was checked by the scan, so the lines are the ledger's.
    A marker inside some other member only costs a parse (the check reads the body's own
    members).
    """
    for path in ws.ledger.segment_files():
        content = path.read_bytes()
        starts: set[int] = set()
        for marker in _MARKERS:
            at = content.find(marker)
            while at >= 0:
                starts.add(content.rfind(b"\n", 0, at) + 1)
                at = content.find(marker, at + len(marker))
        for start in sorted(starts):
            end = content.find(b"\n", start)
            line = content[start : end if end >= 0 else len(content)]
            head, _, rest = line.partition(b" ")
            _, _, body = rest.partition(b" ")
            if not head.isdigit():
                continue
            seq = int(head)
            if seq > upto:
                return
            yield seq, body


def report(
    ws: Workspace, auth: Authority, upto: int, fail: Callable[[str, int | None], None]
) -> int:
    """Run :func:`problems` and hand each (the first few) to ``fail``; return how many."""
    found = problems(ws, auth, upto)
    for seq, why in found[:MAX_REPORTED]:
        fail(f"event #{seq} {why}", seq)
    if len(found) > MAX_REPORTED:
        fail(f"… and {len(found) - MAX_REPORTED} more events whose policy decision fails", None)
    return len(found)


def _check(
    ws: Workspace,
    auth: Authority,
    seq: int,
    body: dict[str, Any],
    bundles: dict[str, policy.PolicyBundle | str],
) -> str | None:
    action = str(body.get("action"))
    member = body.get("policy")
    in_force = auth.policy_at(seq)
    gate_of = GOVERNED.get(action)
    if member is None:
        if gate_of is not None and in_force is not None:
            return (
                f"({action}) was recorded while policy {in_force[1][:19]}… (installed at "
                f"#{in_force[0]}) was in force, but carries no decision of its {gate_of} gate: "
                "it bypassed the gate or was forged"
            )
        return None
    try:
        decision = policy.Decision.from_member(member)
    except (KeyError, TypeError, ValueError, AttributeError):
        return f"({action}) carries a malformed policy decision"
    if in_force is None:
        return (
            f"({action}) carries a decision of {decision.bundle[:19]}…, but no policy was in force"
        )
    if decision.bundle != in_force[1]:
        return (
            f"({action}) carries a decision of policy {decision.bundle[:19]}…, but "
            f"{in_force[1][:19]}… (installed at #{in_force[0]}) was in force there"
        )
    if action == DENY_ACTION:
        data = body.get("data") or {}
        if decision.allow:
            return "(policy.deny) records a refusal whose decision says allow"
        if data.get("gate") != decision.gate or data.get("subject") != decision.input.get(
            "subject"
        ):
            return "(policy.deny) names another gate or subject than its decision"
    else:
        gate_of = gate_of or DECIDED_BY.get(action)
        if gate_of is not None and decision.gate != gate_of:
            return f"({action}) carries a decision of the {decision.gate} gate, not {gate_of}"
        if not decision.allow:
            return f"({action}) was recorded although its decision denies it"
    if decision.input.get("gate") != decision.gate:
        return f"({action}) carries a decision whose input names another gate"
    who = decision.input.get("actor")
    if not isinstance(who, dict) or who.get("name") != body.get("actor"):
        return f"({action}) carries a decision about another actor than {body.get('actor')!r}"
    subjects = body.get("subjects") or []
    if action != DENY_ACTION and decision.input.get("subject") not in subjects:
        return f"({action}) carries a decision about another subject than its own"
    bundle = _bundle(ws, decision.bundle, in_force[0], bundles)
    if isinstance(bundle, str):
        return f"({action}): {bundle}"
    doc = {k: v for k, v in decision.input.items() if k != "gate"}
    try:
        again = policy.decide(bundle, decision.gate, doc)
    except (UsageError, policy.PolicyError) as err:
        return f"({action}): its decision cannot be re-evaluated: {err}"
    if again.allow != decision.allow or sorted(again.reasons) != sorted(decision.reasons):
        said = "allow" if decision.allow else "deny"
        got = "allow" if again.allow else "deny: " + "; ".join(again.reasons)
        return (
            f"({action}) records {said} from policy {bundle.name} {bundle.version}, but the "
            f"same input re-evaluated gives {got}"
        )
    return None


def _bundle(
    ws: Workspace, digest: str, seq: int, cache: dict[str, policy.PolicyBundle | str]
) -> policy.PolicyBundle | str:
    """The bundle by digest, verified against it; a string says why it cannot be had."""
    if digest not in cache:
        try:
            raw = ws.objects.read_verified(digest.removeprefix("sha256:"))
            bundle = policy.PolicyBundle.from_bytes(raw)
            if bundle.digest != digest:
                raise IntegrityError("not canonical")
            policy.engine(bundle)
            cache[digest] = bundle
        except (OSError, LookupError, ValueError, IntegrityError, UsageError) as err:
            cache[digest] = (
                f"the policy bundle {digest[:19]}… installed at #{seq} is unusable: {err}"
            )
    return cache[digest]
