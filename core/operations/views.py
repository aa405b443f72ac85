"""What operations reads: deployments at any moment, decision counts, monitoring, incidents.

The CLI's ``deployments`` and the TUI's operations tab read through these functions, never
through SQL of their own, so both front doors show the same thing. Each holds the workspace
for one short read. Tables that another part fills (``decision_batches``, ``monitor_runs``,
``incidents``) may be empty: the answer is then an empty list, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.kernel.errors import IntegrityError, LedgerError
from core.kernel.rows import IncidentRow, MonitorRunRow
from core.kernel.workspace import Session, Workspace
from core.operations import deployments
from core.operations.deployments import Deployment


@dataclass(frozen=True)
class Snapshot:
    """What was deployed where at one moment (``at`` is the last event it includes)."""

    at: int
    deployments: list[Deployment]
    throttles: dict[str, float | None]
    """The share each environment answered then (None: all of it)."""
    refused: dict[str, str] | None = None
    """Now only (None at a past moment, where today's rule is not asked): deployment id → why
    scoring in its environment refuses today by the stage and approval rule scoring applies
    (:func:`core.operations.deployments.refusal`). Scoring stops a whole environment at the
    first arm it refuses, so every deployment there is listed, each with the reason. Only
    that rule is asked here (a stage the catalog holds but no signed promotion gives is said
    as the integrity failure it is); signatures and digests are what ``audit verify`` checks."""

    def refusal(self, deployment_id: str) -> str | None:
        """Why scoring refuses this deployment's environment today (None: it does, or not asked)."""
        return (self.refused or {}).get(deployment_id)

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "at": self.at,
            "deployments": [
                d.to_json()
                | {"throttle": self.throttles.get(d.row.env)}
                | ({} if self.refused is None else {"refused": self.refusal(d.deployment_id)})
                for d in self.deployments
            ],
        }


def deployed_at(
    ws: Workspace, actor: str = "", *, when: str | None = None, env: str | None = None
) -> Snapshot:
    """What was live where now, or at ``when`` (an event number ``42``/``#42`` or a time).

    Raises:
        UsageError: for a bad environment name or a ``when`` that is neither.
    """
    from core.governance.lifecycle import resolve_at

    if env is not None:
        deployments.check_env(env)
    with ws.session(actor) as s:
        at = resolve_at(s, when) if when is not None else int(s.workspace.ledger.head()[0])
        found = deployments.everywhere(s, at=at if when is not None else None, env=env)
        envs = sorted({d.row.env for d in found})
        throttles = {
            e: deployments.throttle_of(s, e, at=at if when is not None else None) for e in envs
        }
        refused = None if when is not None else _refused(s, found)
        return Snapshot(at, found, throttles, refused)


def _refused(s: Session, found: list[Deployment]) -> dict[str, str]:
    """Why scoring refuses each environment of ``found`` today, for each of its deployments.

    As :meth:`core.operations.scoring.Scorer.refresh` does: an environment with no live arm
    answers nothing, and one refused arm (a canary whose approvals were voided) stops the
    whole environment, its live arm included.
    """
    out: dict[str, str] = {}
    for env in sorted({d.row.env for d in found}):
        here = [d for d in found if d.row.env == env]
        why = None
        if not any(d.row.arm == "live" for d in here):
            why = f"{env} has no live deployment: nothing may score there"
        for d in here:
            if why is not None:
                break
            try:
                err: LedgerError | None = deployments.refusal(s, d)
            except IntegrityError as edited:  # scoring stops on it too: say it, do not crash
                err = edited
            if err is not None:
                arm = "" if d.row.arm == "live" else f"its {d.row.arm} arm ({d.deployment_id}): "
                why = arm + err.msg
        if why is not None:
            out.update(dict.fromkeys((d.deployment_id for d in here), why))
    return out


def history(ws: Workspace, actor: str = "", *, env: str | None = None) -> list[Deployment]:
    """Every deployment ever recorded (optionally in one environment), oldest first."""
    if env is not None:
        deployments.check_env(env)
    with ws.session(actor) as s:
        return deployments.history(s, env)


@dataclass(frozen=True)
class DecisionCount:
    """The decisions logged in one environment (from ``decision_batches``)."""

    env: str
    batches: int
    decisions: int
    refused: int
    errors: int
    last_ts: str | None


