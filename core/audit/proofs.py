"""Inclusion proofs: that event ``seq`` is in the log a signed checkpoint commits to."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from core.audit.checkpoints import checkpoints, read_checkpoint
from core.identity.signing import CHECKPOINT_PAYLOAD_TYPE, verify_envelope
from core.kernel.errors import IntegrityError, NotFoundError
from core.kernel.workspace import Workspace
from storage import merkle


def prove(ws: Workspace, seq: int, *, checkpoint_path: Path | None = None) -> dict[str, Any]:
    """An inclusion proof of event ``seq`` against a signed checkpoint.

    Uses the given checkpoint, else the smallest of the workspace's checkpoints covering
    ``seq``.

    Raises:
        NotFoundError: if the event does not exist or no checkpoint covers it yet.
    """
    entry = ws.ledger.entry(seq)
    if checkpoint_path is not None:
        cp = read_checkpoint(checkpoint_path)
    else:
        covering = [c for c in checkpoints(ws) if c.size >= seq]
        if not covering:
            raise NotFoundError(
                f"no checkpoint covers event #{seq} yet",
                hint="Sign one with `ledgerml audit checkpoint`, then ask again.",
            )
        cp = covering[0]
    if cp.size < seq:
        raise NotFoundError(f"the checkpoint covers only {cp.size} events, not #{seq}")
    leaves = ws.ledger.leaf_hashes(cp.size)
    path = merkle.inclusion_proof(seq - 1, leaves)
    merkle.verify_inclusion(seq - 1, cp.size, entry.leaf, path, bytes.fromhex(cp.root))
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "entry_hash": entry.hash,
        "line": entry.line.decode(),
        "tree_size": cp.size,
        "root": cp.root,
        "proof": [p.hex() for p in path],
        "checkpoint": cp.envelope,
    }


def verify_proof(doc: dict[str, Any], public_keys: dict[str, str]) -> None:
    """Check an inclusion proof document end to end: line → hash → leaf → root → signature.

    Raises:
        IntegrityError: naming the first link that does not hold.
    """
    try:
        line = str(doc["line"]).encode()
        entry_hash = hashlib.sha256(line).hexdigest()
        if entry_hash != doc["entry_hash"]:
            raise IntegrityError("the event's text does not hash to the proven entry hash")
        verified = verify_envelope(
            doc["checkpoint"], public_keys, expected_type=CHECKPOINT_PAYLOAD_TYPE
        ).json()
        if verified["root"] != doc["root"] or verified["size"] != doc["tree_size"]:
            raise IntegrityError("the proof's root or size is not the signed checkpoint's")
        merkle.verify_inclusion(
            int(doc["leaf_index"]),
            int(doc["tree_size"]),
            merkle.leaf_hash(bytes.fromhex(entry_hash)),
            [bytes.fromhex(p) for p in doc["proof"]],
            bytes.fromhex(doc["root"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise IntegrityError(f"malformed inclusion proof: {err!r}") from err
