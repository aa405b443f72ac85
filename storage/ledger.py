"""The ledger: the workspace's source of truth, an append-only, hash-chained event log.

Format (version 1). Events live in segment files ``segments/00000000.log``, ``00000001.log``…
of :data:`SEGMENT_SIZE` events each. Event number ``seq`` (from 1) is one line::

    <seq in decimal> SP <hash of event seq-1, 64 lowercase hex> SP <body: RFC 8785 JSON> LF

The first event's previous hash is 64 zeros. An event's hash is ``SHA-256`` of its line
without the LF, so every line commits to the whole history before it. The events are also the
leaves of an RFC 6962 Merkle tree: leaf ``seq-1`` is ``SHA-256(0x00 || event hash)``, whose
roots are signed as checkpoints by ``core``. A body never holds a raw newline (canonical JSON
escapes it), so a line is always one event.

An append writes the lines and fsyncs the file before returning: that fsync is the commit point
of every action. A crash mid-append leaves at most one torn line without its LF at the end of
the last segment; it was never acknowledged, and :meth:`Ledger.repair` drops it before the next
append.

Segments are a power of two long so that each full segment is a perfect subtree of the Merkle
tree: full verification (:mod:`storage.ledger_scan`) checks segments in parallel processes and
combines their subtree roots, which is how a million events verify in about a second on two
cores.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storage import failpoints, merkle
from storage.errors import IntegrityError, NotFoundError
from storage.fsutil import fsync_dir, private_dir, private_file

if TYPE_CHECKING:
    from storage.ledger_scan import LedgerScan

SEGMENT_SIZE = 1 << 16
GENESIS = "0" * 64
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class LedgerEntry:
    """One event as stored: its number, the hash it chains to, its body and its own hash."""

    seq: int
    prev: str
    body: bytes
    hash: str

    @property
    def line(self) -> bytes:
        """The exact bytes that were hashed (the stored line without LF)."""
        return b"%d %s %s" % (self.seq, self.prev.encode(), self.body)

    @property
    def leaf(self) -> bytes:
        """This event's leaf hash in the Merkle tree."""
        return merkle.leaf_hash(bytes.fromhex(self.hash))

    def decode(self) -> dict[str, object]:
        """Parse the body (canonical JSON) into a dict.

        Raises:
            IntegrityError: if the body is not a JSON object (it was changed outside ledgerml).
        """
        try:
            return body_object(self.body)
        except ValueError as err:
            raise IntegrityError(
                f"event #{self.seq}: {err}",
                hint="The ledger was changed outside ledgerml; run `ledgerml audit verify`.",
            ) from err


