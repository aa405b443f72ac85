"""Score cards: the model-card-like report about an existing score, rendered from records.

The card reads the newest signed ``score.evaluate`` evidence about ``score:SNAPSHOT#COLUMN``
and nothing else; its wording is the score spec's declared outcome names (what a positive
prediction means, which outcome is favourable). The evidence verdict is the worst of its
checks (:func:`core.kernel.verdict.worst`), so the card never reads better than a check. It
is rendered as Markdown and HTML and recorded as one ``report.score_card`` event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.data import snapshots
from core.documents import reporting
from core.documents.events import ScoreCardRecorded
from core.evidence import score_evaluation
from core.evidence.checks import not_passed
from core.evidence.document import Evidence
from core.identity.actors import needs
from core.kernel.errors import NotFoundError, UsageError
from core.kernel.verdict import LEGEND
from core.kernel.workspace import Workspace
from core.modelling.outcome import Outcome
from reports.score_card import ScoreCardContext, ScoreFairness, ScoreGroup, render_score_card


def resolve_subject(ws: Workspace, text: str, actor: str = "") -> str:
    """``[score:]SNAPSHOT#COLUMN`` (any snapshot reference) as the recorded subject."""
    body = text.removeprefix("score:")
    ref, sep, column = body.partition("#")
    if not sep or not column or not ref:
        raise UsageError(
            f"{text!r} does not name a score",
            hint="Name it as SNAPSHOT#COLUMN, e.g. vendor@1#vendor_score.",
        )
    with ws.session(actor) as s:
        snap = snapshots.resolve(s.catalog, ref)
    return score_evaluation.subject_of(snap.ref, column)


def _figure(value: Any) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _fairness(evidence: Evidence, outcome: Outcome) -> tuple[list[ScoreFairness], list[str]]:
    section = evidence.to_json().get("sections", {}).get("fairness")
    if not section:
        return [], []
    declared = "outcome" in section
    notes = []
    out = []
    for key, comparison in section["groups"].items():
        rows = []
        fav_rates = []
        for g in comparison["table"]:
            sel = g.get("selection_rate")
            fav = g.get("favourable_rate")
            if fav is None and sel is not None:
                fav = sel if outcome.favourable_prediction == 1 else 1 - sel
            if fav is not None and g.get("count"):
                fav_rates.append(fav)
            rows.append(
                ScoreGroup(
                    group=str(g["group"]),
                    count=int(g["count"]),
                    positive_rate=_figure(sel),
                    favourable_rate=_figure(fav),
                    tpr=_figure(g.get("tpr")),
                    fpr=_figure(g.get("fpr")),
                )
            )
        di = comparison["disparate_impact"]
        if not declared and fav_rates:
            # Evidence from before declared outcomes compared "predicted 0": show the ratio
            # of the favourable outcome this spec declares, derived from the recorded rates.
            di = min(fav_rates) / max(fav_rates) if max(fav_rates) else None
            if di is not None and abs(di - comparison["disparate_impact"]) > 1e-9:
                notes.append(
                    f"{key}: the evidence's disparate impact ({comparison['disparate_impact']}) "
                    f"is not of the declared favourable outcome; the card shows {di:.4f}, "
                    "derived from the recorded group rates."
                )
        out.append(
            ScoreFairness(
                attribute=key,
                disparate_impact=_figure(di),
                four_fifths=di is not None and di >= 0.8,
                dpd=_figure(comparison["demographic_parity_difference"]),
                eod=_figure(comparison["equalized_odds_difference"]),
                rows=rows,
                small=(
                    f"fewer than {section.get('min_group_size')} rows in "
                    + ", ".join(comparison["small_groups"])
                    if comparison.get("small_groups")
                    else ""
                ),
            )
        )
    return out, notes


def card_context(ws: Workspace, subject: str, actor: str = "") -> ScoreCardContext:
    """The score card's context from the newest evidence about ``subject``."""
    found = score_evaluation.latest(ws, subject, actor)
    if found is None:
        raise NotFoundError(
            f"no evaluation of {subject} is recorded",
            hint="Run `ledgerml evaluate --predictions SNAPSHOT --score-spec FILE --suite SUITE`.",
        )
    evidence, seq = found
    score = evidence.score
    if score is None:  # a score.evaluate event always records one
        raise NotFoundError(f"the evidence of event #{seq} is not about a score")
    with ws.session(actor) as s:
        (row,) = [r for r in s.catalog.score_evaluations(subject) if r.seq == seq]
    outcome = Outcome.from_json(score.spec["outcome"])
    fairness, notes = _fairness(evidence, outcome)
    threshold = score.spec.get("threshold")
    return ScoreCardContext(
        subject=subject,
        snapshot=score.snapshot,
        table_digest=score.table_digest,
        column=score.column,
        kind=str(score.spec["kind"]),
        label=str(score.spec["label"]),
        threshold=(
            f'"{outcome.positive}" when the score is at least {threshold}'
            if threshold is not None
            else "the column is the decision (1 = " + outcome.positive + ")"
        ),
        positive=outcome.positive,
        favourable=outcome.favourable_name,
        unfavourable=outcome.unfavourable_name,
        verdict=evidence.verdict,
        evidence=row.evidence_digest,
        event=seq,
        signed_by=f"{row.created_by} (key {row.key_id[:16]}…)",
        summary=[(k, _figure(v)) for k, v in score.summary.items()],
        checks=[
            (
                c.name,
                _figure(c.observed) if not isinstance(c.observed, dict) else str(c.observed),
                ", ".join(f"{k} {v}" for k, v in c.threshold.items()),
                c.verdict + (f": {c.note}" if c.note else ""),
            )
            for c in evidence.checks
        ],
        fairness=fairness,
        notes=notes,
        gaps=[reporting.gap_in_words(c) for c in not_passed(evidence.checks)],
        legend=[(v, meaning) for v, meaning in LEGEND],
    )


def write(
    ws: Workspace,
    actor: str,
    subject_text: str,
    out_dir: Path,
    *,
    reason: str = "",
    pdf: bool = False,
) -> tuple[Path, Path]:
    """Render, record and write a score card.

    The actor's identity is proven before anything is looked up, as for every write, so an
    unproven actor learns nothing about which scores were evaluated.
    """
    with ws.session(actor) as s:
        needs(action="write reports")(s)
    subject = resolve_subject(ws, subject_text, actor)
    ctx = card_context(ws, subject, actor)
    markdown, html = render_score_card(ctx)
    stem = "score-card-" + subject.removeprefix("score:").replace("@", "-").replace("#", "-")
    return reporting.record(
        ws,
        actor,
        as_payload=lambda md, html_: ScoreCardRecorded(
            score=subject, verdict=ctx.verdict, markdown=md, html=html_
        ),
        subject=subject,
        markdown=markdown,
        html=html,
        out_dir=out_dir,
        stem=stem,
        reason=reason,
        pdf=pdf,
    )
