"""Workspace life cycle: create one, describe it, rebuild its catalog.

``init`` writes the folder layout and settings, generates the organisation key and the
founder's own key in the chosen backend, certifies the second with the first, and records one
``workspace.init`` event, signed by the founder's key, that registers the founder as admin.
Until that event is committed the folder is not a workspace,
so an interrupted ``init`` can simply be run again.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.audit import checkpoints, verification
from core.audit import witnesses as witness_files
from core.identity import certify, signer
from core.identity.actors import check_name
from core.identity.authority import KeyState
from core.identity.events import KeyRecord, WorkspaceInit
from core.identity.keys import generate_record, key_event
from core.identity.keys.backends import BACKENDS
from core.kernel.errors import UsageError
from core.kernel.paths import locate
from core.kernel.workspace import CONFIG, Workspace, write_config
from storage.fsutil import atomic_write, private_dir


def init(
    path: Path | str | None,
    founder: str,
    *,
    key_backend: str = "keyring",
    algorithm: str = "ecdsa-p256",
    reason: str = "",
    founder_backend: str | None = None,
    demo: bool = False,
    witnesses: Sequence[Path] = (),
) -> Workspace:
    """Create a workspace with an organisation key and ``founder`` as its first admin.

    The organisation key (best in a token: ``key_backend="pkcs11"``) certifies actors' keys
    and nothing else; the founder's key (``founder_backend``, default the same backend)
    signs what the founder does. ``demo`` marks the founder as a demonstration identity.

    The one state change that does not run through :func:`core.kernel.command.run`: there is
    no workspace to hold and no registered actor whose roles a guard could check until the
    ``workspace.init`` event it commits exists. It refuses an existing workspace instead.

    ``witnesses`` are checked before anything is written (each must be an existing folder
    outside the workspace, :func:`core.audit.witnesses.check_location`) and stored in
    ``config.toml``.

    Raises:
        UsageError: if a workspace already exists there, or a witness cannot serve.
        KeyStoreError: if the key backend cannot create the key.
    """
    root = locate(path)
    ws = Workspace(root)
    if ws.ledger.head()[0] > 0:
        missing = "" if (root / CONFIG).is_file() else " (its config.toml is missing)"
        raise UsageError(
            f"a workspace already exists at {root}{missing}",
            hint="Use it as it is (restore config.toml if it was lost), or choose another "
            "folder with --workspace.",
        )
    founder = check_name(founder)
    for location in witnesses:
        witness_files.check_location(location, root)
    workspace_id = str(uuid.uuid4())
    create_layout(root, workspace_id, founder)
    ws.load_config()
    if witnesses:
        witness_files.configure(ws, witnesses)
    org = generate_record(
        key_backend, algorithm, owner=founder, purpose="organisation", label="organisation"
    )
    own_backend = founder_backend or key_backend
    own = generate_record(
        own_backend, algorithm, owner=founder, purpose="actor", label=f"{founder}-{own_backend}"
    )
    own = dataclasses.replace(
        own,
        certificate=certify.issue(
            signer.unlock(_state(org), "the organisation key"),
            org.key_id,
            workspace_id,
            actor=founder,
            key_id=own.key_id,
            purpose="actor",
            algorithm=own.algorithm,
        ),
    )
    # Not through core.kernel.command: until this event is committed there is no actor to
    # check a role of (the founder becomes the first admin by it), and no catalog to read.
    with ws.session(founder) as s:
        s.sealer = signer.Signer(founder, _state(own), signer.unlock(_state(own), founder), None)
        s.commit(
            key_event(
                s,
                founder,
                WorkspaceInit(
                    workspace_id, founder, ["admin"], org, founder_key=own, demo=demo or None
                ),
                [
                    f"workspace:{workspace_id}",
                    f"actor:{founder}",
                    f"key:{org.key_id}",
                    f"key:{own.key_id}",
                ],
                reason,
            )
        )
    return ws


def _state(record: KeyRecord) -> KeyState:
    """A key just generated, as the authority state describes keys."""
    return KeyState(
        key_id=record.key_id,
        actor=record.actor,
        purpose=record.purpose,
        algorithm=record.algorithm,
        public_pem=record.public_pem,
        backend=record.backend,
        handle=record.handle,
        label=record.label,
        created_seq=0,
        certified=True,
    )


def create_layout(root: Path, workspace_id: str, founder: str) -> None:
    """The folders, settings and .gitignore of a new workspace.

    Raises:
        UsageError: if the folder cannot be created or written (a read-only or virtual file
            system, a file where the folder should be, no permission).
    """
    try:
        for sub in ("ledger/segments", "ledger/checkpoints", "objects/sha256", "tmp"):
            private_dir(root / sub)
        root.chmod(0o700)  # the workspace may have been an existing, empty folder
        write_config(
            root / CONFIG,
            {"workspace": {"id": workspace_id, "created_by": founder}},
        )
        atomic_write(root / ".gitignore", b"catalog.duckdb*\nlock\nlock.holder\ntmp/\ncrash/\n")
    except OSError as err:
        where = f" ({err.filename})" if err.filename and str(err.filename) != str(root) else ""
        raise UsageError(
            f"cannot create a workspace at {root}: {err.strerror or err}{where}",
            hint="Choose a folder you can write to with --workspace (or LEDGERML_WORKSPACE).",
        ) from err


@dataclass
class Status:
    """A snapshot of a workspace's state for ``ledgerml status``."""

    workspace: str
    workspace_id: str
    counts: dict[str, int]
    ledger_head: int
    ledger_head_hash: str
    last_checkpoint: dict[str, Any] | None
    verify: dict[str, Any] | None
    key_backends: dict[str, str] = field(default_factory=dict)


def backends_available() -> dict[str, str]:
    """Each key backend and whether it is usable here (``available`` or the reason not)."""
    out = {}
    for name, info in BACKENDS.items():
        problem = info.make().availability()
        out[name] = "available" if problem is None else problem
    return out


def status(ws: Workspace, actor: str = "", *, run_verify: bool = True) -> Status:
    """Describe the workspace; ``run_verify`` re-verifies it fully (seconds per million events)."""
    with ws.session(actor) as s:
        counts = s.catalog.counts()
    size, head = ws.ledger.head()
    cps = checkpoints.checkpoints(ws)
    last = cps[-1] if cps else None
    report = verification.verify(ws) if run_verify else None
    return Status(
        workspace=str(ws.root),
        workspace_id=ws.workspace_id,
        counts={k: v for k, v in counts.items() if k != "catalog_meta"},
        ledger_head=size,
        ledger_head_hash=head,
        last_checkpoint=(
            {"size": last.size, "root": last.root, "ts": last.ts, "key_id": last.key_id}
            if last
            else None
        ),
        verify=(
            {
                "ok": report.ok,
                "anchored": report.anchored,
                "unanchored": report.unanchored,
                "failures": report.failures[:3],
            }
            if report
            else None
        ),
        key_backends=backends_available(),
    )
