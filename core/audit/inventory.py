"""Read models for the workstation screens: small, paged, and never heavier than a query.

Everything here reads the catalog through its typed methods (no hashing, no model loading),
so a screen paints quickly even for thousands of model versions; full checks stay behind
explicit actions (``verify``). Both front doors may use these functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.audit import checkpoints, log
from core.kernel.workspace import Workspace


@dataclass(frozen=True)
class ModelLine:
    """One row of the model inventory."""

    ref: str
    run_id: str
    roc_auc: float | None
    signatures: str
    validation: str
    evaluation: str
    failing: list[str]
    created_at: str
    gaps: int = 0
    """How many checks ``failing`` describes (the narrow inventory's count)."""


@dataclass
class Overview:
    """What the overview screen shows."""

    workspace: str
    counts: dict[str, int]
    head: int
    last_checkpoint: int | None
    models: list[ModelLine] = field(default_factory=list)
    recent: list[dict[str, Any]] = field(default_factory=list)
    auditor_only: bool = False


def overview(ws: Workspace, actor: str = "", *, limit: int = 200, recent: int = 20) -> Overview:
    """Counts, head, last checkpoint, the newest ``limit`` model versions, recent events."""
    with ws.session(actor) as s:
        counts = {k: v for k, v in s.catalog.counts().items() if k != "catalog_meta"}
        head, _ = s.catalog.applied()
        me = s.catalog.actor(actor)
        lines = [_model_line(row) for row in s.catalog.model_inventory(limit)]
        events = [
            {"seq": e.seq, "ts": e.ts, "actor": e.actor, "action": e.action, "reason": e.reason}
            for e in s.catalog.events(limit=recent, newest_first=True)
        ]
    cps = checkpoints.checkpoints(ws)
    return Overview(
        workspace=str(ws.root),
        counts=counts,
        head=head,
        last_checkpoint=cps[-1].size if cps else None,
        models=lines,
        recent=events,
        auditor_only=bool(me and set(me.roles) == {"auditor"}),
    )


def _model_line(row: dict[str, Any]) -> ModelLine:
    """States are read from the catalog, not re-checked: full verification is `verify`.

    A validation or evaluation reads by its verdict (PASS, WARN, FAIL), never "passed" when a
    check warned, and ``failing`` counts every check that is not a pass (errors, warnings,
    inconclusive checks).
    """
    metrics = json.loads(row["metrics"]) if row["metrics"] else {}
    failing = []
    gaps = 0
    suite = row["gate_suite"]
    if suite is None:
        validation = "none"
    elif not row["gate_passed"]:
        validation = f"{suite} FAIL"
        failing.append(_count(row["gate_errors"], "validation error"))
        gaps += int(row["gate_errors"] or 0)
    elif row["gate_warnings"]:
        validation = f"{suite} WARN"
        failing.append(_count(row["gate_warnings"], "validation warning"))
        gaps += int(row["gate_warnings"])
    else:
        validation = f"{suite} PASS"
    passed = row["evaluation_passed"]
    warned = int(row["evaluation_warnings"] or 0)
    evaluation = "none" if passed is None else str(row["evaluation_verdict"])
    if passed is False:
        failing.append(_count(row["evaluation_errors"], "evaluation error"))
        gaps += int(row["evaluation_errors"] or 0)
    if passed is not None and warned:
        failing.append(_count(warned, "evaluation check") + " warned or inconclusive")
        gaps += warned
    count, revoked = int(row["signatures"]), int(row["revoked_signatures"])
    signatures = "unsigned" if not count else f"signed ×{count}"
    if revoked:
        signatures += f" ({revoked} by a revoked key)"
        if revoked == count:
            failing.append("no signature from an unrevoked key")
            gaps += 1
    return ModelLine(
        row["ref"],
        row["run_id"],
        metrics.get("roc_auc"),
        signatures,
        validation,
        evaluation,
        failing,
        row["created_at"],
        gaps,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def events_page(
    ws: Workspace,
    actor: str = "",
    *,
    offset: int = 0,
    limit: int = 200,
    by: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    since: str | None = None,
) -> list[dict[str, Any]]:
    """One page of the ledger, newest first, with optional filters (``since``: 2h, a date)."""
    bound = log.parse_since(since) if since else None
    with ws.session(actor) as s:
        rows = s.catalog.events(
            actor=by,
            action=action,
            subject=subject,
            since=bound,
            limit=offset + limit,
            newest_first=True,
        )
    return [
        {
            "seq": e.seq,
            "ts": e.ts,
            "actor": e.actor,
            "action": e.action,
            "subjects": e.subjects,
            "reason": e.reason,
        }
        for e in rows[offset:]
    ]
