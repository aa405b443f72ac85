"""Encryption at rest: the one door every reader of a snapshot's rows goes through.

A snapshot added with ``--encrypt`` (or by the workspace's ``[privacy] encrypt_pii``
setting) keeps its raw bytes as a sealed stream and its canonical Parquet copy as an
encrypted Parquet file (:mod:`storage.sealed`), each under its own fresh data key
(:mod:`core.data.data_keys`). Its ``snapshot.add`` event records, under ``encryption``::

    {"scheme": "ledgerml-at-rest/1",
     "raw": {"id", "check"},          # absent for a feature view (no raw file)
     "parquet": {"id", "check"},
     "raw_commitment": "<hex>"}       # HMAC-SHA-256 of the plaintext raw bytes, raw key

The object digests are then of ciphertext; the table digest stays the digest of the
plaintext *table* (one hash of the whole table, for lineage and model evidence: it reveals
nothing about one row that the table's other figures do not).

Reading is a control, and leaves a trace: :func:`open` records one signed ``data.access``
event per encrypted snapshot (who, why, for what) *before* its key leaves the key store,
and only for an actor holding one of :data:`READ_ROLES`; a refused role decrypts nothing and
records nothing. The keys it unwraps live in memory for the ``with`` block only.
:func:`table_source` is then the DuckDB table expression of *any* snapshot: a verified
``read_parquet`` of a plaintext copy, or, for an encrypted one, its ciphertext verified
against the recorded digest and registered on the connection as a pyarrow dataset that
decrypts page by page as DuckDB scans it. That connection's spilling is turned off (a spill
would write plaintext to disk), so a query too large for memory fails, naming
``LEDGERML_MEMORY``, instead of leaking.

Example::

    with encryption.open(ws, actor, [snap], "train", target=f"run:{run_id}"):
        con = tables.connect()
        frame = con.execute(f"SELECT * FROM {encryption.table_source(ws, con, snap)}").df()
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from core.data import data_keys
from core.data.events import ACCESS_PURPOSES, READ_ROLES, DataAccessed
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import IntegrityError, KeyStoreError, NotFoundError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Session, Workspace

if TYPE_CHECKING:
    import duckdb

    from storage.objects import Staged

SCHEME = "ledgerml-at-rest/1"
MEMORY_HINT = (
    "Encrypted data is read in memory only (a spill to disk would write plaintext): raise "
    "LEDGERML_MEMORY (e.g. LEDGERML_MEMORY=8GB), or select fewer columns or rows."
)


def aad(role: str, key_id: str) -> bytes:
    """What a sealed object is, bound into its authentication: it cannot pose as another."""
    return f"{SCHEME} {role} {key_id}".encode()


def recorded(snap: SnapshotRow) -> dict[str, Any] | None:
    """The snapshot's recorded ``encryption`` (None: its copies are plaintext)."""
    if not snap.encryption:
        return None
    value = json.loads(snap.encryption)
    return value if isinstance(value, dict) else None


def is_encrypted(snap: SnapshotRow) -> bool:
    """Whether the snapshot's copies are encrypted at rest."""
    return recorded(snap) is not None


def refuse_erased(snap: SnapshotRow) -> None:
    """Refuse to read an erased snapshot, saying when and how to learn more.

    Raises:
        NotFoundError: if the snapshot was erased.
    """
    if snap.erased_seq is not None:
        raise NotFoundError(
            f"{snap.ref} was erased at event #{snap.erased_seq}: its data can no longer be read",
            title="Erased",
            hint=f"`ledgerml data receipt {snap.erased_seq}` shows what was erased, why and by "
            "whom; `ledgerml snapshot list` shows the versions that remain.",
        )


# --- writing ------------------------------------------------------------------------


@dataclass
class Commitment:
    """HMAC-SHA-256 of plaintext under a data key: the keyed identity of the raw bytes.

    Unlike a plain hash it cannot be tested against a guessed file without the key, and once
    the key is destroyed it identifies nothing.
    """

    key: bytes
    mac: Any = None

    def __post_init__(self) -> None:
        self.mac = hmac.new(self.key, digestmod=hashlib.sha256)

    def hexdigest(self) -> str:
        """The commitment so far."""
        return str(self.mac.hexdigest())


class _Committing:
    """A read-only file wrapper that feeds what it yields into a :class:`Commitment`."""

    def __init__(self, handle: Any, commitment: Commitment) -> None:
        self.handle, self.commitment = handle, commitment

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.handle.read(size)
        self.commitment.mac.update(data)
        return data


