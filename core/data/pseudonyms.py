"""Pseudonyms at ingest: values of named columns replaced by keyed HMAC-SHA-256 digests.

``snapshot add --pseudonymize email,phone`` stores, in place of each value of those columns,
``HMAC-SHA-256(key, value)`` in hex. The key is the workspace's **pseudonym key**, versioned,
kept in the OS keyring (service ``ledgerml-pseudonym``), apart from the data as the EDPB
guidelines on pseudonymisation (01/2025) ask: the ledger records only each version's number
and check value (a ``pseudonym.key`` event), and the snapshot's event records which version
each column used (``pseudonyms = {column: version}``). What follows from that:

- **Linkage needs the key.** The same value gives the same pseudonym under one key version,
  so rows still join across snapshots made under that version; without the key a pseudonym
  cannot be recomputed from a guessed value (it is not ``sha256(value)``: a dictionary of
  names or e-mail addresses does not reverse it), and two workspaces' pseudonyms of one value
  differ (each workspace makes its own key). After ``ledgerml data pseudonym-key rotate``
  new snapshots use the next version: their pseudonyms do not link to older ones.
- **Re-linkage is an audited action.** :func:`relink` computes one value's pseudonym and
  counts the rows that hold it; an actor allowed to read the data must give a reason, and a
  signed ``data.access`` event (purpose ``relink``, the column, never the value) is recorded
  before any row is read.
- **It is still personal data** (GDPR Recital 26): the columns keep their PII tag (and are
  added to it if the steward forgot), so profiles show counts only and every other PII rule
  still applies. The raw file, which holds the plain values, is sealed (``--pseudonymize``
  implies ``--encrypt``; :mod:`core.data.encryption`), so it can be read only through the
  recorded door and crypto-shredded on erasure.

What is hashed is the value as text: for CSV input the column is read as text, exactly the
characters in the file (after the dialect's trimming and missing-value codes), so ``00123``
stays ``00123`` rather than becoming the number 123; for Parquet and JSON input a non-text
value is cast to text as DuckDB writes it (``123``, ``1.5``, ``2026-03-01``). A missing
value stays NULL. Re-linking takes the value in that same form.

The transform runs inside DuckDB as HMAC built from its ``sha256``: ``H((K xor opad) ||
unhex(H((K xor ipad) || value)))`` (RFC 2104), with the padded keys bound as connection
variables for the copy and cleared after it. On 1M e-mail addresses (``bench/pseudonym_bench.py``,
median of 3 runs, 2 threads) it added 3.0 s of CPU to the copy, against 3.6 s for the fastest
Python UDF over Arrow; the UDF also holds the GIL, so its wall time does not shrink with
DuckDB's threads (4.5 s on one thread, 12.5 s on two in an earlier run on this shared
machine, against 3.8 s for the SQL either way). The Python :func:`pseudonym` is the
reference the tests compare it with, and what :func:`relink` uses.

An HSM holding the key would need one PKCS#11 call per value (or let the key out, which
defeats it), so this backend is the OS keyring only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.data.events import PSEUDONYM_ROLES, READ_ROLES, DataAccessed, PseudonymKeyMade
from core.identity.actors import needs
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import IntegrityError, KeyStoreError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Session, Workspace

if TYPE_CHECKING:
    import duckdb

SERVICE = "ledgerml-pseudonym"
"""The keyring service the pseudonym keys are stored under (one entry per version)."""
ACTION = "pseudonym.key"
_CHECK_LABEL = b"ledgerml pseudonym key check v1"
_BLOCK = 64  # SHA-256's block size: the HMAC pads the key to it


@dataclass(frozen=True)
class KeyVersion:
    """One recorded version of the pseudonym key: its number, check value and event."""

    version: int
    check: str
    seq: int
    created_at: str
    created_by: str


def key_check(key: bytes) -> str:
    """Enough to recognise a key, nothing to recover it (what the ledger records)."""
    return hmac.new(key, _CHECK_LABEL, hashlib.sha256).hexdigest()[:32]


def pseudonym(key: bytes, value: str) -> str:
    """The pseudonym of one value: ``HMAC-SHA-256(key, UTF-8 value)`` in hex (the reference)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def versions(catalog: Catalog) -> list[KeyVersion]:
    """Every recorded key version, oldest first (from the signed ``pseudonym.key`` events)."""
    out = []
    for row in catalog.events(action=ACTION):
        if row.action != ACTION:
            continue
        data = json.loads(row.body)["data"]
        out.append(KeyVersion(int(data["version"]), str(data["check"]), row.seq, row.ts, row.actor))
    return out


