"""What a screen shows of a snapshot: its record, its profile per column, its validations.

Front doors draw these objects; they do not open sessions or read objects themselves, so a
screen and a command that show the same thing read it through the same call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.kernel.rows import SnapshotRow, ValidationRow
from core.kernel.workspace import Workspace


@dataclass(frozen=True)
class ColumnProfile:
    """One column: its name and type, and its profile statistics as recorded."""

    name: str
    type: str
    stats: dict[str, Any]


@dataclass(frozen=True)
class CheckLine:
    """One check of a recorded validation run."""

    name: str
    passed: bool
    observed: Any
    verdict: str = "PASS"


@dataclass(frozen=True)
class ValidationRun:
    """A recorded validation run of a snapshot, with its checks."""

    seq: int
    suite_name: str
    passed: bool
    checks: list[CheckLine]
    verdict: str = "PASS"


@dataclass(frozen=True)
class SnapshotDetail:
    """A snapshot as the workstation's data screen shows it."""

    snapshot: SnapshotRow
    columns: list[ColumnProfile]
    validations: list[ValidationRun]


def sheet_shown(ws: Workspace, detail: SnapshotDetail, sheet: str | None) -> str | None:
    """A recorded data sheet as a screen may show it: withheld if it quotes a PII value.

    Data sheets recorded from profiles that held values of PII columns (older snapshots)
    quote them; the values are looked up in that stored profile and never returned.
    """
    from core.data.redaction import pii_values, quotes_any

    snap = detail.snapshot
    if not sheet or not snap.pii:
        return sheet
    stored = json.loads(ws.objects.read_verified(snap.profile_digest))
    if quotes_any([sheet.encode()], pii_values(stored, snap.pii)):
        return (
            "withheld: this data sheet was recorded before PII values were left out of data "
            f"sheets and quotes some; `ledgerml report datasheet {snap.ref}` "
            "records one without them"
        )
    return sheet


def snapshot_detail(ws: Workspace, ref: str, actor: str = "", *, runs: int = 3) -> SnapshotDetail:
    """The snapshot ``ref``, its profile and its newest ``runs`` validation runs.

    The profile and the results are read back from their verified objects; values of PII
    columns are dropped from both (:mod:`core.data.redaction`).
    """
    from core.data import snapshots, validation
    from core.data.redaction import observed_shown

    with ws.session(actor) as s:
        snap = snapshots.resolve(s.catalog, ref)
        recorded: list[ValidationRow] = s.catalog.validations(snap.ref)
    profile = snapshots.load_profile(ws, snap)
    columns = [
        ColumnProfile(c["name"], c["type"], profile["columns"][c["name"]])
        for c in json.loads(snap.columns)
    ]
    found = []
    for row in recorded[-runs:] if runs else []:
        result = validation.read_result(ws, row)
        checks = [
            CheckLine(
                c.name,
                c.passed,
                observed_shown(c.type, c.column, c.observed, snap.pii),
                c.verdict,
            )
            for c in result.checks
        ]
        found.append(
            ValidationRun(row.seq, row.suite_name, bool(row.passed), checks, result.verdict)
        )
    return SnapshotDetail(snap, columns, found)
