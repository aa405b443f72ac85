"""The privacy members of a bundle: who read and exported the data, what of it is used.

- ``privacy/access-log.json``: every read of the bundled data and every bundle export the
  ledger excerpt holds (:mod:`core.privacy.access_log`), derived with
  :func:`storage.bundle_verifier.access_log`, which the stand-alone verifier runs again over
  the same signed events: an entry left out or edited rejects the bundle. Left out when
  there is no entry, so the coverage table shows the item as a gap rather than answered.
- ``privacy/minimisation.json``: for each bundled snapshot, the columns it stores, the ones
  this model uses (as inputs, target or for fairness checks, followed through feature views)
  and the PII and sensitive ones it does not (:mod:`core.privacy.minimisation`). Derived by
  the exporter from the spec and the views' SQL; the verifier does not re-derive it.

- ``privacy/receipt-<seq>.json``: the deletion receipt of every erasure in the excerpt (every
  bundle carries every ``data.erase``: the retention and deletion log is the organisation's,
  not one model's); the verifier checks each against its signed event.

The bundle's own export is recorded after it is written, so the next bundle carries it.
"""

from __future__ import annotations

from core.audit.bundle_members import Bundling, Members
from core.privacy import access_log, minimisation
from storage.bundle_verifier import ACCESS_LOG, receipt_member
from storage.canonical import canonical_bytes

MINIMISATION = "privacy/minimisation.json"


def privacy(b: Bundling, members: Members) -> None:
    """Add the access log and the minimisation summary of the bundled model."""
    events = [(seq, b.event_body(seq)) for seq in b.seqs]
    doc = access_log.bundle_document(events, b.checkpoint.size)
    if doc["entries"]:  # none yet: the coverage table shows the item as a gap, not as answered
        members.add(ACCESS_LOG, canonical_bytes(doc), "application/json")
    snaps = [snap for snap in b.snapshots if snap is not None]
    summary = minimisation.for_model(b.ws, b.model, b.run, snaps)
    members.add(MINIMISATION, canonical_bytes(summary), "application/json")
    receipts(b, members)


def receipts(b: Bundling, members: Members) -> None:
    """The deletion receipt of every erasure in the excerpt, as the ledger stored it."""
    for seq in b.seqs:
        body = b.event_body(seq)
        if body["action"] == "data.erase":
            members.add(
                receipt_member(seq),
                b.read(body["data"]["receipt_digest"]),
                "application/vnd.ledgerml.deletion-receipt+json",
                True,
            )
