"""Legal holds: what may not be erased, by retention or by request, until a hold is lifted.

A hold names a dataset (``dataset:NAME``: every version, present and future) or one version
(``snapshot:NAME@N``). Erasure and retention ask :func:`blocking` under the workspace, in the
same session that would commit the erasure, so a hold placed a moment before always wins.
"""

from __future__ import annotations

from core.kernel.catalog import Catalog
from core.kernel.rows import HoldRow, SnapshotRow


def targets_of(snap: SnapshotRow) -> tuple[str, str]:
    """The two hold targets that cover a snapshot: its dataset and itself."""
    return f"dataset:{snap.dataset}", f"snapshot:{snap.ref}"


def blocking(catalog: Catalog, snap: SnapshotRow) -> list[HoldRow]:
    """The holds in force that cover ``snap`` (oldest first); empty: it may be erased."""
    return catalog._rows(
        HoldRow,
        "SELECT * FROM holds WHERE released_seq IS NULL AND target IN (?, ?) ORDER BY seq",
        list(targets_of(snap)),
    )


def active(catalog: Catalog) -> list[HoldRow]:
    """Every hold in force, oldest first."""
    return catalog._rows(HoldRow, "SELECT * FROM holds WHERE released_seq IS NULL ORDER BY seq")
