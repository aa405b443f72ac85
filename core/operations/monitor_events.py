"""The monitoring context's event kinds: configuration, runs, alerts and incidents.

``ops.configure`` puts an SLO set or a playbook in force for an environment (the document is
a blob); ``monitor.run`` records one window's evidence; ``monitor.alert`` one SLO breach a run
found; ``incident.open``, ``incident.act`` and ``incident.close`` the ticket, each action on
it (a playbook step, automatic or on command, with the deployment event it caused or why it
failed) and its resolution.

Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import (
    IncidentActionRow,
    IncidentRow,
    MonitorRunRow,
    OpsAlertRow,
    OpsConfigRow,
)

OPS_ROLES = ("operator", "admin")
"""Who may configure monitoring, run it, raise alerts and handle incidents."""
CONFIG_KINDS = ("slo", "playbook")
"""What ``ops.configure`` installs: an SLO set or a playbook."""
OPEN, CLOSED = "open", "closed"
DONE, FAILED = "done", "failed"
"""An incident action's status: it ran, or it was tried and refused (the error kept)."""


@dataclass(frozen=True)
class Configured(Payload):
    """An SLO set or a playbook (the blob ``digest``) put in force for ``env``."""

    kind: str
    env: str
    name: str
    digest: str


@dataclass(frozen=True)
class MonitorRan(Payload):
    """One monitoring window of ``env``: its evidence blob and overall verdict.

    ``checks`` maps each check (and SLO objective, ``slo:NAME``) to its verdict, so a list
    of runs reads without opening every blob; the blob holds every figure.
    """

    env: str
    window_start: str
    window_end: str
    evidence_digest: str
    verdict: str
    decisions: int
    checks: dict[str, str]
    deployment_id: str | None = None
    model: str | None = None
    slo_digest: str | None = None


@dataclass(frozen=True)
class Alerted(Payload):
    """An SLO objective a monitoring run found breached.

    ``incident`` is the incident already open for this objective (the breach episode goes
    on); None means the alert starts a new episode and an incident is opened for it.
    """

    env: str
    slo: str
    metric: str
    threshold: str
    verdict: str
    monitor_seq: int
    observed: float | None = None
    incident: int | None = None


@dataclass(frozen=True)
class IncidentOpened(Payload):
    """An incident ticket: by hand, or automatically for an alert (``alert_seq``)."""

    env: str
    title: str
    severity: str
    alert_seq: int | None = None
    slo: str | None = None
    playbook: str | None = None


@dataclass(frozen=True)
class IncidentActed(Payload):
    """One action on an incident: a playbook step run (or tried and refused), or a note.

    ``caused_seq`` is the deployment event the action caused (``model.rollback``,
    ``deploy.throttle``, …); a refused action has none and its ``detail`` says why.
    """

    incident: int
    action: str
    detail: str
    automatic: bool
    status: str
    step: int | None = None
    runbook: str | None = None
    caused_seq: int | None = None


@dataclass(frozen=True)
class IncidentClosed(Payload):
    """An incident resolved by a person, with the resolution in words."""

    incident: int
    resolution: str


@event_kind("ops.configure", Configured, tables=("ops_configs",), roles=OPS_ROLES)
def _configure(cat: Catalog, seq: int, body: Body, d: Configured) -> None:
    cat.put(
        OpsConfigRow(
            seq=seq,
            kind=d.kind,
            env=d.env,
            name=d.name,
            digest=d.digest,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body.get("reason", ""),
        )
    )


def _checks(items: dict[str, Any]) -> str:
    import json

    return json.dumps(items, sort_keys=True)


@event_kind(
    "monitor.run",
    MonitorRan,
    tables=("monitor_runs",),
    roles=OPS_ROLES,
    evidence_for=("monitoring",),
)
def _monitor(cat: Catalog, seq: int, body: Body, d: MonitorRan) -> None:
    cat.put(
        MonitorRunRow(
            seq=seq,
            env=d.env,
            window_start=d.window_start,
            window_end=d.window_end,
            evidence_digest=d.evidence_digest,
            verdict=d.verdict,
            decisions=d.decisions,
            deployment_id=d.deployment_id,
            model=d.model,
            checks=_checks(d.checks),
            slo_digest=d.slo_digest,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )


@event_kind(
    "monitor.alert",
    Alerted,
    tables=("ops_alerts",),
    roles=OPS_ROLES,
    evidence_for=("monitoring",),
)
def _alert(cat: Catalog, seq: int, body: Body, d: Alerted) -> None:
    cat.put(
        OpsAlertRow(
            seq=seq,
            env=d.env,
            slo=d.slo,
            metric=d.metric,
            observed=d.observed,
            threshold=d.threshold,
            verdict=d.verdict,
            monitor_seq=d.monitor_seq,
            incident=d.incident,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )


@event_kind(
    "incident.open",
    IncidentOpened,
    tables=("incidents",),
    roles=OPS_ROLES,
    evidence_for=("incidents",),
)
def _open(cat: Catalog, seq: int, body: Body, d: IncidentOpened) -> None:
    cat.put(
        IncidentRow(
            seq=seq,
            env=d.env,
            title=d.title,
            severity=d.severity,
            status=OPEN,
            alert_seq=d.alert_seq,
            slo=d.slo,
            playbook=d.playbook,
            opened_at=body["ts"],
            opened_by=body["actor"],
            updated_seq=seq,
            closed_at=None,
            closed_by=None,
            resolution=None,
            reason=body.get("reason", ""),
        )
    )


@event_kind(
    "incident.act",
    IncidentActed,
    tables=("incident_actions", "incidents"),
    roles=OPS_ROLES,
    evidence_for=("incidents",),
)
def _act(cat: Catalog, seq: int, body: Body, d: IncidentActed) -> None:
    cat.put(
        IncidentActionRow(
            seq=seq,
            incident=d.incident,
            action=d.action,
            detail=d.detail,
            automatic=d.automatic,
            status=d.status,
            step=d.step,
            runbook=d.runbook,
            caused_seq=d.caused_seq,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body.get("reason", ""),
        )
    )
    cat.con.execute("UPDATE incidents SET updated_seq = ? WHERE seq = ?", [seq, d.incident])


@event_kind(
    "incident.close",
    IncidentClosed,
    tables=("incidents",),
    roles=OPS_ROLES,
    evidence_for=("incidents",),
)
def _close(cat: Catalog, seq: int, body: Body, d: IncidentClosed) -> None:
    cat.con.execute(
        "UPDATE incidents SET status = ?, updated_seq = ?, closed_at = ?, closed_by = ?, "
        "resolution = ? WHERE seq = ?",
        [CLOSED, seq, body["ts"], body["actor"], d.resolution, d.incident],
    )
