"""Reveal: the one, recorded exception to "values of PII columns are never shown".

A data steward (who holds the raw data anyway) or an auditor (who must check what a PII tag
covers) may see the top values of one PII column of one snapshot, after giving a reason. The
``data.reveal`` event (who, which snapshot and column, why; never the values) is recorded
before the values are read, so there is no way to see them without leaving a signed trace.
Data scientists, approvers and operators may not: their work needs counts, not identities,
and an admin who wants to look must first be granted a role, which is recorded too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.data.events import REVEAL_ROLES, DataRevealed
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import UsageError
from core.kernel.kinds import new_event
from core.kernel.workspace import Session, Workspace
from storage.fsutil import private_dir

TOP = 10
"""How many of the most frequent values a reveal shows."""


@dataclass(frozen=True)
class Revealed:
    """What a reveal showed: the recording event, and the top values with their counts."""

    seq: int
    snapshot: str
    column: str
    values: list[tuple[Any, int]]


def reveal(ws: Workspace, actor: str, ref: str, column: str, *, reason: str) -> Revealed:
    """Record a reveal of a PII column's top values, then read them from the verified copy.

    Raises:
        UsageError: for no reason, or a column that is not a PII column of the snapshot.
        PermissionDeniedError: for an actor who is neither a data steward nor an auditor.
    """
    from core.data import encryption, snapshots, tables

    if not reason.strip():
        raise UsageError("a reveal needs a reason: it is recorded before any value is shown")

    def commit(s: Session, _: None) -> tuple[int, Any]:
        snap = snapshots.resolve(s.catalog, ref)
        if column not in snap.pii:
            raise UsageError(
                f"{column!r} is not a PII column of {snap.ref}",
                hint=f"PII columns: {', '.join(snap.pii) or 'none'}; other columns' top values "
                "are in `ledgerml snapshot profile`.",
            )
        entry = s.commit(
            new_event(
                s.actor,
                DataRevealed(snapshot=snap.ref, column=column),
                [f"snapshot:{snap.ref}"],
                reason,
            )
        )
        return entry.seq, snap

    seq, snap = command.run(
        ws, actor, guards=[needs(*REVEAL_ROLES, action="reveal PII values")], commit=commit
    )
    private_dir(ws.root / "tmp")
    # An encrypted copy is decrypted only after its own data.access is recorded too.
    with encryption.open(
        ws, actor, [snap], "reveal", target=f"column:{column}", reason=reason, columns=[column]
    ):
        con = tables.connect(ws.root / "tmp")
        try:
            source = encryption.table_source(ws, con, snap)
            c = tables.quote_ident(column)
            rows = con.execute(
                f"SELECT CAST({c} AS VARCHAR), count(*) FROM {source} "
                f"GROUP BY 1 ORDER BY 2 DESC, 1 NULLS FIRST LIMIT {TOP}"
            ).fetchall()
        finally:
            con.close()
    return Revealed(seq, snap.ref, column, [(v, int(n)) for v, n in rows])
