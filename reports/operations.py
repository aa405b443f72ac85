"""Operations reports: monitoring over time, incidents, the decision log (plain data in).

:mod:`core.documents.operations_reports` fills the contexts from the signed events (the same
summaries a bundle carries, :func:`storage.bundle_verifier.operations_history`); the bundle
renders them from the very members the verifier re-derives. Verdicts are shown as recorded
(PASS / WARN / FAIL / INCONCLUSIVE): a FAIL reads as a FAIL, never softened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports import render


@dataclass(frozen=True)
class MonitorRunView:
    """One monitoring window, already formatted."""

    seq: int
    window: str
    verdict: str
    decisions: int
    failing: list[str]
    """The checks that did not PASS, as ``name VERDICT``."""
    alerts: list[str]


@dataclass(frozen=True)
class MonitoringContext:
    """Everything the monitoring report shows."""

    title: str
    verdict: str
    """The worst verdict over the windows (INCONCLUSIVE when there are none)."""
    runs: list[MonitorRunView]
    series: dict[str, list[tuple[float, float]]]
    """Per metric, ``(window index, value)`` over time: the charts."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ActionView:
    """One action on an incident."""

    seq: int
    ts: str
    actor: str
    what: str
    status: str
    automatic: bool
    runbook: str
    caused: str
    reason: str


@dataclass(frozen=True)
class IncidentView:
    """One incident ticket: its timeline, actions, runbook and resolution."""

    seq: int
    env: str
    title: str
    severity: str
    status: str
    opened: str
    trigger: str
    actions: list[ActionView]
    resolution: str
    closed: str


@dataclass(frozen=True)
class IncidentsContext:
    """Everything the incident report shows."""

    title: str
    incidents: list[IncidentView]
    playbooks: list[tuple[str, list[str]]]
    """Each playbook in force: its name and its numbered steps (the runbooks)."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DecisionView:
    """One representative decision with its explanation, outcome and any override."""

    request_id: str
    ts: str
    model: str
    arm: str
    status: str
    decision: str
    score: str
    reasons: str
    outcome: str
    override: str
    proof: str


@dataclass(frozen=True)
class DecisionLogContext:
    """Everything the decision-log report shows."""

    title: str
    batches: list[tuple[int, str, int, str]]
    """Each batch: event, deployment, rows, Merkle root (short)."""
    counts: list[tuple[str, int]]
    decisions: list[DecisionView]
    notes: list[str] = field(default_factory=list)


_render = render.render_pair


def render_monitoring(ctx: MonitoringContext) -> tuple[str, str]:
    """The monitoring report as ``(markdown, html)``."""
    return _render("monitoring", ctx)


def render_incidents(ctx: IncidentsContext) -> tuple[str, str]:
    """The incident report as ``(markdown, html)``."""
    return _render("incidents", ctx)


def render_decisions(ctx: DecisionLogContext) -> tuple[str, str]:
    """The decision-log report as ``(markdown, html)``."""
    return _render("decisions", ctx)
