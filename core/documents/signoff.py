"""The sign-off block of a model card: who approved or rejected the version, and its stage.

Read from the recorded approvals and promotions. Each approval's signed statement is checked
again as the card is rendered (:func:`core.governance.separation.signed`), so an approval row
written straight into the catalog, or one whose statement no longer matches, shows as not
verifying instead of lending the card a signature it does not have: a card is never kinder
than the evidence.

A signature that verifies is not yet an approval that counts: newer evidence voids it (under
``evidence_change = "void"``), it expires, it may be bound to another build or given by a
developer. Each row therefore also says whether it counts toward its stage now and, if not,
why, from :func:`core.governance.approvals.sign_off_in` (the k-of-n rule promotion applies),
so the card never shows as standing an approval the gate would refuse, and its stage line
says when an approved version's approvals no longer count.
"""

from __future__ import annotations

import json

from core.governance import approvals, lifecycle, separation
from core.governance.facts import model_row
from core.kernel.workspace import Workspace
from reports.formatting import when


def _when(ts: str) -> str:
    return when(ts)


def signoff(ws: Workspace, ref: str, actor: str = "") -> tuple[str, list[dict[str, str]]]:
    """The version's stage now (with how it got there) and its approvals, oldest first.

    The stage line says so when an approved version's approvals no longer count, and each
    row's ``counts`` is :attr:`core.governance.approvals.ApprovalNow.counts_text`: the same
    answer ``registry``, ``inventory``, the bundle cover and the TUI give.
    """
    from core.identity.signer import authority_of

    rows = approvals.list_approvals(ws, actor, ref=ref)
    with ws.session(actor) as s:
        model = model_row(s, ref)
        _, bad = separation.signed(s, authority_of(s), rows)
        now = approvals.sign_off_in(s, [model.ref])[model.ref]
    counts = now.by_seq()
    moves = [
        h
        for h in lifecycle.history(ws, model.name, actor=actor)
        if h.ref == model.ref and h.what == "promote"
    ]
    how = (
        f"promotion #{moves[-1].seq} by {moves[-1].actor}, {_when(moves[-1].ts)}: "
        f"{moves[-1].detail}"
        if moves
        else "never promoted"
    )
    stage = f"{now.stage} ({how})"
    stage += now.stage_detail.removeprefix(now.stage)
    out = []
    for row in rows:
        conditions = [str(c) for c in json.loads(row.conditions)]
        standing = counts.get(row.seq)
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
                "counts": standing.counts_text
                if standing
                else "NO: not part of the version's approvals now",
                "imported": "signed off the machine, imported by " + row.recorded_by
                if row.recorded_by != row.approver
                else "",
            }
        )
    return stage, out
