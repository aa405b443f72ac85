"""Read models for the workstation screens: small, paged, and never heavier than a query.

Everything here reads the catalog through its typed methods (no hashing, no model loading),
so a screen paints quickly even for thousands of model versions; full checks stay behind
explicit actions (``verify``). Both front doors may use these functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core import audit
from core.workspace import Workspace


@dataclass(frozen=True)
class ModelLine:
    """One row of the model inventory."""

    ref: str
    run_id: str
    roc_auc: float | None
    signatures: int
    evaluation: str
    failing: list[str]
    created_at: str


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
        lines = []
        for row in s.catalog.model_inventory(limit):
            metrics = json.loads(row["metrics"]) if row["metrics"] else {}
            passed = row["evaluation_passed"]
            state = "none" if passed is None else ("passed" if passed else "FAILED")
            failing = [f"{row['evaluation_errors']} evaluation errors"] if passed is False else []
            lines.append(
                ModelLine(
                    row["ref"],
                    row["run_id"],
                    metrics.get("roc_auc"),
                    int(row["signatures"]),
                    state,
                    failing,
                    row["created_at"],
                )
            )
        events = [
            {"seq": e.seq, "ts": e.ts, "actor": e.actor, "action": e.action, "reason": e.reason}
            for e in s.catalog.events(limit=recent, newest_first=True)
        ]
    cps = audit.checkpoints(ws)
    return Overview(
        workspace=str(ws.root),
        counts=counts,
        head=head,
        last_checkpoint=cps[-1].size if cps else None,
        models=lines,
        recent=events,
        auditor_only=bool(me and set(me.roles) == {"auditor"}),
    )


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
    bound = audit.parse_since(since) if since else None
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
