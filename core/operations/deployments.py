"""Deployments: which model version answers in which environment, and since when.

An environment (``staging``, ``production``, any name) has at most one deployment per arm:
``live`` answers requests, ``canary`` answers a share of them (split by request id),
``shadow`` is scored beside the live one and logged, never returned. A direct deployment
replaces the live one (and ends a canary, whose experiment it settles); a canary or shadow
replaces the previous one of its arm. A rollback makes the previous approved live model live
again as a new deployment, so the history only grows.

Every deployment passes the policy's ``deploy`` gate (a policy must be installed). Whatever the
policy says, the model must verify (bytes and a trusted signature, as scoring will demand), and
``production`` needs an ``approved`` version: a lax policy cannot ship an unapproved model.
The approval conditions counted for ``approved`` travel with the deployment; those with a
machine-checkable ``where`` part are enforced by scoring row by row.

Each deployment gets its own decision key (:mod:`core.operations.decision_keys`): decisions
are logged with an HMAC of their input under it, and destroying it (erasure) makes those
digests unlinkable to anyone.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.governance import policy
from core.governance.facts import model_facts, model_row, stage_of
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import CheckFailedError, IntegrityError, NotFoundError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import ApprovalRow, DeploymentRow, LifecycleRow, ThrottleRow
from core.kernel.workspace import Session, Workspace
from core.operations import decision_keys
from core.operations.events import (
    BASELINE,
    BASELINE_MEDIA_TYPE,
    DEPLOY_ROLES,
    RETENTION,
    STRATEGIES,
    Condition,
    Deployed,
    RolledBack,
    Throttled,
    Withdrawn,
)

PRODUCTION = "production"
"""The environment that needs an approved version whatever the policy says."""
SCORING_STAGES = ("validated", "approved")
"""The stages a model may score at outside production (production: approved only)."""
_ENV = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_WHERE = re.compile(r"^(?P<text>.*?)\s*\[where\s+(?P<where>.+)\]\s*$", re.IGNORECASE | re.DOTALL)


def check_env(env: str) -> str:
    """An environment name: lowercase letters, digits and ``-``, starting with a letter."""
    if not _ENV.match(env):
        raise UsageError(
            f"invalid environment name {env!r}",
            hint="Use lowercase letters, digits and '-', e.g. staging or production.",
        )
    return env


def parse_condition(text: str) -> tuple[str, str | None]:
    """Split an approval condition into its words and its enforceable part.

    ``"not for applicants under 21 [where age_years >= 21]"`` → the text and ``age_years >=
    21``: rows for which the expression is not true are refused at scoring.
    """
    m = _WHERE.match(text)
    if not m:
        return text.strip(), None
    return m.group("text").strip() or text.strip(), m.group("where").strip()


@dataclass(frozen=True)
class Deployment:
    """One deployment as the catalog has it, with its conditions decoded."""

    row: DeploymentRow
    conditions: list[Condition]

    @property
    def deployment_id(self) -> str:
        """Its id (``dep-…``), named by decisions and rollbacks."""
        return self.row.deployment_id

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        r = self.row
        return {
            "deployment_id": r.deployment_id,
            "seq": r.seq,
            "env": r.env,
            "arm": r.arm,
            "model": r.model,
            "model_digest": r.model_digest,
            "strategy": r.strategy,
            "share": r.share,
            "retention": r.retention,
            "replaces": r.replaces,
            "rollback_of": r.rollback_of,
            "incident": r.incident,
            "ended_seq": r.ended_seq,
            "created_at": r.created_at,
            "created_by": r.created_by,
            "reason": r.reason,
            "conditions": [c.to_data() for c in self.conditions],
        }


def _wrap(row: DeploymentRow) -> Deployment:
    return Deployment(row, [Condition.from_data(c) for c in json.loads(row.conditions)])


def live(s: Session, env: str, *, at: int | None = None) -> list[Deployment]:
    """The deployments serving ``env`` now, or just after event ``at`` (live first)."""
    params: list[Any] = [env]
    if at is None:
        cond = "ended_seq IS NULL"
    else:
        cond = "seq <= ? AND (ended_seq IS NULL OR ended_seq > ?)"
        params += [at, at]
    rows = s.catalog.rows(
        DeploymentRow,
        f"SELECT * FROM deployments WHERE env = ? AND {cond} "
        "ORDER BY CASE arm WHEN 'live' THEN 0 WHEN 'canary' THEN 1 ELSE 2 END, seq",
        params,
    )
    return [_wrap(r) for r in rows]


def everywhere(s: Session, *, at: int | None = None, env: str | None = None) -> list[Deployment]:
    """What was live where (every environment, or one) now or just after event ``at``."""
    envs = (
        [env]
        if env
        else [
            r[0]
            for r in s.catalog.con.execute(
                "SELECT DISTINCT env FROM deployments ORDER BY env"
            ).fetchall()
        ]
    )
    return [d for e in envs for d in live(s, e, at=at)]


def history(s: Session, env: str | None = None) -> list[Deployment]:
    """Every deployment ever recorded (optionally in one environment), oldest first."""
    sql = "SELECT * FROM deployments" + (" WHERE env = ?" if env else "") + " ORDER BY seq"
    return [_wrap(r) for r in s.catalog.rows(DeploymentRow, sql, [env] if env else [])]


def by_id(s: Session, deployment_id: str) -> Deployment:
    """One deployment by id.

    Raises:
        NotFoundError: for an unknown id.
    """
    rows = s.catalog.rows(
        DeploymentRow, "SELECT * FROM deployments WHERE deployment_id = ?", [deployment_id]
    )
    if not rows:
        raise NotFoundError(
            f"no deployment {deployment_id!r}", hint="`ledgerml deployments` lists them."
        )
    return _wrap(rows[0])


def conditions_for(s: Session, ref: str) -> list[Condition]:
    """The conditions of the approvals the last promotion to ``approved`` counted."""
    rows = s.catalog.rows(
        LifecycleRow,
        "SELECT * FROM lifecycle WHERE model = ? AND to_stage = 'approved' ORDER BY seq DESC "
        "LIMIT 1",
        [ref],
    )
    if not rows:
        return []
    counted = [int(x) for x in json.loads(rows[0].approvals)]
    if not counted:
        return []
    approvals = s.catalog.rows(
        ApprovalRow,
        f"SELECT * FROM approvals WHERE seq IN ({', '.join('?' for _ in counted)}) ORDER BY seq",
        counted,
    )
    out: list[Condition] = []
    for a in approvals:
        for text in json.loads(a.conditions):
            words, where = parse_condition(text)
            out.append(Condition(words, a.approver, a.seq, where))
    return out


_AUDIT = "Run `ledgerml audit verify` to see what was edited; `ledgerml rebuild` re-projects it."


def signed(ws: Workspace, dep: Deployment) -> Deployment:
    """``dep`` as its signed ledger event (at ``dep.row.seq``) has it, not as the catalog says.

    Everything that decides which bytes answer and how (model, digest, environment, arm,
    strategy, share, retention, conditions) is taken from the event, so a hand-edited
    catalog row cannot put other bytes live or drop an approver's condition.

    Raises:
        IntegrityError: the event at that position is no deployment of this id, or the
            catalog row disagrees with it (the catalog was edited: ``audit verify`` says how).
    """
    row = dep.row
    body = ws.ledger.entry(row.seq).decode()
    action, data = body.get("action"), body.get("data")
    if (
        action not in ("model.deploy", "model.rollback")
        or not isinstance(data, dict)
        or data.get("deployment_id") != row.deployment_id
    ):
        raise IntegrityError(
            f"the catalog says deployment {row.deployment_id} was made by event #{row.seq}, "
            f"but that event is a {action}: the catalog was edited",
            hint=_AUDIT,
        )
    back = action == "model.rollback"
    fields = {
        "env": data.get("env"),
        "arm": "live" if back else data.get("arm"),
        "model": data.get("model"),
        "model_digest": data.get("model_digest"),
        "strategy": "rollback" if back else data.get("strategy"),
        "share": None if back else data.get("share"),
        "retention": data.get("retention"),
    }
    conditions = [Condition.from_data(c) for c in data.get("conditions") or []]
    differ = [k for k, v in fields.items() if not _same(getattr(row, k), v)]
    if [c.to_data() for c in dep.conditions] != [c.to_data() for c in conditions]:
        differ.append("conditions")
    if differ:
        raise IntegrityError(
            f"the catalog's deployment {row.deployment_id} disagrees with its signed event "
            f"#{row.seq} on {', '.join(differ)}: refusing to let the catalog decide what answers",
            hint=_AUDIT,
        )
    encoded = json.dumps([c.to_data() for c in conditions], sort_keys=True)
    return Deployment(
        DeploymentRow(**(row.as_dict() | fields | {"conditions": encoded})), conditions
    )


def _same(have: Any, want: Any) -> bool:
    """Equal, a share up to the catalog's float precision (DuckDB keeps a REAL)."""
    if isinstance(have, float) and isinstance(want, (int, float)):
        return abs(have - float(want)) < 1e-6
    return bool(have == want)


