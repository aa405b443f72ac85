"""``ledgerml monitor``, ``slo``, ``playbook``, ``incident``: what happens after scoring.

Thin: every command calls :mod:`core.operations.monitoring`, :mod:`~core.operations.ops_config`
or :mod:`~core.operations.incidents`. ``monitor run`` exits 1 when its verdict is FAIL, so a
scheduler or CI job notices; the evidence is recorded either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)

monitor_app = typer.Typer(
    no_args_is_help=True,
    help="Monitor an environment's decisions: drift, skew, performance, fairness, SLOs.",
)
slo_app = typer.Typer(no_args_is_help=True, help="Service-level objectives per environment.")
playbook_app = typer.Typer(no_args_is_help=True, help="Incident playbooks per environment.")
incident_app = typer.Typer(no_args_is_help=True, help="Incident tickets: open, act, close.")

EnvReq = Annotated[str, typer.Option("--env", "-e", help="Environment, e.g. staging.")]
EnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")]
ReasonReq = Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the ledger.")]
FileArg = Annotated[Path, typer.Argument(help="The TOML file.", exists=False)]
IncidentArg = Annotated[int, typer.Argument(help="Incident number (its event #).")]


def _objective_rows(evidence: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            f"slo:{o['name']}",
            o["metric"],
            output.value_text(o["observed"]),
            o["threshold"],
            output.verdict_mark(o["verdict"]),
            o.get("detail", "BREACHED" if o["breached"] else ""),
        ]
        for o in (evidence.get("slo") or {}).get("objectives", [])
    ]


def _check_rows(evidence: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            c["name"],
            c["kind"],
            output.value_text(c["observed"]),
            output.value_text(c["threshold"]),
            output.verdict_mark(c["verdict"]),
            c["detail"],
        ]
        for c in evidence["checks"]
    ]


@monitor_app.command("run")
@guarded
def monitor_run(
    env: EnvReq,
    window: Annotated[
        str, typer.Option("--window", "-w", help="30m, 24h, 7d, or all (ending now).")
    ] = "7d",
    until: Annotated[
        str | None, typer.Option("--until", help="End the window here (UTC) instead of now.")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (default: the window).")] = "",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Compare a window of ENV's decisions with the live model's training; record it.

    Input drift (PSI, KS, chi-square per feature against the training snapshot) needs the
    inputs, which only retention `rows` keeps: otherwise it is INCONCLUSIVE, never a pass.
    Prediction drift, domain skew, error and refusal rates, latency, CBPE-estimated
    accuracy, and where outcomes are recorded realised accuracy, calibration and fairness by
    group. The SLO set in force is checked; a breach records an alert and opens an incident
    (one per breach episode) whose playbook's automatic steps run. Exit 1 on FAIL.
    """
    from core.operations import monitoring

    result = monitoring.run(
        open_ws(workspace),
        actor_name(as_actor),
        env=env,
        window=window,
        reason=reason,
        until=until,
    )
    ev = result.evidence
    if want_json(json_out):
        output.emit_json(result.to_json())
    else:
        counts = ev["counts"]
        output.table(
            ["check", "kind", "observed", "threshold", "result", "detail"],
            _check_rows(ev) + _objective_rows(ev),
            title=f"{env}: {ev['deployment']['model']} · window {ev['window']['start'] or 'all'}"
            f" → {ev['window']['end']} · {counts['decisions']} decisions",
        )
        for a in result.alerts:
            joined = f"joins incident #{a.incident}" if a.incident else "new episode"
            seen = "unmeasured" if a.observed is None else f"{a.observed:.6g}"
            output.line(f"alert #{a.seq}: SLO {a.slo} ({a.metric} {seen}, {a.threshold}) {joined}")
        for i in result.incidents:
            output.line(f"incident #{i.seq} opened: {i.title}")
        for act in result.actions:
            output.line(
                f"  automatic step {act.step} ({act.action}): {act.status}"
                + (f", event #{act.caused_seq}" if act.caused_seq else f": {act.detail}")
            )
        output.line(f"verdict {ev['verdict']}; recorded as event #{result.row.seq}")
    if ev["verdict"] == "FAIL":
        raise typer.Exit(output.EXIT_CHECK)


