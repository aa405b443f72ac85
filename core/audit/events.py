"""The audit context's event kinds: bundle exports (the access log of sensitive artifacts).

An export changes no table; it is declared so that every bundle carries the export log and the
coverage checklist counts it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.kernel.kinds import Payload, declare

EXPORT_ROLES = ("admin", "auditor", "validator", "approver")
"""Who may export audit bundles."""


@dataclass(frozen=True)
class BundleExported(Payload):
    """An audit bundle written for a model version: its digest, size and data level.

    ``rows_of`` names the snapshots whose rows a full-data bundle carries (their Parquet
    copies; the run's test predictions are rows of its input): the access log's record of
    data leaving the workspace. Absent for a hashes-only bundle, and in exports recorded
    before it was written.
    """

    model: str
    data_level: str
    bundle_sha256: str
    members: int
    checkpoint_size: int
    rows_of: list[str] | None = None


declare(
    "bundle.export",
    BundleExported,
    in_every_bundle=True,
    evidence_for=("access-log",),
    context=__name__,
    roles=EXPORT_ROLES,
)
