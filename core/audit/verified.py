"""Verified-up-to records: repeat verifications need not redo the past.

Verifying every event's signature is the slow part of ``audit verify`` (a million ECDSA
checks); re-hashing the chain and the Merkle tree is fast. So after a full verification an
admin or auditor may sign a record, ``ledger/verified/<size>.json``: a DSSE envelope over
``{"type": "ledgerml/verified-up-to/v1", "workspace", "size", "root", "head", "ts"}`` saying
"events 1..size, whose Merkle root is root, had valid signatures and roles when I checked".

The next ``audit verify`` still re-hashes the whole chain and recomputes the root at
``size``: if a single byte of those events changed, the root differs and the record is
void (verification then checks every signature again). Only signatures and roles of the
events after ``size`` are checked anew. ``audit verify --full`` ignores records. A record
is only as trustworthy as its signer: it is refused unless its key was, at ``size``, the
certified key of an active admin or auditor.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.identity.actors import needs
from core.identity.authority import Authority
from core.identity.signing import envelope, pae, verify_envelope
from core.kernel import command
from core.kernel.errors import IntegrityError, UsageError
from core.kernel.workspace import Session, Workspace
from storage.canonical import canonical_bytes
from storage.fsutil import atomic_write, private_dir

RECORD_TYPE = "ledgerml/verified-up-to/v1"
PAYLOAD_TYPE = "application/vnd.ledgerml.verified-up-to+json"
ROLES = ("admin", "auditor")


@dataclass(frozen=True)
class Record:
    """A signed statement that events 1..size verified, by whom."""

    size: int
    root: str
    key_id: str
    envelope: dict[str, Any]
    path: Path


def folder(ws: Workspace) -> Path:
    """Where the records are kept."""
    return ws.root / "ledger" / "verified"


def records(ws: Workspace) -> list[Record]:
    """Every record, largest first; unreadable ones are skipped (they vouch for nothing)."""
    out = []
    for path in sorted(folder(ws).glob("*.json"), reverse=True):
        try:
            env = json.loads(path.read_text())
            doc = json.loads(base64.b64decode(env["payload"]))
            out.append(
                Record(
                    int(doc["size"]),
                    str(doc["root"]),
                    str(env["signatures"][0]["keyid"]),
                    env,
                    path,
                )
            )
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue
    return out


def usable(
    record: Record, auth: Authority, roots: dict[int, bytes], workspace_id: str
) -> str | None:
    """Why ``record`` cannot stand in for checking events 1..size; None if it can."""
    key = auth.keys.get(record.key_id)
    if key is None or key.purpose != "actor" or not key.certified:
        return "signed by a key that is not a certified actor key"
    try:
        payload = verify_envelope(
            record.envelope, {key.key_id: key.public_pem}, expected_type=PAYLOAD_TYPE
        ).json()
    except IntegrityError as err:
        return err.msg
    if payload.get("type") != RECORD_TYPE or payload.get("workspace") != workspace_id:
        return "not a verified-up-to record of this workspace"
    if payload.get("size") != record.size or payload.get("root") != record.root:
        return "its file name and its signed content disagree"
    problem = key.problem_at(record.size + 1, str(payload.get("ts", "")))
    if problem:
        return problem
    state = auth.actor_at(key.actor, record.size + 1)
    if state is None or state.status != "active" or not set(ROLES) & set(state.roles):
        return f"signed by {key.actor}, who was not an active admin or auditor then"
    actual = roots.get(record.size)
    if actual is None or actual.hex() != record.root:
        return "the events it covers changed since (their Merkle root differs)"
    return None


def write(ws: Workspace, actor: str, size: int, root: str, head: str, ts: str) -> Path:
    """Sign and keep a record for events 1..size (the caller has verified them fully).

    Raises:
        PermissionDeniedError: unless ``actor`` is an admin or auditor who proves their secret.
    """
    if size <= 0:
        raise UsageError("an empty ledger has nothing to record")

    def commit(s: Session, _: None) -> Path:
        from core.audit.checkpoints import signer_of

        signer = signer_of(s)
        doc = {
            "type": RECORD_TYPE,
            "workspace": ws.workspace_id,
            "size": size,
            "root": root,
            "head": head,
            "ts": ts,
        }
        payload = canonical_bytes(doc)
        sig = signer.sign(pae(PAYLOAD_TYPE, payload))
        env = envelope(PAYLOAD_TYPE, payload, signer.key.key_id, sig)
        private_dir(folder(ws))
        path = folder(ws) / f"{size:012d}.json"
        atomic_write(path, json.dumps(env, indent=2).encode() + b"\n")
        return path

    return command.run(
        ws, actor, guards=[needs(*ROLES, action="sign verified-up-to records")], commit=commit
    )
