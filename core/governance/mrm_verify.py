"""``audit verify``'s model-risk checks: findings and break-glass reviews, from signed events.

The signature checks prove each event was signed by its actor's key and that the kind's
roles allowed it. Who may close a finding or review a break-glass promotion depends on more
than a role (whose finding, whose emergency, whose model), which the commands check
(:mod:`core.governance.findings`, :mod:`core.governance.breakglass`). An insider who holds
a key can still append an event without the command; so this re-reads the signed events
themselves (never the catalog) and checks, at each event's position:

For every ``finding.update``:
  it updates a finding opened before it; ``in-remediation`` is by the finding's owner;
  any other status is by someone who is neither the owner nor a developer of the version
  (trainer, registrant, signer before it; admins included); ``accepted`` has an expiry and
  nothing else has one.

For every ``breakglass.review``:
  the promotion it names is a break-glass ``model.promote`` before it; the reviewer is a
  person (the kind their ``actor.add`` recorded: a review stands in for the approvals the
  emergency skipped, and only people approve), neither the promoter nor a developer of the
  version; it is the promotion's only review.

Attacks: the owner closing their own finding, a developer accepting the risk of their own
model, the promoter reviewing their own emergency, a second review flipping the outcome,
a service account (a robot holding a review role) closing a human-oversight review, each
appended with a valid key but past the command.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

Fail = Callable[[str, int], None]


class _Developers:
    """Who developed each model version, by ledger position (signers count from their event)."""

    def __init__(self) -> None:
        self.registered: dict[str, tuple[str, str]] = {}  # ref -> (run id, registrant)
        self.trainers: dict[str, str] = {}
        self.signers: dict[str, list[tuple[int, str]]] = defaultdict(list)

    def see(self, seq: int, action: Any, actor: str, data: dict[str, Any]) -> None:
        if action == "model.register":
            ref = f"{data.get('name')}@{data.get('version')}"
            self.registered[ref] = (str(data.get("run_id")), actor)
        elif action == "train.run":
            self.trainers[str(data.get("run_id"))] = actor
        elif action == "model.sign":
            ref = str(data.get("subject", "")).removeprefix("model:")
            self.signers[ref].append((seq, actor))

    def of(self, ref: str, before: int) -> set[str]:
        reg = self.registered.get(ref)
        if reg is None:
            return set()
        people = {reg[1]}
        if reg[0] in self.trainers:
            people.add(self.trainers[reg[0]])
        return people | {who for seq, who in self.signers.get(ref, []) if seq < before}


def check(events: Sequence[tuple[int, dict[str, Any]]], fail: Fail) -> int:
    """Check every ``finding.update`` and ``breakglass.review`` in ``events`` (in order).

    Returns:
        How many events were checked.
    """
    devs = _Developers()
    owners: dict[int, tuple[str, str]] = {}  # finding -> (owner, model)
    glass: dict[int, tuple[str, str]] = {}  # break-glass promotion -> (promoter, model)
    reviewed: dict[int, int] = {}
    kinds: dict[str, str] = {}  # actor -> person | service, as actor.add recorded it
    checked = 0
    for seq, body in sorted(events, key=lambda e: e[0]):
        action, actor = body.get("action"), str(body.get("actor"))
        data = body.get("data")
        if not isinstance(data, dict):
            continue
        devs.see(seq, action, actor, data)
        if action == "workspace.init":
            kinds[str(data.get("founder"))] = "person"
        elif action == "actor.add":
            kinds[str(data.get("name"))] = str(data.get("kind") or "person")
        if action == "finding.open":
            owners[seq] = (str(data.get("owner")), str(data.get("model")))
        elif action == "model.promote" and data.get("break_glass"):
            glass[seq] = (actor, str(data.get("model")))
        elif action == "finding.update":
            checked += 1
            why = _finding_update(data, actor, owners, devs, seq)
            if why:
                fail(f"event #{seq} (finding.update) {why}", seq)
        elif action == "breakglass.review":
            checked += 1
            why = _review(data, actor, glass, reviewed, devs, seq, kinds.get(actor))
            if why:
                fail(f"event #{seq} (breakglass.review) {why}", seq)
    return checked


def _finding_update(
    data: dict[str, Any],
    actor: str,
    owners: dict[int, tuple[str, str]],
    devs: _Developers,
    seq: int,
) -> str | None:
    target = data.get("finding")
    if not isinstance(target, int) or target not in owners:
        return f"updates finding #{target}, which no earlier finding.open recorded"
    owner, model = owners[target]
    status = data.get("status")
    if status == "in-remediation":
        return None if actor == owner else f"reports remediation of #{target}, owned by {owner}"
    if actor == owner:
        return f"marks #{target} {status}, but {actor} owns it (separation of duties)"
    if actor in devs.of(model, seq):
        return f"marks #{target} {status}, but {actor} developed {model} (separation of duties)"
    if (status == "accepted") != bool(data.get("expires")):
        return "has an expiry without accepting" if data.get("expires") else "accepts no end"
    return None


def _review(
    data: dict[str, Any],
    actor: str,
    glass: dict[int, tuple[str, str]],
    reviewed: dict[int, int],
    devs: _Developers,
    seq: int,
    kind: str | None = None,
) -> str | None:
    """Why a ``breakglass.review`` should not stand (None: it may).

    ``kind`` is the reviewer's kind as the ledger recorded it (None: no ``actor.add`` in the
    events given, which the signature checks already report for a real ledger).
    """
    target = data.get("promotion")
    if not isinstance(target, int) or target not in glass:
        return f"reviews #{target}, which is no earlier break-glass promotion"
    promoter, model = glass[target]
    if kind is not None and kind != "person":
        return f"reviews #{target}, but {actor} is a {kind} actor: only people review"
    if actor == promoter:
        return f"reviews #{target}, which {actor} promoted (separation of duties)"
    if actor in devs.of(model, seq):
        return f"reviews #{target}, but {actor} developed {model} (separation of duties)"
    if target in reviewed:
        return f"reviews #{target} again (first reviewed at #{reviewed[target]})"
    reviewed[target] = seq
    return None