def decision_counts(ws: Workspace, actor: str = "") -> list[DecisionCount]:
    """Decisions logged per environment, with refusals and errors counted apart."""
    with ws.session(actor) as s:
        rows = s.catalog.con.execute(
            "SELECT env, count(*), coalesce(sum(count), 0), coalesce(sum(refused), 0), "
            "coalesce(sum(errors), 0), max(last_ts) FROM decision_batches GROUP BY env "
            "ORDER BY env"
        ).fetchall()
    return [
        DecisionCount(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), r[5]) for r in rows
    ]


def monitor_runs(ws: Workspace, actor: str = "", *, limit: int = 20) -> list[MonitorRunRow]:
    """The latest monitoring runs, newest first, with their verdicts."""
    with ws.session(actor) as s:
        rows: list[MonitorRunRow] = s.catalog.rows(
            MonitorRunRow, "SELECT * FROM monitor_runs ORDER BY seq DESC LIMIT ?", [limit]
        )
        return rows


def open_incidents(ws: Workspace, actor: str = "") -> list[IncidentRow]:
    """Incidents not closed, oldest first (the ones someone must act on)."""
    with ws.session(actor) as s:
        rows: list[IncidentRow] = s.catalog.rows(
            IncidentRow, "SELECT * FROM incidents WHERE status <> 'closed' ORDER BY seq"
        )
        return rows


@dataclass(frozen=True)
class Board:
    """Everything the operations tab shows, read in one go."""

    now: Snapshot
    decisions: list[DecisionCount]
    runs: list[MonitorRunRow]
    incidents: list[IncidentRow]
    environments: list[str]
    """Every environment that ever had a deployment (rollback and withdraw targets)."""
    drift: list[DriftPoint] = field(default_factory=list)
    """Input drift of each monitoring run in ``runs``, oldest first."""


@dataclass(frozen=True)
class DriftPoint:
    """One monitoring window's input drift, as its signed evidence records it."""

    seq: int
    env: str
    window_end: str
    psi: float | None
    """The largest per-feature PSI against the training snapshot; None when unmeasured."""
    verdict: str


def drift_over_time(ws: Workspace, runs: list[MonitorRunRow]) -> list[DriftPoint]:
    """Each run's input drift (``drift_psi`` in its evidence), oldest first.

    The evidence blob is read with its digest checked: a figure the screen plots is the one
    the run signed, never recomputed.
    """
    import json

    points = []
    for r in sorted(runs, key=lambda r: r.seq):
        metrics = json.loads(ws.objects.read_verified(r.evidence_digest)).get("metrics") or {}
        psi = metrics.get("drift_psi")
        value = float(psi) if isinstance(psi, int | float) and not isinstance(psi, bool) else None
        points.append(DriftPoint(r.seq, r.env, r.window_end, value, r.verdict))
    return points


def board(ws: Workspace, actor: str = "") -> Board:
    """The operations tab's data."""
    now = deployed_at(ws, actor)
    envs = sorted({d.row.env for d in history(ws, actor)})
    runs = monitor_runs(ws, actor)
    return Board(
        now,
        decision_counts(ws, actor),
        runs,
        open_incidents(ws, actor),
        envs,
        drift_over_time(ws, runs),
    )


def rollback_preview(ws: Workspace, actor: str, env: str) -> tuple[Deployment, Deployment]:
    """What a rollback of ``env`` would do now: (the live deployment, the one it restores).

    For a confirmation that names both models before anything changes; the rollback itself
    decides again under the lock (:func:`core.operations.deployments.rollback`).

    Raises:
        CheckFailedError: nothing live, or no earlier approved deployment to return to.
    """
    deployments.check_env(env)
    with ws.session(actor) as s:
        return deployments.rollback_target(s, env)


def pipeline_runs(
    ws: Workspace, actor: str = "", *, name: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Recorded pipeline runs, newest first: the CI/CD history (steps decoded)."""
    import json

    from core.kernel.rows import PipelineRunRow

    sql = "SELECT * FROM pipeline_runs" + (" WHERE name = ?" if name else "")
    with ws.session(actor) as s:
        rows: list[PipelineRunRow] = s.catalog.rows(
            PipelineRunRow, sql + " ORDER BY seq DESC LIMIT ?", [*([name] if name else []), limit]
        )
    return [r.as_dict() | {"steps": json.loads(r.steps)} for r in rows]
