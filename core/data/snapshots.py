"""Dataset snapshots: immutable, content-addressed, described versions of tabular data.

``add`` keeps the raw bytes untouched in the object store (their SHA-256 is the raw file's
identity), streams a canonical Parquet copy through DuckDB, computes the schema, the profile
and the format-independent table digest (:mod:`core.data.tables`), then records one
``snapshot.add`` event that creates ``NAME@N``. The heavy work runs before the workspace is
taken, so a long ingest never blocks other commands; only the final check and commit hold it.
Adding bytes a dataset already holds makes no new version and says so.

Example::

    snap, created = add(ws, "dana", Path("german.data"), dataset="german-credit",
                        provenance={"source": "UCI"}, pii=[], sensitive=["personal_status"])
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.identity.actors import require
from core.kernel.catalog import Catalog
from core.kernel.errors import NotFoundError, UsageError
from core.kernel.events import Event, ObjectRef
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Session, Workspace
from storage.canonical import canonical_bytes

if TYPE_CHECKING:  # numpy and pyarrow: imported where data is read, not to list snapshots
    from core.data import tables
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
PROFILE_MEDIA_TYPE = "application/vnd.ledgerml.profile+json"
_DATASET = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_RETENTION = re.compile(r"^\d+[dwmy]$")
PROVENANCE_FIELDS = ("source", "collected_by", "collection_method", "legal_basis", "consent")


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


def check_dataset_name(name: str) -> str:
    """Validate a dataset name."""
    if not _DATASET.match(name):
        raise UsageError(
            f"invalid dataset name {name!r}",
            hint="Use 1-64 lowercase letters, digits, '.', '_' or '-'.",
        )
    return name


def check_retention(retention: str) -> str:
    """Validate a retention period (empty: not set)."""
    if retention and not _RETENTION.match(retention):
        raise UsageError(
            f"invalid retention {retention!r}", hint="Give a number and a unit: 90d, 26w, 18m, 7y."
        )
    return retention


def resolve(catalog: Catalog, ref: str) -> SnapshotRow:
    """Turn ``name@N``, ``name`` (its latest version) or ``sha256:<prefix>`` into a snapshot.

    Raises:
        NotFoundError: if nothing matches, or a digest prefix is ambiguous.
    """
    if ref.startswith("sha256:"):
        prefix = ref.removeprefix("sha256:").lower()
        found = catalog.snapshots_by_digest(prefix) if len(prefix) >= 6 else []
        if len(found) == 1:
            return found[0]
        if found:
            raise NotFoundError(f"{ref} is ambiguous: {', '.join(s.ref for s in found)}")
        raise NotFoundError(
            f"no snapshot has a digest starting with {prefix}",
            hint="Give at least 6 hex characters.",
        )
    if "@" in ref:
        row = catalog.snapshot(ref)
        if row is None:
            known = [s.ref for s in catalog.snapshots(ref.split("@", 1)[0])]
            raise NotFoundError(
                f"no snapshot {ref}",
                hint=f"Known versions: {', '.join(known)}."
                if known
                else "`ledgerml snapshot list` shows datasets.",
            )
        return row
    latest = catalog.snapshots(ref)
    if not latest:
        raise NotFoundError(
            f"no dataset named {ref!r}", hint="`ledgerml snapshot list` shows datasets."
        )
    return latest[-1]


def prepare(
    ws: Workspace,
    con_source: str,
    *,
    dialect: tables.Dialect,
    read_path: Path | None = None,
    con: Any = None,
    progress: Progress = NO_PROGRESS,
    tagged: tuple[list[str], list[str]] = ([], []),
) -> Prepared:
    """Copy a readable table to canonical Parquet, then digest and profile it (no lock held).

    ``tagged`` (PII, sensitive columns) is checked against the schema before any blob is
    stored, so refused input leaves the object store as it was.
    """
    from core.data import tables

    (ws.root / "tmp").mkdir(exist_ok=True)
    own = con is None
    con = con or tables.connect(ws.root / "tmp")
    work = Path(tempfile.mkdtemp(prefix=".ingest-", dir=ws.root / "tmp"))
    try:
        parquet_path = work / "table.parquet"
        progress(1, 4, "writing canonical Parquet")
        if read_path is not None:
            tables.copy_to_parquet(con, read_path, dialect, parquet_path)
        else:
            con.execute(
                f"COPY (SELECT * FROM {con_source}) TO '{tables._sql_text(str(parquet_path))}' "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
            )
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
        digest, profile = tables.digest_and_profile(con, parquet_path, cols)
        progress(3, 4, "profiled")
        if profile["rows"] == 0:
            raise UsageError("the table has no rows", hint="An empty table is not evidence.")
        progress(4, 4, "storing")  # the last point a caller may still cancel
        parquet_size = parquet_path.stat().st_size
        parquet_ref = ObjectRef(
            ws.objects.adopt(parquet_path).commit(), parquet_size, PARQUET_MEDIA_TYPE
        )
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
        )
    finally:
        for child in work.iterdir():
            child.unlink()
        work.rmdir()
        if own:
            con.close()


def _check_columns(prep: Prepared, names: list[str], what: str) -> list[str]:
    known = {c["name"] for c in prep.columns}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(
            f"{what} column {unknown[0]!r} is not in the table",
            hint=f"Columns: {', '.join(sorted(known))}.",
        )
    return sorted(set(names))


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
    """Commit a prepared table as the dataset's next version, unless it holds it already."""
    for existing in s.catalog.snapshots(dataset):
        same = (
            existing.raw_digest == prep.raw.sha256
            if dedupe_on == "raw" and prep.raw
            else existing.table_digest == prep.table_digest
            and existing.transform_digest == prep.extra.get("transform_digest")
        )
        if same:
            return existing, False
    version = max((v.version for v in s.catalog.snapshots(dataset)), default=0) + 1
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
        "pii": _check_columns(prep, pii, "PII"),
        "sensitive": _check_columns(prep, sensitive, "sensitive"),
        "retention": retention,
        "lineage": [list(edge) for edge in lineage],
        **prep.extra,
    }
    objects = [prep.parquet, prep.profile, *(extra_objects or [])]
    if prep.raw is not None:
        data["raw_digest"] = prep.raw.sha256
        objects.insert(0, prep.raw)
    ref = f"{dataset}@{version}"
    s.commit(
        Event(
            s.actor,
            "snapshot.add",
            [f"snapshot:{ref}", f"dataset:{dataset}", f"sha256:{prep.table_digest}"],
            data,
            reason,
            objects,
        )
    )
    row = s.catalog.snapshot(ref)
    assert row is not None
    return row, True


