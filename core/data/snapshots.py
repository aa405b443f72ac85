"""Dataset snapshots: immutable, content-addressed, described versions of tabular data.

``add`` keeps the raw bytes untouched in the object store (their SHA-256 is the raw file's
identity), streams a canonical Parquet copy through DuckDB, computes the schema, the profile
and the format-independent table digest (:mod:`core.data.tables`), then records one
``snapshot.add`` event that creates ``NAME@N``. Every front door describes the snapshot it
wants as one :class:`SnapshotRequest` (file, dataset, provenance, PII, sensitive columns,
retention, reason, read options) and hands it to :func:`submit`, which runs it through the
command kernel (:mod:`core.kernel.command`): the role check under the workspace, the ingest
without it (so a long ingest never blocks other commands), then the duplicate check and the
commit under it again. Adding bytes a dataset already holds makes no new version and says so.

CONTRIBUTING.md ("The write path") walks one ``snapshot add`` from either front door to
the catalog row, hop by hop.

Example::

    request = SnapshotRequest(Path("german.data"), "german-credit",
                              provenance={"source": "UCI"}, sensitive=("personal_status",))
    snap, created = submit(ws, "dana", request)
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.data.events import SNAPSHOT_ROLES
from core.data.ingest import Prepared, commit_new, existing_version, prepare
from core.identity.actors import needs
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import NotFoundError, UsageError
from core.kernel.events import ObjectRef
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Session, Workspace

if TYPE_CHECKING:  # numpy and pyarrow: imported where data is read, not to list snapshots
    from core.data import tables
    from storage.objects import Staged

_DATASET = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_RETENTION = re.compile(r"^\d+[dwmy]$")
PROVENANCE_FIELDS = ("source", "collected_by", "collection_method", "legal_basis", "consent")


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


def split_columns(text: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` as ``("a", "b", "c")``: how every front door reads a list of columns."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


@dataclass(frozen=True)
class SnapshotRequest:
    """What a front door asks ``snapshot add`` for; the CLI and the TUI build the same one.

    ``provenance`` takes the keys of :data:`PROVENANCE_FIELDS`; empty values are not
    recorded. ``options`` overrides what is detected about the file (None: detect all).
    """

    path: Path
    dataset: str
    provenance: Mapping[str, str] = field(default_factory=dict)
    pii: Sequence[str] = ()
    sensitive: Sequence[str] = ()
    retention: str = ""
    reason: str = ""
    options: tables.ReadOptions | None = None

    def check(self) -> None:
        """Refuse a bad name or retention before the workspace is even taken."""
        check_dataset_name(self.dataset)
        check_retention(self.retention)

    def recorded_provenance(self) -> dict[str, str]:
        """The provenance as the event records it: the fields that were given."""
        return {k: v for k, v in self.provenance.items() if v}

    def unapplied(self, existing: SnapshotRow) -> list[str]:
        """What this request asked for that ``existing`` (the same bytes) does not record."""
        return unapplied(
            existing,
            provenance=dict(self.provenance),
            pii=list(self.pii),
            sensitive=list(self.sensitive),
            retention=self.retention,
        )


ADD_ROLES = SNAPSHOT_ROLES


class _Ingest:
    """One ``snapshot add`` in the command kernel's steps, and the staged raw copy it holds.

    The raw copy is published only by the commit; :meth:`discard` drops it otherwise (refused
    input, a duplicate, a failed re-check). The Parquet copy and the profile are stored during
    the ingest: when the commit is refused they stay as blobs no event names, which nothing
    reads (the store is content-addressed) and the next identical ingest reuses.
    """

    def __init__(self, ws: Workspace, request: SnapshotRequest, progress: Progress) -> None:
        self.ws, self.request, self.progress = ws, request, progress
        self.staged: Staged | None = None
        self.notices: list[str] = []

    def compute(self, _: None) -> Prepared:
        """Detect the format, copy and hash the raw bytes, convert and profile (no lock)."""
        from core.data import missing_codes, tables

        request = self.request
        dialect, self.notices = tables.detect_with_notices(
            request.path, request.options or tables.ReadOptions()
        )
        if dialect.has_codes:  # before any blob is stored: an unknown column is refused
            con = tables.connect(self.ws.root / "tmp")
            try:
                self.notices += missing_codes.count(con, request.path, dialect)
            finally:
                con.close()
        # Copy and hash the raw bytes while DuckDB reads the same file.
        with ThreadPoolExecutor(max_workers=1) as pool:
            staging = pool.submit(self.ws.objects.stage_file, request.path)
            try:
                prep = prepare(
                    self.ws,
                    "",
                    dialect=dialect,
                    read_path=request.path,
                    progress=self.progress,
                    tagged=(list(request.pii), list(request.sensitive)),
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    staging.result().discard()
                raise
            self.staged = staging.result()
        raw = ObjectRef(
            self.staged.digest, self.staged.tmp.stat().st_size, "application/octet-stream"
        )
        return Prepared(**{**prep.__dict__, "raw": raw})

    def commit(self, s: Session, prep: Prepared) -> tuple[SnapshotRow, bool]:
        """Record the next version, unless the dataset already holds these bytes.

        The duplicate check runs here, once: the raw digest is known only after the ingest,
        and the check must see the catalog under the same hold as the commit.
        """
        request = self.request
        existing = existing_version(s.catalog, request.dataset, prep, "raw")
        if existing is not None and _read_options(existing) != prep.dialect.user_read_options:
            # The same bytes read with other names or missing-value codes are another table.
            existing = next(
                (
                    e
                    for e in s.catalog.snapshots(request.dataset)
                    if e.raw_digest == existing.raw_digest
                    and _read_options(e) == prep.dialect.user_read_options
                ),
                None,
            )
        if existing is not None:
            return existing, False
        assert self.staged is not None and prep.raw is not None
        self.staged.commit()
        return commit_new(
            s,
            prep,
            dataset=request.dataset,
            kind="raw",
            provenance=request.recorded_provenance(),
            pii=list(request.pii),
            sensitive=list(request.sensitive),
            retention=request.retention,
            reason=request.reason,
            lineage=[(f"sha256:{prep.raw.sha256}", "copy-of")],
            extra_objects=None,
        )

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.discard()


def _read_options(snap: SnapshotRow) -> dict[str, Any]:
    """The names and missing-value codes a recorded snapshot was read with (none: {})."""
    recorded = json.loads(snap.dialect) if snap.dialect else {}
    return {k: recorded[k] for k in ("names", "na_values", "column_na_values") if k in recorded}


@dataclass(frozen=True)
class Added:
    """What ``snapshot add`` did: the snapshot, whether it is new, and what to tell the user.

    ``notices`` say what the reading did that the user did not spell out: lines skipped
    above the header, spaces trimmed, how many cells each missing-value code replaced (or
    that a code never occurs). Front doors show them; nothing is fixed silently.
    """

    snapshot: SnapshotRow
    created: bool
    notices: tuple[str, ...] = ()


def submit(
    ws: Workspace, actor: str, request: SnapshotRequest, *, progress: Progress = NO_PROGRESS
) -> tuple[SnapshotRow, bool]:
    """:func:`submit_detailed` without its notices (scripts and callers that show none)."""
    added = submit_detailed(ws, actor, request, progress=progress)
    return added.snapshot, added.created


def submit_detailed(
    ws: Workspace, actor: str, request: SnapshotRequest, *, progress: Progress = NO_PROGRESS
) -> Added:
    """Snapshot ``request.path`` as the dataset's next version: the one write path of it.

    The role guard runs before the ingest and again at the commit: the command kernel
    re-checks every guard after it released the workspace, and the check is one catalog
    lookup. The PII and sensitive columns are checked once, against the schema the ingest
    finds, before any blob is stored.

    Returns:
        The snapshot, whether it is new (False: these bytes, read with the same names and
        missing-value codes, are already a version), and the reading's notices.

    Raises:
        UsageError: for unreadable or malformed input, unknown columns, bad names; nothing
            is recorded then.
        PermissionDeniedError: unless the actor is a data steward or an admin.
    """
    request.check()
    ingest = _Ingest(ws, request, progress)
    try:
        snap, created = command.run(
            ws,
            actor,
            guards=[needs(*ADD_ROLES, action="add snapshots")],
            compute=ingest.compute,
            commit=ingest.commit,
        )
    finally:
        ingest.discard()
    return Added(snap, created, tuple(ingest.notices))


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
    """:func:`submit` with the request's fields as arguments (scripts, tests, benches)."""
    request = SnapshotRequest(
        path,
        dataset,
        provenance=provenance or {},
        pii=tuple(pii or ()),
        sensitive=tuple(sensitive or ()),
        retention=retention,
        reason=reason,
        options=options,
    )
    return submit(ws, actor, request, progress=progress)


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
    """The snapshot's profile, read back from its verified object, PII values dropped.

    Profiles of older snapshots may hold values of PII-tagged columns; no reader sees them
    (:func:`core.data.redaction.redact_profile`).
    """
    from core.data.redaction import redact_profile

    value = json.loads(ws.objects.read_verified(snap.profile_digest))
    if not isinstance(value, dict):
        raise UsageError("profile object is not a JSON object")
    return redact_profile(value, snap.pii)


def refuse_erased(snap: SnapshotRow) -> None:
    """Refuse to read a snapshot an erasure covers (its rows no longer exist).

    Raises:
        NotFoundError: naming the erasure's event.
    """
    if snap.erased_seq is not None:
        raise NotFoundError(
            f"{snap.ref} was erased at event #{snap.erased_seq}: its rows no longer exist",
            title="Erased",
            hint=f"`ledgerml data receipt {snap.erased_seq}` shows what was erased, why and by "
            "whom; `ledgerml snapshot list` shows the versions that remain.",
        )


def parquet_path(ws: Workspace, snap: SnapshotRow) -> Path:
    """The verified Parquet copy of a snapshot, for queries (never of an erased one)."""
    refuse_erased(snap)
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
