"""The governance context's event kinds: policies, decisions, risk tiers, approvals, lifecycle.

Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.identity.events import ADMIN
from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import ApprovalRow, LifecycleRow, PolicyRow, RiskRow

RISK_ROLES = ("validator", "approver", "admin")
"""Who may set a model's risk tier (model risk management, not its developers)."""
APPROVER_ROLES = ("approver", "validator", "data-owner", "security", "compliance")
"""The roles an approval can be given in; which of them a tier needs is policy data."""
IMPORT_ROLES = (*APPROVER_ROLES, *ADMIN)
"""Who may record an approval signed off the machine (the approver's own key signed it).

Every approval role plus admin: the import checks the *approver's* role at that ledger
position through their signed statement, so the importer needs no particular approval role;
a narrower list only kept approvers such as compliance from importing their own approval.
Kept equal to ``storage.bundle_verifier.IMPORT_ROLES`` (the stand-alone verifier's copy).
"""
PROMOTE_ROLES = ("data-scientist", "validator", "approver", "admin")
"""Who may ask for a promotion; whether it is allowed is the policy's decision."""
STAGES = ("candidate", "validated", "approved", "retired")
"""Approval stages. Being in production is not a stage: it follows from deployments."""
MOVES: dict[str, tuple[str, ...]] = {
    "candidate": ("validated", "retired"),
    "validated": ("approved", "retired"),
    "approved": ("retired",),
    "retired": (),
}
"""The allowed moves from each stage (the lifecycle's rule; ``audit verify`` replays it)."""


@dataclass(frozen=True)
class PolicyInstalled(Payload):
    """A policy bundle put in force (an admin's act; the bundle itself is a blob)."""

    digest: str
    name: str
    version: str
    modules: list[str]
    previous: str | None = None


@event_kind(
    "policy.install",
    PolicyInstalled,
    tables=("policies",),
    in_every_bundle=True,
    roles=ADMIN,
    authority=True,
)
def _policy_install(cat: Catalog, seq: int, body: Body, d: PolicyInstalled) -> None:
    cat.put(
        PolicyRow(
            seq=seq,
            digest=d.digest,
            name=d.name,
            version=d.version,
            modules=json.dumps(d.modules),
            installed_at=body["ts"],
            installed_by=body["actor"],
        )
    )


@dataclass(frozen=True)
class PolicyDenied(Payload):
    """An attempt the policy refused: nothing else changed.

    The decision is the event's ``policy`` member, as on an allowed action's event.
    """

    gate: str
    subject: str


@event_kind("policy.deny", PolicyDenied)
def _policy_deny(cat: Catalog, seq: int, body: Body, d: PolicyDenied) -> None:
    """Only indexed: decisions are read from the event index (its ``policy`` members)."""


@dataclass(frozen=True)
class RiskAssessed(Payload):
    """A model's risk tier, from impact and likelihood (1-5 each) and the policy's bands."""

    name: str
    impact: int
    likelihood: int
    tier: int
    rationale: str
    dpia: str | None = None
    purpose: str | None = None
    use: str | None = None
    restrictions: str | None = None
    owner: str | None = None


