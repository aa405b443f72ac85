"""Model cards and algorithmic impact assessments, built only from recorded evidence.

Every figure comes from objects the ledger names (the run's metrics, the newest signed
evaluation evidence, signatures and their keys); nothing is recomputed at render time, so the
same records always render to the same bytes. Questions records cannot answer (purpose, uses,
limitations, risks, oversight…) come from an answers file; unanswered ones are listed as gaps.
Each rendering is stored and recorded by one ``report.*`` event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from core.documents import mitigations, reporting
from core.documents.events import ImpactAssessmentRecorded, ModelCardRecorded
from core.documents.signoff import signoff
from core.evidence import evaluation
from core.evidence.checks import not_passed
from core.evidence.document import Evidence
from core.evidence.record import Record
from core.evidence.sections.attribute_inference import AttributeInference
from core.evidence.sections.baseline import Baseline
from core.evidence.sections.differential_privacy import DifferentialPrivacy
from core.evidence.sections.explainability import Explainability
from core.evidence.sections.fairness import Fairness
from core.evidence.sections.privacy import Privacy
from core.evidence.sections.robustness import Robustness
from core.evidence.vocabulary import metric_name, plural
from core.kernel.verdict import LEGEND
from core.kernel.workspace import Workspace
from core.modelling import model_view, models
from core.modelling.estimators import ESTIMATORS
from core.modelling.outcome import Outcome
from reports.contexts import ImpactContext, ModelCardContext
from reports.formatting import humane, percent, when
from reports.render import render_impact, render_model_card

CARD_QUESTIONS = (
    "purpose",
    "intended_uses",
    "out_of_scope",
    "limitations",
    "ethical_considerations",
    "contacts",
)
# The EU AI Act Art. 27 fundamental-rights assessment items, plus deployment context.
IMPACT_QUESTIONS = (
    ("purpose", "Intended purpose and the deployer's processes", "AI Act Art. 27(1)(a)"),
    ("period_and_frequency", "Period and frequency of use", "AI Act Art. 27(1)(b)"),
    (
        "affected_people",
        "Categories of natural persons and groups affected",
        "AI Act Art. 27(1)(c)",
    ),
    ("stakeholders", "Stakeholders consulted", "good practice (Canada AIA)"),
    ("risks", "Specific risks of harm to the affected groups", "AI Act Art. 27(1)(d)"),
    ("human_oversight", "Human-oversight measures", "AI Act Art. 27(1)(e), Art. 14"),
    (
        "mitigations",
        "Measures if the risks materialise, internal governance",
        "AI Act Art. 27(1)(f)",
    ),
    ("complaint_route", "Complaint and redress mechanism", "AI Act Art. 27(1)(f)"),
    (
        "domain",
        "Domain of use (credit, insurance, health, employment, public services…)",
        "AI Act Annex III",
    ),
)
HIGH_RISK_DOMAINS = (
    "credit",
    "insurance",
    "health",
    "employment",
    "education",
    "public",
    "migration",
    "justice",
    "biometric",
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, float | int) for v in value)
    ):
        return f"[{value[0]:.3f}, {value[1]:.3f}]"
    return "n/a" if value is None else str(value)


def card_context(
    ws: Workspace, ref: str, answers: dict[str, str], actor: str = ""
) -> ModelCardContext:
    """Assemble a model card's plain data from the records."""
    info = model_view.view(ws, ref, actor)
    found = evaluation.latest_evidence(ws, ref, actor)
    evidence, ev_seq = found if found else (None, 0)
    metrics = info.metrics
    run = info.run
    gaps = [
        f"{q.replace('_', ' ').capitalize()} is not answered (`--answers FILE.toml`)."
        for q in CARD_QUESTIONS
        if q not in answers
    ]
    if not found:
        gaps.append("No evaluation evidence is recorded: run `ledgerml evaluate`.")
    # Every failing, warning or inconclusive check is a gap: the verdict never hides one.
    gaps[:0] = [reporting.gap_in_words(c) for c in not_passed(evidence.checks if evidence else [])]
    fair = _section(evidence, Fairness)
    fairness = []
    for attr, g in (fair.groups if fair else {}).items():
        ci = g.intervals_95
        fairness.append(
            {
                "attribute": attr,
                "dpd": _fmt(g.demographic_parity_difference),
                "dpd_ci": _fmt(ci["demographic_parity_difference"]),
                "eod": _fmt(g.equalized_odds_difference),
                "di": _fmt(g.disparate_impact),
                "di_ci": _fmt(ci["disparate_impact"]),
                "four_fifths": g.four_fifths_rule,
                "small": _small(g.small_groups, fair.min_group_size if fair else None),
                "rows": [
                    {
                        "group": row.group,
                        "count": _fmt(row.count),
                        "positive": _fmt(row.selection_rate),
                        "favourable": _fmt(row.favourable),
                        "tpr": _fmt(row.tpr),
                        "fpr": _fmt(row.fpr),
                        "precision": _fmt(row.precision),
                    }
                    for row in g.table
                ],
            }
        )
    exp = _section(evidence, Explainability)
    rob = _section(evidence, Robustness)
    priv = _section(evidence, Privacy)
    base = _section(evidence, Baseline)
    stage, signed_off = signoff(ws, ref, actor)
    key_names = []
    for s in info.check.signatures:
        key_names.append(
            f"event #{s.seq}: key {s.key_id[:16]}… ({s.key_status}) — "
            f"{'valid' if s.ok else 'INVALID'}; OpenSSF bundle {s.openssf}"
        )
    return ModelCardContext(
        ref=info.model.ref,
        as_of=f"as of evaluation event #{ev_seq}" if found else "no evaluation recorded",
        status=info.signature_status,
        answers={q: answers.get(q, "Not answered.") for q in CARD_QUESTIONS},
        details=[
            ("version", info.model.ref),
            ("estimator", _estimator(run.estimator)),
            (
                "training run",
                f"run:{run.run_id}, {when(run.created_at, seconds=True)} by {run.created_by}",
            ),
            ("artifact", f"sha256:{info.model.model_digest} (skops)"),
            ("environment", f"freeze sha256:{info.record.freeze_digest[:16]}…"),
            ("code", _code(info.record.code)),
            *([("outcome", _outcome(fair))] if fair and fair.outcome else []),
        ],
        training_data=[
            ("input", info.record.input.ref),
            ("table digest", f"sha256:{info.record.input.table_digest}"),
            (
                "validation gate",
                f"suite {info.record.gate.suite} passed at event "
                f"#{info.record.gate.validation_seq}",
            ),
        ],
        datasheet=f"`ledgerml report datasheet {info.record.input.ref}`",
        metrics=[
            (k, _fmt(metrics[k]))
            for k in (
                "roc_auc",
                "accuracy",
                "precision",
                "recall",
                "f1",
                "brier",
                "log_loss",
                "threshold",
                "test_rows",
            )
            if k in metrics
        ],
        confusion=metrics.get("confusion_matrix", {"tn": 0, "fp": 0, "fn": 0, "tp": 0}),
        fairness=fairness,
        importance=[(i.feature, float(i.mean_abs_shap)) for i in exp.importance][:12]
        if exp
        else [],
        explanations=[c.to_json() for c in exp.representative] if exp else [],
        explainer=_explainer(exp) if exp else "No explanation recorded.",
        robustness={
            ("Gaussian noise" if k == "noise" else "category flips"): [
                (p.strength, p.roc_auc) for p in v
            ]
            for k, v in (rob.curves if rob else {}).items()
        },
        probes=(
            f"{len(rob.probes)} out-of-distribution probes (out-of-range values, unseen "
            f"categories, missing values): {rob.crashes} crashed or gave an invalid score."
            if rob
            else "No robustness evidence recorded."
        ),
        privacy=_privacy(ws, evidence, ev_seq, priv),
        baseline=_baseline(base) if base else [("evidence", "none recorded")],
        checks=[
            {
                **c.to_json(),
                "observed": c.observed,
                "verdict": c.verdict,
                "interval": c.interval_95 or [],
                "note": c.note or "",
            }
            for c in (evidence.checks if evidence else [])
        ],
        signatures=key_names,
        evidence=evidence_digest(ws, ref, actor) if found else "none",
        gaps=gaps,
        verdict=evidence.verdict if evidence else "none recorded",
        verdict_detail=(
            f"{evidence.errors} failing, {evidence.warnings} warning or inconclusive "
            f"of {len(evidence.checks)} checks"
            if evidence
            else ""
        ),
        positive=fair.positive_name if fair else "positive class",
        favourable=fair.favourable_name if fair else "favourable outcome",
        stage=stage,
        signoff=signed_off,
        legend=[(v, meaning) for v, meaning in LEGEND],
    )


