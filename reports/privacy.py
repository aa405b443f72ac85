"""Privacy reports: the access log and the data-minimisation report (plain data in).

:mod:`core.documents.privacy_reports` fills the contexts from the signed events and the
ledger's records (:mod:`core.privacy.access_log`, :mod:`core.privacy.minimisation`).
Verdicts are stated as the figures are: a PII column a model reads is a FLAG, never a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports import render


@dataclass(frozen=True)
class AccessRowView:
    """One read or export, already formatted."""

    seq: int
    ts: str
    actor: str
    what: str
    purpose: str
    why: str


@dataclass(frozen=True)
class AccessContext:
    """Everything the access-log report shows."""

    title: str
    scope: str
    """Which entries: the filters applied (or "every recorded read and export")."""
    rows: list[AccessRowView]
    counts: list[tuple[str, int]]
    """Entries per purpose."""
    people: list[tuple[str, int]]
    """Entries per actor."""
    unenforced: list[str]
    """Where reading leaves no record, said plainly."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ColumnView:
    """One stored column: its tags and the models that use it."""

    name: str
    type: str
    tags: str
    uses: str
    flag: str
    """``FLAG`` (PII read by a model), ``DROP?`` (tagged, used by no model), or empty."""


@dataclass(frozen=True)
class SnapshotMinimisation:
    """One dataset version: its verdicts and its columns."""

    ref: str
    kind: str
    rows: int
    erased: bool
    verdicts: list[str]
    columns: list[ColumnView]


@dataclass(frozen=True)
class ModelMinimisation:
    """One model version: what it reads."""

    model: str
    input: str
    features: str
    target: str
    fairness: str
    pii_inputs: str


@dataclass(frozen=True)
class MinimisationContext:
    """Everything the minimisation report shows."""

    title: str
    headline: str
    snapshots: list[SnapshotMinimisation]
    models: list[ModelMinimisation]
    notes: list[str] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    """Each verdict word and what it means, shown beside the coloured words."""


_render = render.render_pair


def render_access(ctx: AccessContext) -> tuple[str, str]:
    """The access-log report as ``(markdown, html)``."""
    return _render("access", ctx)


def render_minimisation(ctx: MinimisationContext) -> tuple[str, str]:
    """The minimisation report as ``(markdown, html)``."""
    return _render("minimisation", ctx)