@event_kind("model.risk", RiskAssessed, tables=("model_risk",), roles=RISK_ROLES)
def _model_risk(cat: Catalog, seq: int, body: Body, d: RiskAssessed) -> None:
    cat.put(
        RiskRow(
            seq=seq,
            name=d.name,
            impact=d.impact,
            likelihood=d.likelihood,
            tier=d.tier,
            rationale=d.rationale,
            dpia=d.dpia,
            purpose=d.purpose,
            use=d.use,
            restrictions=d.restrictions,
            owner=d.owner,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )


@dataclass(frozen=True)
class ModelApproved(Payload):
    """A signed approval (or rejection) of one model version for a stage.

    ``envelope`` is the digest of the DSSE envelope the *approver's* key signed, binding the
    model digest, the evidence digests they saw, the policy digest and any conditions. The
    event's actor is the approver, or whoever imported an approval signed off the machine
    (``imported``), in which case the envelope's signature is what proves the approver.
    """

    model: str
    model_digest: str
    stage: str
    decision: str
    role: str
    approver: str
    key_id: str
    envelope: str
    policy: str
    evidence: list[str]
    conditions: list[str]
    imported: bool | None = None


def _approval_roles(d: ModelApproved) -> tuple[str, ...]:
    return IMPORT_ROLES if d.imported else (d.role,)


@event_kind(
    "model.approve",
    ModelApproved,
    tables=("approvals", "edges"),
    evidence_for=("registry", "history"),
    rule=_approval_roles,
)
def _model_approve(cat: Catalog, seq: int, body: Body, d: ModelApproved) -> None:
    from core.kernel.rows import EdgeRow

    cat.put(
        ApprovalRow(
            seq=seq,
            model=d.model,
            model_digest=d.model_digest,
            stage=d.stage,
            decision=d.decision,
            role=d.role,
            approver=d.approver,
            key_id=d.key_id,
            envelope_digest=d.envelope,
            policy_digest=d.policy,
            evidence=json.dumps(d.evidence),
            conditions=json.dumps(d.conditions),
            reason=body["reason"],
            created_at=body["ts"],
            recorded_by=body["actor"],
        )
    )
    cat.put_edges(
        [EdgeRow(src=f"approval:{seq}", dst=f"model:{d.model}", relation="approves", seq=seq)]
    )


@dataclass(frozen=True)
class ModelPromoted(Payload):
    """A model version moved from one approval stage to another.

    ``approvals`` are the event numbers of the approvals the promotion counted; a break-glass
    promotion counts none and stays open until someone else reviews it.
    """

    model: str
    model_digest: str
    from_stage: str
    to_stage: str
    approvals: list[int]
    break_glass: bool | None = None


@event_kind(
    "model.promote",
    ModelPromoted,
    tables=("lifecycle",),
    evidence_for=("registry", "history"),
    roles=PROMOTE_ROLES,
)
def _model_promote(cat: Catalog, seq: int, body: Body, d: ModelPromoted) -> None:
    cat.put(
        LifecycleRow(
            seq=seq,
            model=d.model,
            model_digest=d.model_digest,
            from_stage=d.from_stage,
            to_stage=d.to_stage,
            approvals=json.dumps(d.approvals),
            break_glass=bool(d.break_glass),
            policy_digest=str((body.get("policy") or {}).get("bundle", "")),
            reason=body["reason"],
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )


# -- model-risk practice: validation findings and break-glass reviews ----------------------

FINDING_ROLES = ("validator", "approver", "admin")
"""Who may record a finding on a model version, and close or accept one (never its owner)."""
FINDING_SEVERITIES = ("low", "medium", "high", "critical")
FINDING_STATUSES = ("open", "in-remediation", "remediated", "accepted")
REVIEW_ROLES = ("approver", "validator", "compliance", "admin")
"""Who may review a break-glass promotion after the fact (never whoever broke the glass)."""
REVIEW_OUTCOMES = ("upheld", "reversed")


@dataclass(frozen=True)
class FindingOpened(Payload):
    """A validator's finding about one model version (SR 11-7): what, how bad, whose, by when.

    ``due`` is the last day (UTC, ``YYYY-MM-DD``) for its remediation; ``owner`` the actor
    who must remediate it. The finding's id is this event's number.
    """

    model: str
    model_digest: str
    severity: str
    title: str
    owner: str
    due: str


@event_kind(
    "finding.open",
    FindingOpened,
    tables=("findings", "edges"),
    roles=FINDING_ROLES,
)
def _finding_open(cat: Catalog, seq: int, body: Body, d: FindingOpened) -> None:
    from core.kernel.rows import EdgeRow, FindingRow

    cat.put(
        FindingRow(
            seq=seq,
            model=d.model,
            model_digest=d.model_digest,
            severity=d.severity,
            title=d.title,
            owner=d.owner,
            due=d.due,
            status="open",
            expires=None,
            opened_at=body["ts"],
            opened_by=body["actor"],
            updated_seq=seq,
            updated_at=body["ts"],
            updated_by=body["actor"],
            reason=body["reason"],
        )
    )
    cat.put_edges(
        [EdgeRow(src=f"finding:{seq}", dst=f"model:{d.model}", relation="finds", seq=seq)]
    )


@dataclass(frozen=True)
class FindingUpdated(Payload):
    """A finding's remediation status changed (``expires``: the last day an acceptance counts).

    The owner reports work in progress (``in-remediation``); someone else holding a finding
    role closes it (``remediated``), accepts the risk until ``expires`` (``accepted``) or
    reopens it (``open``).
    """

    finding: int
    model: str
    status: str
    expires: str | None = None


def _update_roles(d: FindingUpdated) -> tuple[str, ...]:
    # Reporting remediation is the owner's (any active actor; the command checks it is the
    # owner); closing, accepting and reopening need a finding role.
    return () if d.status == "in-remediation" else FINDING_ROLES


@event_kind(
    "finding.update",
    FindingUpdated,
    tables=("findings",),
    rule=_update_roles,
)
def _finding_update(cat: Catalog, seq: int, body: Body, d: FindingUpdated) -> None:
    from core.kernel.rows import FindingRow

    rows = cat.rows(FindingRow, "SELECT * FROM findings WHERE seq = ?", [d.finding])
    if not rows:  # the command refuses this; a forged event changes no row
        return
    row = rows[0]
    row.status = d.status
    row.expires = d.expires
    row.updated_seq = seq
    row.updated_at = body["ts"]
    row.updated_by = body["actor"]
    row.reason = body["reason"]
    cat.put(row)


@dataclass(frozen=True)
class BreakGlassReviewed(Payload):
    """Someone other than the promoter reviewed a break-glass promotion (event ``promotion``)."""

    promotion: int
    model: str
    outcome: str


@event_kind(
    "breakglass.review",
    BreakGlassReviewed,
    tables=("breakglass_reviews",),
    roles=REVIEW_ROLES,
)
def _breakglass_review(cat: Catalog, seq: int, body: Body, d: BreakGlassReviewed) -> None:
    from core.kernel.rows import BreakGlassReviewRow

    cat.put(
        BreakGlassReviewRow(
            seq=seq,
            promotion=d.promotion,
            model=d.model,
            outcome=d.outcome,
            reason=body["reason"],
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
