"""The retention and deletion log: rules in force, holds, erasures, retention runs (plain data in).

:mod:`core.documents.retention_report` fills the context from the retention log the signed
events record (:func:`storage.bundle_verifier.retention_log`, the same document a bundle
carries as ``privacy/retention.json``). Flags are shown first and in full: an erasure made
before its retention had run out by the wall clock reads as such, never softened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports import render


@dataclass(frozen=True)
class RuleView:
    """One retention rule set (``retention.set``)."""

    seq: int
    target: str
    period: str
    previous: str
    ts: str
    actor: str
    reason: str
    in_force: bool


@dataclass(frozen=True)
class SnapshotView:
    """One snapshot: its tag, the rule that applies and where it comes from, its fate."""

    ref: str
    created_at: str
    tag: str
    applies: str
    expires_at: str
    status: str


@dataclass(frozen=True)
class HoldView:
    """One legal hold, placed and perhaps lifted."""

    seq: int
    target: str
    placed: str
    reason: str
    state: str
    active: bool


@dataclass(frozen=True)
class ErasureView:
    """One erasure with its receipt's digest."""

    seq: int
    ts: str
    actor: str
    target: str
    covers: str
    method: str
    legal_basis: str
    rule: str
    receipt: str
    as_of: str
    reason: str


@dataclass(frozen=True)
class RunView:
    """One retention run: what it erased, what holds kept, what was refused."""

    seq: int
    ts: str
    actor: str
    as_of: str
    erased: list[str]
    held: list[str]
    refused: list[str]
    reason: str


@dataclass(frozen=True)
class RetentionContext:
    """Everything the retention and deletion log shows."""

    title: str
    scope: str
    """What the log covers (the events up to #N, of the workspace or a bundle's excerpt)."""
    flags: list[str]
    rules: list[RuleView]
    snapshots: list[SnapshotView]
    holds: list[HoldView]
    erasures: list[ErasureView]
    runs: list[RunView]
    notes: list[str] = field(default_factory=list)


def render_retention(ctx: RetentionContext) -> tuple[str, str]:
    """The retention and deletion log as ``(markdown, html)``."""
    return render.render_pair("retention", ctx)
