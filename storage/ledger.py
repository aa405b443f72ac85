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
tree: full verification checks segments in parallel processes and combines their subtree
roots, which is how a million events verify in about a second on two cores.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storage import failpoints, merkle
from storage.errors import IntegrityError, NotFoundError
from storage.fsutil import fsync_dir
from storage.objects import ObjectStore

SEGMENT_SIZE = 1 << 16
GENESIS = "0" * 64
_sha256 = hashlib.sha256


def _cores() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


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


@dataclass
class SegmentScan:
    """What verifying one segment found (picklable, returned by worker processes)."""

    index: int
    first_seq: int
    count: int = 0
    last_hash: str = GENESIS
    problem: tuple[int, str] | None = None
    torn_tail: int = 0
    subtree: bytes | None = None
    cut_subtrees: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    leaves: list[bytes] | None = None
    hashes: list[str] | None = None
    hashes_digest: str = ""
    matches: list[tuple[int, bytes]] = field(default_factory=list)
    object_problems: list[tuple[int, str, str]] = field(default_factory=list)
    objects_checked: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class LedgerScan:
    """The result of a full verification pass over the ledger."""

    size: int
    head: str
    problem: tuple[int, str] | None
    torn_tail: int
    roots: dict[int, bytes]
    matches: list[tuple[int, bytes]]
    object_problems: list[tuple[int, str, str]]
    objects_checked: int
    leaves: list[bytes] = field(default_factory=list)
    segment_digests: list[tuple[int, int, str]] = field(default_factory=list)
    """Per segment: first event number, events verified, :func:`hashes_digest` of them."""
    malformed: list[tuple[int, str]] = field(default_factory=list)
    """Events whose body was parsed (to find the objects they list) and is not a JSON object:
    ``(seq, why)``. The chain cannot catch this in the newest event, which no event follows."""


def hashes_digest(hex_hashes: Sequence[bytes]) -> str:
    """SHA-256 over the concatenated hex hashes of consecutive events.

    A compact witness: the catalog computes the same digest over its recorded hashes, so
    comparing one digest per segment compares every event hash without moving them.
    """
    return _sha256(b"".join(hex_hashes)).hexdigest()


def _check_object(objects_root: Path, digest: str) -> str | None:
    """What is wrong with a blob an event names (``objects_root`` is the ``sha256`` folder)."""
    try:
        return ObjectStore(objects_root.parent).check(digest)
    except NotFoundError:
        return "not named by a valid sha256 digest"


def _lines_containing(data: bytes, needle: bytes, end_seq: int) -> list[tuple[int, bytes]]:
    """``(seq, body)`` of every verified line (seq below ``end_seq``) holding ``needle``."""
    starts: set[int] = set()
    pos = data.find(needle)
    while pos != -1:
        starts.add(data.rfind(b"\n", 0, pos) + 1)
        pos = data.find(needle, pos + 1)
    found = []
    for start in sorted(starts):
        end = data.find(b"\n", start)
        if end == -1:
            continue  # a torn tail
        try:
            seq_text, _, body = data[start:end].split(b" ", 2)
            seq = int(seq_text)
        except ValueError:
            continue  # beyond the verified prefix; the chain check reports it
        if seq < end_seq:
            found.append((seq, body))
    return found


