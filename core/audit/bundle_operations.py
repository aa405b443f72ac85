"""The operations a bundle carries: where the model was deployed, and since when.

For the bundled model version, from the ledger excerpt (exactly what the checkpoint covers):

- ``operations/deployments.json``: every deployment of the version (environment, arm,
  strategy, who, when, why, the incident it answered, the event that ended it), oldest
  first, and what of it is live where at the checkpoint. It is derived with
  :func:`storage.bundle_verifier.deployment_history`, which the stand-alone verifier runs
  again over the same signed events, so the member is checkable, not just a claim.

The excerpt carries every event of an environment the version was deployed to
(:func:`environments`), so the deployment that ended one of its deployments is in it too.
"""

from __future__ import annotations

from typing import Any

from core.audit.bundle_members import Bundling, Members
from storage.bundle_verifier import DEPLOYMENTS, deployment_history
from storage.canonical import canonical_bytes

DEPLOYMENTS_FORMAT = "ledgerml/deployments/v1"


def environments(bodies: list[dict[str, Any]], ref: str) -> set[str]:
    """The ``env:NAME`` nodes of every environment ``ref`` was deployed to."""
    return {
        f"env:{body['data'].get('env')}"
        for body in bodies
        if body.get("action") in ("model.deploy", "model.rollback")
        and isinstance(body.get("data"), dict)
        and body["data"].get("model") == ref
    }


def operations(b: Bundling, members: Members) -> None:
    """``operations/deployments.json`` when the version was ever deployed."""
    events = [(seq, b.event_body(seq)) for seq in b.seqs]
    history = deployment_history(events, b.model.ref)
    if not history:
        return
    live: dict[str, list[str]] = {}
    for d in history:
        if d["ended_seq"] is None:
            live.setdefault(str(d["env"]), []).append(str(d["arm"]))
    doc = {
        "format": DEPLOYMENTS_FORMAT,
        "model": b.model.ref,
        "as_of": b.checkpoint.size,
        "deployments": history,
        "live": live,
    }
    members.add(DEPLOYMENTS, canonical_bytes(doc), "application/json")
