"""Full verification of the ledger: every segment re-hashed, Merkle roots, listed objects.

:meth:`storage.ledger.Ledger.scan` fans the segments out to processes (a full segment is a
perfect subtree of the Merkle tree, so each is checked on its own) and :func:`combine` joins
their results. Only ``audit verify`` and proofs need this; ordinary commands never load it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storage import merkle
from storage.errors import NotFoundError
from storage.ledger import GENESIS, body_object
from storage.objects import ObjectStore

_sha256 = hashlib.sha256


def cores() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


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


def combine(scans: list[SegmentScan], cuts: Sequence[int], segment_size: int) -> LedgerScan:
    """One ledger's scan from its segments' scans (in order), with the roots at ``cuts``."""
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
            if scan.count != segment_size:
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
        seg = (cut - 1) // segment_size
        tail = scans[seg].cut_subtrees.get(cut)
        if tail is None:
            continue
        parts = [(segment_size, s.subtree) for s in scans[:seg] if s.subtree]
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