def signed_stage(s: Session, ref: str) -> str:
    """``ref``'s stage, once the promotion the catalog points to is checked in the ledger.

    The catalog's newest ``lifecycle`` row of ``ref`` must be a signed ``model.promote`` of
    that very version (and digest) to that stage; otherwise the catalog was edited.

    Raises:
        IntegrityError: the lifecycle row names an event that is no such promotion.
    """
    rows = s.catalog.rows(
        LifecycleRow, "SELECT * FROM lifecycle WHERE model = ? ORDER BY seq DESC LIMIT 1", [ref]
    )
    if not rows:
        return "candidate"
    row = rows[0]
    body = s.workspace.ledger.entry(row.seq).decode()
    data = body.get("data")
    if (
        body.get("action") != "model.promote"
        or not isinstance(data, dict)
        or data.get("model") != ref
        or data.get("to_stage") != row.to_stage
        or data.get("model_digest") != row.model_digest
    ):
        raise IntegrityError(
            f"the catalog has {ref} {row.to_stage} by event #{row.seq}, but that event is no "
            f"signed promotion of {ref} to {row.to_stage}: the catalog was edited",
            hint=_AUDIT,
        )
    return str(row.to_stage)


def _person_or_playbook(
    env: str, incident: int | None, wanted: dict[str, Any]
) -> Callable[[Session], None]:
    """A guard: a person acts, or a service takes an automatic step of an open incident.

    A service identity (the scoring or monitoring host) changes what serves only as an
    ``auto = true`` step of the playbook of an open incident of ``env``, for the objective
    whose breach opened it, with that step's very parameters (``wanted``):
    :func:`core.operations.incidents.check_automatic` decides, from the incident and its
    playbook, not from the caller's word. Anything else needs a person.
    """

    def guard(s: Session) -> None:
        from core.identity.signer import authority_of
        from core.operations import incidents

        state = authority_of(s).current(s.actor)
        if state is not None and state.kind != "person":
            incidents.check_automatic(s, incident, env, wanted, who=f"{s.actor} ({state.kind})")

    return guard


