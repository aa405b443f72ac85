"""Separation of duties and k-of-n, as the workstation asks them.

The rule itself is :func:`storage.bundle_verifier.approval_check` (standard library only), so
that the auditor's stand-alone verifier and this workstation count the same people. This
module feeds it from a session: the policy's ``[governance]`` rules, the version's
developers, its approvals *whose signed statements check out* (:mod:`core.governance.
statement`), and each actor's kind as the signed ledger says (never the catalog).

Attack: an insider inserts an ``approvals`` row, or edits one's approver or role, straight
into ``catalog.duckdb``. Such a row has no envelope signed by the named approver's certified
key for exactly those fields, so :func:`signed` drops it before anything is counted (and
``audit verify`` reports the edited table).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.governance import statement
from core.governance.facts import approvals_of
from core.governance.rules import Rules
from core.identity.authority import Authority
from core.kernel.errors import IntegrityError
from core.kernel.events import now_iso
from core.kernel.rows import ApprovalRow
from core.kernel.workspace import Session
from storage.bundle_verifier import approval_check


def as_dict(row: ApprovalRow) -> dict[str, Any]:
    """An approval row in the shape :func:`approval_check` reads."""
    return {
        "seq": row.seq,
        "approver": row.approver,
        "role": row.role,
        "decision": row.decision,
        "model_digest": row.model_digest,
        "stage": row.stage,
        "ts": row.created_at,
    }


def check(
    rules: Rules,
    tier: int,
    model_digest: str,
    developers: Sequence[str],
    rows: Iterable[ApprovalRow],
    *,
    kinds: Mapping[str, str],
    newest_evidence_seq: int | None,
    now: str | None = None,
) -> dict[str, Any]:
    """:func:`approval_check` over approval rows, under ``rules``."""
    return approval_check(
        rules.model_dump(),
        tier,
        model_digest,
        list(developers),
        [as_dict(r) for r in rows],
        kinds=dict(kinds),
        newest_evidence_seq=newest_evidence_seq,
        now=now or now_iso(),
    )


def expect_of(row: ApprovalRow) -> dict[str, Any]:
    """What a row claims was signed (the fields :func:`statement.problem` compares)."""
    return {
        "model": row.model,
        "model_digest": row.model_digest,
        "stage": row.stage,
        "decision": row.decision,
        "approver": row.approver,
        "role": row.role,
        "conditions": json.loads(row.conditions),
        "policy": row.policy_digest,
    }


def signed(
    s: Session, auth: Authority, rows: Iterable[ApprovalRow]
) -> tuple[list[ApprovalRow], dict[int, str]]:
    """The rows whose envelope the approver's key signed for exactly their fields.

    Returns the good rows and, for the others, why each was dropped.
    """
    good: list[ApprovalRow] = []
    bad: dict[int, str] = {}
    for row in rows:
        try:
            raw = s.workspace.objects.read_verified(row.envelope_digest)
        except (OSError, ValueError, LookupError, IntegrityError) as err:
            bad[row.seq] = f"#{row.seq}: its signed statement cannot be read ({err})"
            continue
        why = statement.problem(
            auth,
            raw,
            seq=row.seq,
            ts=row.created_at,
            workspace=auth.workspace_id or s.workspace.workspace_id,
            key_id=row.key_id,
            expect=expect_of(row),
        )
        if why:
            bad[row.seq] = f"#{row.seq} {why}"
        else:
            good.append(row)
    return good, bad


def kinds_of(auth: Authority, names: Iterable[str], at: int | None = None) -> dict[str, str]:
    """Each actor's kind (person or service) as the ledger says, now or just before ``at``."""
    out = {}
    for name in names:
        state = auth.current(name) if at is None else auth.actor_at(name, at)
        out[name] = state.kind if state else "unknown"
    return out


def newest_evidence(model_facts: Mapping[str, Any]) -> int | None:
    """The event number of the newest evidence about the version (facts' ``evidence``)."""
    seqs = [int(e["seq"]) for e in model_facts.get("evidence", [])]
    return max(seqs) if seqs else None


def member(s: Session, model_facts: Mapping[str, Any], stage: str, rules: Rules) -> dict[str, Any]:
    """The gate input's ``approvals`` member for one version and stage.

    ``list`` names every recorded approval with whether it counted and, if not, why;
    ``check`` is :func:`approval_check` over the ones whose signatures verify.
    """
    from core.identity.signer import authority_of

    auth = authority_of(s)
    ref = str(model_facts["ref"])
    rows = approvals_of(s, ref, stage)
    good, bad = signed(s, auth, rows)
    result = check(
        rules,
        int(model_facts["tier"]),
        str(model_facts["digest"]),
        list(model_facts["developers"]),
        good,
        kinds=kinds_of(auth, {r.approver for r in good}),
        newest_evidence_seq=newest_evidence(model_facts),
    )
    for seq, why in bad.items():
        result["why_not"][str(seq)] = why
    counted = set(result["counted"])
    listing = [
        {
            "seq": r.seq,
            "approver": r.approver,
            "role": r.role,
            "decision": r.decision,
            "counted": r.seq in counted,
            "why_not": None
            if r.seq in counted
            else result["why_not"].get(str(r.seq)) or f"{r.approver} already counts once",
        }
        for r in rows
    ]
    return {"stage": stage, "list": listing, "check": result}
