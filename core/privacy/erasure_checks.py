"""What ``audit verify`` checks about erasures, from the ledger alone.

- An object an erasure names and that is gone is *erased*, not missing: no failure, counted
  in the summary. Only events recorded before the erasure are excused; a later event that
  names the same digest (the same plaintext ingested again) needs its object like any other.
- An erasure whose data keys or objects are still on disk is a failure, "erased but not yet
  shredded", until the same ``data erase`` is run again (a crash between the commit and the
  shredding, or a key store copied back by hand).
- Each erasure's receipt, re-hashed by the object check, must claim what its signed event
  records (:func:`storage.bundle_verifier.receipt_problems`, the bundle verifier's check).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core.evidence.vocabulary import plural
from core.kernel.errors import LedgerError
from core.kernel.workspace import Workspace
from core.privacy import shredding
from storage.bundle_verifier import receipt_problems

Fail = Callable[..., None]


def check(
    ws: Workspace,
    decoded: list[tuple[int, dict[str, Any]]],
    object_problems: list[tuple[int, str, str]],
    fail: Fail,
) -> str:
    """Report object problems (excusing erased ones), unfinished shredding and bad receipts.

    Returns:
        A one-line summary for the report ("" when nothing was ever erased).
    """
    stones = shredding.tombstones(decoded)
    for seq, digest, issue in object_problems:
        at = stones.objects.get(digest)
        if issue == "missing" and at is not None and seq < at:
            continue
        fail(f"object sha256:{digest[:16]}… used by event #{seq} is {issue}", seq)
    if not stones.erasures:
        return ""
    for left in shredding.pending(ws, decoded):
        target = left.target.removeprefix("snapshot:")
        again = (
            "`ledgerml retention run --reason …`"  # a decision log's: retention finishes it
            if target.startswith("decisions:")
            else f"`ledgerml data erase {target} --reason … --legal-basis …`"
        )
        fail(f"{left.describe()}: run {again} again to finish it", left.seq)
    for seq, body in stones.erasures:  # a decision log's erasure destroys its decision key
        data = body.get("data") or {}
        for dep in data.get("decision_keys") or []:
            if _decision_key_present(ws, str(dep)):
                fail(
                    f"erasure #{seq} of {data.get('target')}: erased but not yet shredded (the "
                    f"decision key of {dep} is still in this keyring): run `ledgerml retention "
                    "run --reason …` again to finish it",
                    seq,
                )
    for seq, body in stones.erasures:
        data = body.get("data") or {}
        digest = str(data.get("receipt_digest", ""))
        if not ws.objects.exists(digest):
            continue  # the object check reported it
        try:
            receipt = json.loads(ws.objects.read_verified(digest))
        except (ValueError, LookupError, LedgerError):
            continue  # altered: the object check reported it
        for problem in receipt_problems(receipt, seq, body):
            fail(f"the receipt of erasure #{seq} disagrees with its signed event: {problem}", seq)
    gone = [d for d in stones.objects if not ws.objects.exists(d)]
    keys = sum(1 for k in stones.keys if not _key_present(ws, k))
    return (
        f"{plural(stones.erasures, 'erasure')}: {plural(gone, 'object')} erased "
        f"(crypto-shredded or deleted), {plural(keys, 'data key')} destroyed"
    )


def _key_present(ws: Workspace, key_id: str) -> bool:
    from core.data import data_keys

    return data_keys.exists(ws, key_id)


def _decision_key_present(ws: Workspace, deployment_id: str) -> bool:
    from core.operations import decision_keys

    return decision_keys.exists(ws, deployment_id)
