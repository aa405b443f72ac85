"""The content-addressed object store: immutable blobs named by their SHA-256.

Layout: ``objects/sha256/ab/cdef…`` (two-character fan-out). A blob is written to a temp file
in the same directory, fsynced, then linked into place, so a crash never leaves a partial blob
under a real name, and an existing blob is never rewritten. Reads that matter for integrity go
through :meth:`ObjectStore.read_verified`, which fails loudly when the bytes no longer match
their name (bit rot or tampering).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from storage import failpoints
from storage.errors import IntegrityError, NotFoundError
from storage.fsutil import atomic_write, fsync_dir, private_dir, temp_prefix

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


def sha256_hex(data: bytes) -> str:
    """Return the lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def hash_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Stream a file through SHA-256 without loading it whole."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


def parse_digest(ref: str) -> str:
    """Turn ``sha256:<hex>`` or ``<hex>`` into a validated 64-character hex digest.

    Raises:
        NotFoundError: if the text is not a full SHA-256 digest.
    """
    value = ref.removeprefix("sha256:").lower()
    if not _HEX64.match(value):
        raise NotFoundError(f"not a sha256 digest: {ref!r}")
    return value


class ObjectStore:
    """Immutable blobs under ``root/sha256``."""

    def __init__(self, root: Path) -> None:
        """Use ``root`` (the workspace's ``objects/`` folder)."""
        self.root = root / "sha256"

    def path(self, digest: str) -> Path:
        """Where the blob with this hex digest lives (whether or not it exists)."""
        digest = parse_digest(digest)
        return self.root / digest[:2] / digest[2:]

    def exists(self, digest: str) -> bool:
        """Whether the blob is present (its content is not checked)."""
        return self.path(digest).is_file()

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its hex digest; storing the same bytes twice is a no-op."""
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.is_file():
            return digest
        private_dir(target.parent)
        # A concurrent writer may have stored the same bytes: same name, same content.
        with contextlib.suppress(FileExistsError):
            atomic_write(target, data, exclusive=True, tmp_dir=self.root)
        return digest

    def stage_file(self, source: Path, progress: Callable[[int], None] | None = None) -> Staged:
        """Copy a file beside the store and hash the copy, without publishing it.

        The copy is made by the kernel (``sendfile``/``copy_file_range`` through
        :func:`shutil.copyfile`), which on this machine is several times faster than copying
        through Python; the digest is then taken from the copy itself, so it names exactly the
        bytes stored even if the source changes meanwhile. The caller publishes it with
        :meth:`Staged.commit` once the action that needs it is sure to happen, or drops it
        with :meth:`Staged.discard`, so refused input leaves the store exactly as it was.
        """
        private_dir(self.root)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(), dir=self.root)
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            return self.adopt(Path(tmp), progress)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def adopt(self, own: Path, progress: Callable[[int], None] | None = None) -> Staged:
        """Stage a file this process wrote on the store's file system, by moving it.

        Saves a copy of large files ledgerml writes itself (a snapshot's Parquet copy): the
        file is fsynced and hashed where it is, and :meth:`Staged.commit` links it into place.
        """
        private_dir(self.root)
        if own.stat().st_dev != self.root.stat().st_dev:  # a link cannot cross file systems
            return self.stage_file(own, progress)
        own.chmod(0o600)  # like every blob (mkstemp's mode): data snapshots may hold PII
        with own.open("rb") as handle:
            os.fsync(handle.fileno())
        return Staged(self, hash_file(own, progress), own)

    def put_file(self, source: Path, progress: Callable[[int], None] | None = None) -> str:
        """Copy a file into the store; return its hex digest."""
        return self.stage_file(source, progress).commit()

    def read_verified(self, digest: str) -> bytes:
        """Read a blob and check that its bytes still hash to its name.

        Raises:
            NotFoundError: if the blob is missing.
            IntegrityError: if its content no longer matches its digest.
        """
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            raise NotFoundError(
                f"object sha256:{digest} is missing from the store",
                hint="Restore the workspace's objects/ folder from a backup.",
            ) from err
        actual = sha256_hex(data)
        if actual != digest:
            raise IntegrityError(
                f"object sha256:{digest} was altered: its content now hashes to sha256:{actual}",
                hint="The object store was modified outside ledgerml; restore it from a backup.",
            )
        return data

    def check(self, digest: str) -> str | None:
        """Return a description of what is wrong with a blob, or None when it is intact."""
        path = self.path(digest)
        if not path.is_file():
            return "missing"
        actual = hash_file(path)
        return None if actual == digest else f"content hashes to sha256:{actual}"

    def remove(self, digest: str, *, scrub: bool = False) -> bool:
        """Delete a blob for good (an erasure); whether it was there.

        The one exception to "nothing under objects/ is ever rewritten": personal data must
        be erasable, and only an erasure recorded in the ledger calls this. ``scrub``
        overwrites a plaintext copy in place before the unlink, so its blocks are not simply
        left on the disk; a journaling file system, an SSD's wear levelling or a snapshot of
        the volume may still keep an old block, which is why encrypted copies are erased by
        destroying their key instead (their ciphertext needs no scrubbing).
        """
        path = self.path(digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        if scrub and size:
            with contextlib.suppress(OSError), path.open("r+b") as handle:
                zeros = bytes(min(size, CHUNK))
                left = size
                while left > 0:
                    left -= handle.write(zeros[: min(left, CHUNK)])
                handle.flush()
                os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fsync_dir(path.parent)
        return True

    def digests(self) -> list[str]:
        """List every stored digest (for status and full verification)."""
        found: list[str] = []
        if not self.root.is_dir():
            return found
        for fan in os.scandir(self.root):
            if fan.is_dir() and len(fan.name) == 2:
                found.extend(
                    fan.name + entry.name
                    for entry in os.scandir(fan.path)
                    if not entry.name.startswith(".")
                )
        return found


class Staged:
    """A file copied and hashed beside the store, not yet visible under its digest."""

    def __init__(self, store: ObjectStore, digest: str, tmp: Path) -> None:
        """Remember where the staged copy is."""
        self.store, self.digest, self.tmp = store, digest, tmp

    def commit(self) -> str:
        """Publish the staged copy under its digest (a no-op if the blob exists)."""
        try:
            target = self.store.path(self.digest)
            if not target.is_file():
                private_dir(target.parent)
                failpoints.hit("blob.before-rename")
                try:
                    os.link(self.tmp, target)
                except FileExistsError:
                    pass  # the same bytes, stored concurrently
                except OSError as err:
                    if err.errno != errno.EXDEV:  # a bind mount can hide another file system
                        raise
                    copy = self.store.stage_file(self.tmp)
                    os.unlink(self.tmp)
                    self.tmp = copy.tmp
                    with contextlib.suppress(FileExistsError):
                        os.link(self.tmp, target)
                fsync_dir(target.parent)
            return self.digest
        finally:
            self.discard()

    def discard(self) -> None:
        """Drop the staged copy."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)
