"""The plain data that report templates receive (filled by ``core``, never by templates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ColumnSummary:
    """One column as a data sheet shows it."""

    name: str
    type: str
    nulls: int
    distinct: int
    summary: str
    histogram: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GroupSummary:
    """Counts per group of one sensitive column."""

    column: str
    groups: list[tuple[str, int, float]]


@dataclass(frozen=True)
class ValidationSummary:
    """One recorded validation run."""

    seq: int
    suite: str
    suite_digest: str
    passed: bool
    errors: int
    warnings: int
    when: str
    by: str
    failed_checks: list[str]
    verdict: str = "PASS"
    """The worst check's verdict: a run that passed with warnings reads WARN, not passed."""


@dataclass(frozen=True)
class DatasheetContext:
    """Everything a data sheet says about one snapshot (Gebru et al. sections)."""

    ref: str
    title: str
    as_of: str
    rows: int
    table_digest: str
    raw_digest: str | None
    parquet_digest: str
    file_format: dict[str, Any]
    answers: dict[str, str]
    provenance: dict[str, str]
    pii: list[str]
    sensitive: list[str]
    retention: str
    columns: list[ColumnSummary]
    groups: list[GroupSummary]
    preprocessing: list[str]
    validations: list[ValidationSummary]
    recorded: str
    gaps: list[str]
    tag_notes: list[str] = field(default_factory=list)  # inherited tags, exceptions, waivers
    waivers: list[str] = field(default_factory=list)  # approvers' waivers of its failed runs
    legend: list[tuple[str, str]] = field(default_factory=list)
    """Each verdict and what it means, shown beside the coloured verdicts."""


@dataclass(frozen=True)
class ModelCardContext:
    """Everything a model card says about one model version (fixed sections, every time)."""

    ref: str
    as_of: str
    status: str
    """The signature status (valid, not valid, unsigned): who vouches for the bytes, never
    whether the evidence passed (that is ``verdict``)."""
    answers: dict[str, str]
    details: list[tuple[str, str]]
    training_data: list[tuple[str, str]]
    datasheet: str
    metrics: list[tuple[str, str]]
    confusion: dict[str, int]
    fairness: list[dict[str, Any]]
    importance: list[tuple[str, float]]
    explanations: list[dict[str, Any]]
    explainer: str
    robustness: dict[str, list[tuple[float, float]]]
    probes: str
    privacy: list[tuple[str, str]]
    baseline: list[tuple[str, str]]
    checks: list[dict[str, Any]]
    signatures: list[str]
    evidence: str
    gaps: list[str]
    verdict: str = "none recorded"
    """The evidence verdict (PASS, WARN, INCONCLUSIVE, FAIL), shown beside, never in, status."""
    verdict_detail: str = ""
    positive: str = "predicted 1"
    """The positive prediction in the spec's words (column heading of its rate)."""
    favourable: str = "favourable outcome"
    """The favourable outcome in the spec's words."""
    stage: str = "candidate"
    """The approval stage now, and how it was reached (promotion, break-glass)."""
    signoff: list[dict[str, str]] = field(default_factory=list)
    """Each approval or rejection: who, decision, role, when, key, stage, conditions, and
    whether its signed statement verifies."""
    legend: list[tuple[str, str]] = field(default_factory=list)
    """Each verdict and what it means, shown beside the coloured verdicts."""


@dataclass(frozen=True)
class ImpactContext:
    """An algorithmic impact assessment: answers, evidence, level and what is missing."""

    ref: str
    as_of: str
    level: str
    level_reasons: list[str]
    sections: list[tuple[str, str, str]]
    evidence: list[tuple[str, str]]
    unanswered: list[str]
    breaches: list[str] = field(default_factory=list)
    """Each stated mitigation threshold the recorded evidence breaches, in words."""
    not_passed: list[str] = field(default_factory=list)
    """Each evidence check that is not PASS (verdict, name, figure, threshold)."""
    unchecked: list[str] = field(default_factory=list)
    """Why stated mitigations could not be checked against the evidence (free text only)."""
    legend: list[tuple[str, str]] = field(default_factory=list)
    """Each verdict and what it means, shown beside the coloured verdicts."""
