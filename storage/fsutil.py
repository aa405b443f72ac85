"""Durable file writes: temp file, fsync, rename, fsync the directory.

This is the only way ledgerml puts a new file in place, so a crash leaves either the old state
or the new one, never a torn file under its final name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from storage import failpoints


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so a rename inside it survives power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` atomically.

    Args:
        path: final location; its parent must exist.
        data: the whole content.
        exclusive: refuse to replace an existing file (used for immutable records).

    Raises:
        FileExistsError: if ``exclusive`` and the file already exists.
    """
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
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
