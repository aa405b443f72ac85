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
import re
from collections.abc import Mapping, Sequence
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
    out: dict[int, Standing] = {}
    for member, _ in _members(s, {(r.model, r.stage) for r in rows}).values():
        for item in member["list"]:
            out[int(item["seq"])] = Standing(bool(item["counted"]), item["why_not"])
    return out


def _members(
    s: Session, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]]:
    """``separation.member`` (and the version's facts) for each (version, stage) wanted.

    Needs a policy in force (the rule lives in it); the facts are read once per version.
    """
    _, rules = rules_in_force(s, action="counting approvals")
    facts: dict[str, dict[str, Any]] = {}
    out: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    for ref, stage in sorted(wanted):
        if ref not in facts:
            facts[ref] = model_facts(s, ref, untiered=rules.untiered)
        out[(ref, stage)] = (separation.member(s, facts[ref], stage, rules), facts[ref])
    return out


def standing(ws: Workspace, rows: Sequence[ApprovalRow], actor: str = "") -> dict[int, Standing]:
    """Whether each of ``rows`` counts toward its stage now, and why not (by event number)."""
    with ws.session(actor) as s:
        return standing_in(s, rows)


# approval_check names the approval it is about ("#12 by val (validator) ..."); a view that
# already shows who, role and event keeps only the reason, in words.
_LABEL = re.compile(r"^#\d+(?: by .+? \([^)]*\))?:?\s*")
_VOID = re.compile(r"predates evidence #(\d+) about the version: void")
_REWORDED = {
    "is a rejection": "it is a rejection",
    "is bound to another build of the model (digest)": "it was given for another build of "
    "the model",
}


def in_words(why_not: str | None, evidence_kinds: Mapping[int, str] | None = None) -> str:
    """Why an approval does not count, as a reader of the approval's own line says it.

    Args:
        why_not: :func:`storage.bundle_verifier.approval_check`'s reason (None: it counts).
        evidence_kinds: The kind of each evidence event of the version (validation,
            evaluation, reproduction), so a void names what voided it.

    Returns:
        "voided by the validation at event #34", "expired 3 days ago", … ("" if it counts).
    """
    if not why_not:
        return ""
    text = _LABEL.sub("", why_not, count=1)
    void = _VOID.fullmatch(text)
    if void:
        seq = int(void.group(1))
        kind = (evidence_kinds or {}).get(seq, "newer evidence")
        return f"voided by the {kind} at event #{seq}"
    return _REWORDED.get(text, text)


@dataclass(frozen=True)
class ApprovalNow:
    """One recorded approval or rejection and whether it counts toward its stage now.

    ``counted`` and ``rule`` are :func:`standing_in`'s answer (the promotion gate's rule);
    ``why_not`` is the same reason in words. Every view of an approval (the model card,
    ``registry``, ``inventory``, the bundle cover, the TUI) shows :attr:`text` or
    :attr:`counts_text`, so none says an approval stands that the gate would not count.
    """

    seq: int
    model: str
    approver: str
    role: str
    stage: str
    decision: str
    ts: str
    counted: bool
    rule: str | None
    why_not: str

    @property
    def counts_text(self) -> str:
        """The "counts now" cell: ``yes``, or ``NO: why`` (never blank, never kinder)."""
        return "yes" if self.counted else f"NO: {self.why_not or 'does not count'}"

    @property
    def standing_text(self) -> str:
        """``counts``, ``no longer counts: voided by …`` or ``does not count: …``."""
        if self.counted:
            return "counts"
        lapsed = self.why_not.startswith(("voided", "expired"))
        return f"{'no longer counts' if lapsed else 'does not count'}: {self.why_not}"

    @property
    def short(self) -> str:
        """``val (validator) — no longer counts: voided by …``: a list of approvers' item."""
        return f"{self.approver} ({self.role}) — {self.standing_text}"

    @property
    def text(self) -> str:
        """``approved by val (validator) — no longer counts: voided by …`` (or ``— counts``)."""
        verb = "rejected" if self.decision == "reject" else "approved"
        return f"{verb} by {self.short}"

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "seq": self.seq,
            "approver": self.approver,
            "role": self.role,
            "stage": self.stage,
            "decision": self.decision,
            "ts": self.ts,
            "counts": self.counted,
            "why_not": self.why_not or None,
            "rule": self.rule,
            "text": self.text,
            "short": self.short,
        }


