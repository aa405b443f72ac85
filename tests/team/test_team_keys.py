"""Encrypted data across workstations: data keys wrapped per recipient on the real server.

Workstation A (``ws``: alice the admin adds the encrypted snapshots) publishes to the server;
workstation B is a clone where sam (a data scientist) reads. All workstations of a test
process share one keyring (see test_replicas.py), so what B "holds" is every private key of
that keyring; each test says which wraps exist rather than which keyring holds what. The
tables are three rows, so each test is quick.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.audit import verification
from core.data import data_keys, encryption, recipients, snapshots, tables
from core.identity import actors
from core.kernel.errors import (
    IntegrityError,
    KeyStoreError,
    NotFoundError,
    PermissionDeniedError,
)
from core.kernel.workspace import Workspace
from core.privacy import erasure
from core.team import remotes
from tests.conftest import run_cli

CSV = "id,income,name\n1,100,ann\n2,200,bo\n3,300,cy\n"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A three-row table to encrypt."""
    path = tmp_path / "tiny.csv"
    path.write_text(CSV)
    return path


def _db(url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, args)  # type: ignore[arg-type]
        return list(cur.fetchall()) if cur.description else []


def _wraps(url: str) -> list[tuple[str, str]]:
    return [(str(k), str(r)) for k, r in _db(url, "SELECT key_id, recipient FROM ledger_key_wraps")]


def _keys(snap: object) -> list[str]:
    info = encryption.recorded(snap)  # type: ignore[arg-type]
    assert info is not None
    return sorted(info[r]["id"] for r in ("raw", "parquet"))


def _read(ws: Workspace, actor: str, ref: str) -> int:
    """How many rows ``actor`` reads from the encrypted ``ref`` (a recorded access)."""
    with encryption.open(ws, actor, [ref], "profile"):  # pulls first, as every command
        with ws.session("") as s:
            snap = snapshots.resolve(s.catalog, ref)
        con = tables.connect()
        [(n,)] = con.execute(
            f"SELECT count(*) FROM {encryption.table_source(ws, con, snap)}"
        ).fetchall()
    return int(n)


def _fingerprint(ws: Workspace, actor: str) -> str:
    made, _ = recipients.publish(ws, actor)
    return made.fingerprint


@pytest.fixture
def pair(ws: Workspace, shared_db: str, tmp_path: Path) -> Iterator[tuple[Workspace, Workspace]]:
    """A published, and B a clone of it with approver ann (no reading role)."""
    actors.add(ws, "alice", "ann", ["approver"])
    remotes.add(ws, "alice", "origin", shared_db)
    yield ws, remotes.clone(shared_db, tmp_path / "b")


def test_a_reader_at_another_workstation_reads_what_a_added(
    pair: tuple[Workspace, Workspace], shared_db: str, tiny: Path
) -> None:
    a, b = pair
    assert any("ledgerml key recipient" in p for p in remotes.sync(b, "sam").advice)
    sam = _fingerprint(b, "sam")
    snap, _ = snapshots.add(a, "alice", tiny, dataset="tiny", encrypt=True)
    # A wrapped both data keys for sam when the server took the event.
    assert sorted(k for k, r in _wraps(shared_db) if r == sam) == _keys(snap)
    assert not any(data_keys.exists(b, k) for k in _keys(snap))
    assert _read(b, "sam", "tiny@1") == 3
    # The key is now B's, under B's own KEK: readable offline.
    assert data_keys.exists(b, encryption.recorded(snap)["parquet"]["id"])  # type: ignore[index]
    assert data_keys.record(b)["keyring"] != data_keys.kek_username(a, 1)


def test_no_wrap_here_is_refused_clearly_until_a_holder_syncs(
    pair: tuple[Workspace, Workspace], shared_db: str, tiny: Path
) -> None:
    a, b = pair
    snapshots.add(a, "alice", tiny, dataset="tiny", encrypt=True)
    with pytest.raises(KeyStoreError, match="has not been shared") as refused:
        _read(b, "sam", "tiny@1")
    assert "sam" in refused.value.hint and "ledgerml sync" in refused.value.hint
    # An approver holds no reading role: no recipient key, so nothing is ever wrapped for ann.
    with pytest.raises(PermissionDeniedError):
        recipients.publish(b, "ann")
    assert not remotes.sync(b, "ann").advice
    with pytest.raises(PermissionDeniedError):
        _read(b, "ann", "tiny@1")
    sam = _fingerprint(b, "sam")
    assert remotes.sync(a, "alice").wrapped == 2  # A holds both keys: wrapped for sam
    assert {recipient for _, recipient in _wraps(shared_db)} == {sam}
    assert _read(b, "sam", "tiny@1") == 3


