"""RFC 6962 trees against a direct transcription of the RFC's recursive definitions."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import merkle
from storage.errors import IntegrityError


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as the RFC writes it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(mth(leaves[:k]), mth(leaves[k:]))


def leaves_of(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_known_answer_for_ct_style_empty_and_single_trees() -> None:
    assert merkle.root([]).hex() == hashlib.sha256(b"").hexdigest()
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@given(st.integers(min_value=1, max_value=300))
def test_root_matches_the_recursive_definition(n: int) -> None:
    leaves = leaves_of(n)
    assert merkle.root(leaves) == mth(leaves)
    parts = [(size, merkle.root(leaves[o : o + size])) for o, size in merkle.decompose(0, n)]
    assert merkle.combine(parts) == mth(leaves)


@given(st.integers(min_value=0, max_value=300))
def test_packed_root_is_the_same_root(n: int) -> None:
    leaves = leaves_of(n)
    assert merkle.root_packed(b"".join(leaves)) == merkle.root(leaves)


def test_packed_root_refuses_a_partial_leaf_and_sees_a_swap() -> None:
    leaves = leaves_of(5)
    with pytest.raises(ValueError, match="32-byte"):
        merkle.root_packed(b"".join(leaves)[:-1])
    swapped = [leaves[1], leaves[0], *leaves[2:]]
    assert merkle.root_packed(b"".join(swapped)) != merkle.root(leaves)


@given(st.integers(min_value=1, max_value=130), st.data())
def test_inclusion_proofs_verify_and_reject_a_wrong_leaf(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = merkle.inclusion_proof(index, leaves)
    root = merkle.root(leaves)
    merkle.verify_inclusion(index, n, leaves[index], proof, root)
    with pytest.raises(IntegrityError):
        merkle.verify_inclusion(index, n, merkle.leaf_hash(b"forged"), proof, root)
    if proof:
        tampered = [bytes(32), *proof[1:]]
        with pytest.raises(IntegrityError):
            merkle.verify_inclusion(index, n, leaves[index], tampered, root)


@given(st.integers(min_value=2, max_value=130), st.data())
def test_consistency_proofs_verify_and_catch_a_rewritten_prefix(
    n: int, data: st.DataObject
) -> None:
    leaves = leaves_of(n)
    old = data.draw(st.integers(min_value=1, max_value=n - 1))
    proof = merkle.consistency_proof(old, leaves)
    merkle.verify_consistency(old, n, merkle.root(leaves[:old]), merkle.root(leaves), proof)
    rewritten = list(leaves)
    rewritten[old - 1] = merkle.leaf_hash(b"rewritten")
    with pytest.raises(IntegrityError):
        merkle.verify_consistency(
            old,
            n,
            merkle.root(leaves[:old]),
            merkle.root(rewritten),
            merkle.consistency_proof(old, rewritten),
        )


def test_a_shrunk_log_is_never_consistent() -> None:
    leaves = leaves_of(8)
    with pytest.raises(IntegrityError, match="shrank"):
        merkle.verify_consistency(8, 5, merkle.root(leaves), merkle.root(leaves[:5]), [])