@dataclass(frozen=True)
class SignOff:
    """A version's stage now and every approval of it, each saying whether it counts now.

    ``holds`` is the approval check for ``approved`` (what promotion, deployment to
    production and scoring there ask) for a version that *is* approved: False when its
    approvals no longer meet the rule, so its stage is never shown as plainly approved
    while nothing would let it be approved now. None for a version in another stage (or
    without a policy), which no approval check keeps in its stage.
    """

    ref: str
    stage: str
    approvals: list[ApprovalNow]
    holds: bool | None
    problems: list[str]

    @property
    def stage_line(self) -> str:
        """The stage, with a word when its approvals no longer stand (short: a table cell)."""
        if self.holds is not False:
            return self.stage
        return f"{self.stage} — but its approvals no longer count"

    @property
    def stage_detail(self) -> str:
        """:attr:`stage_line` with why, for a page that has room (the model card)."""
        if self.holds is not False:
            return self.stage
        why = "; ".join(self.problems) or "they no longer meet the policy"
        return f"{self.stage_line} ({why}): it would not be promoted to {self.stage} now"

    def by_seq(self) -> dict[int, ApprovalNow]:
        """The approvals by event number."""
        return {a.seq: a for a in self.approvals}

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "ref": self.ref,
            "stage": self.stage,
            "stage_line": self.stage_line,
            "stage_detail": self.stage_detail,
            "holds": self.holds,
            "problems": self.problems,
            "approvals": [a.to_json() for a in self.approvals],
        }


def sign_off_in(s: Session, refs: Sequence[str]) -> dict[str, SignOff]:
    """The :class:`SignOff` of each version in ``refs``: one answer for every view.

    Whether an approval counts is :func:`standing_in`'s answer (``approval_check`` through
    ``separation.member``); the facts and the member are read only for versions with an
    approval or in stage ``approved``, so a large registry of candidates costs two queries.
    """
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    rows: list[ApprovalRow] = s.catalog.rows(
        ApprovalRow, f"SELECT * FROM approvals WHERE model IN ({marks}) ORDER BY seq", wanted
    )
    stages = dict.fromkeys(wanted, "candidate")
    for move in s.catalog.rows(
        dict,
        f"SELECT model, to_stage FROM lifecycle WHERE model IN ({marks}) "
        "QUALIFY row_number() OVER (PARTITION BY model ORDER BY seq DESC) = 1",
        wanted,
    ):
        stages[str(move["model"])] = str(move["to_stage"])
    pairs = {(r.model, r.stage) for r in rows} | {
        (ref, "approved") for ref, stage in stages.items() if stage == "approved"
    }
    governed = policy.in_force(s) is not None
    members = _members(s, pairs) if governed and pairs else {}
    standing: dict[int, tuple[bool, str | None, Mapping[int, str]]] = {}
    for member, facts in members.values():
        evidence_kinds = {int(e["seq"]): str(e["kind"]) for e in facts["evidence"]}
        for item in member["list"]:
            standing[int(item["seq"])] = (bool(item["counted"]), item["why_not"], evidence_kinds)
    by_ref: dict[str, list[ApprovalNow]] = {ref: [] for ref in wanted}
    for r in rows:
        counted, rule, kinds = standing.get(
            r.seq,
            (False, NO_POLICY if not governed else "not among the version's approvals now", {}),
        )
        by_ref[r.model].append(
            ApprovalNow(
                r.seq,
                r.model,
                r.approver,
                r.role,
                r.stage,
                r.decision,
                r.created_at,
                counted,
                rule,
                in_words(rule, kinds),
            )
        )
    out = {}
    for ref in wanted:
        holds: bool | None = None
        problems: list[str] = []
        if (ref, "approved") in members:
            member, facts = members[(ref, "approved")]
            check = member["check"]
            holds = bool(check["ok"])
            rules_words = set(check["why_not"].values())
            mine = [a for a in by_ref[ref] if a.stage == "approved"]
            problems = [
                f"{a.approver} ({a.role}): {a.why_not}"
                for a in mine
                if not a.counted and a.decision == "approve"
            ] + [str(p) for p in check["problems"] if p not in rules_words]
        out[ref] = SignOff(ref, stages[ref], by_ref[ref], holds, problems if holds is False else [])
    return out


def sign_off(ws: Workspace, ref: str, actor: str = "") -> SignOff:
    """The :class:`SignOff` of one version (``name@N``)."""
    with ws.session(actor) as s:
        model = model_row(s, ref)
        return sign_off_in(s, [model.ref])[model.ref]


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