def test_a_substituted_wrap_is_refused_naming_the_key(
    pair: tuple[Workspace, Workspace], shared_db: str, tiny: Path
) -> None:
    a, b = pair
    sam = _fingerprint(b, "sam")
    snap, _ = snapshots.add(a, "alice", tiny, dataset="tiny", encrypt=True)
    parquet = encryption.recorded(snap)["parquet"]["id"]  # type: ignore[index]
    raw = encryption.recorded(snap)["raw"]["id"]  # type: ignore[index]
    # The server moves the raw key's wrap onto the Parquet key: it no longer opens.
    _db(
        shared_db,
        "UPDATE ledger_key_wraps SET blob = (SELECT blob FROM ledger_key_wraps WHERE "
        "key_id = %s AND recipient = %s) WHERE key_id = %s AND recipient = %s",
        raw,
        sam,
        parquet,
        sam,
    )
    with pytest.raises(IntegrityError, match=f"{parquet}.*does not open") as bad:
        _read(b, "sam", "tiny@1")
    assert f"event #{snap.created_seq}" in bad.value.msg
    # A cleverer server seals a key of its own to sam's public key (which it can read):
    # it opens, but it is not the key the signed event recorded.
    [public] = [r.public for r in _published(b) if r.fingerprint == sam]
    forged = recipients.wrap(parquet, b"\x07" * 32, recipients.Recipient("sam", sam, public, 0))
    _db(
        shared_db,
        "UPDATE ledger_key_wraps SET blob = %s WHERE key_id = %s AND recipient = %s",
        forged,
        parquet,
        sam,
    )
    with pytest.raises(IntegrityError, match=f"{parquet}.*opens to another key"):
        _read(b, "sam", "tiny@1")
    assert not data_keys.exists(b, parquet)
    assert any(parquet in p for p in remotes.sync(b, "sam").problems)


def _published(ws: Workspace) -> list[recipients.Recipient]:
    from core.identity.signer import authority_of

    with ws.session("") as s:
        return recipients.published(ws, s, authority_of(s))


def test_a_substituted_recipient_key_is_refused_at_pull(
    pair: tuple[Workspace, Workspace], shared_db: str
) -> None:
    import hashlib
    import json

    a, b = pair
    made, _ = recipients.publish(b, "sam")
    [(prev, body)] = _db(shared_db, "SELECT prev, body FROM ledger_events WHERE seq = %s", made.seq)
    # The server swaps in a public key of its own and fixes the line's hash; it cannot sign.
    doc = json.loads(bytes(body))  # type: ignore[arg-type]
    mine = hashlib.sha256(b"server's key").digest()
    doc["data"]["public"], doc["data"]["fingerprint"] = mine.hex(), recipients.fingerprint_of(mine)
    swapped = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    line = b"%d %s %s" % (made.seq, str(prev).encode(), swapped)
    _db(
        shared_db,
        "UPDATE ledger_events SET body = %s, hash = %s WHERE seq = %s",
        swapped,
        hashlib.sha256(line).hexdigest(),
        made.seq,
    )
    with pytest.raises(IntegrityError, match=f"event #{made.seq} .*signature"):
        remotes.sync(a, "alice")
    assert a.ledger.head()[0] == made.seq - 1
    assert not _wraps(shared_db)


def test_an_erasure_at_a_destroys_the_wraps_and_b_copy(
    pair: tuple[Workspace, Workspace], shared_db: str, tiny: Path
) -> None:
    a, b = pair
    _fingerprint(b, "sam")
    snap, _ = snapshots.add(a, "alice", tiny, dataset="tiny", encrypt=True)
    assert _read(b, "sam", "tiny@1") == 3  # a read fetches the Parquet copy's key …
    keys = _keys(snap)
    remotes.sync(b, "sam")  # … a sync every key shared with this keyring (the raw one too)
    assert all(data_keys.exists(b, k) for k in keys)
    erasure.erase(a, "alice", "tiny@1", reason="request", legal_basis="GDPR Art. 17(1)(b)")
    assert not _wraps(shared_db)
    assert not any(data_keys.exists(a, k) for k in keys)
    before = data_keys.record(b)["current"]
    remotes.sync(b, "sam")
    assert not any(data_keys.exists(b, k) for k in keys)
    assert not b.objects.exists(snap.parquet_digest)
    assert data_keys.record(b)["current"] > before  # B rotated its own KEK too
    with pytest.raises(NotFoundError, match="erased"):
        _read(b, "sam", "tiny@1")
    report = verification.verify(Workspace.open(b.root))
    assert report.ok, report.failures


def test_a_kill_between_the_event_and_its_wraps_converges_at_sync(
    pair: tuple[Workspace, Workspace], shared_db: str, tiny: Path
) -> None:
    a, b = pair
    made = run_cli(
        "key", "recipient", env={"LEDGERML_WORKSPACE": str(b.root), "LEDGERML_ACTOR": "sam"}
    )
    assert made.returncode == 0 and "published" in made.stdout, made.stderr
    env = {
        "LEDGERML_WORKSPACE": str(a.root),
        "LEDGERML_ACTOR": "alice",
        "LEDGERML_FAILPOINT": "keys.before-wrap",
    }
    crashed = run_cli("snapshot", "add", str(tiny), "--dataset", "tiny", "--encrypt", env=env)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert not _wraps(shared_db)  # the event is the team's; its keys are shared with no one
    with pytest.raises(KeyStoreError, match="has not been shared"):
        _read(b, "sam", "tiny@1")
    assert remotes.sync(Workspace.open(a.root), "alice").wrapped == 2
    assert _read(b, "sam", "tiny@1") == 3
