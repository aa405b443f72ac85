"""The storage layer of the shared ledger against a real server: sequencing and streaming."""

from __future__ import annotations

import hashlib
import io

import pytest

from storage.ledger import GENESIS
from storage.pg_remote import PgRemote, RemoteError, Row, StaleHeadError


def _line(seq: int, prev: str, body: bytes) -> Row:
    return Row(
        seq, prev, hashlib.sha256(b"%d %s %s" % (seq, prev.encode(), body)).hexdigest(), body
    )


def test_append_takes_the_next_number_only_from_the_current_head(shared_db: str) -> None:
    with PgRemote(shared_db) as remote:
        remote.create_schema("ws-1")
        first = _line(1, GENESIS, b'{"a":1}')
        remote.append((0, GENESIS), [first])
        assert remote.head() == (1, first.hash)
        # A writer whose view is stale (it still thinks the log is empty) is refused.
        with pytest.raises(StaleHeadError) as stale:
            remote.append((0, GENESIS), [_line(1, GENESIS, b'{"b":2}')])
        assert (stale.value.size, stale.value.head) == (1, first.hash)
        assert [r.body for r in remote.events(0)] == [b'{"a":1}']


def test_a_database_holds_one_workspace(shared_db: str) -> None:
    with PgRemote(shared_db) as remote:
        remote.create_schema("ws-1")
        remote.create_schema("ws-1")  # idempotent
        with pytest.raises(RemoteError, match="belongs to workspace ws-1"):
            remote.create_schema("ws-2")


def test_objects_stream_in_chunks_and_come_back_whole(shared_db: str) -> None:
    blob = bytes(range(256)) * 9000  # a little over two chunks
    digest = hashlib.sha256(blob).hexdigest()
    with PgRemote(shared_db) as remote:
        remote.create_schema("ws-1")
        assert remote.missing([digest]) == [digest]
        remote.put_object(digest, len(blob), io.BytesIO(blob))
        assert remote.missing([digest]) == []
        sink = io.BytesIO()
        assert remote.get_object(digest, sink) == (len(blob), digest)
        assert sink.getvalue() == blob
        with pytest.raises(RemoteError, match="no copy of object"):
            remote.get_object("0" * 64, io.BytesIO())


def test_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(
        RemoteError, match="cannot reach the shared ledger at postgresql://x:\\*\\*\\*@"
    ):
        PgRemote("postgresql://x:secret@127.0.0.1:1/none", connect_timeout=1).head()