def commitment_of(chunks: Iterator[bytes], key: bytes) -> str:
    """The raw commitment of a plaintext stream under ``key``."""
    c = Commitment(key)
    for chunk in chunks:
        c.mac.update(chunk)
    return c.hexdigest()


@dataclass
class SealedRaw:
    """A raw file sealed into the object store's staging: not yet published."""

    staged: Staged
    key: data_keys.DataKey
    commitment: str
    size: int


def seal_raw(ws: Workspace, path: Path) -> SealedRaw:
    """Seal a raw file under a fresh data key into the store's staging (ciphertext only).

    The plaintext goes from the source file through memory into the sealed stream; its
    commitment is taken on the way.
    """
    from storage import sealed

    key = data_keys.create(ws)
    stream = ws.objects.stage_stream()
    commitment = Commitment(key.key)
    try:
        with path.open("rb") as handle:
            size = sealed.seal(
                _Committing(handle, commitment),  # type: ignore[arg-type]
                stream,  # type: ignore[arg-type]
                key.key,
                aad("raw", key.key_id),
            )
        staged = stream.finish()
    except BaseException:
        stream.discard()
        data_keys.destroy(ws, key.key_id)
        raise
    return SealedRaw(staged, key, commitment.hexdigest(), size)


def raw_chunks(
    ws: Workspace, snap: SnapshotRow, key: bytes, *, verify: bool = True
) -> Iterator[bytes]:
    """The plaintext of an encrypted snapshot's raw copy, segment by segment (memory only).

    The ciphertext is checked against its recorded digest first (unless ``verify`` is
    False: tests show the AEAD alone refuses tampering), and every segment authenticates
    before it is yielded (:func:`storage.sealed.unseal`).

    Raises:
        IntegrityError: for an altered copy or a segment that does not authenticate.
    """
    from storage import sealed

    refuse_erased(snap)
    info = recorded(snap)
    if info is None or "raw" not in info or snap.raw_digest is None:
        raise UsageError(f"{snap.ref} has no encrypted raw copy")
    if verify:
        issue = ws.objects.check(snap.raw_digest)
        if issue is not None:
            raise IntegrityError(
                f"the raw copy of {snap.ref} is {issue}", hint="Run `ledgerml audit verify`."
            )
    return sealed.unseal(ws.objects.path(snap.raw_digest), key, aad("raw", info["raw"]["id"]))


# --- reading ------------------------------------------------------------------------


@dataclass
class _Key:
    key_id: str
    key: bytes


_GRANTED: contextvars.ContextVar[dict[str, _Key] | None] = contextvars.ContextVar(
    "ledgerml_granted_keys", default=None
)


@dataclass
class Grant:
    """The data keys one piece of work was granted, in memory, and the events recording it.

    Use it as a context manager: inside the block :func:`table_source` can decrypt the
    granted snapshots (and only those); on leaving it the keys are dropped. A DuckDB error
    inside the block that says memory ran out becomes a :class:`UsageError` naming
    ``LEDGERML_MEMORY`` (encrypted reads never spill).
    """

    keys: dict[str, _Key] = field(default_factory=dict)
    raw_keys: dict[str, _Key] = field(default_factory=dict)
    events: list[int] = field(default_factory=list)
    _token: contextvars.Token[dict[str, _Key] | None] | None = None

    def __enter__(self) -> Grant:
        current = _GRANTED.get() or {}
        self._token = _GRANTED.set({**current, **self.keys})
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _GRANTED.reset(self._token)
            self._token = None
        self.keys.clear()
        self.raw_keys.clear()
        if err is not None:
            translated = translate(err)
            if translated is not None:
                raise translated from None

    def raw_key(self, snap: SnapshotRow) -> bytes:
        """The granted raw key of ``snap`` (for a re-read of its raw bytes)."""
        found = self.raw_keys.get(snap.ref)
        if found is None:
            raise UsageError(f"no raw key of {snap.ref} was granted")
        return found.key

    def key_material(self) -> dict[str, dict[str, str]]:
        """The granted Parquet keys as hex, to hand to a child process on a pipe (never disk)."""
        return {ref: {"id": k.key_id, "key": k.key.hex()} for ref, k in self.keys.items()}


def granted_from(material: dict[str, dict[str, str]]) -> Grant:
    """A grant rebuilt from :meth:`Grant.key_material` (the child side of reproduce)."""
    return Grant(keys={ref: _Key(v["id"], bytes.fromhex(v["key"])) for ref, v in material.items()})


