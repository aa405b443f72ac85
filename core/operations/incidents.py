"""Incidents: the tickets that SLO breaches (or people) open, the actions taken, the close.

An incident is opened by hand (``ledgerml incident open``) or automatically by a monitoring
run whose SLO objective is breached (:mod:`core.operations.monitoring`), one per breach
episode. It carries the playbook in force for its environment when it opened (by digest),
so its numbered steps are the runbook it follows even if the playbook is replaced later.

Each action is one ``incident.act`` event: who, when, why, the runbook step followed, and
either the deployment event it caused (a rollback, a throttle, a fallback or baseline
deployment, each itself recorded with ``incident`` set) or, when the deployment function
refused it (a policy denial, nothing to roll back to), the refusal: an action that failed is
on the ticket as tried and failed, never hidden. Automatic steps run as the identity that
ran the monitoring (a service account may do that); a step on command needs a person.
Closing needs a person and a resolution: a service may raise an alarm but not declare it
handled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.evidence.vocabulary import share_in_words
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import CheckFailedError, NotFoundError, PermissionDeniedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import ActorRow, IncidentActionRow, IncidentRow, OpsAlertRow
from core.kernel.workspace import Session, Workspace
from core.operations import deployments
from core.operations.deployments import check_env
from core.operations.monitor_events import (
    CLOSED,
    DONE,
    FAILED,
    OPEN,
    OPS_ROLES,
    IncidentActed,
    IncidentClosed,
    IncidentOpened,
)
from storage.errors import LedgerError

SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class Incident:
    """An incident with its actions, oldest first, and the playbook it follows."""

    row: IncidentRow
    actions: list[IncidentActionRow]
    playbook: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "incident": self.row.as_dict(),
            "actions": [a.as_dict() for a in self.actions],
            "playbook": self.playbook,
        }


def _row(s: Session, seq: int) -> IncidentRow:
    rows: list[IncidentRow] = s.catalog.rows(
        IncidentRow, "SELECT * FROM incidents WHERE seq = ?", [seq]
    )
    if not rows:
        raise NotFoundError(f"no incident #{seq}", hint="`ledgerml incident list` lists them.")
    return rows[0]


def _playbook(s: Session, row: IncidentRow) -> dict[str, Any] | None:
    if not row.playbook:
        return None
    doc: dict[str, Any] = json.loads(s.workspace.objects.read_verified(row.playbook))
    return doc


def get(s: Session, seq: int) -> Incident:
    """One incident with its actions and playbook.

    Raises:
        NotFoundError: for an unknown incident.
    """
    row = _row(s, seq)
    acts: list[IncidentActionRow] = s.catalog.rows(
        IncidentActionRow, "SELECT * FROM incident_actions WHERE incident = ? ORDER BY seq", [seq]
    )
    return Incident(row, acts, _playbook(s, row))


def list_incidents(
    s: Session, *, env: str | None = None, status: str | None = None
) -> list[IncidentRow]:
    """Incidents, newest first, optionally of one environment or status."""
    where, params = [], []
    if env:
        where.append("env = ?")
        params.append(env)
    if status:
        where.append("status = ?")
        params.append(status)
    sql = "SELECT * FROM incidents" + (f" WHERE {' AND '.join(where)}" if where else "")
    out: list[IncidentRow] = s.catalog.rows(IncidentRow, sql + " ORDER BY seq DESC", params)
    return out


def open_for(s: Session, env: str, slo: str) -> IncidentRow | None:
    """The open incident of ``env`` for SLO objective ``slo``: its breach episode."""
    rows: list[IncidentRow] = s.catalog.rows(
        IncidentRow,
        "SELECT * FROM incidents WHERE env = ? AND slo = ? AND status = ? ORDER BY seq LIMIT 1",
        [env, slo, OPEN],
    )
    return rows[0] if rows else None


def open_incident(
    ws: Workspace,
    actor: str,
    *,
    env: str,
    title: str,
    reason: str,
    severity: str = "medium",
    alert_seq: int | None = None,
    slo: str | None = None,
) -> IncidentRow:
    """Open an incident for ``env`` (one ``incident.open``), following its playbook.

    Raises:
        UsageError: no title or reason, a bad environment or severity, or (for an alert)
            an incident already open for the same objective.
        PermissionDeniedError: an actor without the operator or admin role.
    """
    from core.operations.ops_config import in_force

    check_env(env)
    if not title.strip():
        raise UsageError("an incident needs a title")
    if not reason.strip():
        raise UsageError("opening an incident needs a --reason", hint="Say why, for the record.")
    if severity not in SEVERITIES:
        raise UsageError(
            f"unknown severity {severity!r}", hint=f"Severities: {', '.join(SEVERITIES)}."
        )

    def commit(s: Session, _: None) -> IncidentRow:
        if slo is not None and open_for(s, env, slo) is not None:
            raise UsageError(f"an incident for {slo!r} in {env} is already open")
        book = in_force(s, "playbook", env)
        payload = IncidentOpened(
            env=env,
            title=title,
            severity=severity,
            alert_seq=alert_seq,
            slo=slo,
            playbook=book.row.digest if book else None,
        )
        entry = s.commit(new_event(s.actor, payload, [f"env:{env}"], reason))
        return _row(s, entry.seq)

    return command.run(
        ws, actor, guards=[needs(*OPS_ROLES, action="open incidents")], commit=commit
    )


def _person(action: str) -> Callable[[Session], None]:
    """A guard: the acting actor is a person (``kind = person``), not a service."""

    def guard(s: Session) -> None:
        from core.identity.signer import authority_of

        state = authority_of(s).current(s.actor)
        if state is not None and state.kind != "person":
            raise PermissionDeniedError(
                f"{s.actor} is a {state.kind} identity: only a person may {action}",
                hint="Act as yourself with --as NAME; services raise alarms, people settle them.",
            )

    return guard


def _open(s: Session, seq: int) -> IncidentRow:
    row = _row(s, seq)
    if row.status != OPEN:
        raise CheckFailedError(
            f"incident #{seq} is {row.status}", hint="Open a new incident for a new problem."
        )
    return row


def _step(s: Session, row: IncidentRow, n: int, who: ActorRow) -> dict[str, Any]:
    book = _playbook(s, row)
    if book is None:
        raise UsageError(
            f"incident #{row.seq} follows no playbook: it has no step {n}",
            hint="Install one with `ledgerml playbook set FILE --env ENV`; it applies to "
            "incidents opened after it.",
        )
    steps = book["steps"]
    if not 1 <= n <= len(steps):
        raise UsageError(f"playbook {book['name']} has steps 1 to {len(steps)}, not {n}")
    step: dict[str, Any] = steps[n - 1]
    allowed = step.get("roles")
    if allowed and not set(allowed) & set(who.roles):
        raise PermissionDeniedError(
            f"step {n} of playbook {book['name']} is for {' or '.join(allowed)}; "
            f"{who.name} has {', '.join(who.roles)}",
            hint="Ask someone holding that role to take the step.",
        )
    return step | {"playbook": book["name"], "number": n}


def _metric(s: Session, row: IncidentRow) -> str | None:
    """The metric of the alert that opened ``row`` (None for one opened by hand)."""
    if row.alert_seq is None:
        return None
    rows: list[OpsAlertRow] = s.catalog.rows(
        OpsAlertRow, "SELECT * FROM ops_alerts WHERE seq = ?", [row.alert_seq]
    )
    return rows[0].metric if rows else None


def _automatic(s: Session, row: IncidentRow) -> list[int]:
    """The steps of ``row``'s playbook that run by themselves on the breach that opened it.

    An incident opened by hand (no objective breached) has none: a person decides there.
    """
    book = _playbook(s, row)
    if book is None or row.slo is None:
        return []
    return automatic_steps(book, row.slo, _metric(s, row) or row.slo)


def step_request(step: dict[str, Any]) -> dict[str, Any]:
    """What a playbook step asks of the deployment functions (compared by them, see below)."""
    action = step["action"]
    if action == "throttle":
        return {"action": "throttle", "share": step["share"]}
    if action == "fallback":
        return {
            "action": "fallback",
            "model": str(step["model"]).removeprefix("model:"),
            "strategy": "direct",
            "share": None,
            "retention": "hmac-only",
        }
    if action == "rollback":
        return {"action": "rollback"}
    rule = deployments.baseline_rule(
        step["baseline_name"], step["baseline_score"], step.get("baseline_threshold") or 0.5
    )
    return {"action": "baseline", "rule": rule}


def check_automatic(
    s: Session, incident: int | None, env: str, wanted: dict[str, Any], *, who: str
) -> None:
    """Let a service change what serves only as an automatic step of an open incident.

    The incident must be open, of ``env``, opened by a breach of an objective, and its
    playbook must have an ``auto = true`` step for that objective asking exactly ``wanted``
    (:func:`step_request`). Decided from the incident and its playbook, never from a flag the
    caller passes: a service's key on the serving host must not be able to deploy, roll
    back, withdraw, throttle or install a baseline on command. (A service that repeats an
    automatic step itself, outside ``act``, passes here; ``audit verify`` flags its event,
    which no automatic ``incident.act`` claims.)

    Raises:
        PermissionDeniedError: when no such step exists.
    """
    hint = "A person does this: `--as NAME`; services take a playbook's automatic steps only."
    if incident is None:
        raise PermissionDeniedError(
            f"{who} is not a person: only a person changes what serves outside an incident",
            hint=hint,
        )
    row = _row(s, incident)
    if row.env != env or row.status != OPEN:
        raise PermissionDeniedError(
            f"{who} may act only on an open incident of {env}; #{incident} is {row.status} "
            f"in {row.env}",
            hint=hint,
        )
    book = _playbook(s, row)
    for n in _automatic(s, row):
        if book is not None and step_request(book["steps"][n - 1]) == wanted:
            return
    raise PermissionDeniedError(
        f"{who} is not a person, and the playbook of incident #{incident} has no automatic "
        f"step for its breach that asks for this ({wanted['action']})",
        hint=hint,
    )


def _perform(ws: Workspace, actor: str, env: str, seq: int, step: dict[str, Any], why: str) -> int:
    """Run one playbook step through the deployment functions; the event seq it caused."""
    action = step["action"]
    if action == "throttle":
        return deployments.throttle(
            ws, actor, env=env, share=step["share"], reason=why, incident=seq
        ).seq
    if action == "fallback":
        return deployments.deploy(
            ws, actor, step["model"], env=env, reason=why, incident=seq
        ).row.seq
    if action == "rollback":
        new, _ = deployments.rollback(ws, actor, env=env, reason=why, incident=seq)
        return new.row.seq
    rule = deployments.baseline_rule(
        step["baseline_name"], step["baseline_score"], step.get("baseline_threshold") or 0.5
    )
    return deployments.deploy_baseline(
        ws, actor, env=env, rule=rule, reason=why, incident=seq
    ).row.seq


def act(
    ws: Workspace,
    actor: str,
    seq: int,
    *,
    reason: str,
    step: int | None = None,
    note: str | None = None,
    automatic: bool = False,
) -> IncidentActionRow:
    """Take step ``step`` of the incident's playbook, or record ``note`` (done elsewhere).

    One ``incident.act`` event either way, after any deployment event the step caused.

    The actor's role, the incident being open, the step existing and being theirs to take
    are checked first: a refusal there records nothing. A step the deployment functions
    refuse (the policy, nothing to roll back to) is recorded as ``failed`` with the reason.

    ``automatic`` is checked, not believed: the step must be ``auto = true`` in the playbook
    for the objective whose breach opened the incident (what monitoring runs); otherwise the
    call is refused and nothing is recorded.

    Raises:
        UsageError: neither or both of step and note, no reason, a bad step.
        PermissionDeniedError: wrong role, a step reserved to another role, or a service
            acting on command (services take automatic steps only).
        CheckFailedError: the incident is closed.
    """
    if (step is None) == (note is None):
        raise UsageError("give --step N (a playbook step) or --note TEXT (an action taken)")
    if not reason.strip():
        raise UsageError("an incident action needs a --reason", hint="Say why, for the record.")
    guards: list[Callable[[Session], Any]] = [needs(*OPS_ROLES, action="act on incidents")]
    if not automatic:
        guards.append(_person("act on an incident by hand"))

    def check(s: Session) -> tuple[IncidentRow, dict[str, Any] | None]:
        who = guards[0](s)
        for g in guards[1:]:
            g(s)
        row = _open(s, seq)
        if automatic and (step is None or step not in _automatic(s, row)):
            raise PermissionDeniedError(
                f"step {step} of incident #{seq}'s playbook is no automatic step for the "
                "breach that opened it: it cannot be taken as automatic",
                hint="Take it by hand, as a person (`ledgerml incident act`).",
            )
        return row, (_step(s, row, step, who) if step is not None else None)

    with ws.session(actor) as s:
        row, chosen = check(s)
    caused: int | None = None
    status, detail = DONE, note or ""
    runbook = None
    action = "note"
    if chosen is not None:
        action = chosen["action"]
        runbook = f"{chosen['playbook']} step {chosen['number']}: {chosen['runbook']}"
        why = f"incident #{seq}, {runbook} ({reason})"
        try:
            caused = _perform(ws, actor, row.env, seq, chosen, why)
            detail = _describe(chosen)
        except LedgerError as err:  # tried and refused: on the ticket, not hidden
            status, detail = FAILED, f"{_describe(chosen)} refused: {err}"

    def commit(s: Session, _: None) -> IncidentActionRow:
        _open(s, seq)
        payload = IncidentActed(
            incident=seq,
            action=action,
            detail=detail,
            automatic=automatic,
            status=status,
            step=step,
            runbook=runbook,
            caused_seq=caused,
        )
        entry = s.commit(new_event(s.actor, payload, [f"incident:{seq}", f"env:{row.env}"], reason))
        rows: list[IncidentActionRow] = s.catalog.rows(
            IncidentActionRow, "SELECT * FROM incident_actions WHERE seq = ?", [entry.seq]
        )
        return rows[0]

    return command.run(ws, actor, guards=guards, commit=commit)


def _describe(step: dict[str, Any]) -> str:
    action = step["action"]
    if action == "throttle":
        return f"throttle to {share_in_words(step['share'])}"
    if action == "fallback":
        return f"switch to fallback model {step['model']}"
    if action == "baseline":
        return f"revert to rule-based baseline {step['baseline_name']}"
    return "roll back to the previous approved deployment"


def automatic_steps(book: dict[str, Any], objective: str, metric: str) -> list[int]:
    """The numbers of a playbook's automatic steps for a breach of ``objective``/``metric``."""
    return [
        i + 1
        for i, st in enumerate(book["steps"])
        if st["auto"] and st["on"] in (objective, metric)
    ]


def close(ws: Workspace, actor: str, seq: int, *, reason: str) -> IncidentRow:
    """Close an open incident with ``reason`` as its resolution (one ``incident.close``).

    Raises:
        UsageError: no reason.
        PermissionDeniedError: wrong role, or a service identity.
        CheckFailedError: the incident is already closed.
    """
    if not reason.strip():
        raise UsageError(
            "closing an incident needs a --reason: its resolution",
            hint="Say what was found and done, for the record.",
        )

    def commit(s: Session, _: None) -> IncidentRow:
        _open(s, seq)
        s.commit(new_event(s.actor, IncidentClosed(seq, reason), [f"incident:{seq}"], reason))
        return _row(s, seq)

    return command.run(
        ws,
        actor,
        guards=[needs(*OPS_ROLES, action="close incidents"), _person("close an incident")],
        commit=commit,
    )


__all__ = ["CLOSED", "OPEN", "SEVERITIES", "Incident", "act", "close", "get", "open_incident"]
