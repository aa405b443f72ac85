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
class AlertView:
    """One breached service-level objective, as recorded (the template words it)."""

    seq: int
    slo: str
    verdict: str
    metric: str
    observed: float | None
    threshold: str
    """The bound as recorded, e.g. ``<= 0.25``."""


@dataclass(frozen=True)
class MonitorRunView:
    """One monitoring window, as recorded.

    Times, names and figures are worded in the template, through the shared filters.
    """

    seq: int
    start: str
    """The window's first moment (ISO 8601 UTC), "" for every decision until ``end``."""
    end: str
    verdict: str
    decisions: int
    failing: list[tuple[str, str]]
    """The checks that did not PASS: ``(code name, verdict)``."""
    alerts: list[AlertView]


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
    by_window: dict[str, list[float | None]] = field(default_factory=dict)
    """Per metric, its value in each window (``None``: not measured there): the table."""
    charted: list[str] = field(default_factory=list)
    """The metrics whose value changed between windows: each gets a chart."""
    legend: list[tuple[str, str]] = field(default_factory=list)
    """Each verdict and what it means, shown beside the coloured verdicts."""

    @property
    def ticks(self) -> list[tuple[float, str]]:
        """The charts' x ticks: window ``i`` (1-based) labelled with its run's event number."""
        return [(float(i + 1), f"#{r.seq}") for i, r in enumerate(self.runs)]


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
    """One incident ticket: its timeline, actions, runbook and resolution.

    Times are as recorded (ISO 8601 UTC); the template words them.
    """

    seq: int
    env: str
    title: str
    severity: str
    status: str
    opened_at: str
    opened_by: str
    trigger: str
    actions: list[ActionView]
    resolution: str
    closed_at: str
    closed_by: str


@dataclass(frozen=True)
class IncidentsContext:
    """Everything the incident report shows."""

    title: str
    incidents: list[IncidentView]
    playbooks: list[tuple[str, list[str]]]
    """Each playbook in force: its name and its numbered steps (the runbooks)."""
    notes: list[str] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    """Each coloured state and what it means, shown beside the coloured states."""


@dataclass(frozen=True)
class DecisionView:
    """One representative decision with its explanation, outcome and any override.

    The time, score and contributions are as recorded; the template words them.
    """

    request_id: str
    ts: str
    model: str
    arm: str
    status: str
    decision: str
    score: float | None
    """The model's probability of the positive class; ``None`` when it did not score."""
    reasons: list[tuple[str, float | None]]
    """The top features and, where logged, each one's contribution to the log-odds."""
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
    legend: list[tuple[str, str]] = field(default_factory=list)
    """Each coloured state and what it means, shown beside the coloured states."""


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