def _outcome(fair: Fairness) -> str:
    """The declared meaning of the output, as the evidence recorded it, in one line."""
    outcome = Outcome.from_json(fair.outcome)
    return (
        f"positive class {outcome.positive!r} (label {outcome.positive_label!r}, predicted 1 "
        f"at a probability of at least {fair.threshold}); favourable to the person: "
        f"{outcome.favourable_name!r} (predicted {outcome.favourable_prediction})"
    )


def _estimator(name: str) -> str:
    """The estimator a run trained, in words, with the class it is.

    For instance ``logistic regression (scikit-learn LogisticRegression)``.
    """
    known = ESTIMATORS.get(name)
    words = name.replace("_", " ")
    return f"{words} (scikit-learn {known.cls})" if known else words


def _code(code: dict[str, Any]) -> str:
    """Which code trained the model, as a short list.

    The git commit (and whether its working tree had uncommitted changes) and the feature
    transforms, by digest.
    """
    parts = []
    git = code.get("git")
    if isinstance(git, dict):
        dirty = "yes" if git.get("dirty") else "no"
        parts.append(f"git commit {str(git.get('commit'))[:12]} (uncommitted changes: {dirty})")
    elif "git" in code:
        parts.append("not in a git repository")
    transforms = code.get("transforms") or []
    if transforms:
        shown = ", ".join(f"sha256:{str(t)[:16]}…" for t in transforms)
        parts.append(
            f"feature transform {shown}" if len(transforms) == 1 else f"feature transforms {shown}"
        )
    rest = {k: v for k, v in code.items() if k not in ("git", "transforms")}
    if rest:
        parts.append(humane(rest))
    return "; ".join(parts) or "not recorded"


