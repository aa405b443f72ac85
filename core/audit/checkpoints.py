"""Checkpoints: signed statements of the log's size and Merkle root.

A checkpoint is a DSSE envelope, signed by the named actor who made it with their own key
(an admin, an auditor, or whoever exports a bundle; format 1 used a shared workspace key), over
``{"type": "ledgerml/checkpoint/v1", "workspace", "size", "root", "head", "ts"}`` where
``root`` is the RFC 6962 Merkle root of the first ``size`` events and ``head`` the hash of event
``size``. Checkpoints are files under ``ledger/checkpoints/``, not events: they are statements
*about* the log, and anyone may keep a copy elsewhere. A copy kept outside the workspace is what
detects a rollback or a rewrite by someone who can write to the workspace (``--checkpoint``).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.audit import witnesses
from core.identity.actors import needs
from core.identity.signer import Signer
from core.identity.signing import CHECKPOINT_PAYLOAD_TYPE, envelope, pae
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import IntegrityError, NotFoundError, UsageError
from core.kernel.rows import KeyRow
from core.kernel.workspace import Session, Workspace
from storage.canonical import canonical_bytes
from storage.fsutil import atomic_write, private_dir

CHECKPOINT_TYPE = "ledgerml/checkpoint/v1"
SIGN_ROLES = ("admin", "auditor")


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the log's size and Merkle root."""

    size: int
    root: str
    head: str
    ts: str
    workspace: str
    key_id: str
    envelope: dict[str, Any]
    path: Path | None = None


def read_checkpoint(path: Path) -> Checkpoint:
    """Parse a checkpoint file (its signature is checked by :func:`verify`).

    Raises:
        UsageError: if the file cannot be read at all (missing, a folder, no permission):
            a wrong path is a wrong input, not evidence of tampering.
        IntegrityError: if it is not a checkpoint envelope.
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise UsageError(
            f"cannot read checkpoint file {path}: {reason}",
            hint="Give the path of a copy written by `ledgerml audit checkpoint --copy-to`.",
        ) from err
    try:
        env = json.loads(text)
        payload = json.loads(base64.b64decode(env["payload"]))
        return Checkpoint(
            size=int(payload["size"]),
            root=str(payload["root"]),
            head=str(payload["head"]),
            ts=str(payload["ts"]),
            workspace=str(payload["workspace"]),
            key_id=str(env["signatures"][0]["keyid"]),
            envelope=env,
            path=path,
        )
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise IntegrityError(
            f"checkpoint {path} is malformed: {err}",
            hint="A checkpoint is a DSSE envelope written by `ledgerml audit checkpoint`.",
        ) from err


def checkpoints(ws: Workspace) -> list[Checkpoint]:
    """The workspace's own checkpoints, smallest first."""
    if not ws.checkpoints_dir.is_dir():
        return []
    return [read_checkpoint(p) for p in sorted(ws.checkpoints_dir.glob("*.json"))]


def organisation_key(catalog: Catalog) -> KeyRow:
    """The active organisation key (format 1: the workspace key), as the catalog lists it."""
    active = [
        k
        for k in catalog.keys_of()
        if k.purpose in ("organisation", "workspace") and k.status == "active"
    ]
    if not active:
        raise NotFoundError(
            "this workspace has no active organisation key",
            hint="Rotate the organisation key with `ledgerml key rotate` (revoking it leaves "
            "no key to certify actors' keys).",
        )
    return active[-1]


def signer_of(s: Session) -> Signer:
    """The session's proven signer (the command's identity guard has set it)."""
    if not isinstance(s.sealer, Signer):
        raise RuntimeError("signing needs a session whose actor proved their secret")
    return s.sealer


def check_copy_destination(path: Path) -> None:
    """Refuse a place a checkpoint copy cannot be written to, before anything is signed.

    The folder must already exist: a copy is meant for somewhere outside the workspace (a
    mounted medium, another machine's share), and creating a missing folder would put it on
    the local disk when that medium is not mounted, or under a misspelt name, while saying
    "copy written".

    Raises:
        UsageError: naming what is wrong with ``path``.
    """
    hint = "Create the folder first (or mount the medium it lives on), then sign again."
    if path.is_dir():
        raise UsageError(
            f"--copy-to {path} is a folder; give a file name in it",
            hint=f"For example --copy-to {path / 'checkpoint.json'}.",
        )
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write the checkpoint copy: {parent} does not exist", hint=hint)
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write the checkpoint copy to {path}: permission denied")


def checkpoint(
    ws: Workspace, actor: str, *, copy_to: Path | None = None
) -> tuple[Checkpoint, bool]:
    """Sign the current log size and root with the acting actor's own key (admins, auditors).

    Args:
        ws: the workspace.
        actor: who signs (an admin or an auditor).
        copy_to: also write the checkpoint to this file; checked before anything is signed.

    Returns:
        The checkpoint and whether it was written now (an identical one may exist).
    """
    if copy_to is not None:
        check_copy_destination(copy_to)
    # Through the command kernel like every write, though a checkpoint is a file, not an
    # event: the commit step appends nothing to the ledger.
    cp, created = command.run(
        ws,
        actor,
        guards=[needs(*SIGN_ROLES, action="sign checkpoints")],
        commit=lambda s, _: sign_checkpoint(ws, s),
    )
    if copy_to is not None:
        try:
            atomic_write(copy_to, json.dumps(cp.envelope, indent=2).encode() + b"\n")
        except OSError as err:
            raise UsageError(
                f"the checkpoint was signed ({cp.path}) but its copy to {copy_to} failed: "
                f"{err.strerror or err}",
                hint="Fix the destination and run the command again: it copies the same "
                "checkpoint.",
            ) from err
    return cp, created


def sign_checkpoint(ws: Workspace, s: Session) -> tuple[Checkpoint, bool]:
    """Sign a checkpoint inside an open session (the caller has checked the actor's role)."""
    scan = ws.ledger.scan()
    if scan.problem:
        raise IntegrityError(
            f"refusing to sign a checkpoint over a broken ledger: event #{scan.problem[0]}: "
            f"{scan.problem[1]}",
            hint="Run `ledgerml audit verify`.",
        )
    path = ws.checkpoints_dir / f"{scan.size:012d}.json"
    if path.is_file():
        return read_checkpoint(path), False
    signer = signer_of(s)
    doc = {
        "type": CHECKPOINT_TYPE,
        "workspace": ws.workspace_id,
        "size": scan.size,
        "root": scan.roots[scan.size].hex(),
        "head": scan.head,
        # The time of the last event covered, not the signing time: checkpoints of the same
        # log are then identical, which keeps exports of one ledger state byte-identical.
        "ts": str(ws.ledger.entry(scan.size).decode()["ts"]),
    }
    payload = canonical_bytes(doc)
    sig = signer.sign(pae(CHECKPOINT_PAYLOAD_TYPE, payload))
    env = envelope(CHECKPOINT_PAYLOAD_TYPE, payload, signer.key.key_id, sig)
    private_dir(ws.checkpoints_dir)
    atomic_write(path, json.dumps(env, indent=2).encode() + b"\n")
    witnesses.publish(ws, path)  # witness hook: copies never fail the checkpoint
    return read_checkpoint(path), True
