"""The content-addressed object store on a real folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.errors import IntegrityError, NotFoundError
from storage.objects import ObjectStore, parse_digest


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=4096))
def test_round_trip_and_idempotent(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    store = ObjectStore(tmp_path_factory.mktemp("objects"))
    digest = store.put_bytes(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.put_bytes(data) == digest
    assert store.read_verified(digest) == data
    assert store.digests() == [digest]


def test_a_flipped_byte_on_disk_is_caught(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    digest = store.put_bytes(b"model weights")
    path = store.path(digest)
    path.chmod(0o644)
    path.write_bytes(b"model weightz")
    with pytest.raises(IntegrityError, match="altered"):
        store.read_verified(digest)
    assert store.check(digest) is not None and "hashes to" in str(store.check(digest))


def test_missing_and_malformed_references(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    with pytest.raises(NotFoundError, match="missing"):
        store.read_verified("a" * 64)
    with pytest.raises(NotFoundError, match="not a sha256"):
        parse_digest("sha256:../../etc/passwd")
    assert store.check("b" * 64) == "missing"


def test_put_file_streams_and_leaves_no_temp_files(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_bytes(b"a,b\n1,2\n" * 10000)
    store = ObjectStore(tmp_path / "objects")
    digest = store.put_file(src)
    assert store.read_verified(digest) == src.read_bytes()
    leftovers = list((tmp_path / "objects").rglob(".tmp-*"))
    assert leftovers == []


def test_staged_and_adopted_files_are_named_by_the_stored_bytes(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "ws")
    source = tmp_path / "raw.csv"
    source.write_bytes(b"a,b\n1,2\n" * 100_000)
    staged = store.stage_file(source)
    assert not store.exists(staged.digest)  # nothing visible before commit
    assert staged.digest == hashlib.sha256(source.read_bytes()).hexdigest()
    digest = staged.commit()
    assert store.read_verified(digest) == b"a,b\n1,2\n" * 100_000
    assert not staged.tmp.exists()

    own = tmp_path / "ws" / "table.parquet"  # a file the process wrote on the same disk
    own.write_bytes(b"PAR1 canonical copy")
    own.chmod(0o644)
    digest = store.adopt(own).commit()
    assert digest == hashlib.sha256(b"PAR1 canonical copy").hexdigest()
    assert store.path(digest).stat().st_mode & 0o077 == 0  # private, like every other blob
    assert store.path(staged.digest).stat().st_mode & 0o077 == 0
    assert not own.exists()  # moved, not copied
    dropped = tmp_path / "ws" / "refused.parquet"
    dropped.write_bytes(b"refused")
    store.adopt(dropped).discard()
    assert not dropped.exists() and not store.exists(hashlib.sha256(b"refused").hexdigest())
