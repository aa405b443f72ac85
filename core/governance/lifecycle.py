"""The approval lifecycle of a model version, its history, and the registry at any moment.

Stages: ``candidate`` (born so at registration) → ``validated`` → ``approved``, and any
stage → ``retired`` (final). Being in production is not a stage: it follows from
deployments (the operations issue), so there is one truth for it.

Every move is one ``model.promote`` event, gated by the policy ("promote"), whose input holds
the version's facts, the request (``from_stage``, ``to_stage``, ``break_glass``) and the
approvals of the target stage as :func:`storage.bundle_verifier.approval_check` counts them.
Whatever the policy says, a move to ``approved`` also needs that check to pass, or a
break-glass by someone in the policy's ``break_glass_roles``: a policy that forgot the rule
cannot let an unapproved model through (attack: install a lax policy, then promote). The
event lists the approvals it counted, so ``audit verify`` can count them again under the
policy in force at that position; a break-glass promotion counts none and records
``break_glass`` (the model-risk part demands its review).

:func:`history` and :func:`registry_at` read only catalog rows with their event numbers (the
ledger's order), so "what was approved on 1 March, by whom, under which policy" is a query
over recorded facts, not a reconstruction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from core.governance import policy, separation
from core.governance.approvals import APPROVAL_STAGES, ApprovalNow, sign_off_in
from core.governance.events import MOVES, PROMOTE_ROLES, STAGES, ModelPromoted
from core.governance.facts import model_facts, model_row, risk_of, stage_of
from core.governance.risk import rules_in_force
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import CheckFailedError, NotFoundError, PermissionDeniedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import ApprovalRow, LifecycleRow, ModelRow, PolicyRow
from core.kernel.workspace import Session, Workspace


def check_move(ref: str, current: str, to: str) -> None:
    """Refuse a move the lifecycle does not allow, naming the ones it does."""
    if to not in STAGES:
        raise UsageError(f"unknown stage {to!r}", hint=f"Stages: {', '.join(STAGES)}.")
    allowed = MOVES[current]
    if to not in allowed:
        raise UsageError(
            f"{ref} is {current}: it cannot move to {to}",
            hint=f"From {current} it can move to {', '.join(allowed) or 'nothing (final)'}.",
        )


def promote(
    ws: Workspace, actor: str, ref: str, *, to: str, reason: str, break_glass: bool = False
) -> LifecycleRow:
    """Move a model version to stage ``to`` (see the module docstring).

    Raises:
        UsageError: without a reason, for an unknown stage or a move the lifecycle forbids.
        NotFoundError: for an unknown version.
        CheckFailedError: with no policy in force, or approvals that do not pass.
        PermissionDeniedError: for a break-glass by someone outside ``break_glass_roles``.
        PolicyDeniedError: if the policy refuses (the refusal is recorded).
    """
    if not reason.strip():
        raise UsageError("a promotion needs a --reason", hint="Say why, for the record.")
    if to not in STAGES:
        raise UsageError(f"unknown stage {to!r}", hint=f"Stages: {', '.join(STAGES)}.")
    seen: dict[str, Any] = {}

    def precheck(s: Session) -> None:
        model = model_row(s, ref)
        check_move(model.ref, stage_of(s, model.ref), to)
        rules_in_force(s, action="promoting")

    def facts(s: Session) -> dict[str, Any]:
        _, rules = rules_in_force(s, action="promoting")
        m = model_facts(s, ref, untiered=rules.untiered)
        seen["facts"], seen["rules"] = m, rules
        doc: dict[str, Any] = {
            "model": m,
            "request": {"from_stage": m["stage"], "to_stage": to, "break_glass": break_glass},
        }
        if to in APPROVAL_STAGES:
            doc["approvals"] = seen["approvals"] = separation.member(s, m, to, rules)
        return doc

    def commit(s: Session, _: None) -> LifecycleRow:
        from core.identity.signer import authority_of

        m, rules = seen["facts"], seen["rules"]
        check = seen.get("approvals", {}).get("check", {})
        if break_glass:
            state = authority_of(s).current(s.actor)
            held = set(state.roles) if state else set()
            if not held & set(rules.break_glass_roles):
                raise PermissionDeniedError(
                    f"{s.actor} may not break glass: the policy allows it to "
                    f"{', '.join(rules.break_glass_roles) or 'nobody'}"
                )
        elif to == "approved" and not check.get("ok"):
            raise CheckFailedError(
                f"{m['ref']} lacks the approvals tier {m['tier']} needs: "
                + "; ".join(check.get("problems", [])),
                hint="`ledgerml approvals list --model "
                f"{m['ref']}` shows what was given and why some do not count.",
            )
        counted = [] if break_glass else list(check.get("counted", []))
        payload = ModelPromoted(
            m["ref"], m["digest"], m["stage"], to, counted, True if break_glass else None
        )
        entry = s.commit(new_event(s.actor, payload, [f"model:{m['ref']}"], reason))
        rows: list[LifecycleRow] = s.catalog.rows(
            LifecycleRow, "SELECT * FROM lifecycle WHERE seq = ?", [entry.seq]
        )
        return rows[0]

    return command.run(
        ws,
        actor,
        guards=[
            needs(*PROMOTE_ROLES, action="promote models"),
            precheck,
            policy.gate(
                "promote", lambda _: f"model:{ref.removeprefix('model:')}", facts, required=True
            ),
        ],
        commit=commit,
    )


# ---- time -------------------------------------------------------------------------------


def _event_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def resolve_at(s: Session, when: str) -> int:
    """The last event number at ``when``: an event number, or an ISO time (UTC if naive).

    A date alone means the end of that day, so "on 1 March" includes 1 March.

    Raises:
        UsageError: for anything else.
    """
    text = when.strip().removeprefix("#")
    if text.isdigit():
        return int(text)
    try:
        if len(text) == 10:
            moment = datetime.combine(datetime.fromisoformat(text).date(), time.max)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise UsageError(
            f"cannot read {when!r} as an event number or a time",
            hint="e.g. 42, 2026-03-01 or 2026-03-01T12:00:00Z.",
        ) from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    row = s.catalog.con.execute(
        "SELECT max(seq) FROM events WHERE ts <= ?", [_event_time(moment)]
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


# ---- history ----------------------------------------------------------------------------

_WHAT = {
    "model.risk": "risk",
    "model.promote": "promote",
    "policy.deny": "deny",
    "model.register": "register",
    "model.sign": "sign",
    "model.evaluate": "evaluate",
}


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to a model (any of its versions)."""

    seq: int
    ts: str
    actor: str
    ref: str
    what: str
    detail: str
    reason: str
    policy: str | None

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "ref": self.ref,
            "what": self.what,
            "detail": self.detail,
            "reason": self.reason,
            "policy": self.policy,
        }


