"""Subject erasure: one person's rows out of a snapshot, the rest kept as a new version.

``erase(ws, actor, "loans@1", subject_column="customer_id", subject="C-1043", …)`` runs in
three commands, each with at most one event, in an order that is safe to interrupt:

1. **Check** (no event unless refused): the role, legal holds, and the ``erase`` policy
   gate, so a refused erasure changes nothing but the recorded ``policy.deny``; the column
   exists; the snapshot is raw data (a feature view is erased with the snapshot it derives
   from).
2. **Replace**: the rows whose column does *not* hold the value are copied, through the
   ordinary ingest path (:func:`core.data.ingest.prepare`: canonical Parquet, table digest,
   profile), into the dataset's next version, with a lineage edge ``redacted-from`` to the
   old one and the old version's tags; one ``snapshot.add`` event. Counted first: a value
   no row holds is refused (nothing is made), and so is one every row holds (erase the
   snapshot instead).
3. **Erase** the old version (and its views) with :func:`core.privacy.erasure.commit_erasure`:
   one ``data.erase`` event whose receipt carries a keyed commitment to the subject
   (:mod:`core.privacy.commitments`), the rows removed and the replacement.

Interrupted after 2, the same request runs again: the replacement is found by its table
digest (no second version) and the erasure completes. The value is matched as text
(``CAST(col AS VARCHAR) = value``: exact, case-sensitive, a number as DuckDB prints it;
NULL never matches). It is bound as a query parameter, never written into SQL, the
ledger, the catalog, a file name, a log or an error message; the filtering connection may
not spill to disk.
"""

from __future__ import annotations

import json
from typing import Any

from core.data import ingest, snapshots, tables
from core.data.ingest import Prepared
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import UsageError
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Session, Workspace
from core.privacy import commitments
from core.privacy.erasure import Erasure, already_erased, commit_erasure, gate_guards
from core.privacy.events import ERASE_ROLES
from storage.fsutil import private_dir

RELATION = "redacted-from"
"""The lineage relation from a subject erasure's new version to the version it replaces."""


def _columns(snap: SnapshotRow) -> list[str]:
    return [str(c["name"]) for c in json.loads(snap.columns)]


def _check_target(snap: SnapshotRow, column: str) -> None:
    if snap.kind == "feature":
        raise UsageError(
            f"{snap.ref} is a feature view: erase the person from the snapshot it derives "
            "from; its views are erased with it",
            hint="`ledgerml lineage " + snap.ref + "` shows its inputs.",
        )
    if column not in _columns(snap):
        raise UsageError(
            f"{snap.ref} has no column {column!r}",
            hint=f"Columns: {', '.join(_columns(snap))}.",
        )


def _without(ws: Workspace, snap: SnapshotRow, column: str, value: str) -> tuple[Prepared, int]:
    """The snapshot without the subject's rows, ingested as a table (no lock held)."""
    private_dir(ws.root / "tmp")
    con = tables.connect(ws.root / "tmp")
    try:
        con.execute("SET temp_directory = ''")  # no spill: a spilled page could hold rows
        source = tables.parquet_source(snapshots.parquet_path(ws, snap))
        c = tables.quote_ident(column)
        row = con.execute(
            f"SELECT count(*) FILTER (WHERE CAST({c} AS VARCHAR) = $1), count(*) FROM {source}",
            [value],
        ).fetchall()[0]
        removed, total = int(row[0]), int(row[1])
        if removed == 0:
            raise UsageError(
                f"no row of {snap.ref} holds that value in {column!r}: nothing was changed",
                hint="The value is matched exactly, as text (case-sensitive; a number as "
                "`ledgerml snapshot profile` prints it).",
            )
        if removed == total:
            raise UsageError(
                f"every row of {snap.ref} holds that value in {column!r}",
                hint=f"Erase the whole snapshot: `ledgerml data erase {snap.ref} …`.",
            )
        # Streamed from a second connection to the same database into the ingest's COPY:
        # the kept rows never sit in memory whole, and the value stays a bound parameter.
        reading = con.cursor()
        reader = reading.sql(
            f"SELECT * FROM {source} WHERE CAST({c} AS VARCHAR) IS DISTINCT FROM $1",
            params=[value],
        ).to_arrow_reader()
        con.register("kept_rows", reader)
        prep = ingest.prepare(
            ws,
            "kept_rows",
            dialect=tables.Dialect("parquet"),
            con=con,
            tagged=(list(snap.pii), list(snap.sensitive)),
        )
        return prep, removed
    finally:
        con.close()