def current(catalog: Catalog) -> KeyVersion:
    """The key version new snapshots use: the newest.

    Raises:
        UsageError: if no pseudonym key was made yet.
    """
    known = versions(catalog)
    if not known:
        raise UsageError(
            "this workspace has no pseudonym key yet",
            hint="A data steward makes one with `ledgerml data pseudonym-key rotate --reason "
            "'…'` (it lives in the OS keyring; the ledger records only its check value).",
        )
    return known[-1]


def _entry(ws: Workspace, version: int) -> str:
    return f"{ws.workspace_id}/v{version}"


def _keyring() -> Any:
    from core.identity.keys.backends import KeyringBackend

    return KeyringBackend()._keyring()


def key(ws: Workspace, version: KeyVersion) -> bytes:
    """The key of a recorded version, from the OS keyring, checked against its event.

    Raises:
        KeyStoreError: if this account's keyring does not hold it.
        IntegrityError: if it holds another key under that name.
    """
    stored = _keyring().get_password(SERVICE, _entry(ws, version.version))
    if stored is None:
        raise KeyStoreError(
            f"pseudonym key v{version.version} of this workspace is not in this keyring",
            hint="Pseudonyms can be made or re-linked only on the account whose keyring holds "
            "the key (a backup of the workspace does not carry it). Make a new version with "
            "`ledgerml data pseudonym-key rotate` for new snapshots; re-linking the old ones "
            "needs the old key back in the keyring.",
        )
    value = bytes.fromhex(stored)
    if not hmac.compare_digest(key_check(value), version.check):
        raise IntegrityError(
            f"the keyring's pseudonym key v{version.version} is not the one event "
            f"#{version.seq} recorded",
            hint="Another workspace's key under the same name, or a replaced key: no "
            "pseudonym made with it would match.",
        )
    return value


def rotate(ws: Workspace, actor: str, *, reason: str = "") -> KeyVersion:
    """Make the next version of the pseudonym key (the first one too) and record it.

    The key is stored in the keyring before its event is committed; if the commit fails the
    entry is one no event names, which the next rotation overwrites.

    Raises:
        PermissionDeniedError: unless the actor is a data steward or an admin.
        KeyStoreError: if the keyring refuses the key (nothing is recorded).
    """

    def commit(s: Session, _: None) -> KeyVersion:
        known = versions(s.catalog)
        number = (known[-1].version if known else 0) + 1
        fresh = secrets.token_bytes(32)
        store = _keyring()  # a KeyStoreError of its own when no secure keyring answers
        try:
            store.set_password(SERVICE, _entry(ws, number), fresh.hex())
        except Exception as err:  # the keyring libraries raise their own errors
            raise KeyStoreError(f"the OS keyring refused to store a key: {err}") from err
        payload = PseudonymKeyMade(version=number, check=key_check(fresh))
        entry = s.commit(new_event(s.actor, payload, [f"pseudonym-key:v{number}"], reason))
        return KeyVersion(number, payload.check, entry.seq, str(entry.decode()["ts"]), s.actor)

    return command.run(
        ws, actor, guards=[needs(*PSEUDONYM_ROLES, action="make pseudonym keys")], commit=commit
    )


# --- the transform in DuckDB --------------------------------------------------------------


def _var(kind: str, version: int) -> str:
    return f"ledgerml_pseudonym_{kind}_{version}"


def bind(con: duckdb.DuckDBPyConnection, keys: Mapping[int, bytes]) -> None:
    """Put each version's padded keys on ``con`` as variables (as parameters, never SQL text)."""
    for version, k in keys.items():
        padded = k.ljust(_BLOCK, b"\0")
        con.execute(f"SET VARIABLE {_var('i', version)} = ?", [bytes(b ^ 0x36 for b in padded)])
        con.execute(f"SET VARIABLE {_var('o', version)} = ?", [bytes(b ^ 0x5C for b in padded)])


def unbind(con: duckdb.DuckDBPyConnection, versions_: Mapping[int, bytes]) -> None:
    """Drop the key variables :func:`bind` set."""
    for version in versions_:
        for kind in ("i", "o"):
            con.execute(f"RESET VARIABLE {_var(kind, version)}")


