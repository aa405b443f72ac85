"""The operations context's deployment event kinds.

A deployment is one ``model.deploy`` event; a rollback one ``model.rollback``. Both project
into ``deployments``: the new row, and ``ended_seq`` on the rows it takes out of service, so
the table answers "what was live where at event N" without replaying anything. Being in
production is not a lifecycle stage: it is this table.

Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import DeploymentRow, ThrottleRow

DEPLOY_ROLES = ("operator", "admin")
"""Who may deploy, roll back or withdraw; whether a deployment is allowed is the policy's."""
ARMS = ("live", "canary", "shadow")
"""How a deployment takes traffic: it answers, answers a share, or is scored unseen."""
STRATEGIES = {"direct": "live", "canary": "canary", "shadow": "shadow"}
"""The ``--strategy`` a user names, and the arm it deploys into."""
BASELINE = "baseline"
"""The strategy of a rule-based baseline put live in a model's place (an incident's
fallback): its ``model`` is ``baseline:NAME`` and its ``model_digest`` the rule's blob."""
BASELINE_MEDIA_TYPE = "application/vnd.ledgerml.baseline+json"
RETENTION = ("hmac-only", "rows")
"""What a deployment's decision log keeps of each input: its keyed digest only, or also the
row itself (needed for input drift; the privacy issue enforces how long)."""


@dataclass(frozen=True)
class Condition(Payload):
    """An approval's condition carried into a deployment.

    ``where`` is the machine-checkable part (a SQL boolean over input columns) that scoring
    enforces row by row; a condition without one is recorded and shown, not enforced.
    """

    text: str
    by: str
    approval_seq: int
    where: str | None = None


@dataclass(frozen=True)
class Deployed(Payload):
    """A model version put into an environment's ``arm``.

    ``ends`` lists the deployments this one takes out of service (the live one a direct
    deployment replaces, the canary or shadow it supersedes). ``key_check`` identifies the
    per-deployment decision key (an HMAC of a fixed label under it), never the key itself.
    """

    deployment_id: str
    env: str
    arm: str
    strategy: str
    model: str
    model_digest: str
    retention: str
    key_check: str
    conditions: list[dict[str, Any]]
    """Each a :class:`Condition`'s data (nested lists of payloads are kept as plain data)."""
    ends: list[str]
    share: float | None = None
    incident: int | None = None


@dataclass(frozen=True)
class RolledBack(Payload):
    """An environment returned to an earlier deployment's model, as a new live deployment."""

    deployment_id: str
    env: str
    model: str
    model_digest: str
    retention: str
    key_check: str
    conditions: list[dict[str, Any]]
    """Each a :class:`Condition`'s data (nested lists of payloads are kept as plain data)."""
    rollback_of: str
    restores: str
    ends: list[str]
    incident: int | None = None


@dataclass(frozen=True)
class Withdrawn(Payload):
    """Deployments taken out of service with nothing in their place."""

    env: str
    ends: list[str]
    incident: int | None = None


def _end(cat: Catalog, seq: int, ids: list[str]) -> None:
    if ids:
        cat.con.execute(
            "UPDATE deployments SET ended_seq = ? WHERE deployment_id IN "
            f"({', '.join('?' for _ in ids)}) AND ended_seq IS NULL",
            [seq, *ids],
        )


def _conditions(items: list[dict[str, Any]]) -> str:
    return json.dumps([Condition.from_data(c).to_data() for c in items], sort_keys=True)


@event_kind(
    "model.deploy",
    Deployed,
    tables=("deployments",),
    roles=DEPLOY_ROLES,
    evidence_for=("history",),
)
def _deploy(cat: Catalog, seq: int, body: Body, d: Deployed) -> None:
    _end(cat, seq, d.ends)
    cat.put(
        DeploymentRow(
            seq=seq,
            deployment_id=d.deployment_id,
            env=d.env,
            arm=d.arm,
            model=d.model,
            model_digest=d.model_digest,
            strategy=d.strategy,
            share=d.share,
            replaces=d.ends[0] if d.arm == "live" and d.ends else None,
            rollback_of=None,
            retention=d.retention,
            conditions=_conditions(d.conditions),
            incident=d.incident,
            ended_seq=None,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body.get("reason", ""),
        )
    )


@event_kind(
    "model.rollback",
    RolledBack,
    tables=("deployments",),
    roles=DEPLOY_ROLES,
    evidence_for=("history", "incidents"),
)
def _rollback(cat: Catalog, seq: int, body: Body, d: RolledBack) -> None:
    _end(cat, seq, d.ends)
    cat.put(
        DeploymentRow(
            seq=seq,
            deployment_id=d.deployment_id,
            env=d.env,
            arm="live",
            model=d.model,
            model_digest=d.model_digest,
            strategy="rollback",
            share=None,
            replaces=d.rollback_of,
            rollback_of=d.rollback_of,
            retention=d.retention,
            conditions=_conditions(d.conditions),
            incident=d.incident,
            ended_seq=None,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body.get("reason", ""),
        )
    )


@event_kind("deploy.withdraw", Withdrawn, tables=("deployments",), roles=DEPLOY_ROLES)
def _withdraw(cat: Catalog, seq: int, body: Body, d: Withdrawn) -> None:
    _end(cat, seq, d.ends)


@dataclass(frozen=True)
class Throttled(Payload):
    """An environment limited to answering ``share`` of requests (None: the limit lifted)."""

    env: str
    share: float | None = None
    incident: int | None = None


@event_kind("deploy.throttle", Throttled, tables=("throttles",), roles=DEPLOY_ROLES)
def _throttle(cat: Catalog, seq: int, body: Body, d: Throttled) -> None:
    cat.put(
        ThrottleRow(
            seq=seq,
            env=d.env,
            share=d.share,
            incident=d.incident,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body.get("reason", ""),
        )
    )
