"""The ingest primitives every snapshot kind shares: convert, digest, profile, record.

:func:`prepare` turns a readable table (a file, or a feature view's query) into canonical
Parquet, its table digest and its profile, without holding the workspace, and checks the
PII and sensitive columns against the schema before any blob is stored. :func:`record`
commits a prepared table as a dataset's next version under the workspace, unless the
dataset already holds it. ``snapshot add`` (:mod:`core.data.snapshots`) and feature views
(:mod:`core.data.features`) both end here, so a ``snapshot.add`` event has one shape.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.data.events import SnapshotAdded
from core.kernel.catalog import Catalog
from core.kernel.errors import UsageError
from core.kernel.events import ObjectRef
from core.kernel.kinds import new_event
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Session, Workspace
from storage.canonical import canonical_bytes
from storage.fsutil import private_dir, temp_prefix

if TYPE_CHECKING:  # numpy and pyarrow: imported where data is read, not to list snapshots
    from core.data import tables

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
PROFILE_MEDIA_TYPE = "application/vnd.ledgerml.profile+json"


@dataclass(frozen=True)
class Prepared:
    """The result of the heavy, lock-free part of an ingest."""

    dialect: tables.Dialect
    parquet: ObjectRef
    profile: ObjectRef
    table_digest: str
    rows: int
    columns: list[dict[str, str]]
    raw: ObjectRef | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    encryption: dict[str, Any] | None = None
    """What the event records under ``encryption`` (:mod:`core.data.encryption`), if any."""


ROW_GROUP = 122880
"""Rows per row group of every canonical Parquet copy (DuckDB's and the encrypted writer's)."""


def prepare(
    ws: Workspace,
    con_source: str,
    *,
    dialect: tables.Dialect,
    read_path: Path | None = None,
    con: Any = None,
    progress: Progress = NO_PROGRESS,
    tagged: tuple[list[str], list[str]] = ([], []),
    encrypt: bool = False,
    pseudonyms: Mapping[str, tuple[int, bytes]] | None = None,
) -> Prepared:
    """Copy a readable table to canonical Parquet, then digest and profile it (no lock held).

    ``tagged`` (PII, sensitive columns) is checked against the schema before any blob is
    stored, so refused input leaves the object store as it was; PII columns are profiled by
    counts alone, so the stored profile holds none of their values.

    With ``encrypt`` the copy is written as encrypted Parquet under a fresh data key, from
    DuckDB's result stream straight into the object store's staging (no plaintext file,
    spilling off), and the digest and profile pass reads it back through the decrypting
    dataset: the table digest is the plaintext table's, whichever way it is stored.
    ``Prepared.encryption`` then holds ``{"parquet": key ref}``.

    ``pseudonyms`` (column to key version and key) replaces those columns' values of a file
    by keyed pseudonyms as the copy is written (:mod:`core.data.pseudonyms`).
    """
    from core.data import tables

    private_dir(ws.root / "tmp")
    own = con is None
    con = con or tables.connect(None if encrypt else ws.root / "tmp")
    if encrypt:
        from core.data import encryption

        encryption.no_spill(con)
    work = Path(tempfile.mkdtemp(prefix=temp_prefix("ingest"), dir=ws.root / "tmp"))
    sealed_copy = _SealedCopy(ws) if encrypt else None
    published = False
    try:
        parquet_path = work / "table.parquet"
        progress(1, 4, "writing canonical Parquet" + (" (encrypted)" if encrypt else ""))
        target: Path | tables.ParquetSink = parquet_path if sealed_copy is None else sealed_copy
        if read_path is not None:
            tables.copy_to_parquet(con, read_path, dialect, target, pseudonyms=pseudonyms)
        elif sealed_copy is not None:
            sealed_copy(con, f"SELECT * FROM {con_source}")
        else:
            con.execute(
                f"COPY (SELECT * FROM {con_source}) TO '{tables.sql_text(str(parquet_path))}' "
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP})"
            )
        registered: dict[str, Any] = {}
        if sealed_copy is not None:
            src, registered = sealed_copy.register(con)
        else:
            src = tables.parquet_source(parquet_path)
        cols = tables.columns(con, src)
        known = {c.name for c in cols}
        for what, names in zip(("PII", "sensitive"), tagged, strict=True):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise UsageError(
                    f"{what} column {unknown[0]!r} is not in the table",
                    hint=f"Columns: {', '.join(sorted(known))}.",
                )
        if not cols:
            raise UsageError("the table has no columns")
        progress(2, 4, "computing the table digest and profiling columns")
        if sealed_copy is not None:
            digest, profile = tables.digest_and_profile(
                con, src, cols, pii=tagged[0], registered=registered
            )
        else:
            digest, profile = tables.digest_and_profile(con, parquet_path, cols, pii=tagged[0])
        progress(3, 4, "profiled")
        if profile["rows"] == 0:
            raise UsageError("the table has no rows", hint="An empty table is not evidence.")
        progress(4, 4, "storing")  # the last point a caller may still cancel
        if sealed_copy is not None:
            staged = sealed_copy.staged()
            parquet_size = staged.tmp.stat().st_size
        else:
            parquet_size = parquet_path.stat().st_size
            staged = ws.objects.adopt(parquet_path)
        parquet_ref = ObjectRef(staged.commit(), parquet_size, PARQUET_MEDIA_TYPE)
        published = True
        profile_bytes = canonical_bytes(profile)
        profile_ref = ObjectRef(
            ws.objects.put_bytes(profile_bytes), len(profile_bytes), PROFILE_MEDIA_TYPE
        )
        return Prepared(
            dialect=dialect,
            parquet=parquet_ref,
            profile=profile_ref,
            table_digest=digest,
            rows=int(profile["rows"]),
            columns=[{"name": c.name, "type": c.type, "kind": c.kind} for c in cols],
            encryption={"parquet": sealed_copy.key.ref()} if sealed_copy is not None else None,
        )
    finally:
        if sealed_copy is not None:
            sealed_copy.close(keep_key=published)
        for child in work.iterdir():
            child.unlink()
        work.rmdir()
        if own:
            con.close()


class _SealedCopy:
    """The encrypted canonical copy being written: its data key and its staged ciphertext.

    A :data:`core.data.reading.ParquetSink`; called again (types re-sampled), it replaces
    what it wrote. If the ingest fails before the copy is published, :meth:`close` destroys
    the fresh key with it, so a refused ingest leaves no key behind.
    """

    def __init__(self, ws: Workspace) -> None:
        from core.data import data_keys

        self.ws = ws
        self.key = data_keys.create(ws)
        self._staged: Any = None

    def __call__(self, con: Any, select: str) -> None:
        from core.data import tables
        from storage import sealed

        stream = self.ws.objects.stage_stream()
        try:
            reader = tables.arrow_batches(con, select, ROW_GROUP)
            sealed.write_parquet(
                reader,
                stream,  # type: ignore[arg-type]  # a binary file-like, hashed as written
                self.key.key,
                self.key.key_id,
                ROW_GROUP,
            )
        except BaseException:
            stream.discard()
            raise
        if self._staged is not None:
            self._staged.discard()
        self._staged = stream.finish()

    def register(self, con: Any) -> tuple[str, dict[str, Any]]:
        """Register the written copy on ``con``; its table name and what the profile needs."""
        from core.data import encryption

        name, dataset = encryption.register(con, self._staged.tmp, self.key.key, self.key.key_id)
        return name, {name: dataset}

    def staged(self) -> Any:
        """The staged ciphertext (:class:`storage.objects.Staged`)."""
        return self._staged

    def close(self, *, keep_key: bool) -> None:
        from core.data import data_keys

        if self._staged is not None:
            self._staged.discard()
        if not keep_key:
            data_keys.destroy(self.ws, self.key.key_id)


def existing_version(
    catalog: Catalog, dataset: str, prep: Prepared, dedupe_on: str
) -> SnapshotRow | None:
    """The dataset's version that already holds this table, if any (the duplicate check)."""
    for existing in catalog.snapshots(dataset):
        same = (
            existing.raw_digest == prep.raw.sha256
            if dedupe_on == "raw" and prep.raw
            else existing.table_digest == prep.table_digest
            and existing.transform_digest == prep.extra.get("transform_digest")
        )
        if same:
            return existing
    return None


