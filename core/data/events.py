"""The data context's event kinds: snapshots (raw and feature views) and validation runs.

Declared once here with typed payloads and their projector handlers; light on purpose (the
projector imports it on every command, before any data library is needed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import DataAccessRow, EdgeRow, SnapshotRow, ValidationRow

SNAPSHOT_ROLES = ("data-steward", "admin")
"""Who may add a raw snapshot."""
FEATURE_ROLES = ("data-scientist", "data-steward", "admin")
"""Who may build a feature view (a snapshot derived from others)."""
VALIDATION_ROLES = ("data-steward", "data-scientist", "validator", "admin")
WAIVE_ROLES = ("approver",)
"""Who may waive a failed validation: an approver, never the team whose data failed."""
REVEAL_ROLES = ("data-steward", "auditor")
"""Who may reveal values of a PII column: the steward who holds the data, an auditor."""
READ_ROLES = ("data-steward", "data-scientist", "validator", "auditor", "admin")
"""Who may have an encrypted snapshot decrypted (each time recorded as ``data.access``)."""
ACCESS_PURPOSES = (
    "validate",
    "train",
    "evaluate",
    "feature",
    "profile",
    "reveal",
    "export",
    "monitor",
    "reproduce",
    "datasheet",
    "erase",
    "relink",
)
"""Why an encrypted snapshot was decrypted, or sensitive data left the workspace."""
PSEUDONYM_ROLES = ("data-steward", "admin")
"""Who may make a new version of the workspace's pseudonym key (those who add snapshots)."""


@dataclass(frozen=True)
class SnapshotAdded(Payload):
    """A dataset's new version: its stored copies, digests, shape and tags.

    ``raw_digest`` is absent for a feature view (no raw file); ``transform_digest`` and
    ``view`` are present only for a feature view. ``lineage`` and ``table_digest_version``
    are always written today; they stay optional so events that predate them still fold.
    """

    dataset: str
    version: int
    kind: str
    dialect: dict[str, Any]
    parquet_digest: str
    table_digest: str
    profile_digest: str
    rows: int
    columns: list[Any]
    provenance: dict[str, Any]
    pii: list[str]
    sensitive: list[str]
    retention: str
    lineage: list[list[str]] | None = None
    table_digest_version: int | None = None
    raw_digest: str | None = None
    transform_digest: str | None = None
    view: dict[str, Any] | None = None
    encryption: dict[str, Any] | None = None
    """Present when the copies are encrypted at rest: the scheme and, per copy (``raw``,
    ``parquet``), the data key's id and check value (:mod:`core.data.data_keys`); the
    digests above are then of the ciphertext."""
    pseudonyms: dict[str, Any] | None = None
    """Columns replaced by keyed pseudonyms at ingest: ``{column: key version}``."""

    @property
    def ref(self) -> str:
        """``dataset@version``."""
        return f"{self.dataset}@{self.version}"


@dataclass(frozen=True)
class ValidationRun(Payload):
    """A suite's verdict on a snapshot (the full result is a blob)."""

    snapshot: str
    suite_name: str
    suite_digest: str
    result_digest: str
    passed: bool
    errors: int
    warnings: int
    checks: int


@event_kind(
    "snapshot.add",
    SnapshotAdded,
    tables=("snapshots", "edges"),
    evidence_for=("snapshots",),
    rule=lambda d: FEATURE_ROLES if d.view is not None else SNAPSHOT_ROLES,
)
def _snapshot_add(cat: Catalog, seq: int, body: Body, d: SnapshotAdded) -> None:
    ref = d.ref
    cat.put(
        SnapshotRow(
            ref=ref,
            dataset=d.dataset,
            version=d.version,
            kind=d.kind,
            format=d.dialect["format"],
            dialect=json.dumps(d.dialect, sort_keys=True),
            raw_digest=d.raw_digest,
            parquet_digest=d.parquet_digest,
            table_digest=d.table_digest,
            profile_digest=d.profile_digest,
            rows=d.rows,
            columns=json.dumps(d.columns),
            provenance=json.dumps(d.provenance, sort_keys=True),
            pii=d.pii,
            sensitive=d.sensitive,
            retention=d.retention,
            transform_digest=d.transform_digest,
            encryption=json.dumps(d.encryption, sort_keys=True) if d.encryption else None,
            pseudonyms=json.dumps(d.pseudonyms, sort_keys=True) if d.pseudonyms else None,
            erased_seq=None,
            created_seq=seq,
            created_at=body["ts"],
            created_by=body["actor"],
            reason=body["reason"],
        )
    )
    cat.put_edges(
        [
            EdgeRow(src=f"snapshot:{ref}", dst=dst, relation=rel, seq=seq)
            for dst, rel in d.lineage or []
        ]
    )


