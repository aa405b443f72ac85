"""The privacy members of a bundle: the retention and deletion log of the version's data.

``privacy/retention.json`` (:data:`storage.bundle_verifier.RETENTION`): the retention tags
of the snapshots in the excerpt, the retention rules set, the legal holds placed and lifted,
the erasures (with their receipts' digests) and the retention runs, with the flags that must
not be missed (an erasure made before its retention had run out by the wall clock). It is
:func:`storage.bundle_verifier.retention_log` over the excerpt's signed events, which the
stand-alone verifier derives again and compares: checkable, not a claim. The rendered log
(``reports/retention.md`` / ``.html``) comes from the same document.
"""

from __future__ import annotations

from core.audit.bundle_members import Bundling, Members, add_rendered
from storage.bundle_verifier import RETENTION, RETENTION_FORMAT, retention_log
from storage.canonical import canonical_bytes


def retention(b: Bundling, members: Members) -> None:
    """Add ``privacy/retention.json`` and its rendering (always: an empty log is evidence)."""
    from core.documents.retention_report import render_log

    events = [(seq, b.event_body(seq)) for seq in b.seqs]
    log = retention_log(events)
    doc = {
        "format": RETENTION_FORMAT,
        "model": b.model.ref,
        "as_of": b.checkpoint.size,
        "last_ts": events[-1][1].get("ts") if events else None,
        **log,
    }
    members.add(RETENTION, canonical_bytes(doc), "application/json")
    md, html = render_log(doc, title=f"data of {b.model.ref}")
    add_rendered(
        members, "retention", md, html, subject=f"model:{b.model.ref}", created=b.checkpoint.ts
    )