def add(
    ws: Workspace,
    actor: str,
    path: Path,
    *,
    dataset: str,
    provenance: dict[str, str] | None = None,
    pii: list[str] | None = None,
    sensitive: list[str] | None = None,
    retention: str = "",
    reason: str = "",
    options: tables.ReadOptions | None = None,
    progress: Progress = NO_PROGRESS,
) -> tuple[SnapshotRow, bool]:
    """Snapshot a CSV, Parquet or JSON Lines file as the dataset's next version.

    Returns:
        The snapshot and whether it is new (False: these bytes are already a version).

    Raises:
        UsageError: for unreadable or malformed input, unknown columns, bad names; nothing
            is recorded then.
        PermissionDeniedError: unless the actor is a data steward or an admin.
    """
    from core.data import tables

    dataset = check_dataset_name(dataset)
    check_retention(retention)
    with ws.session(actor) as s:
        require(s, "data-steward", "admin", action="add snapshots")
    dialect = tables.detect(path, options or tables.ReadOptions())
    # Copy and hash the raw bytes while DuckDB reads the same file; publish the copy only
    # when the snapshot is recorded, so refused input leaves the store as it was.
    with ThreadPoolExecutor(max_workers=1) as pool:
        staging = pool.submit(ws.objects.stage_file, path)
        try:
            prep = prepare(
                ws,
                "",
                dialect=dialect,
                read_path=path,
                progress=progress,
                tagged=(pii or [], sensitive or []),
            )
        except BaseException:
            with contextlib.suppress(Exception):
                staging.result().discard()
            raise
        staged = staging.result()
    try:
        raw = ObjectRef(staged.digest, staged.tmp.stat().st_size, "application/octet-stream")
        with ws.session(actor) as s:
            require(s, "data-steward", "admin", action="add snapshots")
            for existing in s.catalog.snapshots(dataset):
                if existing.raw_digest == raw.sha256:
                    return existing, False
            staged.commit()
            return record(
                s,
                Prepared(**{**prep.__dict__, "raw": raw}),
                dataset=dataset,
                kind="raw",
                provenance={k: v for k, v in (provenance or {}).items() if v},
                pii=pii or [],
                sensitive=sensitive or [],
                retention=retention,
                reason=reason,
                lineage=[(f"sha256:{raw.sha256}", "copy-of")],
            )
    finally:
        staged.discard()


