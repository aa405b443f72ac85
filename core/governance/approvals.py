"""Approvals: an approver's signed yes (or no) to one model version for one stage.

``approve`` has the approver's *own* key sign an approval statement (:mod:`core.governance.
statement`) binding the model digest, the evidence digests and verdicts they saw, the policy
digest and any conditions, and records it as one ``model.approve`` event whose actor is the
approver. Conditions ("not for applicants under 21") are recorded and signed as data; they
are enforced where scoring can check them (the operations issue), not here.

Before the policy is asked, the command refuses what no policy could make sensible: an actor
without the role they approve in, an unknown model, a retired version. The policy (gate
"approve") then sees the version's facts, the request and the approvals so far, so it can
refuse self-approval or approval on failed evidence, and its refusal is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.governance import policy, separation, statement
from core.governance.events import APPROVER_ROLES, ModelApproved
from core.governance.facts import model_facts, model_row, stage_of
from core.governance.risk import rules_in_force
from core.identity.actors import needs
from core.identity.attest import sign_statement
from core.kernel import command
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.events import now_iso
from core.kernel.rows import ApprovalRow
from core.kernel.workspace import Session, Workspace

APPROVAL_STAGES = ("validated", "approved")
"""Stages an approval can be given for (a version is born a candidate; retiring needs none)."""


def check_stage(stage: str) -> str:
    """An approval stage, or a usage error naming the ones there are."""
    if stage not in APPROVAL_STAGES:
        raise UsageError(
            f"cannot approve for stage {stage!r}", hint=f"Stages: {', '.join(APPROVAL_STAGES)}."
        )
    return stage


def check_conditions(conditions: Sequence[str]) -> list[str]:
    """Conditions as recorded: trimmed, none empty."""
    out = [c.strip() for c in conditions]
    if any(not c for c in out):
        raise UsageError("a --condition is empty", hint='e.g. --condition "not for under 21s"')
    return out


def approval_role(roles: Sequence[str], actor: str, role: str | None) -> str:
    """The role an actor approves in: the one given, else their only approval role.

    Raises:
        UsageError: for a role that cannot approve, or several to choose from.
        PermissionDeniedError: if the actor does not hold it (or holds no approval role).
    """
    held = [r for r in roles if r in APPROVER_ROLES]
    if role is not None:
        if role not in APPROVER_ROLES:
            raise UsageError(
                f"{role!r} is not an approval role", hint=f"Roles: {', '.join(APPROVER_ROLES)}."
            )
        if role not in roles:
            raise PermissionDeniedError(
                f"actor {actor!r} does not hold the role {role!r} they would approve in",
                hint=f"{actor} has: {', '.join(roles) or 'no role'}.",
            )
        return role
    if not held:
        raise PermissionDeniedError(
            f"actor {actor!r} holds no approval role",
            hint=f"Approval roles: {', '.join(APPROVER_ROLES)}.",
        )
    if len(held) > 1:
        raise UsageError(
            f"{actor} holds several approval roles ({', '.join(held)}): say which with --role"
        )
    return held[0]


def _roles_now(s: Session) -> list[str]:
    from core.identity.signer import authority_of

    state = authority_of(s).current(s.actor)
    return list(state.roles) if state else []


def approve(
    ws: Workspace,
    actor: str,
    ref: str,
    *,
    stage: str = "approved",
    role: str | None = None,
    reason: str,
    conditions: Sequence[str] = (),
    reject: bool = False,
    key_ref: str | None = None,
) -> ApprovalRow:
    """Sign and record an approval (or, with ``reject``, a rejection) of ``ref`` for ``stage``.

    Raises:
        UsageError: without a reason, for a bad stage, condition or role, a retired version.
        PermissionDeniedError: if the actor lacks the role (or any approval role), or is a
            service.
        NotFoundError: for an unknown model version.
        CheckFailedError: with no policy in force.
        PolicyDeniedError: if the policy refuses (the refusal is recorded).
    """
    if not reason.strip():
        raise UsageError("an approval needs a --reason", hint="Say what you checked.")
    check_stage(stage)
    conds = check_conditions(conditions)
    decision = "reject" if reject else "approve"
    chosen: dict[str, Any] = {}

    def precheck(s: Session) -> None:
        from core.identity.signer import authority_of

        chosen["role"] = approval_role(_roles_now(s), s.actor, role)
        state = authority_of(s).current(s.actor)
        if state is None or state.kind != "person":
            raise PermissionDeniedError(
                f"{s.actor} is a {state.kind if state else 'unknown'} actor: only people approve "
                "or reject models",
                hint="Human oversight: an approval is a person's signed judgement.",
            )
        model = model_row(s, ref)
        if stage_of(s, model.ref) == "retired":
            raise UsageError(f"{model.ref} is retired: it is approved for nothing any more")
        rules_in_force(s, action="approving")

    def facts(s: Session) -> dict[str, Any]:
        _, rules = rules_in_force(s, action="approving")
        m = model_facts(s, ref, untiered=rules.untiered)
        chosen["facts"] = m
        return {
            "model": m,
            "request": {
                "stage": stage,
                "decision": decision,
                "role": chosen["role"],
                "conditions": conds,
            },
            "approvals": separation.member(s, m, stage, rules),
        }

    def commit(s: Session, _: None) -> ApprovalRow:
        from core.identity.signer import authority_of

        bundle = rules_in_force(s, action="approving")[0]
        m = chosen["facts"]
        if decision == "approve" and s.actor in m["developers"]:
            # Whatever the policy said: separation of duties is not a policy option.
            raise PermissionDeniedError(
                f"{s.actor} developed {m['ref']} (trainer, registrant or signer) and may not "
                "approve it, admins included",
                hint="Someone independent approves: `ledgerml approvals list --pending`.",
            )
        pred = statement.predicate(
            workspace=authority_of(s).workspace_id,
            model=m["ref"],
            stage=stage,
            decision=decision,
            approver=s.actor,
            role=chosen["role"],
            reason=reason,
            conditions=conds,
            evidence=m["evidence"],
            policy=bundle.digest,
            signed_at=now_iso(),
            request=None,
        )

        def payload(envelope: str, key_id: str, _: str) -> ModelApproved:
            return ModelApproved(
                model=m["ref"],
                model_digest=m["digest"],
                stage=stage,
                decision=decision,
                role=chosen["role"],
                approver=s.actor,
                key_id=key_id,
                envelope=envelope,
                policy=bundle.digest,
                evidence=[e["digest"] for e in m["evidence"]],
                conditions=conds,
            )

        att = sign_statement(
            s,
            key_ref=key_ref,
            subjects=[(statement.subject_name(m["ref"]), m["digest"])],
            predicate_type=statement.PREDICATE_TYPE,
            predicate=pred,
            reason=reason,
            as_payload=payload,
            extra_subjects=[f"model:{m['ref']}"],
        )
        return row_at(s, att.seq)

    return command.run(
        ws,
        actor,
        guards=[
            needs(*APPROVER_ROLES, action="approve models"),
            precheck,
            policy.gate(
                "approve", lambda _: f"model:{ref.removeprefix('model:')}", facts, required=True
            ),
        ],
        commit=commit,
    )


def row_at(s: Session, seq: int) -> ApprovalRow:
    """The approval recorded at event ``seq`` (NotFoundError if there is none)."""
    rows: list[ApprovalRow] = s.catalog.rows(
        ApprovalRow, "SELECT * FROM approvals WHERE seq = ?", [seq]
    )
    if not rows:
        raise NotFoundError(f"no approval recorded at #{seq}")
    return rows[0]


def list_approvals(ws: Workspace, actor: str = "", *, ref: str | None = None) -> list[ApprovalRow]:
    """Recorded approvals and rejections, oldest first: all, or one version's (or name's)."""
    with ws.session(actor) as s:
        if ref is None:
            return s.catalog.rows(ApprovalRow, "SELECT * FROM approvals ORDER BY seq")
        ref = ref.removeprefix("model:")
        if "@" in ref:
            model_row(s, ref)
            sql, params = "SELECT * FROM approvals WHERE model = ? ORDER BY seq", [ref]
        else:
            if not s.catalog.models(ref):
                raise NotFoundError(f"no model named {ref!r}")
            sql = "SELECT * FROM approvals WHERE starts_with(model, ?) ORDER BY seq"
            params = [ref + "@"]
        return s.catalog.rows(ApprovalRow, sql, params)


@dataclass(frozen=True)
class Standing:
    """Whether one recorded approval counts toward its stage *now*, and if not, why.

    A recorded "approve" is not a standing one: newer evidence voids it (under
    ``evidence_change = "void"``), it expires, it may be bound to another build, its approver
    may be a developer or a service, or its signed statement may not check out. Anything
    that shows an approval (``approvals list``, the model card) shows this next to it, so no
    view is kinder than the k-of-n rule the promotion gate applies.
    """

    counted: bool
    why_not: str | None

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {"counted": self.counted, "why_not": self.why_not}


NO_POLICY = "no policy is installed: no approval counts toward a stage"


def standing_in(s: Session, rows: Sequence[ApprovalRow]) -> dict[int, Standing]:
    """:func:`separation.member`'s verdict on each of ``rows``, per version and stage.

    The answer is :func:`storage.bundle_verifier.approval_check`'s (via ``member``), the very
    rule the promotion gate reads, never a second opinion computed here.
    """
    if not rows:
        return {}
    if policy.in_force(s) is None:
        return {r.seq: Standing(False, NO_POLICY) for r in rows}
    _, rules = rules_in_force(s, action="counting approvals")
    out: dict[int, Standing] = {}
    facts: dict[str, dict[str, Any]] = {}
    for ref, stage in sorted({(r.model, r.stage) for r in rows}):
        if ref not in facts:
            facts[ref] = model_facts(s, ref, untiered=rules.untiered)
        for item in separation.member(s, facts[ref], stage, rules)["list"]:
            out[int(item["seq"])] = Standing(bool(item["counted"]), item["why_not"])
    return out


def standing(ws: Workspace, rows: Sequence[ApprovalRow], actor: str = "") -> dict[int, Standing]:
    """Whether each of ``rows`` counts toward its stage now, and why not (by event number)."""
    with ws.session(actor) as s:
        return standing_in(s, rows)


@dataclass(frozen=True)
class Pending:
    """A model version waiting for an approval this actor may give."""

    ref: str
    stage: str
    tier: int
    missing_roles: list[str]
    evidence: dict[str, str | None]
    developers: list[str]
    roles: list[str] = field(default_factory=list)
    """The missing roles this actor could cover."""
    again: str | None = None
    """Why the actor is asked again: their earlier decision no longer counts (None: new)."""

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "ref": self.ref,
            "stage": self.stage,
            "tier": self.tier,
            "missing_roles": self.missing_roles,
            "evidence": self.evidence,
            "developers": self.developers,
            "roles": self.roles,
            "again": self.again,
        }


def _decided(listing: Sequence[dict[str, Any]], actor: str) -> tuple[bool, str | None]:
    """Whether ``actor``'s decisions on a version still stand, and if not, why not.

    A decision stands if one of the actor's approvals counts, or their newest decision is a
    rejection the rule still holds against the version (bound to this build, not voided by
    newer evidence: ``approval_check`` says "is a rejection" of exactly those). Anything else
    they recorded no longer counts (void, expired, another build, a bad signature), so they
    are asked again, with the reason.
    """
    mine = [x for x in listing if x["approver"] == actor]
    if not mine:
        return False, None
    if any(x["counted"] for x in mine):
        return True, None
    newest = max(mine, key=lambda x: int(x["seq"]))
    why = str(newest["why_not"] or "")
    if newest["decision"] == "reject" and why.endswith("is a rejection"):
        return True, None
    return False, why or None


def pending(ws: Workspace, actor: str) -> list[Pending]:
    """Versions waiting for an approval ``actor`` may give (for stage ``approved``).

    One holds a role the version still misses (any approval role, if the tier names none but
    more people are needed), did not develop it, and has no decision on it that still stands.
    Whether a decision stands is :func:`approval_check`'s answer (``counted``, ``why_not``),
    the rule promotion applies: an approval voided by newer evidence, expired, or bound to an
    older build no longer counts, so its approver is asked again (``again`` says why).
    Retired and approved versions wait for nothing. Without a policy nothing is governed, so
    nothing is pending.
    """
    with ws.session(actor) as s:
        bundle = policy.in_force(s)
        if bundle is None:
            return []
        _, rules = rules_in_force(s, action="approving")
        mine = [r for r in _roles_now(s) if r in APPROVER_ROLES]
        if not mine:
            return []
        out = []
        for model in s.catalog.models():
            if stage_of(s, model.ref) in ("approved", "retired"):
                continue
            m = model_facts(s, model.ref, untiered=rules.untiered)
            if actor in m["developers"]:
                continue
            member = separation.member(s, m, "approved", rules)
            decided, again = _decided(member["list"], actor)
            if decided:
                continue
            check = member["check"]
            if check["ok"]:
                continue
            if check["missing_roles"]:
                could = [r for r in mine if r in check["missing_roles"]]
            else:
                could = mine if check["missing"] else []
            if not could:
                continue
            out.append(
                Pending(
                    model.ref,
                    "approved",
                    int(m["tier"]),
                    list(check["missing_roles"]),
                    dict(m["verdicts"]),
                    list(m["developers"]),
                    could,
                    again,
                )
            )
        return out


def conditions_of(row: ApprovalRow) -> list[str]:
    """An approval's recorded conditions."""
    return [str(c) for c in json.loads(row.conditions)]


def verify_approval(ws: Workspace, seq: int, actor: str = "") -> str | None:
    """Why the approval recorded at ``seq`` does not stand (None: its statement checks out)."""
    from core.identity.signer import authority_of

    with ws.session(actor) as s:
        row = row_at(s, seq)
        _, bad = separation.signed(s, authority_of(s), [row])
    return bad.get(seq)