def _model_and_approvals(s: Session, ref: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gate input's ``model`` and ``approvals`` members for deploying ``ref``.

    ``approvals`` is the approval check for ``approved`` as it stands now (the same member
    promote sees), so a policy can refuse production to a version whose approvals have
    expired or been voided by newer evidence since it was promoted.
    """
    from core.governance import separation
    from core.governance.risk import rules_in_force

    _, rules = rules_in_force(s, action="deploying")
    m = model_facts(s, ref, untiered=rules.untiered)
    return m, separation.member(s, m, "approved", rules)


def refusal(s: Session, dep: Deployment) -> CheckFailedError | None:
    """Why scoring would refuse ``dep``'s model now, or None when it would answer.

    The rule :meth:`core.operations.scoring.Scorer.refresh` applies to every arm before it
    answers (a baseline file has no stage or approvals): the version's signed stage, and in
    production approvals that hold now. Views of what is deployed ask it too, so none shows
    a deployment as serving that scoring refuses.
    """
    if dep.row.strategy == BASELINE:
        return None
    ref, env = dep.row.model, dep.row.env
    stage = signed_stage(s, ref)
    allowed = ("approved",) if env == PRODUCTION else SCORING_STAGES
    if stage not in allowed:
        return CheckFailedError(
            f"{ref} is {stage}: {env} scores with {' or '.join(allowed)} versions only",
            hint=f"`ledgerml approvals list --model {ref}` shows what it lacks; roll back or "
            "withdraw the deployment.",
        )
    try:
        approvals_stand(s, ref, env)
    except CheckFailedError as err:
        return err
    return None


def approvals_stand(s: Session, ref: str, env: str) -> None:
    """Refuse ``ref`` in production unless its approvals for ``approved`` still stand.

    The stage is only the last lifecycle move; the approvals that move counted can stop
    counting later (an approver rejects the version, an approval expires, newer evidence
    voids it). "Only approved models score" means approvals that hold *now*, so deploying to
    production and scoring there (``Scorer.refresh``) both ask the same approval check the
    deploy gate and promote read, whatever the policy says. Other environments take
    versions still under review, so this asks nothing there.

    Raises:
        CheckFailedError: in production, when the approval check no longer passes.
    """
    if env != PRODUCTION:
        return
    check = _model_and_approvals(s, ref)[1]["check"]
    if not check.get("ok"):
        why = "; ".join(str(p) for p in check.get("problems") or []) or "they no longer count"
        raise CheckFailedError(
            f"{ref}'s approvals no longer stand ({why}): {PRODUCTION} takes only versions "
            "whose approvals hold now",
            hint=f"`ledgerml approvals list --model {ref}` shows which stopped counting; roll "
            "back to a version that still holds, or have it approved again.",
        )


def _trusted(ws: Workspace, ref: str, actor: str) -> None:
    from core.modelling.models import verify

    check = verify(ws, ref, actor)
    if not check.artifact_ok or not check.trusted:
        raise CheckFailedError(
            f"refusing to deploy {ref}: {check.why_untrusted}",
            hint=f"`ledgerml model verify {ref}` shows every check.",
        )


def _new_deployment(ws: Workspace) -> tuple[str, str]:
    """A fresh deployment id and its decision key (check value), made once per command."""
    deployment_id = "dep-" + secrets.token_hex(6)
    return deployment_id, decision_keys.create(ws, deployment_id)


def deploy(
    ws: Workspace,
    actor: str,
    ref: str,
    *,
    env: str,
    reason: str,
    strategy: str = "direct",
    share: float | None = None,
    retention: str = "hmac-only",
    incident: int | None = None,
) -> Deployment:
    """Put model version ``ref`` into ``env`` (see the module docstring).

    Raises:
        UsageError: without a reason, for a bad environment, strategy, share or retention.
        NotFoundError: for an unknown version.
        CheckFailedError: an untrusted model, an unapproved one for production, a canary or
            shadow with nothing live, or no policy installed.
        PolicyDeniedError: if the policy refuses (the refusal is recorded).
    """
    if not reason.strip():
        raise UsageError("a deployment needs a --reason", hint="Say why, for the record.")
    check_env(env)
    if strategy not in STRATEGIES:
        raise UsageError(
            f"unknown strategy {strategy!r}", hint=f"Strategies: {', '.join(STRATEGIES)}."
        )
    arm = STRATEGIES[strategy]
    if arm == "canary":
        if share is None or not 0 < share < 1:
            raise UsageError(
                "a canary needs --share between 0 and 1 (exclusive)",
                hint="e.g. --share 0.1 sends one request in ten to the canary.",
            )
    elif share is not None:
        raise UsageError("--share applies to a canary only", hint="Use --strategy canary.")
    if retention not in RETENTION:
        raise UsageError(
            f"unknown retention class {retention!r}", hint=f"Classes: {', '.join(RETENTION)}."
        )
    seen: dict[str, Any] = {}

    def precheck(s: Session) -> None:
        model = model_row(s, ref)
        seen["ref"] = model.ref
        stage = stage_of(s, model.ref)
        if stage == "retired":
            raise CheckFailedError(f"{model.ref} is retired: it cannot be deployed")
        if env == PRODUCTION and stage != "approved":
            raise CheckFailedError(
                f"{model.ref} is {stage}: {PRODUCTION} takes approved versions only",
                hint=f"`ledgerml approvals list --model {model.ref}` shows what it lacks.",
            )
        approvals_stand(s, model.ref, env)
        current = live(s, env)
        if arm != "live" and not any(d.row.arm == "live" for d in current):
            raise CheckFailedError(
                f"{env} has no live deployment: a {strategy} runs beside one",
                hint=f"Deploy one first: `ledgerml deploy NAME@N --env {env} --reason …`.",
            )

    def facts(s: Session) -> dict[str, Any]:
        m, approvals = _model_and_approvals(s, seen["ref"])
        conditions = conditions_for(s, seen["ref"])
        seen["conditions"] = conditions
        current = live(s, env)
        return {
            "model": m,
            "approvals": approvals,
            "request": {
                "env": env,
                "production": env == PRODUCTION,
                "strategy": strategy,
                "arm": arm,
                "share": share,
                "retention": retention,
                "incident": incident,
                "conditions": [c.to_data() for c in conditions],
                "live": [d.row.model for d in current if d.row.arm == "live"],
            },
        }

    def commit(s: Session, _: None) -> Deployment:
        the_ref = seen["ref"]
        _trusted(ws, the_ref, s.actor)
        model = model_row(s, the_ref)
        current = live(s, env)
        if arm == "live":
            ends = [d.deployment_id for d in current if d.row.arm in ("live", "canary")]
        else:
            ends = [d.deployment_id for d in current if d.row.arm == arm]
        deployment_id, check = s.once("deployment", lambda: _new_deployment(ws))
        payload = Deployed(
            deployment_id=deployment_id,
            env=env,
            arm=arm,
            strategy=strategy,
            model=model.ref,
            model_digest=model.model_digest,
            retention=retention,
            key_check=check,
            conditions=[c.to_data() for c in seen.get("conditions", [])],
            ends=ends,
            share=share,
            incident=incident,
        )
        s.commit(new_event(s.actor, payload, [f"model:{model.ref}", f"env:{env}"], reason))
        return by_id(s, deployment_id)

    return command.run(
        ws,
        actor,
        guards=[
            needs(*DEPLOY_ROLES, action="deploy models"),
            _person_or_playbook(
                env,
                incident,
                {
                    "action": "fallback",
                    "model": ref.removeprefix("model:"),
                    "strategy": strategy,
                    "share": share,
                    "retention": retention,
                },
            ),
            precheck,
            policy.gate(
                "deploy", lambda _: f"model:{ref.removeprefix('model:')}", facts, required=True
            ),
        ],
        commit=commit,
    )


def rollback_target(s: Session, env: str) -> tuple[Deployment, Deployment]:
    """The live deployment of ``env`` and the earlier live one a rollback restores.

    The target is the most recent earlier live deployment, other than the current one's
    model, whose version is still ``approved`` (a version retired since is skipped) and that
    was not itself rolled back (a second rollback never returns to the model the first one
    fled).

    Raises:
        CheckFailedError: if nothing is live or no earlier approved deployment exists.
    """
    current = [d for d in live(s, env) if d.row.arm == "live"]
    if not current:
        raise CheckFailedError(f"{env} has no live deployment to roll back")
    now = current[0]
    earlier = s.catalog.rows(
        DeploymentRow,
        "SELECT * FROM deployments WHERE env = ? AND arm = 'live' AND seq < ? ORDER BY seq DESC",
        [env, now.row.seq],
    )
    fled = {
        r.rollback_of
        for r in s.catalog.rows(
            DeploymentRow,
            "SELECT * FROM deployments WHERE env = ? AND rollback_of IS NOT NULL",
            [env],
        )
    }
    for row in earlier:
        if row.model_digest == now.row.model_digest or row.deployment_id in fled:
            continue
        if stage_of(s, row.model) == "approved":
            return now, _wrap(row)
    raise CheckFailedError(
        f"{env} has no earlier approved deployment to return to",
        hint="`ledgerml deployments --env " + env + " --history` shows what ran there.",
    )


def rollback(
    ws: Workspace, actor: str, *, env: str, reason: str, incident: int | None = None
) -> tuple[Deployment, Deployment]:
    """Return ``env`` to its previous approved deployment's model; (new, restored).

    The restored model must still verify; a canary is ended with the live one it tested.

    Raises:
        UsageError: without a reason or for a bad environment.
        CheckFailedError: nothing to roll back to, or the restored model no longer verifies.
        PolicyDeniedError: if the policy refuses (the ``deploy`` gate).
    """
    if not reason.strip():
        raise UsageError("a rollback needs a --reason", hint="Say why, for the record.")
    check_env(env)
    seen: dict[str, Any] = {}

    def facts(s: Session) -> dict[str, Any]:
        now, target = rollback_target(s, env)
        seen["now"], seen["target"] = now, target
        m, approvals = _model_and_approvals(s, target.row.model)
        return {
            "model": m,
            "approvals": approvals,
            "request": {
                "env": env,
                "production": env == PRODUCTION,
                "strategy": "rollback",
                "arm": "live",
                "share": None,
                "retention": target.row.retention,
                "incident": incident,
                "conditions": [c.to_data() for c in conditions_for(s, target.row.model)],
                "live": [now.row.model],
            },
        }

    def subject(s: Session) -> str:
        _, target = rollback_target(s, env)
        return f"model:{target.row.model}"

    def commit(s: Session, _: None) -> tuple[Deployment, Deployment]:
        now, target = rollback_target(s, env)
        _trusted(ws, target.row.model, s.actor)
        ends = [d.deployment_id for d in live(s, env) if d.row.arm in ("live", "canary")]
        deployment_id, check = s.once("deployment", lambda: _new_deployment(ws))
        payload = RolledBack(
            deployment_id=deployment_id,
            env=env,
            model=target.row.model,
            model_digest=target.row.model_digest,
            retention=target.row.retention,
            key_check=check,
            conditions=[c.to_data() for c in conditions_for(s, target.row.model)],
            rollback_of=now.deployment_id,
            restores=target.deployment_id,
            ends=ends,
            incident=incident,
        )
        s.commit(new_event(s.actor, payload, [f"model:{target.row.model}", f"env:{env}"], reason))
        return by_id(s, deployment_id), target

    return command.run(
        ws,
        actor,
        guards=[
            needs(*DEPLOY_ROLES, action="roll back deployments"),
            _person_or_playbook(env, incident, {"action": "rollback"}),
            policy.gate("deploy", subject, facts, required=True),
        ],
        commit=commit,
    )


def withdraw(
    ws: Workspace,
    actor: str,
    *,
    env: str,
    arms: Sequence[str],
    reason: str,
    incident: int | None = None,
) -> list[str]:
    """Take ``env``'s deployments of the given arms out of service; the ids ended.

    Needs no policy decision: stopping a model never puts one into service.

    Raises:
        UsageError: without a reason, for an unknown arm, or nothing deployed there.
    """
    if not reason.strip():
        raise UsageError("a withdrawal needs a --reason", hint="Say why, for the record.")
    check_env(env)

    def commit(s: Session, _: None) -> list[str]:
        ends = [d.deployment_id for d in live(s, env) if d.row.arm in arms]
        if not ends:
            raise UsageError(f"{env} has no {'/'.join(arms)} deployment to withdraw")
        s.commit(new_event(s.actor, Withdrawn(env, ends, incident), [f"env:{env}"], reason))
        return ends

    return command.run(
        ws,
        actor,
        guards=[
            needs(*DEPLOY_ROLES, action="withdraw deployments"),
            _person_or_playbook(env, incident, {"action": "withdraw", "arms": sorted(arms)}),
        ],
        commit=commit,
    )


# ---- brakes: throttling and a rule-based baseline ----------------------------------------


def throttle_of(s: Session, env: str, *, at: int | None = None) -> float | None:
    """The share of requests ``env`` answers now (or after event ``at``); None: all."""
    sql = "SELECT * FROM throttles WHERE env = ?" + (" AND seq <= ?" if at else "")
    rows = s.catalog.rows(
        ThrottleRow, sql + " ORDER BY seq DESC LIMIT 1", [env, *([at] if at else [])]
    )
    return rows[0].share if rows else None


def throttle(
    ws: Workspace,
    actor: str,
    *,
    env: str,
    share: float | None,
    reason: str,
    incident: int | None = None,
) -> ThrottleRow:
    """Limit ``env`` to answering ``share`` of requests (by request id); None lifts it.

    Throttling only withholds answers, so it needs no policy decision: the requests it turns
    away are logged as refused ("throttled"), for a human to decide.

    Raises:
        UsageError: without a reason, for a share outside [0, 1), or nothing deployed.
    """
    if not reason.strip():
        raise UsageError("throttling needs a --reason", hint="Say why, for the record.")
    check_env(env)
    if share is not None and not 0 <= share < 1:
        raise UsageError(
            "a throttle's share is between 0 (answer nothing) and 1 (exclusive)",
            hint="Lift a throttle with no share.",
        )

    def commit(s: Session, _: None) -> ThrottleRow:
        if not live(s, env):
            raise UsageError(f"{env} has no deployment to throttle")
        entry = s.commit(
            new_event(s.actor, Throttled(env, share, incident), [f"env:{env}"], reason)
        )
        rows: list[ThrottleRow] = s.catalog.rows(
            ThrottleRow, "SELECT * FROM throttles WHERE seq = ?", [entry.seq]
        )
        return rows[0]

    return command.run(
        ws,
        actor,
        guards=[
            needs(*DEPLOY_ROLES, action="throttle deployments"),
            _person_or_playbook(env, incident, {"action": "throttle", "share": share}),
        ],
        commit=commit,
    )


_BASELINE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def baseline_rule(name: str, score_sql: str, threshold: float = 0.5) -> dict[str, Any]:
    """A rule-based baseline: a SQL expression over input columns giving the score.

    Only an expression is allowed (columns, literals, arithmetic, comparisons, ``CASE``,
    scalar functions): no query, no table, nothing that reads beyond the row. Checked with
    sqlglot, the parser feature views already use.

    Raises:
        UsageError: for a bad name, an expression that does not parse, or one that queries.
    """
    import sqlglot
    from sqlglot import exp

    if not _BASELINE_NAME.match(name):
        raise UsageError(f"invalid baseline name {name!r}", hint="e.g. duration-rule")
    if not 0 < threshold < 1:
        raise UsageError("a baseline's threshold is between 0 and 1")
    try:
        tree = sqlglot.parse_one(score_sql, dialect="duckdb")
    except sqlglot.errors.ParseError as err:
        raise UsageError(f"the baseline's score does not parse: {err}") from err
    banned = (exp.Select, exp.Subquery, exp.Table, exp.Query, exp.Command)
    if isinstance(tree, banned) or any(isinstance(n, banned) for n in tree.walk()):
        raise UsageError(
            "a baseline's score is one expression over the row, not a query",
            hint="e.g. CASE WHEN duration_months > 36 THEN 0.6 ELSE 0.2 END",
        )
    columns = sorted({c.name for c in tree.find_all(exp.Column)})
    from core.operations.baselines import check_binds

    check_binds(score_sql, columns)  # parsed is not enough: it must evaluate to a number
    return {"name": name, "score_sql": score_sql, "threshold": threshold, "columns": columns}


def replaced_conditions(ws: Workspace, s: Session, env: str) -> list[Condition]:
    """The conditions a baseline put live in ``env`` must carry, from the signed events.

    Those of the live deployment it replaces or, with nothing live (withdrawn), of the most
    recent live deployment there: a stand-in never answers rows the approvers excluded.
    """
    rows = s.catalog.rows(
        DeploymentRow,
        "SELECT * FROM deployments WHERE env = ? AND arm = 'live' ORDER BY "
        "(ended_seq IS NULL) DESC, seq DESC LIMIT 1",
        [env],
    )
    return signed(ws, _wrap(rows[0])).conditions if rows else []


def deploy_baseline(
    ws: Workspace,
    actor: str,
    *,
    env: str,
    rule: dict[str, Any],
    reason: str,
    incident: int | None = None,
) -> Deployment:
    """Put a rule-based baseline (:func:`baseline_rule`) live in ``env`` in a model's place.

    A fallback when no model can be trusted: it ends the live model and any canary. Because
    it decides in a model's place, it is no side door around approval: it needs an open
    incident of ``env`` (the emergency it answers), passes the policy's ``deploy`` gate
    (subject ``baseline:NAME``, ``request.baseline`` true, so a policy may refuse it), and
    carries the conditions of the live deployment it replaces (:func:`replaced_conditions`),
    so scoring still refuses the rows the approvers excluded. The rule is stored as a blob and
    the deployment names its digest, so what decided is on record.

    Raises:
        UsageError: without a reason or an incident, or for a bad environment.
        CheckFailedError: the incident is not open or is another environment's; no policy.
        PermissionDeniedError: a service outside an automatic playbook step.
        PolicyDeniedError: if the policy refuses (the refusal is recorded).
    """
    from storage.canonical import canonical_bytes

    if not reason.strip():
        raise UsageError("a baseline deployment needs a --reason", hint="Say why.")
    check_env(env)
    if incident is None:
        raise UsageError(
            "a baseline stands in for a model during an incident: give --incident N",
            hint=f"Open one first: `ledgerml incident open --env {env} --title … --reason …`.",
        )
    blob = canonical_bytes(rule)
    name = f"baseline:{rule['name']}"
    seen: dict[str, Any] = {}

    def precheck(s: Session) -> None:
        from core.operations.incidents import get

        row = get(s, incident).row
        if row.env != env or row.status != "open":
            raise CheckFailedError(
                f"incident #{incident} is {row.status} in {row.env}: a baseline in {env} "
                f"needs an open incident of {env}",
                hint=f"`ledgerml incident list --env {env}` lists them.",
            )
        seen["conditions"] = replaced_conditions(ws, s, env)

    def facts(s: Session) -> dict[str, Any]:
        current = live(s, env)
        return {
            "baseline": {
                "ref": name,
                "name": rule["name"],
                "digest": hashlib.sha256(blob).hexdigest(),
                "score_sql": rule["score_sql"],
                "threshold": rule["threshold"],
                "columns": rule["columns"],
            },
            "request": {
                "env": env,
                "production": env == PRODUCTION,
                "strategy": BASELINE,
                "arm": "live",
                "share": None,
                "retention": "hmac-only",
                "incident": incident,
                "baseline": True,
                "conditions": [c.to_data() for c in seen["conditions"]],
                "live": [d.row.model for d in current if d.row.arm == "live"],
            },
        }

    def commit(s: Session, _: None) -> Deployment:
        ref = s.put_blob(blob, BASELINE_MEDIA_TYPE)
        ends = [d.deployment_id for d in live(s, env) if d.row.arm in ("live", "canary")]
        deployment_id, check = s.once("deployment", lambda: _new_deployment(ws))
        payload = Deployed(
            deployment_id=deployment_id,
            env=env,
            arm="live",
            strategy=BASELINE,
            model=name,
            model_digest=ref.sha256,
            retention="hmac-only",
            key_check=check,
            conditions=[c.to_data() for c in seen["conditions"]],
            ends=ends,
            incident=incident,
        )
        s.commit(new_event(s.actor, payload, [name, f"env:{env}"], reason, [ref]))
        return by_id(s, deployment_id)

    return command.run(
        ws,
        actor,
        guards=[
            needs(*DEPLOY_ROLES, action="deploy a baseline"),
            _person_or_playbook(env, incident, {"action": "baseline", "rule": rule}),
            precheck,
            policy.gate("deploy", name, facts, required=True),
        ],
        commit=commit,
    )