def _replace(
    ws: Workspace, actor: str, ref: str, column: str, value: str, reason: str
) -> tuple[SnapshotRow, SnapshotRow, int]:
    """Commands 2: the new version without the subject's rows (or the one made before)."""
    guard = needs(*ERASE_ROLES, action="erase data")

    def resolve(s: Session) -> SnapshotRow:
        snap = snapshots.resolve(s.catalog, ref)
        _check_target(snap, column)
        return snap

    def compute(snap: SnapshotRow) -> tuple[SnapshotRow, Prepared, int]:
        prep, removed = _without(ws, snap, column, value)
        return snap, prep, removed

    def commit(
        s: Session, built: tuple[SnapshotRow, Prepared, int]
    ) -> tuple[SnapshotRow, SnapshotRow, int]:
        old, prep, removed = built
        current = snapshots.resolve(s.catalog, old.ref)
        if current.erased_seq is not None:
            raise UsageError(
                f"{old.ref} was erased (at #{current.erased_seq}) while its replacement was "
                "being made: nothing was added",
                hint=f"`ledgerml data erase {old.ref}` shows that erasure.",
            )
        recorded = json.loads(old.provenance) if old.provenance else {}
        provenance = {
            **{k: str(v) for k, v in recorded.items()},
            "collection_method": f"{old.ref} without one data subject's rows (subject erasure)",
        }
        new, _ = ingest.record(
            s,
            prep,
            dataset=old.dataset,
            kind=old.kind,
            provenance=provenance,
            pii=list(old.pii),
            sensitive=list(old.sensitive),
            retention=old.retention,
            reason=f"replaces {old.ref} without one data subject's rows: {reason}",
            lineage=[(f"snapshot:{old.ref}", RELATION)],
            dedupe_on="table",
        )
        return old, new, removed

    return command.run(ws, actor, guards=[guard], prepare=resolve, compute=compute, commit=commit)


def erase_subject(
    ws: Workspace,
    actor: str,
    ref: str,
    *,
    column: str,
    value: str,
    reason: str,
    legal_basis: str,
    rule: str,
    as_of: str | None,
    warnings: list[str],
) -> Erasure:
    """Erase one subject's rows of ``ref`` (see the module docstring)."""
    if not value.strip():
        raise UsageError("--subject must not be empty")
    done = already_erased(ws, actor, ref)
    if done is not None:
        return done
    guards = gate_guards(
        ref, legal_basis=legal_basis, rule=rule, reason=reason, as_of=as_of, subject=True
    )

    def check(s: Session, _: None) -> None:  # records nothing: the gate allowed it
        _check_target(snapshots.resolve(s.catalog, ref), column)

    command.run(ws, actor, guards=guards, commit=check)
    k = commitments.key(ws, create=True)
    assert k is not None
    old, new, removed = _replace(ws, actor, ref, column, value, reason)
    subject: dict[str, Any] = {
        "column": column,
        "commitment": commitments.commit(k, column, value),
        "scheme": commitments.SCHEME,
        "key": commitments.check_of(k),
        "rows_removed": removed,
    }
    return commit_erasure(
        ws,
        actor,
        old.ref,
        reason=reason,
        legal_basis=legal_basis,
        rule=rule,
        as_of=as_of,
        warnings=warnings,
        subject=subject,
        replaced_by=new.ref,
    )


def erasures_of(ws: Workspace, column: str, value: str, actor: str = "") -> dict[str, Any]:
    """Whether a subject was erased: the erasures whose commitment matches (for a DPO).

    Computed under this keyring's commitment key; erasures committed under another key
    (another account's keyring, a replaced key) are counted as unanswerable, never as no.
    """
    k = commitments.key(ws, create=False)
    with ws.session(actor) as s:
        rows = s.catalog.con.execute(
            "SELECT e.seq FROM erasures e WHERE e.subject_column = ? ORDER BY e.seq", [column]
        ).fetchall()
        bodies = s.catalog.event_bodies([int(r[0]) for r in rows])
    matched, other_key = [], []
    for seq, body in sorted(bodies.items()):
        subject = json.loads(body).get("data", {}).get("subject") or {}
        if k is None or subject.get("key") != commitments.check_of(k):
            other_key.append(seq)
        elif subject.get("commitment") == commitments.commit(k, column, value):
            matched.append(seq)
    return {"column": column, "erasures": matched, "unanswerable": other_key}