def scan_segment(
    path: str,
    index: int,
    first_seq: int,
    prev_hex: str,
    cuts: Sequence[int],
    prefixes: tuple[bytes, ...],
    objects_root: str | None,
    segment_size: int,
    keep_leaves: bool = False,
) -> SegmentScan:
    """Verify one segment's chain and compute its Merkle subtrees (runs in a worker)."""
    scan = SegmentScan(index=index, first_seq=first_seq, last_hash=prev_hex)
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    scan.torn_tail = len(lines[-1])
    prev = prev_hex.encode()
    leaves: list[bytes] = []
    append_leaf = leaves.append
    hexes: list[bytes] = []
    append_hex = hexes.append
    seen: set[str] = set()
    obj_root = Path(objects_root) if objects_root else None
    seq = first_seq
    for line in lines[:-1]:
        head = b"%d " % seq
        if not line.startswith(head):
            found = line.split(b" ", 1)[0][:20].decode(errors="replace")
            scan.problem = (
                seq,
                f"expected event #{seq} here but found event #{found}: "
                "an event was deleted, inserted or reordered",
            )
            break
        p = len(head)
        if line[p : p + 64] != prev:
            scan.problem = (
                seq - 1,
                f"event #{seq - 1} does not match the hash that event #{seq} recorded for it: "
                f"event #{seq - 1} (or #{seq}) was altered",
            )
            break
        if prefixes and line.startswith(prefixes, p + 65):
            scan.matches.append((seq, line[p + 65 :]))
        digest = _sha256(line).digest()
        append_leaf(_sha256(b"\x00" + digest).digest())
        prev = digest.hex().encode()
        append_hex(prev)
        seq += 1
    scan.count = len(leaves)
    scan.last_hash = prev.decode()
    # Events worth parsing are rare: find them with C-speed searches over the whole segment
    # instead of testing every line in Python.
    if obj_root is not None:
        for seq_found, body in _lines_containing(data, b'"objects":', first_seq + scan.count):
            try:
                listed = body_object(body).get("objects", [])
                if not isinstance(listed, list):
                    raise ValueError('its "objects" is not a list')
            except ValueError as err:
                scan.malformed.append((seq_found, str(err)))
                continue
            for item in listed:
                ref = str(item.get("sha256", "")) if isinstance(item, dict) else str(item)
                if ref in seen:
                    continue
                seen.add(ref)
                scan.objects_checked += 1
                issue = _check_object(obj_root, ref)
                if issue:
                    scan.object_problems.append((seq_found, ref, issue))
    if scan.problem is None and scan.count > segment_size:
        scan.problem = (first_seq + segment_size, "segment holds more events than it may")
    if scan.count == segment_size:
        scan.subtree = merkle.root(leaves)
    for cut in [*cuts, first_seq + scan.count - 1]:
        local = cut - first_seq + 1
        if 0 < local <= scan.count:
            scan.cut_subtrees[cut] = [
                (s, merkle.root(leaves[o : o + s])) for o, s in merkle.decompose(0, local)
            ]
    scan.hashes_digest = hashes_digest(hexes)
    if keep_leaves:
        scan.leaves = leaves
        scan.hashes = [h.decode() for h in hexes]
    return scan


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
        for path in reversed(self.segment_files()):
            line = self._last_line(path)
            if line is not None:
                entry = parse_line(line)
                return entry.seq, entry.hash
        return 0, GENESIS

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
        self.segments.mkdir(parents=True, exist_ok=True)
        for index, lines in by_segment.items():
            path = self.segment_path(index)
            created = not path.exists()
            payload = b"".join(lines)
            with path.open("ab") as handle:
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
        n_workers = workers if workers is not None else min(_cores(), len(args))
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
        return self._combine(scans, cuts)

    def _combine(self, scans: list[SegmentScan], cuts: Sequence[int]) -> LedgerScan:
        problem: tuple[int, str] | None = None
        size = 0
        for i, scan in enumerate(scans):
            size = scan.first_seq + scan.count - 1
            if scan.problem:
                problem = scan.problem
                break
            if i < len(scans) - 1:
                if scan.torn_tail:
                    problem = (size + 1, "a torn line inside a sealed segment")
                    break
                if scan.count != self.segment_size:
                    problem = (
                        size + 1,
                        f"segment {scan.index:08d}.log ends early after event #{size}: "
                        "events were deleted",
                    )
                    break
        roots: dict[int, bytes] = {}
        for cut in {*cuts, size}:
            if not 0 < cut <= size:
                continue
            seg = (cut - 1) // self.segment_size
            tail = scans[seg].cut_subtrees.get(cut)
            if tail is None:
                continue
            parts = [(self.segment_size, s.subtree) for s in scans[:seg] if s.subtree]
            roots[cut] = merkle.combine(parts + tail)
        return LedgerScan(
            size=size,
            head=scans[-1].last_hash if scans and problem is None else GENESIS,
            problem=problem,
            torn_tail=scans[-1].torn_tail if scans else 0,
            roots=roots,
            matches=[m for s in scans for m in s.matches],
            object_problems=[p for s in scans for p in s.object_problems],
            objects_checked=sum(s.objects_checked for s in scans),
            leaves=[leaf for s in scans for leaf in (s.leaves or [])],
            segment_digests=[(s.first_seq, s.count, s.hashes_digest) for s in scans],
            malformed=[m for s in scans for m in s.malformed],
        )

    def segment_hashes(self, index: int) -> list[str]:
        """The event hashes of one segment, re-verified (used to locate a difference)."""
        prev = GENESIS
        if index > 0:
            last = self._last_line(self.segment_path(index - 1))
            prev = _sha256(last).hexdigest() if last is not None else GENESIS
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
