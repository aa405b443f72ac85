"""The differential-privacy budget spent on each snapshot, summed from the signed ledger.

Every ``model.evaluate`` event whose suite trained DP variants carries ``privacy_budget``
(:class:`core.evidence.events.PrivacyBudget`): which snapshot's rows they were fitted on and
the ε they spent. The workspace's accounting is the sum of those, per snapshot, read from
the events the catalog indexes; it needs no event of its own, and it cannot be edited apart
from the signed evaluations that spent it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from core.kernel.workspace import Workspace


@dataclass(frozen=True)
class Spend:
    """One evaluation's spend on a snapshot."""

    seq: int
    snapshot: str
    table_digest: str
    epsilon: float
    variants: int
    model: str
    actor: str
    ts: str


def spends(ws: Workspace, snapshot: str | None = None) -> list[Spend]:
    """Every recorded spend (on one snapshot), oldest first."""
    out = []
    with ws.session() as s:
        events = s.catalog.events(action="model.evaluate")
    for event in events:
        data = json.loads(event.body).get("data", {})
        budget = data.get("privacy_budget")
        if not budget or (snapshot is not None and budget["snapshot"] != snapshot):
            continue
        out.append(
            Spend(
                seq=event.seq,
                snapshot=budget["snapshot"],
                table_digest=budget["table_digest"],
                epsilon=float(budget["epsilon"]),
                variants=int(budget["variants"]),
                model=str(data.get("model", "")),
                actor=event.actor,
                ts=event.ts,
            )
        )
    return out


def spent(ws: Workspace, snapshot: str) -> float:
    """The total ε spent on a snapshot's rows so far (0 when none)."""
    return math.fsum(s.epsilon for s in spends(ws, snapshot))


def totals(ws: Workspace) -> dict[str, float]:
    """The total ε spent, per snapshot that any evaluation spent on."""
    out: dict[str, list[float]] = {}
    for s in spends(ws):
        out.setdefault(s.snapshot, []).append(s.epsilon)
    return {k: math.fsum(v) for k, v in sorted(out.items())}
