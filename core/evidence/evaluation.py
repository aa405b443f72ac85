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

from core.data import snapshots
from core.evidence import context, sections, sources
from core.evidence.checks import Check, Checks
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
from core.kernel.errors import UsageError
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import ModelRow, SnapshotRow
from core.kernel.workspace import Session, Workspace
from core.modelling import environment, models, training

ROLES = EVALUATE_ROLES


def compute(
    ws: Workspace,
    model: ModelRow,
    suite: dict[str, Any],
    suite_digest: str,
    progress: Progress = NO_PROGRESS,
    on: SnapshotRow | None = None,
) -> Evidence:
    """Run the suite's sections on a model version; return the evidence (records nothing).

    ``on``: judge every row of that snapshot instead of the held-out split (its schema was
    checked by :func:`check_schema`). Native thread pools are capped as in training
    (:func:`core.modelling.environment.native_threads`).
    """
    import sklearn.metrics  # noqa: F401  (loads scikit-learn's OpenMP before the cap is set)

    with environment.native_threads():
        return _compute(ws, model, suite, suite_digest, progress, on)


def check_schema(ws: Workspace, s: Session, model: ModelRow, other: SnapshotRow) -> str:
    """Refuse a test snapshot whose columns do not match the model's training input.

    Every feature must be there with the same kind (number, text, boolean, date), and the
    target and sensitive columns must be there; the message names every column that differs.
    Returns the training input's reference.
    """
    run = models.resolve_run(s.catalog, model.run_id)
    trained = snapshots.resolve(s.catalog, run.input_ref)
    spec = training.load_run_spec(ws, run)
    differ = sources.schema_differences(trained, other, list(spec.features))
    differ += sources.schema_differences(trained, other, [spec.target, *spec.sensitive])
    if differ:
        raise UsageError(
            f"{other.ref} does not match {model.ref}'s training input {trained.ref}: "
            + "; ".join(differ),
            hint="Evaluate on a snapshot with the training input's feature, target and "
            "sensitive columns (a feature view can rename and cast them).",
        )
    return trained.ref


def _run_sections(
    ctx: context.EvaluationContext, suite: dict[str, Any], progress: Progress
) -> tuple[dict[str, Any], list[Check]]:
    """Run the suite's sections on a context, in order; return their results and checks."""
    registered = [s for s in sections.registry() if s.name in suite]
    for section in registered:
        section.precheck(ctx, suite[section.name])
    checks = Checks()
    results = {}
    for step, section in enumerate(registered):
        progress(step, len(registered), section.label)
        results[section.name] = section.run(ctx, suite[section.name], checks)
    progress(len(registered), len(registered), "done")
    return results, checks.records()


def _compute(
    ws: Workspace,
    model: ModelRow,
    suite: dict[str, Any],
    suite_digest: str,
    progress: Progress,
    on: SnapshotRow | None = None,
) -> Evidence:
    settings = suite.get("evaluation", {})
    seed = int(settings.get("seed", 0))
    ctx = (
        context.load(ws, model, seed) if on is None else sources.from_snapshot(ws, model, on, seed)
    )
    results, found = _run_sections(ctx, suite, progress)
    errors = sum(1 for c in found if c.failed_error)
    return Evidence(
        type_=TYPE,
        model=ModelInfo(ref=model.ref, digest=model.model_digest, run=ctx.run.run_id),
        data=DataInfo(
            snapshot=ctx.snapshot.ref,
            table_digest=ctx.snapshot.table_digest,
            test_rows=len(ctx.test_rows),
            train_rows=len(ctx.train_rows),
            trained_on=ctx.run.input_ref if on is not None else None,
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
    on: str | None = None,
) -> tuple[int, Evidence]:
    """Evaluate a model version, store and sign the evidence, record it; return (event, doc).

    ``on``: a snapshot reference; every row of it is the test set instead of the model's
    held-out split, after :func:`check_schema`.
    """
    suite, raw = load_suite(suite_path)
    suite_digest = hashlib.sha256(raw).hexdigest()

    def prepare(s: Session) -> tuple[ModelRow, SnapshotRow | None]:
        model = models.resolve(s.catalog, ref)
        other = None
        if on is not None:
            other = snapshots.resolve(s.catalog, on)
            check_schema(ws, s, model, other)
        attest.signing_key(s, key_ref)  # fail before the work if there is no key
        return model, other

    def work(found: tuple[ModelRow, SnapshotRow | None]) -> tuple[ModelRow, Evidence]:
        model, other = found
        with read_access(ws, actor, model, other, "evaluate", reason=reason):
            return model, compute(ws, model, suite, suite_digest, progress, other)

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
            predicate={
                "model": model.ref,
                "suite_digest": suite_digest,
                "passed": evidence.passed,
                "verdict": evidence.verdict,
            },
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


def read_access(
    ws: Workspace,
    actor: str,
    model: ModelRow,
    other: SnapshotRow | None,
    purpose: str,
    *,
    reason: str = "",
) -> Any:
    """The recorded access to what judging ``model`` reads: its training input, ``other``.

    A :class:`core.data.encryption.Grant` to use as a context manager; plaintext inputs
    record nothing.
    """
    from core.data import encryption

    with ws.session() as s:
        run = models.resolve_run(s.catalog, model.run_id)
        snaps = [snapshots.resolve(s.catalog, run.input_ref), *([other] if other else [])]
    return encryption.open(ws, actor, snaps, purpose, target=f"model:{model.ref}", reason=reason)


def latest_evidence(ws: Workspace, ref: str, actor: str = "") -> tuple[Evidence, int] | None:
    """The newest recorded evidence of a model version, typed, and its event number."""
    with ws.session(actor) as s:
        model = models.resolve(s.catalog, ref)
        rows = s.catalog.evaluations(model.ref)
    if not rows:
        return None
    row = rows[-1]
    return Evidence.from_bytes(ws.objects.read_verified(row.evidence_digest)), row.seq
