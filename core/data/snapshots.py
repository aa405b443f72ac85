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
import hmac
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.data import data_keys
from core.data.events import SNAPSHOT_ROLES
from core.data.ingest import Prepared, commit_new, existing_version, prepare
from core.identity.actors import needs
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import NotFoundError, UsageError
from core.kernel.events import ObjectRef
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import BehindError, Session, Workspace

if TYPE_CHECKING:  # numpy and pyarrow: imported where data is read, not to list snapshots
    from core.data import encryption, tables
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
    encrypt: bool | None = None
    """Encrypt the copies at rest; None: the workspace's default (:func:`encrypt_default`)."""
    pseudonymize: Sequence[str] = ()
    """Columns whose values are replaced by keyed pseudonyms (:mod:`core.data.pseudonyms`);
    they are PII-tagged and the copies encrypted, whatever else was asked."""

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
            encrypt=self.encrypt,
            pseudonymize=list(self.pseudonymize),
        )


ADD_ROLES = SNAPSHOT_ROLES


class _Ingest:
    """One ``snapshot add`` in the command kernel's steps, and the staged raw copy it holds.

    The raw copy is published only by the commit; :meth:`discard` drops it otherwise (refused
    input, a duplicate, a failed re-check). The Parquet copy and the profile are stored during
    the ingest: when the commit is refused they stay as blobs no event names, which nothing
    reads (the store is content-addressed) and the next identical ingest reuses. An
    encrypted ingest's fresh data keys are destroyed unless its event is committed, so the
    ciphertext such a refusal leaves behind is unreadable.
    """

    def __init__(
        self,
        ws: Workspace,
        request: SnapshotRequest,
        progress: Progress,
        encrypt: bool,
        pseudonyms: Mapping[str, tuple[int, bytes]] | None = None,
    ) -> None:
        self.ws, self.request, self.progress, self.encrypt = ws, request, progress, encrypt
        self.pseudonyms = dict(pseudonyms or {})
        self.staged: Staged | None = None
        self.sealed: encryption.SealedRaw | None = None
        self.parquet_key: str | None = None
        self.committed = False
        self.notices: list[str] = []

    def compute(self, _: None) -> Prepared:
        """Detect the format, copy (or seal) the raw bytes, convert and profile (no lock)."""
        from core.data import encryption, missing_codes, tables

        request = self.request
        dialect, self.notices = tables.detect_with_notices(
            request.path, request.options or tables.ReadOptions()
        )
        if dialect.has_codes:  # before any blob is stored: an unknown column is refused
            con = tables.connect(None if self.encrypt else self.ws.root / "tmp")
            try:
                if self.encrypt:
                    encryption.no_spill(con)
                self.notices += missing_codes.count(con, request.path, dialect)
            finally:
                con.close()
        # Copy (or seal) and hash the raw bytes while DuckDB reads the same file.
        with ThreadPoolExecutor(max_workers=1) as pool:
            staging = pool.submit(self._stage_raw)
            try:
                prep = prepare(
                    self.ws,
                    "",
                    dialect=dialect,
                    read_path=request.path,
                    progress=self.progress,
                    tagged=(list(request.pii), list(request.sensitive)),
                    encrypt=self.encrypt,
                    pseudonyms=self.pseudonyms,
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    staging.result()  # kept on self, so discard() drops it (and its key)
                raise
            staging.result()
        assert self.staged is not None
        if prep.encryption is not None:
            self.parquet_key = prep.encryption["parquet"]["id"]
        raw = ObjectRef(
            self.staged.digest, self.staged.tmp.stat().st_size, "application/octet-stream"
        )
        enc = None
        if self.sealed is not None and prep.encryption is not None:
            enc = {
                "raw": self.sealed.key.ref(),
                **prep.encryption,
                "raw_commitment": self.sealed.commitment,
            }
        extra = dict(prep.extra)
        if self.pseudonyms:
            extra["pseudonyms"] = {c: v for c, (v, _) in sorted(self.pseudonyms.items())}
        return Prepared(**{**prep.__dict__, "raw": raw, "encryption": enc, "extra": extra})

    def _stage_raw(self) -> None:
        """Stage the raw copy beside the store: the bytes as they are, or sealed."""
        from core.data import encryption

        if self.encrypt:
            self.sealed = encryption.seal_raw(self.ws, self.request.path)
            self.staged = self.sealed.staged
        else:
            self.staged = self.ws.objects.stage_file(self.request.path)

    def commit(self, s: Session, prep: Prepared) -> tuple[SnapshotRow, bool]:
        """Record the next version, unless the dataset already holds these bytes.

        The duplicate check runs here, once: the raw digest is known only after the ingest,
        and the check must see the catalog under the same hold as the commit.
        """
        request = self.request
        existing = self._same_bytes(s, prep)
        if existing is not None:
            return existing, False
        assert self.staged is not None and prep.raw is not None
        self.staged.commit()  # a no-op on a retry (the blob is in the store by then)
        self.committed = True  # from here the event may be durable: keep its keys
        try:
            row = commit_new(
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
        except BehindError:
            self.committed = False  # nothing was recorded: the retry records it, or it goes
            raise
        return row

    def _same_bytes(self, s: Session, prep: Prepared) -> SnapshotRow | None:
        """The version holding these raw bytes, read with the same names and codes, if any.

        Plaintext against plaintext compares the raw digests, as always. When either side
        is encrypted the digests are of ciphertext (fresh each time), so the candidates are
        the versions with the same *table* digest (a cheap filter: a different table is
        never the same bytes) and each is confirmed on the raw bytes themselves: the
        new plaintext's SHA-256 against a plaintext version's digest, or its HMAC under an
        encrypted version's raw key against that version's raw commitment. Only versions
        whose table digest matches cost a pass over the new bytes (a re-add: one). A version
        whose key was destroyed (erased) can match nothing; a key that cannot be unwrapped
        is an error (KeyStoreError, IntegrityError), never taken for "no match".
        """
        from core.data import encryption

        options = prep.dialect.user_read_options
        assert prep.raw is not None
        if prep.encryption is None:
            existing = existing_version(s.catalog, self.request.dataset, prep, "raw")
            if existing is not None and _read_options(existing) != options:
                # The same bytes read with other names or missing-value codes are another table.
                existing = next(
                    (
                        e
                        for e in s.catalog.snapshots(self.request.dataset)
                        if e.raw_digest == existing.raw_digest and _read_options(e) == options
                    ),
                    None,
                )
            if existing is not None:
                return existing
        for e in s.catalog.snapshots(self.request.dataset):
            if (
                _read_options(e) != options
                or e.erased_seq is not None
                or e.table_digest != prep.table_digest
                or e.raw_digest is None
            ):
                continue
            old = encryption.recorded(e)
            if old is None:
                if prep.encryption is not None and sha256_of(self._plaintext()) == e.raw_digest:
                    return e
                continue
            if "raw" not in old or "raw_commitment" not in old:
                continue
            if not data_keys.exists(self.ws, old["raw"]["id"]):
                continue  # crypto-shredded: those bytes are gone, whatever these are
            # A key that will not unwrap (a missing or wrong key-encryption key) is an
            # error, not "no match": a duplicate must not be recorded for want of a key.
            key = data_keys.get(self.ws, old["raw"]["id"], old["raw"]["check"])
            if hmac.compare_digest(
                encryption.commitment_of(self._plaintext(), key), old["raw_commitment"]
            ):
                return e
        return None

    def _plaintext(self) -> Iterator[bytes]:
        """The staged raw bytes in the clear, chunk by chunk (memory only)."""
        from core.data import encryption
        from storage import sealed

        assert self.staged is not None
        # Once published (a retry after a teammate's event came first) the staged file is
        # gone and the same bytes are in the store under their digest.
        source = self.staged.tmp
        if not source.exists():
            source = self.ws.objects.path(self.staged.digest)
        if self.sealed is None:
            with source.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    yield chunk
            return
        key = self.sealed.key
        yield from sealed.unseal(source, key.key, encryption.aad("raw", key.key_id))

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.discard()
        if not self.committed:
            for key_id in (self.sealed.key.key_id if self.sealed else None, self.parquet_key):
                if key_id is not None:
                    data_keys.destroy(self.ws, key_id)


def sha256_of(chunks: Iterator[bytes]) -> str:
    """The SHA-256 of a stream of chunks."""
    import hashlib

    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


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
    request, keys, notices = _pseudonymizing(ws, actor, request)
    encrypt, more = encrypt_default(ws, request.pii, request.encrypt)
    notices += more
    ingest = _Ingest(ws, request, progress, encrypt, keys)
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
    return Added(snap, created, (*notices, *ingest.notices))


def _pseudonymizing(
    ws: Workspace, actor: str, request: SnapshotRequest
) -> tuple[SnapshotRequest, dict[str, tuple[int, bytes]], list[str]]:
    """The request as a pseudonymising ingest runs it, the columns' keys, and its notice.

    The columns become PII-tagged (pseudonymised data is still personal data, GDPR Recital
    26) and the copies encrypted: the raw file keeps the plain values, so it is sealed. The
    key is the newest version, from the keyring, before anything is read.

    Raises:
        UsageError: with ``--no-encrypt``, or when no pseudonym key was made yet.
        KeyStoreError, IntegrityError: when the keyring lacks the key or holds another one.
    """
    from core.data import pseudonyms

    columns = list(dict.fromkeys(request.pseudonymize))
    if not columns:
        return request, {}, []
    if request.encrypt is False:
        raise UsageError(
            "--pseudonymize cannot be combined with --no-encrypt",
            hint="The raw file keeps the plain values: a pseudonymised snapshot seals it "
            "(and its Parquet copy) so it is read only through the recorded door.",
        )
    with ws.session(actor) as s:
        version = pseudonyms.current(s.catalog)
    key = pseudonyms.key(ws, version)
    added = [c for c in columns if c not in request.pii]
    request = replace(request, pii=tuple(dict.fromkeys([*request.pii, *columns])), encrypt=True)
    notice = (
        f"pseudonymised {', '.join(columns)} with HMAC-SHA-256 under pseudonym key "
        f"v{version.version}; the raw file and the Parquet copy are encrypted"
    )
    if added:
        notice += f"; {', '.join(added)} tagged PII (pseudonymised data is still personal data)"
    return request, dict.fromkeys(columns, (version.version, key)), [notice]


PRIVACY = "privacy"
ENCRYPT_PII = "encrypt_pii"


def encrypt_pii(ws: Workspace) -> bool:
    """The workspace setting ``[privacy] encrypt_pii``: encrypt PII-tagged data by default.

    Raises:
        UsageError: if the setting is not a boolean.
    """
    value = ws.config.get(PRIVACY, {}).get(ENCRYPT_PII, False)
    if not isinstance(value, bool):
        raise UsageError(
            f"[{PRIVACY}] {ENCRYPT_PII} in config.toml must be true or false, not {value!r}",
            hint="Set it with `ledgerml config encrypt-pii on|off`.",
        )
    return value


def encrypt_default(
    ws: Workspace, pii: Sequence[str], asked: bool | None
) -> tuple[bool, list[str]]:
    """Whether to encrypt, given what was asked (None: not said), and a warning to show.

    Not said: encrypt if the data has PII columns and ``[privacy] encrypt_pii`` is on. An
    explicit ``--no-encrypt`` of PII-tagged data under that setting is done as asked, with a
    warning (a steward may have reasons, e.g. data already public; the event records it).
    """
    default = bool(pii) and encrypt_pii(ws)
    if asked is None:
        return default, []
    if not asked and default:
        return False, [
            "warning: PII columns are stored in plaintext although encryption of PII is on "
            "(`ledgerml config encrypt-pii`), because --no-encrypt was given"
        ]
    return asked, []


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
    encrypt: bool | None = None,
    pseudonymize: list[str] | None = None,
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
        encrypt=encrypt,
        pseudonymize=tuple(pseudonymize or ()),
    )
    return submit(ws, actor, request, progress=progress)


def unapplied(
    existing: SnapshotRow,
    *,
    provenance: dict[str, str] | None = None,
    pii: list[str] | None = None,
    sensitive: list[str] | None = None,
    retention: str = "",
    encrypt: bool | None = None,
    pseudonymize: list[str] | None = None,
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
    if encrypt is not None and encrypt != bool(existing.encryption):
        differ.append("encryption")
    recorded_pseudonyms = json.loads(existing.pseudonyms) if existing.pseudonyms else {}
    if pseudonymize and sorted(set(pseudonymize)) != sorted(recorded_pseudonyms):
        differ.append("pseudonyms")
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


def parquet_path(ws: Workspace, snap: SnapshotRow) -> Path:
    """The verified Parquet object of a snapshot (ciphertext, if it is encrypted).

    Queries read rows through :func:`core.data.encryption.table_source`, never this path.
    """
    from core.data.encryption import verify_copy

    return verify_copy(ws, snap)


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
