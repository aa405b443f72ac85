"""The sign-off block of a model card: who approved or rejected the version, and its stage.

Read from the recorded approvals and promotions. Each approval's signed statement is checked
again as the card is rendered (:func:`core.governance.separation.signed`), so an approval row
written straight into the catalog, or one whose statement no longer matches, shows as not
verifying instead of lending the card a signature it does not have: a card is never kinder
than the evidence.

A signature that verifies is not yet an approval that counts: newer evidence voids it (under
``evidence_change = "void"``), it expires, it may be bound to another build or given by a
developer. Each row therefore also says whether it counts toward its stage now and, if not,
why, from :func:`core.governance.approvals.standing` (the k-of-n rule promotion applies), so
the card never shows as standing an approval the gate would refuse.
"""

from __future__ import annotations

import json

from core.governance import approvals, lifecycle, separation
from core.governance.facts import model_row, stage_of
from core.kernel.workspace import Workspace
from reports.formatting import when


def _when(ts: str) -> str:
    return when(ts)


def _counts(standing: approvals.Standing | None) -> str:
    """The ``counts`` cell: "yes", or "NO: " and why (never blank, never kinder)."""
    if standing is None:
        return "NO: not part of the version's approvals now"
    if standing.counted:
        return "yes"
    return f"NO: {standing.why_not or 'does not count'}"


def signoff(ws: Workspace, ref: str, actor: str = "") -> tuple[str, list[dict[str, str]]]:
    """The version's stage now (with how it got there) and its approvals, oldest first."""
    from core.identity.signer import authority_of

    rows = approvals.list_approvals(ws, actor, ref=ref)
    with ws.session(actor) as s:
        model = model_row(s, ref)
        _, bad = separation.signed(s, authority_of(s), rows)
        counts = approvals.standing_in(s, rows)
        stage = stage_of(s, model.ref)
    moves = [
        h
        for h in lifecycle.history(ws, model.name, actor=actor)
        if h.ref == model.ref and h.what == "promote"
    ]
    if moves:
        last = moves[-1]
        stage = f"{stage} (promotion #{last.seq} by {last.actor}, {_when(last.ts)}: {last.detail})"
    else:
        stage = f"{stage} (never promoted)"
    out = []
    for row in rows:
        conditions = [str(c) for c in json.loads(row.conditions)]
        out.append(
            {
                "seq": str(row.seq),
                "when": _when(row.created_at),
                "who": row.approver,
                "decision": "APPROVED" if row.decision == "approve" else "REJECTED",
                "role": row.role,
                "stage": row.stage,
                "key": f"{row.key_id[:16]}…",
                "conditions": "; ".join(conditions) or "none",
                "reason": row.reason,
                "signature": (
                    "verifies" if row.seq not in bad else f"DOES NOT VERIFY: {bad[row.seq]}"
                ),
                "counts": _counts(counts.get(row.seq)),
                "imported": "signed off the machine, imported by " + row.recorded_by
                if row.recorded_by != row.approver
                else "",
            }
        )
    return stage, out
