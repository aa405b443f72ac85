"""Durable file writes: temp file, fsync, rename, fsync the directory.

This is the only way ledgerml puts a new file in place, so a crash leaves either the old state
or the new one, never a torn file under its final name.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from storage import failpoints

TEMP_PREFIX = ".tmp-"
# A name made by :func:`temp_prefix`: ``.tmp-<pid>-<random>`` (mkstemp's random part has no
# dash, so the names older releases made, ``.tmp-<random>``, never match).
_OWNED = re.compile(r"^\.(?:tmp|ingest)-(\d+)-")
LEGACY_AGE_S = 24 * 3600


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents readable by their owner only (mode 0700).

    Workspace folders hold personal data and signing material: a newly made one is never
    listable by other accounts, whatever the umask adds.
    """
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
    return path


def private_file(path: Path, flags: int) -> int:
    """``os.open`` a file, creating it readable and writable by its owner only (mode 0600)."""
    return os.open(path, flags | os.O_CREAT, 0o600)


def temp_prefix(kind: str = "tmp") -> str:
    """The prefix of a temporary file or folder of this process: ``.<kind>-<pid>-``.

    Naming the owner lets :func:`sweep_temp` remove what a killed process left behind
    without touching the files of one still at work (a long ingest stages its copies without
    holding the workspace).
    """
    return f".{kind}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True


def sweep_temp(folder: Path) -> int:
    """Remove the temporary files and folders that dead processes left in ``folder``.

    A file or folder named by :func:`temp_prefix` goes when its process is gone. One named the
    old way (no process id) goes once it is a day old: no command of ours runs that long.
    Returns how many entries were removed. Only ``folder`` itself is looked at.
    """
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    removed = 0
    now = time.time()
    for entry in entries:
        if not entry.name.startswith((TEMP_PREFIX, ".ingest-")):
            continue
        owned = _OWNED.match(entry.name)
        try:
            if owned is not None:
                if _alive(int(owned.group(1))):
                    continue
            elif now - entry.stat(follow_symlinks=False).st_mtime < LEGACY_AGE_S:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:  # another sweeper was first
            continue
    return removed


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so a rename inside it survives power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: Path, data: bytes, *, exclusive: bool = False, tmp_dir: Path | None = None
) -> None:
    """Write ``data`` to ``path`` atomically.

    Args:
        path: final location; its parent must exist.
        data: the whole content.
        exclusive: refuse to replace an existing file (used for immutable records).
        tmp_dir: where the temporary file is made (default: beside ``path``); it must be on
            the same file system. The object store keeps its temporary files in one folder,
            the one :func:`sweep_temp` looks at.

    Raises:
        FileExistsError: if ``exclusive`` and the file already exists.
    """
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(), dir=tmp_dir or path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            failpoints.hit("blob.partial")
            handle.write(data[half:])
            handle.flush()
            os.fsync(handle.fileno())
        failpoints.hit("blob.before-rename")
        if exclusive:
            # link() fails if the target exists; rename() would silently replace it.
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