def _small(groups: list[str] | None, minimum: int | None) -> str:
    """Why an attribute's comparisons are inconclusive, for the card ('' when they are not)."""
    if not groups:
        return ""
    return f"fewer than {minimum} held-out rows in {', '.join(groups)}"


S = TypeVar("S", bound=Record)


def _section(evidence: Evidence | None, kind: type[S]) -> S | None:
    return evidence.section(kind) if evidence else None


def _explainer(exp: Explainability) -> str:
    """How the explanations were made, in one line."""
    return (
        f"{exp.explainer}; {exp.sample_rows} explained rows (seed "
        f"{exp.sample_seed}), background {exp.background_rows} rows "
        f"(sha256:{exp.background_digest[:16]}…); top-{len(exp.top_features)} "
        f"agreement across backgrounds {exp.stability.agreement:.2f}"
    )


def _privacy(
    ws: Workspace, evidence: Evidence | None, as_of: int, priv: Privacy | None
) -> list[tuple[str, str]]:
    """Membership inference, attribute inference and the DP curve, as card rows.

    The DP rows say plainly that they are about DP-trained variants, not this model, and
    give the budget spent on the training input by every evaluation up to this one.
    """
    rows: list[tuple[str, str]] = []
    if priv:
        rows += [
            ("attack", priv.attack),
            ("ROC AUC", _fmt(priv.roc_auc)),
            ("advantage", _fmt(priv.advantage)),
            ("PII columns used as inputs", ", ".join(priv.pii_used_as_inputs) or "none"),
        ]
    inference = _section(evidence, AttributeInference)
    if inference:
        for p in inference.probes:
            rows.append(
                (
                    f"attribute inference — {p.attribute}"
                    + (" (a model input)" if p.model_input else ""),
                    f"{p.verdict}: attacker ROC AUC {_fmt(p.with_score.roc_auc)} with the score, "
                    f"{_fmt(p.without_score.roc_auc)} without (advantage {_fmt(p.advantage)}, "
                    f"95% interval {_fmt(p.interval_95)}; majority rate "
                    f"{_fmt(p.majority_rate)}, {p.rows} training rows)",
                )
            )
        for skipped in inference.not_probed:
            rows.append(
                (f"attribute inference — {skipped.attribute}", f"INCONCLUSIVE: {skipped.reason}")
            )
    dpc = _section(evidence, DifferentialPrivacy)
    if dpc:
        label = "differential privacy (DP-trained variants, not this model)"
        if not dpc.applicable:
            rows.append((label, f"not applicable to {dpc.estimator}: {dpc.reason}"))
        else:
            curve = "; ".join(f"ε {p.epsilon:g}: {_fmt(p.mean)} ± {_fmt(p.std)}" for p in dpc.curve)
            rows += [
                (
                    label,
                    f"{dpc.variant}; ROC AUC by ε (mean ± sd of {dpc.curve[0].repeats}): "
                    f"{curve}; without noise {_fmt(dpc.reference_utility)}; this model "
                    f"{_fmt(dpc.model_utility)}",
                ),
                ("what ε covers", dpc.scope or ""),
                (
                    "privacy budget spent",
                    f"ε {dpc.epsilon_spent:g} by this evaluation on {dpc.training_input}; "
                    f"{_budget_so_far(ws, dpc.training_input, as_of):g} by all evaluations "
                    "up to it",
                ),
            ]
    return rows or [("evidence", "none recorded")]


