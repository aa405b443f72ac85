"""RFC 6962 / RFC 9162 Merkle trees: roots, inclusion proofs and consistency proofs.

Leaves are hashed as ``SHA-256(0x00 || data)`` and interior nodes as
``SHA-256(0x01 || left || right)``; the tree over ``n`` leaves splits at the largest power of
two below ``n``. These are the Certificate Transparency definitions, chosen so that any CT
tooling (and the short standard-library verifier in an audit bundle) can check our proofs.

We write these ourselves instead of depending on a Merkle package: the verification half
lives in :mod:`storage.bundle_verifier`, the stand-alone file auditors run (standard library
plus ``cryptography``), and the ledger's full verification needs a level-wise reduction that
is fast in CPython.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from operator import methodcaller

from storage.bundle_verifier import consistency_ok, inclusion_ok
from storage.errors import IntegrityError

_sha256 = hashlib.sha256
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Hash a leaf's data with the RFC 6962 leaf prefix."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two children with the RFC 6962 interior-node prefix."""
    return _sha256(b"\x01" + left + right).digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash of a list of leaf hashes.

    Level by level, pairing neighbours and carrying an unpaired last node up unchanged; this
    gives exactly the RFC 6962 recursive definition, and runs at C speed per level.
    """
    if not leaves:
        return _sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        paired = [
            _sha256(b"\x01" + a + b).digest()
            for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root_packed(packed: bytes) -> bytes:
    """:func:`root` over leaf hashes given concatenated (32 bytes each), for large batches.

    The same bottom-up pass, with each level kept as one byte string: the interior nodes'
    inputs are sliced out of it and hashed by C-level iteration (no Python bytecode per
    node), which is what a million-leaf decision batch needs.
    """
    n, rest = divmod(len(packed), 32)
    if rest:
        raise ValueError(f"{len(packed)} bytes are not a whole number of 32-byte leaf hashes")
    if not n:
        return _sha256(b"").digest()
    digest = methodcaller("digest")
    level = packed
    while n > 1:
        pairs = n // 2
        starts = range(0, 64 * pairs, 64)
        ends = range(64, 64 * pairs + 1, 64)
        nodes = map(_NODE.__add__, map(level.__getitem__, map(slice, starts, ends)))
        nxt = b"".join(map(digest, map(_sha256, nodes)))
        if n % 2:
            nxt += level[-32:]
        level, n = nxt, pairs + n % 2
    return level


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n`` >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def decompose(offset: int, size: int) -> list[tuple[int, int]]:
    """Split ``[offset, offset+size)`` into the aligned perfect subtrees of the full tree.

    Used to combine per-segment results: the root over a prefix is the right fold of these
    subtrees' hashes, largest first.
    """
    parts: list[tuple[int, int]] = []
    while size:
        step = 1 << (size.bit_length() - 1)
        parts.append((offset, step))
        offset += step
        size -= step
    return parts


def combine(subtrees: Sequence[tuple[int, bytes]]) -> bytes:
    """Root over consecutive aligned perfect subtrees given as ``(size, hash)``, left to right.

    Equal neighbours are merged as in a binary counter (a compact range), then the remaining
    strictly decreasing subtrees are folded from the right, which is the RFC 6962 shape.
    """
    stack: list[tuple[int, bytes]] = []
    for size, digest in subtrees:
        while stack and stack[-1][0] == size:
            _, left = stack.pop()
            digest = node_hash(left, digest)
            size *= 2
        stack.append((size, digest))
    acc = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        acc = node_hash(left, acc)
    return acc


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree over ``leaves`` (RFC 6962 PATH)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of size {len(leaves)}")
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            path.append(root(leaves[lo + k : hi]))
            hi = lo + k
        else:
            path.append(root(leaves[lo : lo + k]))
            lo += k
    path.reverse()
    return path


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Check an inclusion proof (RFC 9162 section 2.1.3.2).

    Raises:
        IntegrityError: if the proof does not lead from ``leaf`` to ``expected_root``.
    """
    if not inclusion_ok(index, size, leaf, list(proof), expected_root):
        raise IntegrityError(f"inclusion proof for leaf {index} does not match the tree root")


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Proof that the first ``old_size`` leaves are a prefix of ``leaves`` (RFC 6962)."""
    n = len(leaves)
    if not 0 < old_size <= n:
        raise IndexError(f"cannot prove size {old_size} against a tree of size {n}")
    proof: list[bytes] = []
    m, lo, hi, complete = old_size, 0, n, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(root(leaves[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(root(leaves[lo : lo + k]))
            lo += k
            m -= k
            complete = False
    if not complete:
        proof.append(root(leaves[lo:hi]))
    proof.reverse()
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check a consistency proof (RFC 9162 section 2.1.4.2).

    Raises:
        IntegrityError: if the old tree is not a prefix of the new one.
    """
    if old_size > new_size:
        raise IntegrityError(f"the log shrank from {old_size} to {new_size} entries")
    if not consistency_ok(old_size, new_size, old_root, new_root, list(proof)):
        raise IntegrityError(
            f"the log of size {new_size} is not an extension of the one of size {old_size}"
        )
