"""Writing a bundle's zip: the canonical layout, streamed, checked and published atomically.

The layout is :func:`storage.bundle_verifier.canonical_info`'s, byte for byte, so the same
members always give the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import Any

from core.audit.bundle_members import Blob, Members, payload_size
from core.kernel.errors import IntegrityError, UsageError
from core.kernel.paths import make_folder, output_error
from core.kernel.progress import NO_PROGRESS, Progress
from storage import bundle_verifier
from storage.objects import CHUNK


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse a bad output path first: once the export is recorded nothing may fail."""
    if out.is_dir():
        raise UsageError(
            f"{out} is a folder", hint=f"Name the bundle file, for example {out / 'bundle.zip'}."
        )
    if out.exists() and not overwrite:
        raise UsageError(
            f"{out} already exists",
            hint="Choose another name, or pass --overwrite to replace it.",
        )
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir() or not os.access(parent, os.W_OK):
                raise UsageError(f"cannot write into {parent}")
            break


def write_zip(
    out: Path,
    members: Members,
    manifest: bytes,
    manifest_env: bytes,
    progress: Progress = NO_PROGRESS,
) -> Path:
    """Write the canonical layout beside ``out``; return the partial file to publish.

    The layout is storage.bundle_verifier.canonical_info's, byte for byte.
    """
    make_folder(out.parent)
    tmp = out.with_name(out.name + ".partial")
    entries = {
        **{p: d for p, (d, _, _) in members.items.items()},
        bundle_verifier.MANIFEST: manifest,
        bundle_verifier.MANIFEST_SIG: manifest_env,
    }
    total, done = sum(payload_size(d) for d in entries.values()), 0
    try:
        handle = tmp.open("wb")
    except OSError as err:  # nothing is recorded yet: a place we cannot write is bad input
        raise output_error(out, err) from err
    try:
        with handle:
            stream = bundle_verifier.AppendOnly(handle)
            with zipfile.ZipFile(stream, "w") as archive:  # type: ignore[call-overload]
                for path in sorted(entries):
                    data = entries[path]
                    progress(done, total, f"writing {path}")
                    info, zip64 = bundle_verifier.canonical_info(path, payload_size(data))
                    with archive.open(info, "w", force_zip64=zip64) as dst:
                        if isinstance(data, bytes):
                            dst.write(data)
                        else:
                            _stream_blob(path, data, dst)
                    done += payload_size(data)
            handle.flush()
            os.fsync(handle.fileno())
        progress(total, total, "bundle written")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _stream_blob(path: str, blob: Blob, dst: Any) -> None:
    """Copy a stored object into the zip in chunks, refusing it if its bytes changed."""
    digest, size = hashlib.sha256(), 0
    with blob.file.open("rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    if digest.hexdigest() != blob.digest or size != blob.size:
        raise IntegrityError(
            f"cannot bundle {path}: object sha256:{blob.digest} was altered in the store",
            hint="The object store was modified outside ledgerml; restore it from a backup.",
        )