def sql(expr: str, version: int) -> str:
    """SQL for ``HMAC-SHA-256(key v{version}, CAST(expr AS VARCHAR))`` in hex; NULL stays NULL."""
    inner = f"sha256(getvariable('{_var('i', version)}') || encode(CAST({expr} AS VARCHAR)))"
    return f"sha256(getvariable('{_var('o', version)}') || unhex({inner}))"


def recorded(snap: SnapshotRow) -> dict[str, int]:
    """The snapshot's pseudonymised columns and the key version of each ({}: none)."""
    if not snap.pseudonyms:
        return {}
    value = json.loads(snap.pseudonyms)
    return {str(c): int(v) for c, v in value.items()} if isinstance(value, dict) else {}


def check_columns(columns: list[str], names: list[str]) -> None:
    """Refuse a pseudonymised column the table does not have.

    Raises:
        UsageError: naming the first unknown column and the table's columns.
    """
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise UsageError(
            f"--pseudonymize names column {unknown[0]!r}, which is not in the table",
            hint=f"Columns: {', '.join(names)}.",
        )


# --- re-linkage -------------------------------------------------------------------------


@dataclass(frozen=True)
class Relinked:
    """What a re-link found: the recording event, the pseudonym and how many rows hold it."""

    seq: int
    snapshot: str
    column: str
    version: int
    pseudonym: str
    rows: int


def relink(
    ws: Workspace, actor: str, ref: str, column: str, value: str, *, reason: str
) -> Relinked:
    """Compute ``value``'s pseudonym in ``column`` of a snapshot and count the rows holding it.

    Recorded first as a signed ``data.access`` event (purpose ``relink``, the column; never
    the value), by an actor holding a role that may read the data; the rows are read after.

    Raises:
        UsageError: for no reason, a reason that quotes the value, or a column the snapshot
            did not pseudonymise.
        PermissionDeniedError: unless the actor may read the data (nothing is recorded).
        KeyStoreError, IntegrityError: if the key version is missing or wrong (nothing is
            recorded).
    """
    from core.data import encryption, snapshots

    if not reason.strip():
        raise UsageError("a re-link needs a reason: it is recorded before any row is read")
    if value and value.strip().lower() in reason.lower():
        raise UsageError(
            "the reason quotes the value being re-linked; the reason is recorded in the ledger, "
            "the value must not be",
            hint="Say why (a subject access request, a ticket number), not whom.",
        )
    guard = needs(*READ_ROLES, action="re-link pseudonyms")
    with ws.session(actor) as s:
        guard(s)
        snap = snapshots.resolve(s.catalog, ref)
        used = recorded(snap)
        if column not in used:
            raise UsageError(
                f"{column!r} is not a pseudonymised column of {snap.ref}",
                hint=f"Pseudonymised columns: {', '.join(sorted(used)) or 'none'}"
                + (
                    " (a feature view records none: re-link on the snapshot it was built from)."
                    if snap.kind == "feature"
                    else "."
                ),
            )
        version = next((v for v in versions(s.catalog) if v.version == used[column]), None)
    if version is None:
        raise IntegrityError(
            f"{snap.ref} names pseudonym key v{used[column]}, which no event records"
        )
    digest = pseudonym(key(ws, version), value)
    if encryption.is_encrypted(snap):
        with encryption.open(ws, actor, [snap], "relink", reason=reason, columns=[column]) as grant:
            rows = _count(ws, snap, column, digest)
        seq = grant.events[0] if grant.events else 0
    else:
        seq = _record_plain(ws, actor, snap, column, reason)
        rows = _count(ws, snap, column, digest)
    return Relinked(seq, snap.ref, column, version.version, digest, rows)


def _record_plain(ws: Workspace, actor: str, snap: SnapshotRow, column: str, reason: str) -> int:
    """The ``data.access`` event of a re-link on a snapshot stored in plaintext."""

    def commit(s: Session, _: None) -> int:
        entry = s.commit(
            new_event(
                s.actor,
                DataAccessed(snapshot=snap.ref, purpose="relink", columns=[column]),
                [f"snapshot:{snap.ref}"],
                reason,
            )
        )
        return entry.seq

    return command.run(
        ws, actor, guards=[needs(*READ_ROLES, action="re-link pseudonyms")], commit=commit
    )


def _count(ws: Workspace, snap: SnapshotRow, column: str, digest: str) -> int:
    from core.data import encryption, tables

    con = tables.connect(None)
    try:
        source = encryption.table_source(ws, con, snap)
        row = con.execute(
            f"SELECT count(*) FROM {source} WHERE {tables.quote_ident(column)} = ?", [digest]
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0
