"""Event kinds of the decision log: batches of decisions, human overrides, late outcomes.

A ``decision.batch`` event lists one Parquet object (the decisions, one row each, refusals
and errors included) and carries the RFC 6962 Merkle root over the batch's
``decision-leaf/1`` leaves (:func:`storage.bundle_verifier.decision_leaf_data`), so one
decision's inclusion is provable offline and an edited row changes the root its actor
signed. A ``decision.override`` is a person's answer in place of the model's (EU AI Act
Art. 14, human oversight); an ``outcome.add`` lists a Parquet object of late labels joined
by request id.

Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import DecisionBatchRow, DecisionOverrideRow, OutcomeBatchRow

SCORE_ROLES = ("operator", "admin")
"""Who may record decisions and outcomes (a service identity may: it is the scorer)."""
OVERRIDE_ROLES = ("operator", "admin")
"""Who may override a decision; the actor must also be a person (checked by the command)."""
DECISION_LEAF = "decision-leaf/1"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
SOURCES = ("batch", "serve")


@dataclass(frozen=True)
class DecisionBatch(Payload):
    """One batch of logged decisions: its Parquet object and the Merkle root over its rows.

    ``deployments`` names every deployment that decided a row of it (live, canary, shadow);
    ``refused`` and ``errors`` count rows by status, so a batch's summary needs no object read.
    """

    batch_id: str
    env: str
    deployments: list[str]
    object_digest: str
    merkle_root: str
    leaf: str
    count: int
    refused: int
    errors: int
    first_ts: str
    last_ts: str
    first_request: str
    last_request: str
    source: str


@dataclass(frozen=True)
class DecisionOverride(Payload):
    """A person's decision in place of a logged one (the logged row is never rewritten).

    ``batch_seq`` and ``index`` locate the decision overridden (its leaf in that batch),
    ``was`` is the decision it replaces, as logged.
    """

    request_id: str
    batch_seq: int
    index: int
    outcome: str
    was: str | None = None


@dataclass(frozen=True)
class OutcomesAdded(Payload):
    """Observed outcomes (late labels) as a Parquet object: request_id, outcome, observed_at.

    ``outcome`` is 1 for the positive class as the model's outcome declaration defines it;
    ``unmatched`` counts request ids of the file that no logged decision has (they are
    reported and left out of the object, never invented).
    """

    object_digest: str
    rows: int
    matched: int
    unmatched: int
    source: str


@event_kind(
    "decision.batch",
    DecisionBatch,
    tables=("decision_batches",),
    roles=SCORE_ROLES,
    evidence_for=("lineage",),
)
def _batch(cat: Catalog, seq: int, body: Body, d: DecisionBatch) -> None:
    cat.put(
        DecisionBatchRow(
            seq=seq,
            batch_id=d.batch_id,
            env=d.env,
            deployments=json.dumps(d.deployments),
            object_digest=d.object_digest,
            merkle_root=d.merkle_root,
            count=d.count,
            refused=d.refused,
            errors=d.errors,
            first_ts=d.first_ts,
            last_ts=d.last_ts,
            first_request=d.first_request,
            last_request=d.last_request,
            source=d.source,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )


@event_kind(
    "decision.override",
    DecisionOverride,
    tables=("decision_overrides",),
    roles=OVERRIDE_ROLES,
)
def _override(cat: Catalog, seq: int, body: Body, d: DecisionOverride) -> None:
    cat.put(
        DecisionOverrideRow(
            seq=seq,
            request_id=d.request_id,
            batch_seq=d.batch_seq,
            outcome=d.outcome,
            reason=body.get("reason", ""),
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )


@event_kind("outcome.add", OutcomesAdded, tables=("outcome_batches",), roles=SCORE_ROLES)
def _outcomes(cat: Catalog, seq: int, body: Body, d: OutcomesAdded) -> None:
    cat.put(
        OutcomeBatchRow(
            seq=seq,
            object_digest=d.object_digest,
            rows=d.rows,
            matched=d.matched,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