def translate(err: BaseException) -> Exception | None:
    """A clear error for what a decrypting read can raise (None: leave it as it is)."""
    import duckdb

    text = str(err)
    if isinstance(err, duckdb.OutOfMemoryException) or (
        isinstance(err, duckdb.Error) and "Out of Memory" in text
    ):
        return UsageError(
            "the query ran out of memory (LEDGERML_MEMORY) on encrypted data, which is never "
            "spilled to disk",
            hint=MEMORY_HINT,
        )
    if isinstance(err, duckdb.Error | OSError) and (
        "decrypt" in text.lower() or "GCM" in text or "authentic" in text.lower()
    ):
        return IntegrityError(
            "an encrypted Parquet page does not authenticate (tampered or truncated bytes)",
            hint="Run `ledgerml audit verify`; restore the object from a backup.",
        )
    return None


def open(
    ws: Workspace,
    actor: str,
    snaps: Sequence[SnapshotRow | str],
    purpose: str,
    target: str | None = None,
    *,
    reason: str = "",
    columns: Sequence[str] | None = None,
    raw: bool = False,
) -> Grant:
    """Record the access, then unwrap the keys of the encrypted ones among ``snaps``.

    One ``data.access`` event per encrypted snapshot, each its own command (check, commit:
    :func:`core.kernel.command.run`); plaintext snapshots record nothing (a reveal of a PII
    column does, as before). The key is unwrapped and checked *before* the event, so a
    missing or wrong key-encryption key, a destroyed data key or an erased snapshot records
    nothing; the event is committed before any data is decrypted. ``raw`` also grants the
    raw copy's key (re-reading the raw bytes).

    Raises:
        UsageError: for an unknown purpose.
        PermissionDeniedError: unless the actor holds one of :data:`READ_ROLES` (nothing is
            recorded, nothing decrypted).
        NotFoundError: for an erased snapshot.
        KeyStoreError, IntegrityError: for a missing or wrong key.
    """
    if purpose not in ACCESS_PURPOSES:
        raise UsageError(
            f"unknown access purpose {purpose!r}", hint=f"One of {', '.join(ACCESS_PURPOSES)}."
        )
    grant = Grant()
    seen: set[str] = set()
    for item in snaps:
        ref = item if isinstance(item, str) else item.ref
        if ref in seen:
            continue
        seen.add(ref)
        if not isinstance(item, str) and not is_encrypted(item):
            refuse_erased(item)
            continue

        def commit(s: Session, _: None, ref: str = ref) -> tuple[SnapshotRow, int | None]:
            from core.data.snapshots import resolve

            snap = resolve(s.catalog, ref)
            refuse_erased(snap)
            info = recorded(snap)
            if info is None:
                return snap, None
            keys = [("parquet", info["parquet"])] + ([("raw", info["raw"])] if raw else [])
            for role, ref_ in keys:
                unwrapped = _unwrap(s, snap, ref_)
                (grant.keys if role == "parquet" else grant.raw_keys)[snap.ref] = _Key(
                    ref_["id"], unwrapped
                )
            entry = s.commit(
                new_event(
                    s.actor,
                    DataAccessed(
                        snapshot=snap.ref,
                        purpose=purpose,
                        target=target,
                        columns=list(columns) if columns is not None else None,
                    ),
                    [f"snapshot:{snap.ref}"],
                    reason,
                )
            )
            return snap, entry.seq

        _, seq = command.run(
            ws, actor, guards=[needs(*READ_ROLES, action="decrypt data")], commit=commit
        )
        if seq is not None:
            grant.events.append(seq)
    return grant


def _unwrap(s: Session, snap: SnapshotRow, ref: dict[str, str]) -> bytes:
    """A snapshot's data key, with its erasure as the likely cause when it is gone.

    On a workstation attached to a shared ledger, a key this key store never held (the
    snapshot was added elsewhere) is first fetched from the server's wraps for the recipient
    keys this keyring holds (:meth:`core.kernel.workspace.Remote.fetch_key`).
    """
    ws = s.workspace
    remote = ws.remote
    if remote is not None and not data_keys.exists(ws, ref["id"]):
        remote.fetch_key(s, ref["id"], ref["check"], snap.created_seq, snap.ref)
    try:
        return data_keys.get(ws, ref["id"], ref["check"])
    except KeyStoreError as err:
        if (
            not data_keys.exists(ws, ref["id"])
            and data_keys.folder(ws).joinpath("kek.json").exists()
        ):
            raise KeyStoreError(
                f"the data key of {snap.ref} is not in the key store: its data was "
                "crypto-shredded, or this workspace's keystore/ folder was not restored",
                hint="`ledgerml audit verify` lists erasures; backups carry keystore/ "
                "(copied by hand, restore it with the workspace).",
            ) from err
        raise


