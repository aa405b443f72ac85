"""The evidence context's event kinds: signed evaluations of models and of existing scores.

Declared once here with its typed payload and projector handler; light on purpose (no
scikit-learn or SHAP).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import EdgeRow, EvaluationRow, ScoreEvaluationRow

EVALUATE_ROLES = ("validator", "data-scientist", "admin")


@dataclass(frozen=True)
class PrivacyBudget(Payload):
    """The differential-privacy budget an evaluation spent on a snapshot's rows.

    Its DP-trained variants (the evidence's ``differential_privacy`` section) were fitted on
    ``snapshot``'s training rows; ``epsilon`` is the sum of the ε of every variant
    (sequential composition, an upper bound). :mod:`core.evidence.privacy_budget` sums it per
    snapshot from the ledger; no event of its own is needed, the signed evaluation says it.
    """

    snapshot: str
    table_digest: str
    epsilon: float
    variants: int


@dataclass(frozen=True)
class ModelEvaluated(Payload):
    """A signed evaluation of a model on a snapshot (the evidence and envelope are blobs)."""

    envelope: str
    key_id: str
    predicate_type: str
    model: str
    evidence: str
    suite_digest: str
    passed: bool
    errors: int
    warnings: int
    snapshot: str
    verdict: str | None = None
    """The evidence's overall verdict (PASS/WARN/INCONCLUSIVE/FAIL); absent in older events."""
    privacy_budget: PrivacyBudget | None = None
    """The DP budget its variants spent on the training rows; absent when none was spent."""


@event_kind(
    "model.evaluate",
    ModelEvaluated,
    tables=("evaluations", "edges"),
    evidence_for=("fairness",),
    roles=EVALUATE_ROLES,
)
def _model_evaluate(cat: Catalog, seq: int, body: Body, d: ModelEvaluated) -> None:
    cat.put(
        EvaluationRow(
            seq=seq,
            model=d.model,
            evidence_digest=d.evidence,
            suite_digest=d.suite_digest,
            envelope_digest=d.envelope,
            key_id=d.key_id,
            passed=d.passed,
            errors=d.errors,
            warnings=d.warnings,
            created_at=body["ts"],
            created_by=body["actor"],
            verdict=d.verdict or ("FAIL" if d.errors else "WARN" if d.warnings else "PASS"),
        )
    )
    cat.put_edges(
        [
            EdgeRow(src=f"evaluation:{seq}", dst=f"model:{d.model}", relation="evaluates", seq=seq),
            EdgeRow(
                src=f"evaluation:{seq}",
                dst=f"snapshot:{d.snapshot}",
                relation="evaluated-on",
                seq=seq,
            ),
        ]
    )


@dataclass(frozen=True)
class ScoreEvaluated(Payload):
    """A signed evaluation of an existing score: a column of a snapshot, judged by a suite.

    ``subject`` is ``score:<snapshot>#<column>``; the evidence, the score spec (which column,
    label, threshold and outcome meaning) and the envelope are blobs.
    """

    envelope: str
    key_id: str
    predicate_type: str
    subject: str
    snapshot: str
    column: str
    evidence: str
    suite_digest: str
    spec_digest: str
    passed: bool
    errors: int
    warnings: int
    verdict: str
    """The evidence's overall verdict (PASS/WARN/INCONCLUSIVE/FAIL)."""


@event_kind(
    "score.evaluate",
    ScoreEvaluated,
    tables=("score_evaluations", "edges"),
    evidence_for=("fairness",),
    roles=EVALUATE_ROLES,
)
def _score_evaluate(cat: Catalog, seq: int, body: Body, d: ScoreEvaluated) -> None:
    cat.put(
        ScoreEvaluationRow(
            seq=seq,
            subject=d.subject,
            snapshot=d.snapshot,
            score_column=d.column,
            evidence_digest=d.evidence,
            suite_digest=d.suite_digest,
            spec_digest=d.spec_digest,
            envelope_digest=d.envelope,
            key_id=d.key_id,
            passed=d.passed,
            errors=d.errors,
            warnings=d.warnings,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges(
        [
            EdgeRow(
                src=f"evaluation:{seq}", dst=f"snapshot:{d.snapshot}", relation="evaluates", seq=seq
            )
        ]
    )