@monitor_app.command("list")
@guarded
def monitor_list(
    env: EnvOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest runs to show.")] = 50,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recorded monitoring runs, newest first, with each check's verdict."""
    from core.operations import monitoring

    with open_ws(workspace).session(actor_name(as_actor)) as s:
        rows = monitoring.list_runs(s, env, limit)
    if want_json(json_out):
        output.emit_json([r.as_dict() | {"checks": json.loads(r.checks)} for r in rows])
        return
    output.table(
        ["#", "env", "model", "window end", "decisions", "verdict", "not passed"],
        [
            [
                r.seq,
                r.env,
                r.model or "",
                r.window_end[:19],
                r.decisions,
                output.verdict_mark(r.verdict),
                ", ".join(k for k, v in json.loads(r.checks).items() if v != "PASS"),
            ]
            for r in rows
        ],
    )


@monitor_app.command("show")
@guarded
def monitor_show(
    seq: Annotated[int, typer.Argument(help="The run's event #.")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One recorded run's evidence (read back and verified against its digest)."""
    from core.kernel.errors import NotFoundError
    from core.kernel.rows import MonitorRunRow
    from core.operations import monitoring

    ws = open_ws(workspace)
    with ws.session(actor_name(as_actor)) as s:
        rows = s.catalog.rows(MonitorRunRow, "SELECT * FROM monitor_runs WHERE seq = ?", [seq])
    if not rows:
        raise NotFoundError(f"no monitoring run #{seq}", hint="`ledgerml monitor list`.")
    ev = monitoring.evidence_of(ws, rows[0])
    if want_json(json_out):
        output.emit_json(ev)
        return
    output.table(
        ["check", "kind", "observed", "threshold", "result", "detail"],
        _check_rows(ev) + _objective_rows(ev),
        title=f"run #{seq}: {ev['env']} {ev['deployment']['model']}",
    )
    output.line(f"verdict {ev['verdict']}")


def _install(kind: str, file: Path, env: str, reason: str, ws: Any, actor: str, js: bool) -> None:
    from core.operations import ops_config

    row = ops_config.install(ws, actor, kind, file, env=env, reason=reason)
    if want_json(js):
        output.emit_json(row.as_dict())
        return
    output.line(
        f"{kind} {row.name} in force for {env} (sha256:{row.digest[:12]}), event #{row.seq}"
    )


def _show(kind: str, env: str, ws: Any, actor: str, js: bool) -> None:
    from core.kernel.errors import NotFoundError
    from core.operations import ops_config

    with ws.session(actor) as s:
        found = ops_config.in_force(s, kind, env)
    if found is None:
        raise NotFoundError(
            f"no {kind} is in force for {env}",
            hint=f"Install one: `ledgerml {kind} set FILE --env {env} --reason …`.",
        )
    if want_json(js):
        output.emit_json(found.row.as_dict() | {"document": found.doc})
        return
    output.line(
        f"{kind} {found.row.name} for {env}: installed by {found.row.created_by} at "
        f"{found.row.created_at[:19]} (event #{found.row.seq}): {found.row.reason}"
    )
    if kind == "slo":
        output.table(
            ["objective", "metric", "bound", "breach verdict"],
            [
                [
                    o["name"],
                    o["metric"],
                    f">= {o['min']}" if o["min"] is not None else f"<= {o['max']}",
                    o["verdict"],
                ]
                for o in found.doc["objectives"]
            ],
        )
    else:
        output.table(
            ["step", "on", "action", "auto", "roles", "runbook"],
            [
                [
                    i + 1,
                    st["on"],
                    st["action"],
                    "yes" if st["auto"] else "on command",
                    ", ".join(st["roles"] or []),
                    st["runbook"],
                ]
                for i, st in enumerate(found.doc["steps"])
            ],
        )


@slo_app.command("set")
@guarded
def slo_set(
    file: FileArg,
    env: EnvReq,
    reason: ReasonReq,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Put the SLO set in FILE in force for ENV (docs/formats/slo.md); checked in full first."""
    _install("slo", file, env, reason, open_ws(workspace), actor_name(as_actor), json_out)


@slo_app.command("show")
@guarded
def slo_show(
    env: EnvReq,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The SLO set in force for ENV."""
    _show("slo", env, open_ws(workspace), actor_name(as_actor), json_out)


@playbook_app.command("set")
@guarded
def playbook_set(
    file: FileArg,
    env: EnvReq,
    reason: ReasonReq,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Put the playbook in FILE in force for ENV (docs/formats/playbook.md).

    It applies to incidents opened from now on; an open incident keeps the playbook it
    opened with.
    """
    _install("playbook", file, env, reason, open_ws(workspace), actor_name(as_actor), json_out)


@playbook_app.command("show")
@guarded
def playbook_show(
    env: EnvReq,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The playbook in force for ENV."""
    _show("playbook", env, open_ws(workspace), actor_name(as_actor), json_out)


@incident_app.command("open")
@guarded
def incident_open(
    title: Annotated[str, typer.Argument(help="What is wrong, in a line.")],
    env: EnvReq,
    reason: ReasonReq,
    severity: Annotated[
        str, typer.Option("--severity", help="critical, high, medium or low.")
    ] = "medium",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Open an incident by hand; it follows the playbook in force for ENV."""
    from core.operations import incidents

    row = incidents.open_incident(
        open_ws(workspace),
        actor_name(as_actor),
        env=env,
        title=title,
        reason=reason,
        severity=severity,
    )
    if want_json(json_out):
        output.emit_json(row.as_dict())
        return
    output.line(f"incident #{row.seq} opened in {env}: {row.title}")


@incident_app.command("list")
@guarded
def incident_list(
    env: EnvOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="open or closed.")] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Incidents, newest first."""
    from core.operations import incidents

    with open_ws(workspace).session(actor_name(as_actor)) as s:
        rows = incidents.list_incidents(s, env=env, status=status)
    if want_json(json_out):
        output.emit_json([r.as_dict() for r in rows])
        return
    output.table(
        ["#", "env", "severity", "status", "title", "opened by", "opened", "slo"],
        [
            [
                r.seq,
                r.env,
                r.severity,
                r.status,
                r.title,
                r.opened_by,
                r.opened_at[:19],
                r.slo or "",
            ]
            for r in rows
        ],
    )


@incident_app.command("show")
@guarded
def incident_show(
    seq: IncidentArg,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One incident: who opened it and why, every action taken, its resolution."""
    from core.operations import incidents

    with open_ws(workspace).session(actor_name(as_actor)) as s:
        found = incidents.get(s, seq)
    if want_json(json_out):
        output.emit_json(found.to_json())
        return
    r = found.row
    output.fields(
        [
            ("incident", f"#{r.seq} ({r.status})"),
            ("environment", r.env),
            ("title", r.title),
            ("severity", r.severity),
            ("opened", f"{r.opened_at[:19]} by {r.opened_by}: {r.reason}"),
            ("alert", f"#{r.alert_seq} (SLO {r.slo})" if r.alert_seq else "opened by hand"),
            ("playbook", found.playbook["name"] if found.playbook else "none"),
            (
                "closed",
                f"{r.closed_at[:19]} by {r.closed_by}: {r.resolution}" if r.closed_at else "no",
            ),
        ]
    )
    output.table(
        ["#", "when", "by", "action", "step", "auto", "status", "event", "detail", "why"],
        [
            [
                a.seq,
                a.created_at[:19],
                a.created_by,
                a.action,
                a.step or "",
                "yes" if a.automatic else "no",
                a.status,
                a.caused_seq or "",
                a.detail,
                a.reason,
            ]
            for a in found.actions
        ],
        title="actions",
    )


@incident_app.command("act")
@guarded
def incident_act(
    seq: IncidentArg,
    reason: ReasonReq,
    step: Annotated[
        int | None, typer.Option("--step", help="Take step N of the incident's playbook.")
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="Record an action taken outside ledgerml.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take a playbook step (throttle, fallback, rollback, baseline) or record a note.

    A step the deployment gate refuses is recorded on the incident as tried and failed;
    exit 1 then.
    """
    from core.operations import incidents

    row = incidents.act(
        open_ws(workspace), actor_name(as_actor), seq, step=step, note=note, reason=reason
    )
    if want_json(json_out):
        output.emit_json(row.as_dict())
    else:
        output.line(
            f"incident #{seq}: {row.action} {row.status}"
            + (f" (event #{row.caused_seq})" if row.caused_seq else "")
            + (f": {row.detail}" if row.detail else "")
            + f"; recorded as event #{row.seq}"
        )
    if row.status == "failed":
        raise typer.Exit(output.EXIT_CHECK)


@incident_app.command("close")
@guarded
def incident_close(
    seq: IncidentArg,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="The resolution: what was found and done.")
    ],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Close an incident with its resolution (a person only, never a service)."""
    from core.operations import incidents

    row = incidents.close(open_ws(workspace), actor_name(as_actor), seq, reason=reason)
    if want_json(json_out):
        output.emit_json(row.as_dict())
        return
    output.line(f"incident #{seq} closed by {row.closed_by}: {row.resolution}")


def register(app: typer.Typer) -> None:
    """Add ``monitor``, ``slo``, ``playbook`` and ``incident`` to the root app."""
    app.add_typer(monitor_app, name="monitor")
    app.add_typer(slo_app, name="slo")
    app.add_typer(playbook_app, name="playbook")
    app.add_typer(incident_app, name="incident")