def verify_copy(ws: Workspace, snap: SnapshotRow) -> Path:
    """The snapshot's Parquet object, its bytes checked against the recorded digest.

    For an encrypted copy this is the ciphertext's digest: tampering is refused here before
    a key is used, and the AEAD would refuse it again on read.

    Raises:
        NotFoundError: for an erased snapshot.
        IntegrityError: if the copy is missing or altered.
    """
    refuse_erased(snap)
    issue = ws.objects.check(snap.parquet_digest)
    if issue is not None:
        raise IntegrityError(
            f"the Parquet copy of {snap.ref} is {issue}", hint="Run `ledgerml audit verify`."
        )
    return ws.objects.path(snap.parquet_digest)


def no_spill(con: duckdb.DuckDBPyConnection) -> None:
    """Turn off DuckDB's spilling on ``con``: a spilled block of decrypted rows is plaintext.

    Idempotent: a connection already locked down (a feature view's, whose settings are
    frozen before the user's SQL runs) keeps it off.
    """
    [(current,)] = con.execute("SELECT current_setting('temp_directory')").fetchall()
    if current:
        con.execute("SET temp_directory = ''")


def register(
    con: duckdb.DuckDBPyConnection, path: Path, key: bytes, key_id: str
) -> tuple[str, Any]:
    """Register an encrypted Parquet file on ``con``; its unique name and the dataset."""
    from storage import sealed

    no_spill(con)
    dataset = sealed.parquet_dataset(path, key, key_id)
    name = f"ledgerml_sealed_{secrets.token_hex(8)}"
    con.register(name, dataset)
    return name, dataset


def table_source(
    ws: Workspace, con: duckdb.DuckDBPyConnection, snap: SnapshotRow, *, verify: bool = True
) -> str:
    """A DuckDB table expression over any snapshot's rows, for queries on ``con``.

    Plaintext: ``read_parquet`` of the verified copy. Encrypted: the ciphertext verified,
    its key taken from the enclosing :func:`open` grant, and a decrypting dataset registered
    on ``con`` (with spilling off). ``verify=False`` skips the digest check for a caller that
    re-hashes the copy while its query runs (validation) and for the tests that show the
    AEAD catches tampering by itself.

    Raises:
        NotFoundError: for an erased snapshot.
        IntegrityError: for a missing or altered copy.
        PermissionDeniedError: for an encrypted snapshot no enclosing grant covers.
    """
    from core.data.duck import parquet_source

    refuse_erased(snap)
    path = verify_copy(ws, snap) if verify else ws.objects.path(snap.parquet_digest)
    info = recorded(snap)
    if info is None:
        return parquet_source(path)
    granted = (_GRANTED.get() or {}).get(snap.ref)
    if granted is None or granted.key_id != info["parquet"]["id"]:
        from core.kernel.errors import PermissionDeniedError

        raise PermissionDeniedError(
            f"{snap.ref} is encrypted at rest, and this work was not granted access to it",
            hint="Reading encrypted data is recorded (data.access) and needs a reading role "
            f"({', '.join(READ_ROLES)}); this command does not read it on anyone's behalf: "
            "run the step that needs the rows as such an actor.",
        )
    name, _ = register(con, path, granted.key, granted.key_id)
    return name


def set_encrypt_pii(ws: Workspace, actor: str, on: bool) -> bool:
    """Set ``[privacy] encrypt_pii`` (admins): encrypt PII-tagged snapshots by default.

    A setting, like the witness list, not an event: every snapshot's own event records
    whether it was encrypted, which is what an auditor checks. Runs through the command
    kernel for its role check and its hold of the workspace; returns the new value.
    """
    from core.data.snapshots import ENCRYPT_PII, PRIVACY
    from core.kernel.workspace import CONFIG, write_config

    def commit(s: Session, _: None) -> bool:
        ws.load_config()  # the file as it is now, not as this process first read it
        config = {k: dict(v) for k, v in ws.config.items() if isinstance(v, dict)}
        config[PRIVACY] = {**config.get(PRIVACY, {}), ENCRYPT_PII: on}
        write_config(ws.root / CONFIG, config)
        ws.load_config()
        return on

    return command.run(
        ws, actor, guards=[needs("admin", action="change the privacy settings")], commit=commit
    )