def unapplied(
    existing: SnapshotRow,
    *,
    provenance: dict[str, str] | None = None,
    pii: list[str] | None = None,
    sensitive: list[str] | None = None,
    retention: str = "",
) -> list[str]:
    """What a repeated ``add`` of the same bytes asked for that the version does not record.

    A version is immutable, so a second description is not applied; saying which fields
    differ keeps a user from believing a PII tag was added when it was not.
    """
    recorded = json.loads(existing.provenance) if existing.provenance else {}
    differ = [k for k, v in (provenance or {}).items() if v and recorded.get(k) != v]
    if pii and sorted(pii) != sorted(existing.pii):
        differ.append("pii")
    if sensitive and sorted(sensitive) != sorted(existing.sensitive):
        differ.append("sensitive")
    if retention and retention != existing.retention:
        differ.append("retention")
    return differ


def list_snapshots(ws: Workspace, actor: str = "", dataset: str | None = None) -> list[SnapshotRow]:
    """All snapshots, or one dataset's versions."""
    with ws.session(actor) as s:
        return s.catalog.snapshots(dataset)


def show(ws: Workspace, ref: str, actor: str = "") -> SnapshotRow:
    """One snapshot by reference."""
    with ws.session(actor) as s:
        return resolve(s.catalog, ref)


def load_profile(ws: Workspace, snap: SnapshotRow) -> dict[str, Any]:
    """The snapshot's profile, read back from its verified object."""
    value = json.loads(ws.objects.read_verified(snap.profile_digest))
    if not isinstance(value, dict):
        raise UsageError("profile object is not a JSON object")
    return value


def parquet_path(ws: Workspace, snap: SnapshotRow) -> Path:
    """The verified Parquet copy of a snapshot, for queries."""
    issue = ws.objects.check(snap.parquet_digest)
    if issue is not None:
        from core.kernel.errors import IntegrityError

        raise IntegrityError(
            f"the Parquet copy of {snap.ref} is {issue}", hint="Run `ledgerml audit verify`."
        )
    return ws.objects.path(snap.parquet_digest)


def diff(ws: Workspace, a: str, b: str, actor: str = "") -> dict[str, Any]:
    """Schema and profile differences between two snapshots."""
    with ws.session(actor) as s:
        left, right = resolve(s.catalog, a), resolve(s.catalog, b)
    pa_, pb = load_profile(ws, left), load_profile(ws, right)
    ca = {c["name"]: c for c in json.loads(left.columns)}
    cb = {c["name"]: c for c in json.loads(right.columns)}
    changes: dict[str, Any] = {
        "a": left.ref,
        "b": right.ref,
        "rows": [left.rows, right.rows],
        "same_table": left.table_digest == right.table_digest,
        "added": sorted(set(cb) - set(ca)),
        "removed": sorted(set(ca) - set(cb)),
        "type_changed": {
            n: [ca[n]["type"], cb[n]["type"]]
            for n in sorted(set(ca) & set(cb))
            if ca[n]["type"] != cb[n]["type"]
        },
        "profile": {},
    }
    for name in sorted(set(ca) & set(cb)):
        sa, sb = pa_["columns"][name], pb["columns"][name]
        delta = {
            k: [sa.get(k), sb.get(k)]
            for k in (
                "nulls",
                "nan",
                "distinct",
                "min",
                "max",
                "mean",
                "std",
                "min_length",
                "max_length",
            )
            if sa.get(k) != sb.get(k) and (k in sa or k in sb)
        }
        if delta:
            changes["profile"][name] = delta
    return changes