def record(
    s: Session,
    prep: Prepared,
    *,
    dataset: str,
    kind: str,
    provenance: dict[str, str],
    pii: list[str],
    sensitive: list[str],
    retention: str,
    reason: str,
    lineage: list[tuple[str, str]],
    extra_objects: list[ObjectRef] | None = None,
    dedupe_on: str = "raw",
) -> tuple[SnapshotRow, bool]:
    """Commit a prepared table as the dataset's next version, unless it holds it already.

    The PII and sensitive columns were checked against the schema by :func:`prepare`, before
    any blob was stored; here they are only put in order.
    """
    existing = existing_version(s.catalog, dataset, prep, dedupe_on)
    if existing is not None:
        return existing, False
    return commit_new(
        s,
        prep,
        dataset=dataset,
        kind=kind,
        provenance=provenance,
        pii=pii,
        sensitive=sensitive,
        retention=retention,
        reason=reason,
        lineage=lineage,
        extra_objects=extra_objects,
    )


def commit_new(
    s: Session,
    prep: Prepared,
    *,
    dataset: str,
    kind: str,
    provenance: dict[str, str],
    pii: list[str],
    sensitive: list[str],
    retention: str,
    reason: str,
    lineage: list[tuple[str, str]],
    extra_objects: list[ObjectRef] | None,
) -> tuple[SnapshotRow, bool]:
    """Append the ``snapshot.add`` event of a new version (the caller checked duplicates)."""
    version = max((v.version for v in s.catalog.snapshots(dataset)), default=0) + 1
    # The keys and their order are the bytes every recorded snapshot.add event holds.
    data: dict[str, Any] = {
        "dataset": dataset,
        "version": version,
        "kind": kind,
        "dialect": prep.dialect.to_json(),
        "parquet_digest": prep.parquet.sha256,
        "table_digest": prep.table_digest,
        "table_digest_version": 2,
        "profile_digest": prep.profile.sha256,
        "rows": prep.rows,
        "columns": prep.columns,
        "provenance": provenance,
        "pii": sorted(set(pii)),
        "sensitive": sorted(set(sensitive)),
        "retention": retention,
        "lineage": [list(edge) for edge in lineage],
        **prep.extra,
    }
    if prep.encryption is not None:
        from core.data.encryption import SCHEME

        data["encryption"] = {"scheme": SCHEME, **prep.encryption}
    objects = [prep.parquet, prep.profile, *(extra_objects or [])]
    if prep.raw is not None:
        data["raw_digest"] = prep.raw.sha256
        objects.insert(0, prep.raw)
    ref = f"{dataset}@{version}"
    s.commit(
        new_event(
            s.actor,
            SnapshotAdded.from_data(data),  # the typed payload refuses a key it does not declare
            [f"snapshot:{ref}", f"dataset:{dataset}", f"sha256:{prep.table_digest}"],
            reason,
            objects,
        )
    )
    row = s.catalog.snapshot(ref)
    assert row is not None
    return row, True