def _budget_so_far(ws: Workspace, snapshot: str, as_of: int) -> float:
    """The ε recorded on a snapshot by evaluations up to event ``as_of`` (a fixed figure)."""
    import math

    from core.evidence import privacy_budget

    return math.fsum(s.epsilon for s in privacy_budget.spends(ws, snapshot) if s.seq <= as_of)


def _baseline(base: Baseline) -> list[tuple[str, str]]:
    """The baseline comparison as card rows (the previous version's rows only for one)."""
    previous = base.previous
    return [
        ("baseline", base.kind),
        *([("previous version", previous.ref)] if previous else []),
        ("baseline ROC AUC", _fmt(base.roc_auc)),
        ("model ROC AUC", _fmt(base.model_roc_auc)),
        ("improvement", _fmt(base.improvement)),
        *(
            [
                (
                    "test rows the previous version trained on",
                    "unknown (it was trained on another table)"
                    if base.trained_on_test_rows is None
                    else str(base.trained_on_test_rows),
                )
            ]
            if previous
            else []
        ),
    ]


def evidence_digest(ws: Workspace, ref: str, actor: str = "") -> str:
    """Digest of the newest evaluation evidence of a model version."""
    with ws.session(actor) as s:
        model = models.resolve(s.catalog, ref)
        return s.catalog.evaluations(model.ref)[-1].evidence_digest


def write_card(
    ws: Workspace,
    actor: str,
    ref: str,
    out_dir: Path,
    *,
    answers_path: Path | None = None,
    reason: str = "",
    pdf: bool = False,
) -> tuple[Path, Path]:
    """Render, record and write a model card."""
    ctx = card_context(ws, ref, reporting.read_answers(answers_path, CARD_QUESTIONS), actor)
    markdown, html = render_model_card(ctx)
    stem = f"model-card-{ctx.ref.replace('@', '-')}"
    return reporting.record(
        ws,
        actor,
        as_payload=lambda md, html_: ModelCardRecorded(
            model=ctx.ref, gaps=len(ctx.gaps), markdown=md, html=html_
        ),
        subject=f"model:{ctx.ref}",
        markdown=markdown,
        html=html,
        out_dir=out_dir,
        stem=stem,
        reason=reason,
        pdf=pdf,
    )


