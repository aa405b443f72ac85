"""The score card: a model-card-like report about an existing score (plain data in, text out).

:mod:`core.documents.scorecard` fills :class:`ScoreCardContext` from the recorded evidence;
the wording comes from the score spec's declared outcome names, never from a domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports import render


@dataclass(frozen=True)
class ScoreGroup:
    """One group's figures, already formatted."""

    group: str
    count: int
    positive_rate: str
    favourable_rate: str
    tpr: str
    fpr: str


@dataclass(frozen=True)
class ScoreFairness:
    """One attribute's (or intersection's) comparison."""

    attribute: str
    disparate_impact: str
    four_fifths: bool
    dpd: str
    eod: str
    rows: list[ScoreGroup]
    small: str = ""
    """Why the comparison is INCONCLUSIVE (groups below the minimum size), or ""."""


@dataclass(frozen=True)
class ScoreCardContext:
    """Everything the score card template shows."""

    subject: str
    snapshot: str
    table_digest: str
    column: str
    kind: str
    label: str
    threshold: str
    positive: str
    favourable: str
    unfavourable: str
    verdict: str
    evidence: str
    event: int
    signed_by: str
    summary: list[tuple[str, str]]
    checks: list[tuple[str, str, str, str]]
    fairness: list[ScoreFairness]
    notes: list[str]
    gaps: list[str] = field(default_factory=list)
    """Every check that is not PASS, in words: the card never hides one behind its verdict."""
    legend: list[tuple[str, str]] = field(default_factory=list)
    """Each verdict and what it means."""


def render_score_card(ctx: ScoreCardContext) -> tuple[str, str]:
    """Return the score card as ``(markdown, html)``, the HTML made from the Markdown."""
    return render.render_pair("score_card", ctx)
