"""``evaluate``: judge a model version by a suite, sign the evidence, record it.

``evaluate`` loads a model version whose bytes verify, rebuilds its held-out split from the
recorded run (:mod:`core.evidence.context`), and runs the sections an evaluation suite asks
for (:mod:`core.evidence.sections`: fairness, explainability, robustness, privacy and a
baseline). Every threshold is a check with a severity; an error-level failure makes the CLI
exit 1 and is recorded like a pass. The evidence (:class:`~core.evidence.document.Evidence`)
is canonical JSON, rounded to 12 significant digits, seeded throughout, so the same model,
suite and seed give byte-identical evidence; it is stored, signed with the evaluator's key,
and recorded in one ``model.evaluate`` event.

It is a three-step command (:func:`core.kernel.command.run`): check the role, the model and
the signing key; compute the evidence without holding the workspace; commit the blobs and
the signed event.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from core.evidence import context, sections
from core.evidence.checks import Checks
from core.evidence.document import (
    MEDIA_TYPE,
    PREDICATE,
    TYPE,
    DataInfo,
    Evidence,
    ModelInfo,
    SuiteInfo,
)
from core.evidence.events import EVALUATE_ROLES, ModelEvaluated
from core.evidence.suite import load_suite
from core.identity import actors, attest
from core.kernel import command
from core.kernel import verdict as verdicts
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import ModelRow
from core.kernel.workspace import Session, Workspace
from core.modelling import environment, models

ROLES = EVALUATE_ROLES


def compute(
    ws: Workspace,
    model: ModelRow,
    suite: dict[str, Any],
    suite_digest: str,
    progress: Progress = NO_PROGRESS,
) -> Evidence:
    """Run the suite's sections on a model version; return the evidence (records nothing).

    Native thread pools are capped as in training
    (:func:`core.modelling.environment.native_threads`).
    """
    import sklearn.metrics  # noqa: F401  (loads scikit-learn's OpenMP before the cap is set)

    with environment.native_threads():
        return _compute(ws, model, suite, suite_digest, progress)


def _compute(
    ws: Workspace,
    model: ModelRow,
    suite: dict[str, Any],
    suite_digest: str,
    progress: Progress,
) -> Evidence:
    settings = suite.get("evaluation", {})
    ctx = context.load(ws, model, int(settings.get("seed", 0)))
    registered = sections.registry()
    for section in registered:
        if section.name in suite:
            section.precheck(ctx, suite[section.name])
    checks = Checks()
    results = {}
    for step, section in enumerate(registered):
        progress(step, len(registered), section.label)
        if section.name in suite:
            results[section.name] = section.run(ctx, suite[section.name], checks)
    progress(len(registered), len(registered), "done")
    found = checks.records()
    errors = sum(1 for c in found if c.failed_error)
    return Evidence(
        type_=TYPE,
        model=ModelInfo(ref=model.ref, digest=model.model_digest, run=ctx.run.run_id),
        data=DataInfo(
            snapshot=ctx.snapshot.ref,
            table_digest=ctx.snapshot.table_digest,
            test_rows=len(ctx.test_rows),
            train_rows=len(ctx.train_rows),
        ),
        suite=SuiteInfo(name=settings.get("name", "evaluation"), digest=suite_digest),
        seed=ctx.seed,
        sections=results,
        checks=found,
        passed=errors == 0,
        errors=errors,
        warnings=sum(1 for c in found if c.failed_warning),
        recorded_verdict=verdicts.worst(c.verdict for c in found),
    )


def evaluate(
    ws: Workspace,
    actor: str,
    ref: str,
    suite_path: Path,
    *,
    reason: str = "",
    key_ref: str | None = None,
    progress: Progress = NO_PROGRESS,
) -> tuple[int, Evidence]:
    """Evaluate a model version, store and sign the evidence, record it; return (event, doc)."""
    suite, raw = load_suite(suite_path)
    suite_digest = hashlib.sha256(raw).hexdigest()

    def prepare(s: Session) -> ModelRow:
        model = models.resolve(s.catalog, ref)
        attest.signing_key(s, key_ref)  # fail before the work if there is no key
        return model

    def work(model: ModelRow) -> tuple[ModelRow, Evidence]:
        return model, compute(ws, model, suite, suite_digest, progress)

    def commit(s: Session, done: tuple[ModelRow, Evidence]) -> tuple[int, Evidence]:
        model, evidence = done
        evidence_ref = s.put_blob(evidence.to_bytes(), MEDIA_TYPE)
        suite_ref = s.put_blob(raw, "application/toml")
        att = attest.sign_statement(
            s,
            key_ref=key_ref,
            subjects=[
                ("evaluation.json", evidence_ref.sha256),
                ("model.skops", model.model_digest),
            ],
            predicate_type=PREDICATE,
            predicate={"model": model.ref, "suite_digest": suite_digest, "passed": evidence.passed},
            reason=reason,
            extra_subjects=[f"model:{model.ref}"],
            as_payload=lambda envelope, key_id, predicate_type: ModelEvaluated(
                envelope=envelope,
                key_id=key_id,
                predicate_type=predicate_type,
                model=model.ref,
                evidence=evidence_ref.sha256,
                suite_digest=suite_digest,
                passed=evidence.passed,
                errors=evidence.errors,
                warnings=evidence.warnings,
                snapshot=evidence.data.snapshot,
                verdict=evidence.verdict,
            ),
            extra_objects=[evidence_ref, suite_ref],
        )
        return att.seq, evidence

    return command.run(
        ws,
        actor,
        guards=[actors.needs(*ROLES, action="evaluate models")],
        prepare=prepare,
        compute=work,
        commit=commit,
    )


def latest_evidence(ws: Workspace, ref: str, actor: str = "") -> tuple[Evidence, int] | None:
    """The newest recorded evidence of a model version, typed, and its event number."""
    with ws.session(actor) as s:
        model = models.resolve(s.catalog, ref)
        rows = s.catalog.evaluations(model.ref)
    if not rows:
        return None
    row = rows[-1]
    return Evidence.from_bytes(ws.objects.read_verified(row.evidence_digest)), row.seq
