"""Backup and restore: a consistent copy of a workspace, and a checked way back from it.

:func:`backup` holds the workspace (no writer can append meanwhile) while it copies what is
the record — ``ledger/`` (segments and checkpoints), ``objects/``, ``config.toml`` — and
writes ``backup.json``: the ledger head it copied and the SHA-256 of every file. The catalog
is not copied (it is rebuilt from the ledger), nor ``tmp/``, lock files or crash reports.
The copy is made in a temporary folder beside the destination and renamed into place at the
end, so a killed backup leaves no half backup under the destination's name.

:func:`restore` re-hashes every file the manifest lists before it writes anything (a missing
or altered file is an integrity failure naming it), copies them into a new workspace folder
with the workspace's modes (0700 folders, 0600 files), rebuilds the catalog and verifies the
result, witnesses included: a restored workspace older than a witness's checkpoints fails as
a rollback, which is what it is.

The key store is copied too (``keystore/``: the wrapped data keys of encrypted snapshots
and ``kek.json``, never a key-encryption key, which stays in the OS keyring): without it a
restored workspace could decrypt nothing. An erasure destroys data keys and then rotates
the KEK (:func:`core.data.data_keys.rotate`), deleting the old one from the keyring, so a
backup taken *before* an erasure holds keys wrapped under a KEK that exists nowhere:
nothing encrypted in it can be read (the erased data nor the rest), and its restore says
so; a backup taken after the erasure restores everything still alive. A restore also
re-applies every erasure its ledger records (:func:`core.privacy.shredding.reapply`):
keys and objects of an erasure whose shredding had not finished when the backup was taken
are destroyed before the restored workspace is verified.

The manifest is not signed: someone who alters a backup can rewrite it too. It catches
damage in storage and transit; what catches tampering is the verification after restore
(hash chain, signed checkpoints, witnesses).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.audit import verification
from core.data import data_keys
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import IntegrityError, UsageError
from core.kernel.workspace import CONFIG, Session, Workspace
from core.privacy import shredding
from storage.fsutil import fsync_dir, private_dir, private_file, temp_prefix

MANIFEST = "backup.json"
FORMAT = "ledgerml/backup/v1"
CHUNK = 1 << 20
# What is copied, relative to the workspace root: the record and its settings.
_TREES = ("ledger/segments", "ledger/checkpoints", "objects", "keystore")
_KEYSTORE_FILES = re.compile(r"^(kek|dk-[0-9a-f]{32})\.json$")  # wrapped keys, kek.json
_FILES = (CONFIG, ".gitignore")


@dataclass(frozen=True)
class BackupResult:
    """What :func:`backup` copied."""

    path: Path
    head_seq: int
    head_hash: str
    files: int
    bytes: int


def _empty_or_absent(path: Path, what: str) -> None:
    """Refuse a destination that holds anything: nothing of it may be replaced or mixed."""
    if path.is_dir():
        if any(path.iterdir()):
            raise UsageError(
                f"{what} {path} is not empty",
                hint="Give a new folder name, or an empty folder.",
            )
    elif path.exists():
        raise UsageError(f"{what} {path} exists and is not a folder", hint="Give a new name.")
    if not path.parent.is_dir():
        raise UsageError(
            f"cannot write {path}: {path.parent} does not exist",
            hint="Create the parent folder first (or mount the medium it lives on).",
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into {path.parent}: permission denied")


def _listing(root: Path) -> list[str]:
    """The files of a workspace a backup holds, relative, sorted; temporary files skipped."""
    found = [name for name in _FILES if (root / name).is_file()]
    for tree in _TREES:
        base = root / tree
        for folder, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in files:
                if tree == "keystore" and not _KEYSTORE_FILES.match(name):
                    continue
                if not name.startswith("."):  # a temporary file (.tmp-<pid>-…)
                    found.append(str((Path(folder) / name).relative_to(root)))
    return sorted(found)


def _copy_file(src: Path, dst: Path) -> tuple[str, int]:
    """Copy one file (0600, fsynced), hashing what was read; return its SHA-256 and size."""
    digest, size = hashlib.sha256(), 0
    private_dir(dst.parent)
    fd = private_file(dst, os.O_WRONLY | os.O_EXCL)
    with src.open("rb") as source, os.fdopen(fd, "wb") as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
        target.flush()
        os.fsync(target.fileno())
    return digest.hexdigest(), size


def _fsync_tree(root: Path) -> None:
    for folder, _, _ in os.walk(root):
        fsync_dir(Path(folder))


def _publish(staging: Path, dest: Path) -> None:
    """Rename a finished copy onto ``dest`` (absent or an empty folder) and make it durable."""
    _fsync_tree(staging)
    os.replace(staging, dest)  # replaces an empty folder; never a non-empty one
    fsync_dir(dest.parent)


def backup(ws: Workspace, actor: str, dest: Path) -> BackupResult:
    """Copy the workspace to ``dest`` consistently (admins and auditors; see the module doc).

    Raises:
        UsageError: if ``dest`` exists and is not an empty folder, or cannot be written;
            nothing is written then.
    """
    dest = Path(os.path.abspath(dest))
    _empty_or_absent(dest, "backup destination")
    root = Path(os.path.abspath(ws.root))
    if dest == root or root in dest.parents:
        raise UsageError(f"backup destination {dest} is inside the workspace {root}")

    def copy(s: Session, _: object) -> BackupResult:
        # The session holds the writer lock and has dropped any torn tail: the ledger copied
        # is exactly the acknowledged one, and nothing is appended until the copy is done.
        size, head = ws.ledger.head()
        staging = Path(tempfile.mkdtemp(prefix=temp_prefix(), dir=dest.parent))
        try:
            staging.chmod(0o700)
            listed, total = [], 0
            for rel in _listing(ws.root):
                sha, length = _copy_file(ws.root / rel, staging / rel)
                listed.append({"path": rel, "sha256": sha, "size": length})
                total += length
            manifest = {
                "format": FORMAT,
                "workspace": ws.workspace_id,
                "head": {"seq": size, "hash": head},
                "files": listed,
            }
            fd = private_file(staging / MANIFEST, os.O_WRONLY | os.O_EXCL)
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(manifest, indent=2).encode() + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            _publish(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return BackupResult(dest, size, head, len(listed), total)

    # Through the command kernel for the role check and the hold; like a checkpoint, a
    # backup is files, not an event: the commit step appends nothing.
    return command.run(
        ws,
        actor,
        guards=[needs("admin", "auditor", action="back up the workspace")],
        commit=copy,
    )


def _manifest(src: Path) -> dict[str, Any]:
    try:
        doc = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError as err:
        raise UsageError(
            f"{src} is not a ledgerml backup: it has no {MANIFEST}",
            hint="Give the folder `ledgerml backup` wrote.",
        ) from err
    except (OSError, ValueError) as err:
        raise IntegrityError(f"the backup manifest {src / MANIFEST} cannot be read: {err}") from err
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise IntegrityError(f"{src / MANIFEST} is not a {FORMAT} manifest")
    return doc


def _checked_files(src: Path, doc: dict[str, Any]) -> dict[str, str]:
    """Every listed file re-hashed (path to SHA-256); the first bad or unsafe one raises."""
    try:
        files = [(str(f["path"]), str(f["sha256"]), int(f["size"])) for f in doc["files"]]
        int(doc["head"]["seq"])
    except (KeyError, TypeError, ValueError) as err:
        raise IntegrityError(f"{src / MANIFEST} is malformed: {err}") from err
    paths: dict[str, str] = {}
    for rel, sha, size in files:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts or rel == MANIFEST:
            raise IntegrityError(f"the backup manifest lists an unsafe path: {rel!r}")
        path = src / rel
        if not path.is_file():
            raise IntegrityError(f"the backup lacks {rel}, which its manifest lists")
        digest, length = hashlib.sha256(), 0
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                length += len(chunk)
        if digest.hexdigest() != sha or length != size:
            raise IntegrityError(
                f"the backup's {rel} differs from its manifest: it was altered or damaged",
                hint="Restore from another backup.",
            )
        paths[rel] = sha
    return paths


def restore(src: Path, target: Path) -> tuple[Workspace, verification.VerifyReport]:
    """Check a backup, copy it into a new workspace folder, rebuild its catalog, verify it.

    Returns:
        The restored workspace and its verification report (witnesses included).

    Raises:
        UsageError: if ``src`` is not a backup, or ``target`` exists and is not empty.
        IntegrityError: naming the first missing or altered file; nothing is written then.
    """
    src, target = Path(os.path.abspath(src)), Path(os.path.abspath(target))
    if not src.is_dir():
        raise UsageError(f"no backup folder at {src}")
    doc = _manifest(src)
    _empty_or_absent(target, "restore target")
    paths = _checked_files(src, doc)
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(), dir=target.parent))
    try:
        staging.chmod(0o700)
        for sub in ("ledger/segments", "ledger/checkpoints", "objects/sha256", "tmp"):
            private_dir(staging / sub)
        for rel, expected in paths.items():
            sha, _ = _copy_file(src / rel, staging / rel)
            if sha != expected:
                raise IntegrityError(f"the backup's {rel} changed while it was restored")
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    ws = Workspace.open(target)
    ws.rebuild()
    shredding.reapply(ws)
    size, head = ws.ledger.head()
    if (size, head) != (doc["head"]["seq"], doc["head"]["hash"]):
        raise IntegrityError(
            f"the restored ledger ends at #{size} {head[:16]}…, but the backup's manifest "
            f"says #{doc['head']['seq']} {str(doc['head']['hash'])[:16]}…"
        )
    report = verification.verify(ws)
    locked = data_keys.unreadable(ws)
    if locked is not None:  # the record is whole; its encrypted data is not readable here
        report.notes.append(f"encrypted data cannot be read: {locked.msg}")
    return ws, report
