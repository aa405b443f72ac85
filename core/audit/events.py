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
    """An audit bundle written for a model version: its digest, size and data level."""

    model: str
    data_level: str
    bundle_sha256: str
    members: int
    checkpoint_size: int


declare(
    "bundle.export",
    BundleExported,
    in_every_bundle=True,
    evidence_for=("access-log",),
    context=__name__,
    roles=EXPORT_ROLES,
)