@event_kind(
    "validation.run",
    ValidationRun,
    tables=("validations", "edges"),
    evidence_for=("history",),
    roles=VALIDATION_ROLES,
)
def _validation_run(cat: Catalog, seq: int, body: Body, d: ValidationRun) -> None:
    cat.put(
        ValidationRow(
            seq=seq,
            snapshot=d.snapshot,
            suite_name=d.suite_name,
            suite_digest=d.suite_digest,
            result_digest=d.result_digest,
            passed=d.passed,
            errors=d.errors,
            warnings=d.warnings,
            checks=d.checks,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
    cat.put_edges(
        [
            EdgeRow(
                src=f"validation:{seq}",
                dst=f"snapshot:{d.snapshot}",
                relation="validates",
                seq=seq,
            ),
            EdgeRow(
                src=f"validation:{seq}",
                dst=f"sha256:{d.suite_digest}",
                relation="uses-suite",
                seq=seq,
            ),
        ]
    )


@dataclass(frozen=True)
class ValidationWaived(Payload):
    """An approver's signed waiver of a failed validation run, for some stages, until a date.

    ``waives`` is the failed run (its event number); ``scope`` the stages it lets through
    (``view``, ``train``); ``expires`` the last day (UTC, ``YYYY-MM-DD``) it counts.
    """

    snapshot: str
    suite: str
    waives: int
    reason: str
    scope: list[str]
    expires: str


@event_kind("validation.waive", ValidationWaived, tables=("edges",), roles=WAIVE_ROLES)
def _validation_waive(cat: Catalog, seq: int, body: Body, d: ValidationWaived) -> None:
    cat.put_edges(
        [
            EdgeRow(src=f"waiver:{seq}", dst=f"snapshot:{d.snapshot}", relation="waives", seq=seq),
            EdgeRow(src=f"waiver:{seq}", dst=f"validation:{d.waives}", relation="waives", seq=seq),
        ]
    )


@dataclass(frozen=True)
class DataRevealed(Payload):
    """Someone was shown the top values of a PII column, and why (never the values)."""

    snapshot: str
    column: str


@event_kind("data.reveal", DataRevealed, roles=REVEAL_ROLES, evidence_for=("access-log",))
def _data_reveal(cat: Catalog, seq: int, body: Body, d: DataRevealed) -> None:
    """Only indexed: the event log is the record of who saw what."""


@dataclass(frozen=True)
class DataAccessed(Payload):
    """Sensitive data was read (decrypted) or exported, by whom and why (never the data).

    ``snapshot`` is what was read; ``purpose`` one of :data:`ACCESS_PURPOSES`; ``target`` what
    the read served (a run, a bundle file name, a view), when there is one.
    """

    snapshot: str
    purpose: str
    target: str | None = None
    columns: list[str] | None = None


@event_kind(
    "data.access",
    DataAccessed,
    tables=("data_access",),
    evidence_for=("access-log",),
    roles=READ_ROLES,
)
def _data_access(cat: Catalog, seq: int, body: Body, d: DataAccessed) -> None:
    cat.put(
        DataAccessRow(
            seq=seq,
            snapshot=d.snapshot,
            purpose=d.purpose,
            target=d.target,
            columns=json.dumps(d.columns) if d.columns is not None else None,
            actor=body["actor"],
            created_at=body["ts"],
            reason=body.get("reason", ""),
        )
    )


@dataclass(frozen=True)
class PseudonymKeyMade(Payload):
    """A new version of the workspace's pseudonym key: its number and check value.

    The key itself is in the OS keyring, never in the ledger, the objects or a bundle
    (:mod:`core.data.pseudonyms`); the check value lets a reader tell the right key from a
    wrong one without revealing anything that recovers it.
    """

    version: int
    check: str


@event_kind("pseudonym.key", PseudonymKeyMade, roles=PSEUDONYM_ROLES)
def _pseudonym_key(cat: Catalog, seq: int, body: Body, d: PseudonymKeyMade) -> None:
    """Only indexed: the versions are read back from the event log."""


@dataclass(frozen=True)
class RecipientKeyPublished(Payload):
    """A reader's public *encryption* key (X25519), published and signed by that reader.

    Workstations wrap data keys for it (:mod:`core.data.recipients`); the private half stays
    in its owner's OS keyring. Signed by the owner's actor key like every event, so neither
    the shared ledger's server nor another insider can put their own key in its place; the
    newest one an actor published is their current one.
    """

    scheme: str
    public: str
    """The raw 32-byte X25519 public key, hex."""
    fingerprint: str
    """SHA-256 of the raw public key, hex: what wraps and keyring entries are named by."""


@event_kind("data.recipient", RecipientKeyPublished, roles=READ_ROLES)
def _data_recipient(cat: Catalog, seq: int, body: Body, d: RecipientKeyPublished) -> None:
    """Not indexed: the keys are read back from the signed event log when wrapping."""