def body_object(body: bytes) -> dict[str, object]:
    """Parse an event body, which must be a JSON object.

    Raises:
        ValueError: saying why it is not one (the text names positions, never values).
    """
    try:
        value = json.loads(body)
    except ValueError as err:  # JSONDecodeError, or bytes that are not UTF-8
        raise ValueError(f"its body is not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise ValueError("its body is not a JSON object")
    return value


def parse_line(line: bytes) -> LedgerEntry:
    """Split a stored line (without LF) into its parts; raises IntegrityError if malformed."""
    try:
        seq_text, prev, body = line.split(b" ", 2)
        seq = int(seq_text)
    except ValueError as err:
        raise IntegrityError(f"malformed ledger line: {line[:80]!r}") from err
    return LedgerEntry(seq, prev.decode("ascii"), body, _sha256(line).hexdigest())


class Ledger:
    """Append and read the event log under ``root`` (the workspace's ``ledger/`` folder)."""

    def __init__(self, root: Path, segment_size: int = SEGMENT_SIZE) -> None:
        """Use ``root``; ``segment_size`` must be a power of two (tests use small ones)."""
        if segment_size & (segment_size - 1):
            raise ValueError("segment size must be a power of two")
        self.root = root
        self.segments = root / "segments"
        self.segment_size = segment_size

    def segment_path(self, index: int) -> Path:
        """The file of segment ``index``."""
        return self.segments / f"{index:08d}.log"

    def segment_files(self) -> list[Path]:
        """Existing segment files in order; a gap in their numbering is an integrity error."""
        if not self.segments.is_dir():
            return []
        files = sorted(p for p in self.segments.iterdir() if p.suffix == ".log")
        for expected, path in enumerate(files):
            if path.name != f"{expected:08d}.log":
                raise IntegrityError(
                    f"ledger segment {expected:08d}.log is missing (found {path.name})",
                    hint="Events were deleted outside ledgerml; restore ledger/ from a backup.",
                )
        return files

    def _last_line(self, path: Path) -> bytes | None:
        """The last complete line of a segment, read backwards from its end."""
        size = path.stat().st_size
        if size == 0:
            return None
        with path.open("rb") as handle:
            chunk = 4096
            while True:
                start = max(0, size - chunk)
                handle.seek(start)
                data = handle.read(size - start)
                end = data.rfind(b"\n")
                if end == -1:
                    if start == 0:
                        return None  # only a torn line
                    chunk *= 2
                    continue
                begin = data.rfind(b"\n", 0, end)
                if begin != -1 or start == 0:
                    return data[begin + 1 : end]
                chunk *= 2

    def head(self) -> tuple[int, str]:
        """Return ``(size, hash of the last event)``; ``(0, GENESIS)`` for an empty ledger."""
        entry = self.tail()
        return (entry.seq, entry.hash) if entry is not None else (0, GENESIS)

    def tail(self) -> LedgerEntry | None:
        """The last complete event, read backwards from the end (None for an empty ledger)."""
        for path in reversed(self.segment_files()):
            line = self._last_line(path)
            if line is not None:
                return parse_line(line)
        return None

    def repair(self) -> int:
        """Drop a torn final line left by a crash mid-append; return the bytes dropped.

        Only the writer (holding the workspace lock) calls this, just before appending.
        """
        files = self.segment_files()
        if not files:
            return 0
        path = files[-1]
        data_len = path.stat().st_size
        with path.open("rb+") as handle:
            # Walk back from the end, a chunk at a time, to the last complete line.
            keep, end = 0, data_len
            while end > 0:
                start = max(0, end - (1 << 20))
                handle.seek(start)
                cut = handle.read(end - start).rfind(b"\n")
                if cut != -1:
                    keep = start + cut + 1
                    break
                end = start
            if keep == data_len:
                return 0
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
        return data_len - keep

    def append(self, bodies: Sequence[bytes]) -> list[LedgerEntry]:
        """Append events and fsync them: once this returns, they are committed.

        The caller holds the workspace writer lock and has checked every precondition.
        """
        size, prev = self.head()
        entries: list[LedgerEntry] = []
        by_segment: dict[int, list[bytes]] = {}
        for body in bodies:
            if b"\n" in body:
                raise ValueError("an event body may not contain a raw newline")
            size += 1
            line = b"%d %s %s" % (size, prev.encode(), body)
            digest = _sha256(line).hexdigest()
            entries.append(LedgerEntry(size, prev, body, digest))
            by_segment.setdefault((size - 1) // self.segment_size, []).append(line + b"\n")
            prev = digest
        private_dir(self.segments)
        for index, lines in by_segment.items():
            path = self.segment_path(index)
            created = not path.exists()
            payload = b"".join(lines)
            with os.fdopen(private_file(path, os.O_WRONLY | os.O_APPEND), "ab") as handle:
                handle.write(payload[: max(1, len(payload) // 2)])
                handle.flush()
                failpoints.hit("event.partial")
                handle.write(payload[max(1, len(payload) // 2) :])
                handle.flush()
                os.fsync(handle.fileno())
            if created:
                fsync_dir(self.segments)
        failpoints.hit("event.after-fsync")
        return entries

    def iter_entries(self, start: int = 1) -> Iterator[LedgerEntry]:
        """Yield events from ``start`` to the head, skipping a torn tail."""
        first_segment = max(0, (start - 1) // self.segment_size)
        for path in self.segment_files()[first_segment:]:
            with path.open("rb") as handle:
                for raw in handle:
                    if not raw.endswith(b"\n"):
                        return
                    entry = parse_line(raw[:-1])
                    if entry.seq >= start:
                        yield entry

    def entry(self, seq: int) -> LedgerEntry:
        """Read event ``seq``; raises NotFoundError beyond the head."""
        for entry in self.iter_entries(seq):
            if entry.seq == seq:
                return entry
            break
        raise NotFoundError(f"there is no event #{seq} in this ledger")

    def scan(
        self,
        *,
        cuts: Sequence[int] = (),
        prefixes: tuple[bytes, ...] = (),
        objects_root: Path | None = None,
        keep_leaves: bool = False,
        workers: int | None = None,
    ) -> LedgerScan:
        """Verify the whole chain and compute Merkle roots at ``cuts`` and at the head.

        Args:
            cuts: tree sizes whose roots are wanted (those of checkpoints).
            prefixes: bodies starting with one of these bytes are returned in ``matches``.
            objects_root: when given, every object an event lists under ``"objects"`` is
                re-hashed and reported if missing or altered.
            keep_leaves: return all leaf hashes (for proofs) instead of only roots.
            workers: processes to use; defaults to the CPU count for large ledgers.

        Returns:
            A :class:`LedgerScan`; ``problem`` names the first bad event, if any.
        """
        files = self.segment_files()
        jobs = []
        prev = GENESIS
        for index, path in enumerate(files):
            jobs.append((str(path), index, index * self.segment_size + 1, prev))
            last = self._last_line(path)
            if last is not None:
                prev = _sha256(last).hexdigest()
        args = [
            (
                *job,
                list(cuts),
                prefixes,
                str(objects_root) if objects_root else None,
                self.segment_size,
                keep_leaves,
            )
            for job in jobs
        ]
        from storage.ledger_scan import combine, cores, scan_segment

        n_workers = workers if workers is not None else min(cores(), len(args))
        if n_workers > 1 and len(args) > 1:
            # Imported here: a ledger of one segment (most commands' case) never needs them.
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # fork is cheap and safe while we are single-threaded; otherwise start afresh.
            method = "fork" if threading.active_count() == 1 else "spawn"
            ctx = multiprocessing.get_context(method)
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
                scans = list(pool.map(scan_segment, *zip(*args, strict=True)))
        else:
            scans = [scan_segment(*a) for a in args]
        return combine(scans, cuts, self.segment_size)

    def segment_hashes(self, index: int) -> list[str]:
        """The event hashes of one segment, re-verified (used to locate a difference)."""
        prev = GENESIS
        if index > 0:
            last = self._last_line(self.segment_path(index - 1))
            prev = _sha256(last).hexdigest() if last is not None else GENESIS
        from storage.ledger_scan import scan_segment

        scan = scan_segment(
            str(self.segment_path(index)),
            index,
            index * self.segment_size + 1,
            prev,
            (),
            (),
            None,
            self.segment_size,
            True,
        )
        return scan.hashes or []

    def leaf_hashes(self, upto: int | None = None) -> list[bytes]:
        """All leaf hashes (for proofs), after checking the chain.

        Raises:
            IntegrityError: if the chain is broken.
        """
        scan = self.scan(keep_leaves=True)
        if scan.problem:
            raise IntegrityError(f"event #{scan.problem[0]}: {scan.problem[1]}")
        return scan.leaves if upto is None else scan.leaves[:upto]
