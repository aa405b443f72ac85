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