def _detail(action: str, data: dict[str, Any], decision: dict[str, Any] | None) -> str:
    if action == "model.risk":
        return f"tier {data.get('tier')} (impact {data.get('impact')} x {data.get('likelihood')})"
    if action == "model.approve":
        conds = data.get("conditions") or []
        return (
            f"{data.get('decision')} for {data.get('stage')} as {data.get('role')}"
            + (" (imported)" if data.get("imported") else "")
            + (f"; conditions: {'; '.join(conds)}" if conds else "")
        )
    if action == "model.promote":
        counted = data.get("approvals") or []
        return (
            f"{data.get('from_stage')} -> {data.get('to_stage')}"
            + (" BREAK-GLASS" if data.get("break_glass") else "")
            + (f" counting approvals {', '.join(f'#{c}' for c in counted)}" if counted else "")
        )
    if action == "policy.deny":
        return f"{data.get('gate')} refused: " + "; ".join((decision or {}).get("reasons", []))
    if action == "model.register":
        return f"registered from run:{data.get('run_id')}"
    if action == "model.sign":
        return f"signed with key {str(data.get('key_id', ''))[:16]}"
    if action == "model.evaluate":
        return f"evaluated: {data.get('verdict') or ('passed' if data.get('passed') else 'see')}"
    return action


def history(
    ws: Workspace, name: str, *, at: str | None = None, actor: str = ""
) -> list[HistoryEntry]:
    """Everything recorded about model ``name`` (every version), oldest first, up to ``at``.

    Risk assessments, approvals, rejections, promotions, policy refusals, registrations,
    signatures and evaluations, with who, when, why and the policy decision's bundle.

    Raises:
        NotFoundError: for a name with no version and no record.
    """
    name = name.removeprefix("model:").split("@", 1)[0]
    with ws.session(actor) as s:
        limit = resolve_at(s, at) if at is not None else None
        actions = [*_WHAT, "model.approve"]
        sql = (
            "SELECT seq, ts, actor, action, reason, body FROM events WHERE action IN "
            f"({', '.join('?' for _ in actions)}) AND len(list_filter(subjects, "
            "lambda x: x = ? OR starts_with(x, ?))) > 0"
            + (" AND seq <= ?" if limit is not None else "")
            + " ORDER BY seq"
        )
        params: list[Any] = [*actions, f"model:{name}", f"model:{name}@"]
        if limit is not None:
            params.append(limit)
        rows = s.catalog.con.execute(sql, params).fetchall()
        if not rows and not s.catalog.models(name):
            raise NotFoundError(f"no model named {name!r}", hint="`ledgerml model list`.")
    out = []
    for seq, ts, who, action, reason, body in rows:
        doc = json.loads(body)
        data = doc.get("data", {})
        decision = doc.get("policy")
        what = _WHAT.get(action, "")
        if action == "model.approve":
            what = "reject" if data.get("decision") == "reject" else "approve"
        ref = str(data.get("model") or data.get("ref") or "")
        if not ref:
            subjects = [x for x in doc.get("subjects", []) if str(x).startswith("model:")]
            ref = str(subjects[0]).removeprefix("model:") if subjects else name
        out.append(
            HistoryEntry(
                int(seq),
                str(ts),
                str(who),
                ref,
                what,
                _detail(str(action), data, decision),
                str(reason),
                str(decision["bundle"]) if isinstance(decision, dict) else None,
            )
        )
    return out