def impact_context(
    ws: Workspace,
    ref: str,
    answers: dict[str, str],
    actor: str = "",
    thresholds: list[mitigations.Threshold] | None = None,
) -> ImpactContext:
    """Combine questionnaire answers with recorded evidence and grade the impact (I–IV).

    Every stated mitigation threshold (``thresholds``) is checked against the newest
    evidence, and a breach is flagged at the top of the assessment.
    """
    card = card_context(ws, ref, {}, actor)
    found = evaluation.latest_evidence(ws, ref, actor)
    if thresholds:
        breaches, unchecked = mitigations.check(
            thresholds,
            _section(found[0] if found else None, Fairness),
            model_view.view(ws, ref, actor).metrics,
            f"evaluation event #{found[1]}" if found else "no evaluation recorded",
        )
    else:
        breaches = []
        stated = answers.get("mitigations", "")
        unchecked = (
            [
                "The mitigations answer states a figure in words only: list each threshold "
                "under [[thresholds]] (measure, min or max, action) so that this assessment "
                "checks it against the evidence."
            ]
            if any(ch.isdigit() for ch in stated)
            else []
        )
    points, reasons = 0, []
    if answers.get("affected_people"):
        points += 1
        reasons.append("+1: decisions concern natural persons")
    domain = answers.get("domain", "").lower()
    if any(d in domain for d in HIGH_RISK_DOMAINS):
        points += 1
        reasons.append(f"+1: {answers['domain']} is a high-risk domain (AI Act Annex III)")
    # Every check that is not a PASS: an INCONCLUSIVE one may have "passed" its threshold.
    failing = [c.name for c in (found[0].checks if found else []) if c.verdict != "PASS"]
    if failing or not found:
        points += 1
        reasons.append(
            "+1: "
            + (
                "failing, warning or inconclusive evidence checks: " + "; ".join(failing)
                if failing
                else "no evaluation evidence recorded"
            )
        )
    oversight = answers.get("human_oversight", "").lower()
    if not oversight or oversight in ("none", "no"):
        points += 1
        reasons.append("+1: no human-oversight measure is described")
    level = ("I", "II", "III", "IV")[min(points, 3)]
    reasons.insert(
        0,
        f"{plural(points, 'point')} on a four-factor rubric; level = I + points, "
        "capped at IV (after Canada's Algorithmic Impact Assessment levels)",
    )
    sections = [
        (title, reference, answers.get(key, "Not answered."))
        for key, title, reference in IMPACT_QUESTIONS
    ]
    unanswered = [
        f"{title} ({reference})" for key, title, reference in IMPACT_QUESTIONS if key not in answers
    ]
    facts = [
        ("signature status", card.status),
        (
            "evidence verdict",
            card.verdict + (f" ({card.verdict_detail})" if card.verdict_detail else ""),
        ),
        ("training data", card.training_data[0][1]),
        *[(metric_name(k), v) for k, v in card.metrics if k in ("roc_auc", "recall", "precision")],
        *[
            (
                f"fairness — {f['attribute']}",
                f"disparate impact on {card.favourable} {f['di']} (four-fifths "
                + (
                    f"INCONCLUSIVE: {f['small']}"
                    if f["small"]
                    else ("met" if f["four_fifths"] else "NOT met")
                )
                + f"), demographic parity difference {percent(f['dpd'])}",
            )
            for f in card.fairness
        ],
        *[
            ("membership-inference attack ROC AUC (privacy)", v)
            for k, v in card.privacy
            if k == "ROC AUC"
        ],
        ("evidence", f"sha256:{card.evidence}"),
    ]
    return ImpactContext(
        ref=card.ref,
        as_of=card.as_of,
        level=level,
        level_reasons=reasons,
        sections=sections,
        evidence=facts,
        unanswered=unanswered,
        breaches=breaches,
        not_passed=[
            reporting.gap_in_words(c) for c in not_passed(found[0].checks if found else [])
        ],
        unchecked=unchecked,
        legend=list(LEGEND),
    )


def write_impact(
    ws: Workspace,
    actor: str,
    ref: str,
    out_dir: Path,
    *,
    answers_path: Path | None,
    reason: str = "",
    pdf: bool = False,
) -> tuple[Path, Path]:
    """Render, record and write an algorithmic impact assessment."""
    answers = reporting.read_answers(
        answers_path, [k for k, _, _ in IMPACT_QUESTIONS], structured=("thresholds",)
    )
    ctx = impact_context(ws, ref, answers, actor, mitigations.read(answers_path))
    markdown, html = render_impact(ctx)
    stem = f"impact-assessment-{ctx.ref.replace('@', '-')}"
    return reporting.record(
        ws,
        actor,
        as_payload=lambda md, html_: ImpactAssessmentRecorded(
            model=ctx.ref,
            level=ctx.level,
            unanswered=len(ctx.unanswered),
            markdown=md,
            html=html_,
        ),
        subject=f"model:{ctx.ref}",
        markdown=markdown,
        html=html,
        out_dir=out_dir,
        stem=stem,
        reason=reason,
        pdf=pdf,
    )
