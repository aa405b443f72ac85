"""``evaluate --predictions``: judge an existing score, sign the evidence, record it.

A vendor's or a legacy model's score is often already in the data: a column of a snapshot
beside the label and the sensitive attributes. A score spec (:mod:`core.evidence.score_spec`)
says which column it is, whether it is a probability or a 0/1 decision, the threshold, and
the declared outcome meaning. The context is every row of the snapshot
(:func:`core.evidence.sources.from_score`); only sections that need no model run apply
(fairness), and the evidence adds the score's ROC AUC, accuracy and Brier score. The subject
is ``score:<snapshot>#<column>``: the evidence says which score it is about, never a model,
and one ``score.evaluate`` event records it, signed by the evaluator.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from core.data import snapshots
from core.evidence import sources
from core.evidence.checks import clean
from core.evidence.document import (
    MEDIA_TYPE,
    PREDICATE,
    TYPE,
    DataInfo,
    Evidence,
    ScoreInfo,
    SuiteInfo,
)
from core.evidence.evaluation import _run_sections
from core.evidence.events import EVALUATE_ROLES, ScoreEvaluated
from core.evidence.score_spec import ScoreSpec
from core.evidence.score_spec import load as load_spec
from core.evidence.suite import load_suite
from core.identity import actors, attest
from core.kernel import command
from core.kernel import verdict as verdicts
from core.kernel.errors import UsageError
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Session, Workspace
from core.modelling import environment

SPEC_MEDIA_TYPE = "application/toml"


def subject_of(snapshot: str, column: str) -> str:
    """The ledger subject of a score: ``score:<snapshot ref>#<column>``."""
    return f"score:{snapshot}#{column}"


def refuse_model_sections(suite: dict[str, Any], where: str) -> None:
    """Refuse, before any work, a suite asking for what only a model can give."""
    asked = [name for name in sources.NEEDS_A_MODEL if name in suite]
    if asked:
        raise UsageError(
            f"{where}: [{asked[0]}] needs a model to run, and an existing score has none"
            + (f" (also: {', '.join(asked[1:])})" if len(asked) > 1 else ""),
            hint="With --predictions only [fairness] applies (the score's ROC AUC, accuracy "
            "and Brier score are always recorded); use a suite without "
            f"{', '.join(f'[{a}]' for a in asked)}.",
        )


def compute(
    ws: Workspace,
    snap: SnapshotRow,
    spec: ScoreSpec,
    spec_digest: str,
    suite: dict[str, Any],
    suite_digest: str,
    progress: Progress = NO_PROGRESS,
) -> Evidence:
    """Judge a score column of a snapshot by a suite; return the evidence (records nothing)."""
    import sklearn.metrics  # noqa: F401  (loads scikit-learn's OpenMP before the cap is set)

    with environment.native_threads():
        settings = suite.get("evaluation", {})
        ctx = sources.from_score(ws, snap, spec, int(settings.get("seed", 0)))
        missing = [
            a for attrs in _fairness_attributes(suite) for a in attrs if a not in spec.sensitive
        ]
        if missing:
            raise UsageError(
                f"fairness attribute {missing[0]!r} is not a sensitive column of the score spec",
                hint=f"Sensitive columns: {', '.join(spec.sensitive)}.",
            )
        results, found = _run_sections(ctx, suite, progress)
        summary = sources.summary(ctx, spec.kind)
    errors = sum(1 for c in found if c.failed_error)
    return Evidence(
        type_=TYPE,
        model=None,
        data=DataInfo(
            snapshot=snap.ref,
            table_digest=snap.table_digest,
            test_rows=len(ctx.test_rows),
            train_rows=0,
        ),
        suite=SuiteInfo(name=settings.get("name", "evaluation"), digest=suite_digest),
        seed=ctx.seed,
        sections=results,
        checks=found,
        passed=errors == 0,
        errors=errors,
        warnings=sum(1 for c in found if c.failed_warning),
        recorded_verdict=verdicts.worst(c.verdict for c in found),
        score=ScoreInfo.from_json(
            clean(
                {
                    "subject": subject_of(snap.ref, spec.column),
                    "snapshot": snap.ref,
                    "table_digest": snap.table_digest,
                    "column": spec.column,
                    "spec": spec.to_json(),
                    "spec_digest": spec_digest,
                    "summary": summary,
                }
            )
        ),
    )