# ---- the registry at a moment -----------------------------------------------------------


@dataclass(frozen=True)
class RegistryLine:
    """One model version as it stood at a moment."""

    ref: str
    stage: str
    since: int
    tier: int | None
    approvers: list[tuple[str, str, str]] = field(default_factory=list)
    """(name, role, when) of the approvals its promotion to its stage counted."""
    break_glass: bool = False
    policy: str | None = None
    policy_name: str | None = None
    policy_version: str | None = None
    counts_now: list[ApprovalNow] = field(default_factory=list)
    """One per entry of ``approvers``, in order: whether that approval counts *now* (a
    moment in the past shows who approved then; whether it still holds is today's rule)."""
    stage_now: str = ""
    """The version's stage line now (:attr:`~core.governance.approvals.SignOff.stage_line`):
    it says so when an approved version's approvals no longer count."""

    def approvals_text(self) -> list[str]:
        """Each approver as ``val (validator) — no longer counts: voided by …`` (or counts)."""
        return [
            f"{name} ({role}) — {now.standing_text}"
            for (name, role, _), now in zip(self.approvers, self.counts_now, strict=True)
        ]

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "ref": self.ref,
            "stage": self.stage,
            "since": self.since,
            "tier": self.tier,
            "approvers": [{"name": n, "role": r, "ts": t} for n, r, t in self.approvers],
            "counts_now": [a.to_json() for a in self.counts_now],
            "stage_now": self.stage_now,
            "break_glass": self.break_glass,
            "policy": self.policy,
            "policy_name": self.policy_name,
            "policy_version": self.policy_version,
        }


def registry_at(ws: Workspace, when: str, actor: str = "") -> list[RegistryLine]:
    """Every model version registered by ``when`` (a time or an event number) and its stage.

    With who approved it into that stage and under which policy the ledger had in force then
    (the signed ledger's ``policy.install`` events; the name and version from their rows),
    and whether each of those approvals counts now (:func:`sign_off_in`, the one answer every
    view gives).
    """
    from core.identity.signer import authority_of

    with ws.session(actor) as s:
        at = resolve_at(s, when)
        in_force = authority_of(s).policy_at(at + 1)
        policy_row = None
        if in_force is not None:
            found = s.catalog.rows(PolicyRow, "SELECT * FROM policies WHERE seq = ?", [in_force[0]])
            policy_row = found[0] if found else None
        models = s.catalog.rows(
            ModelRow, "SELECT * FROM models WHERE seq <= ? ORDER BY name, version", [at]
        )
        moves = s.catalog.rows(
            LifecycleRow, "SELECT * FROM lifecycle WHERE seq <= ? ORDER BY seq", [at]
        )
        approvals = {
            a.seq: a
            for a in s.catalog.rows(ApprovalRow, "SELECT * FROM approvals WHERE seq <= ?", [at])
        }
        last: dict[str, LifecycleRow] = {}
        for move in moves:
            last[move.model] = move
        now = sign_off_in(s, [m.ref for m in models])
        out = []
        for model in models:
            move = last.get(model.ref)
            risk = risk_of(s, model.name, at=at)
            counted = [c for c in (json.loads(move.approvals) if move else []) if c in approvals]
            today = now[model.ref].by_seq()
            out.append(
                RegistryLine(
                    model.ref,
                    move.to_stage if move else "candidate",
                    move.seq if move else model.seq,
                    risk.tier if risk else None,
                    [
                        (approvals[c].approver, approvals[c].role, approvals[c].created_at)
                        for c in counted
                    ],
                    bool(move.break_glass) if move else False,
                    in_force[1] if in_force else None,
                    policy_row.name if policy_row else None,
                    policy_row.version if policy_row else None,
                    [today[c] for c in counted],
                    now[model.ref].stage_line,
                )
            )
        return out