def _fairness_attributes(suite: dict[str, Any]) -> list[list[str]]:
    cfg = suite.get("fairness", {})
    return [[a] for a in cfg.get("attributes", [])] + [
        list(i) for i in cfg.get("intersections", [])
    ]


def evaluate(
    ws: Workspace,
    actor: str,
    ref: str,
    spec_path: Path,
    suite_path: Path,
    *,
    reason: str = "",
    key_ref: str | None = None,
    progress: Progress = NO_PROGRESS,
) -> tuple[int, Evidence]:
    """Evaluate an existing score, store and sign the evidence, record it; return (event, doc)."""
    suite, raw_suite = load_suite(suite_path)
    refuse_model_sections(suite, str(suite_path))
    spec, raw_spec = load_spec(spec_path)
    suite_digest = hashlib.sha256(raw_suite).hexdigest()
    spec_digest = hashlib.sha256(raw_spec).hexdigest()

    def prepare(s: Session) -> SnapshotRow:
        snap = snapshots.resolve(s.catalog, ref)
        attest.signing_key(s, key_ref)  # fail before the work if there is no key
        return snap

    def work(snap: SnapshotRow) -> Evidence:
        from core.data import encryption

        with encryption.open(
            ws, actor, [snap], "evaluate", target=f"score:{snap.ref}", reason=reason
        ):
            return compute(ws, snap, spec, spec_digest, suite, suite_digest, progress)

    def commit(s: Session, evidence: Evidence) -> tuple[int, Evidence]:
        assert evidence.score is not None
        score = evidence.score
        evidence_ref = s.put_blob(evidence.to_bytes(), MEDIA_TYPE)
        suite_ref = s.put_blob(raw_suite, "application/toml")
        spec_ref = s.put_blob(raw_spec, SPEC_MEDIA_TYPE)
        att = attest.sign_statement(
            s,
            key_ref=key_ref,
            subjects=[
                ("evaluation.json", evidence_ref.sha256),
                ("score-spec.toml", spec_digest),
                ("table", score.table_digest),
            ],
            predicate_type=PREDICATE,
            predicate={
                "score": score.subject,
                "suite_digest": suite_digest,
                "passed": evidence.passed,
                "verdict": evidence.verdict,
            },
            reason=reason,
            extra_subjects=[score.subject, f"snapshot:{score.snapshot}"],
            as_payload=lambda envelope, key_id, predicate_type: ScoreEvaluated(
                envelope=envelope,
                key_id=key_id,
                predicate_type=predicate_type,
                subject=score.subject,
                snapshot=score.snapshot,
                column=score.column,
                evidence=evidence_ref.sha256,
                suite_digest=suite_digest,
                spec_digest=spec_digest,
                passed=evidence.passed,
                errors=evidence.errors,
                warnings=evidence.warnings,
                verdict=evidence.verdict,
            ),
            extra_objects=[evidence_ref, suite_ref, spec_ref],
        )
        return att.seq, evidence

    return command.run(
        ws,
        actor,
        guards=[actors.needs(*EVALUATE_ROLES, action="evaluate scores")],
        prepare=prepare,
        compute=work,
        commit=commit,
    )


def latest(ws: Workspace, subject: str, actor: str = "") -> tuple[Evidence, int] | None:
    """The newest recorded evidence about a score (``score:<snapshot>#<column>``)."""
    with ws.session(actor) as s:
        rows = s.catalog.score_evaluations(subject)
    if not rows:
        return None
    row = rows[-1]
    return Evidence.from_bytes(ws.objects.read_verified(row.evidence_digest)), row.seq
