"""Workstations sharing one ledger through a real PostgreSQL server.

Each workstation is its own workspace folder (its own replica, catalog and lock) attached to
one database on the server the session started. The actors' keys are in the test keyring,
which all workstations of a test process share (one OS account: a second keyring account
cannot exist here); each workstation acts as its own actors with their own keys.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from core.audit import bundle
from core.identity import actors
from core.kernel.errors import IntegrityError, PermissionDeniedError, UsageError
from core.kernel.events import now_iso
from core.kernel.workspace import Workspace
from core.team import remotes
from storage.pg_remote import PgRemote
from tests.team.conftest import PgServer


def _roles(ws: Workspace) -> dict[str, tuple[str, ...]]:
    with ws.session("") as s:
        return {a.name: tuple(sorted(a.roles)) for a in s.catalog.actors()}


def _actions(ws: Workspace) -> list[str]:
    return [str(e.decode()["action"]) for e in ws.ledger.iter_entries()]


def test_a_clone_verifies_and_records_through_the_server(
    ws: Workspace, shared_db: str, tmp_path: Path
) -> None:
    done = remotes.add(ws, "alice", "origin", shared_db)
    assert done.events == ws.ledger.head()[0] == PgRemote(shared_db).head()[0]
    other = remotes.clone(shared_db, tmp_path / "b")
    assert other.ledger.head() == ws.ledger.head()
    assert _roles(other) == _roles(ws)
    actors.add(other, "alice", "val", ["validator"])
    # The first workstation sees it at its next command: each pulls before its guards.
    actors.add(ws, "alice", "ann", ["approver"])
    remotes.sync(other, "bob")
    assert ws.ledger.head() == other.ledger.head() == PgRemote(shared_db).head()
    assert {"val", "ann"} <= set(_roles(ws)) and _roles(ws) == _roles(other)
    st = remotes.status(other)
    assert st is not None and st.remote_size == st.local_size and st.last_sync is not None
    assert "@" in st.url and ":***" not in st.url  # no password in this URL to hide


@pytest.mark.parametrize("stations", [2, 4])
def test_concurrent_appends_never_fork_and_converge(
    ws: Workspace, shared_db: str, tmp_path: Path, stations: int
) -> None:
    remotes.add(ws, "alice", "origin", shared_db)
    for n in range(stations):
        actors.add(ws, "alice", f"t{n}", ["auditor"])
    spaces = [ws] + [remotes.clone(shared_db, tmp_path / f"w{n}") for n in range(1, stations)]
    rounds = 6
    seqs: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(stations)

    def work(n: int) -> None:
        # Each workstation toggles its own actor's role: authority events, so a stale retry
        # must seal again against the authority event a teammate just added.
        try:
            start.wait()
            for i in range(rounds):
                change = "grant" if i % 2 == 0 else "revoke-role"
                actors.change(spaces[n], "alice", f"t{n}", change, f"round {i}", role="validator")
                seqs.append(spaces[n].ledger.head()[0])
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(stations)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for space in spaces:
        remotes.sync(space, "bob")
    heads = {space.ledger.head() for space in spaces}
    assert heads == {PgRemote(shared_db).head()}
    changes = Counter(a for a in _actions(ws) if a.startswith("role."))
    assert changes == {"role.grant": stations * rounds // 2, "role.revoke": stations * rounds // 2}
    states = [_roles(space) for space in spaces]
    assert all(state == states[0] for state in states)
    assert all(states[0][f"t{n}"] == ("auditor",) for n in range(stations))
    from core.audit.verification import verify

    for space in spaces:
        assert verify(space).ok


def test_a_stale_workstation_rechecks_its_preconditions(
    ws: Workspace, shared_db: str, tmp_path: Path
) -> None:
    remotes.add(ws, "alice", "origin", shared_db)
    other = remotes.clone(shared_db, tmp_path / "b")
    actors.change(ws, "alice", "sam", "grant", "first", role="validator")
    # ``other`` has not pulled; its command pulls first and finds nothing left to change.
    with pytest.raises(UsageError, match="already"):
        actors.change(other, "alice", "sam", "grant", "second", role="validator")
    assert _actions(other).count("role.grant") == 1


def _tamper(url: str, sql: str, *args: object) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, args)  # type: ignore[arg-type]


def _pair(ws: Workspace, url: str, tmp_path: Path) -> tuple[Workspace, int]:
    """``ws`` published, a clone of it, then three events only the server and ``ws`` hold."""
    remotes.add(ws, "alice", "origin", url)
    behind = remotes.clone(url, tmp_path / "b")
    size = behind.ledger.head()[0]
    for name in ("x1", "x2", "x3"):
        actors.add(ws, "alice", name, ["auditor"])
    return behind, size


@pytest.mark.parametrize(
    ("attack", "first_bad", "words"),
    [
        ("alter", 2, "does not hash to the hash the server gives"),
        ("alter-rehash", 3, "signature by alice's key that does not match its content"),
        ("reorder", 1, "does not chain to the event before it"),
        ("drop", 1, "was served where event"),
        ("forge", 4, "which the ledger never registered"),
    ],
)
def test_a_malicious_server_is_caught_naming_the_event(
    ws: Workspace, shared_db: str, tmp_path: Path, attack: str, first_bad: int, words: str
) -> None:
    behind, size = _pair(ws, shared_db, tmp_path)
    before = behind.ledger.head()
    n = size + first_bad
    if attack == "alter":
        _tamper(
            shared_db,
            "UPDATE ledger_events SET body = convert_to(replace(convert_from(body, 'UTF8'), "
            "'x2', 'zz'), 'UTF8') WHERE seq = %s",
            n,
        )
    elif attack == "alter-rehash":  # a consistent rewrite of the newest event
        row = PgRemote(shared_db).events(n - 1, 1)[0]
        body = row.body.replace(b'"x3"', b'"zz"')
        digest = hashlib.sha256(b"%d %s %s" % (n, row.prev.encode(), body)).hexdigest()
        _tamper(
            shared_db,
            "UPDATE ledger_events SET body = %s, hash = %s WHERE seq = %s",
            body,
            digest,
            n,
        )
    elif attack == "reorder":
        _tamper(
            shared_db, "UPDATE ledger_events SET seq = seq + 1000 WHERE seq IN (%s, %s)", n, n + 1
        )
        _tamper(shared_db, "UPDATE ledger_events SET seq = %s WHERE seq = %s", n + 1, n + 1000)
        _tamper(shared_db, "UPDATE ledger_events SET seq = %s WHERE seq = %s", n, n + 1001)
    elif attack == "drop":
        _tamper(shared_db, "DELETE FROM ledger_events WHERE seq = %s", n)
    elif attack == "forge":  # an event a database administrator writes at the tail
        head = PgRemote(shared_db).head()
        last = PgRemote(shared_db).events(n - 2, 1)[0].body  # an authority event (actor.add)
        pointer = b'[%d,"%s"]' % (n - 1, hashlib.sha256(last).hexdigest().encode())
        body = (
            b'{"action":"role.grant","actor":"alice","auth":' + pointer + b',"data":{"name":"sam",'
            b'"role":"admin"},"subjects":["actor:sam"],"ts":"' + now_iso().encode() + b'","v":2,'
            b'"~sig":{"alg":"ecdsa-p256","key":"' + b"0" * 64 + b'","sig":"AAAA"}}'
        )
        digest = hashlib.sha256(b"%d %s %s" % (n, head[1].encode(), body)).hexdigest()
        _tamper(
            shared_db,
            "INSERT INTO ledger_events (seq, prev, hash, body) VALUES (%s, %s, %s, %s)",
            n,
            head[1],
            digest,
            body,
        )
    named = n + 1 if attack == "drop" else n  # the next event stands where #n should
    with pytest.raises(IntegrityError, match=f"event #{named} .*{words}") as caught:
        remotes.sync(behind, "bob")
    assert f"nothing after event #{size} was applied" in caught.value.msg
    # Nothing unverified was applied: the replica is where it was (one batch, all or none).
    assert behind.ledger.head() == before
    assert "zz" not in str(_roles(behind)) and "admin" not in _roles(behind).get("sam", ())


def test_a_server_that_loses_the_tail_gets_it_back(
    ws: Workspace, shared_db: str, tmp_path: Path
) -> None:
    behind, _ = _pair(ws, shared_db, tmp_path)
    remotes.sync(behind, "bob")
    head = behind.ledger.head()
    _tamper(shared_db, "DELETE FROM ledger_events WHERE seq > %s", head[0] - 2)  # an old restore
    done = remotes.sync(behind, "bob")
    assert done.republished == 2
    assert PgRemote(shared_db).head() == head


def test_a_rewritten_history_is_a_fork_naming_the_first_event(
    ws: Workspace, shared_db: str, tmp_path: Path
) -> None:
    behind, size = _pair(ws, shared_db, tmp_path)
    remotes.sync(behind, "bob")
    before = behind.ledger.head()
    # The server rewrites its last two events (a database administrator's restore and edit).
    _tamper(
        shared_db, "UPDATE ledger_events SET hash = md5(hash) || md5(hash) WHERE seq > %s", size + 1
    )
    with pytest.raises(
        IntegrityError, match=f"differs from this replica's from event #{size + 2} on"
    ):
        remotes.sync(behind, "bob")
    assert behind.ledger.head() == before


def test_a_swapped_object_is_caught(ws: Workspace, shared_db: str, tmp_path: Path) -> None:
    remotes.add(ws, "alice", "origin", shared_db)
    behind = remotes.clone(shared_db, tmp_path / "b")
    before = behind.ledger.head()
    # An actor added with a key request stores nothing; a policy bundle is an object.
    from core.governance import policy

    policy.install(ws, "alice", Path(__file__).parents[1] / "governance" / "policy", reason="p")
    [digest] = [
        str(d)
        for (d,) in _rows(shared_db, "SELECT digest FROM ledger_objects")
        if not behind.objects.exists(str(d))
    ]
    _tamper(
        shared_db, "UPDATE ledger_object_chunks SET data = 'other bytes' WHERE digest = %s", digest
    )
    with pytest.raises(IntegrityError, match=f"names object {digest[:16]}.*swapped"):
        remotes.sync(behind, "bob")
    assert behind.ledger.head() == before and not behind.objects.exists(digest)
    # The same object deleted outright, with no erasure to account for it, is refused too.
    _tamper(shared_db, "DELETE FROM ledger_objects WHERE digest = %s", digest)
    with pytest.raises(IntegrityError, match="no copy of and no erasure accounts for"):
        remotes.sync(behind, "bob")


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


def test_a_fork_is_caught_where_two_views_meet_in_a_witness(
    ws: Workspace, pg_server: PgServer, shared_db: str, tmp_path: Path
) -> None:
    """The server shows two workstations two histories sharing a prefix (two databases)."""
    witness = tmp_path / "witness"
    witness.mkdir()
    remotes.add(ws, "alice", "origin", shared_db)
    twin = pg_server.url(f"{shared_db.rsplit('/', 1)[1]}_twin")
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(
            f'CREATE DATABASE "{twin.rsplit("/", 1)[1]}" TEMPLATE "{shared_db.rsplit("/", 1)[1]}"'
        )  # type: ignore[arg-type]
    other = remotes.clone(twin, tmp_path / "b")
    from core.audit import witnesses

    witnesses.configure(ws, [witness])
    witnesses.configure(other, [witness])
    actors.add(ws, "alice", "only-here", ["auditor"])
    for name in ("only-there", "and-this"):
        actors.add(other, "alice", name, ["auditor"])
    remotes.sync(ws, "bob")  # cosigns its view into the witness folder
    with pytest.raises(IntegrityError, match="fork: bob cosigned another history at #"):
        remotes.sync(other, "bob")


def test_separation_of_duties_across_workstations(gov, shared_db: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from core.governance import approvals

    trainer_side = gov.ws
    remotes.add(trainer_side, "alice", "origin", shared_db)
    validator_side = remotes.clone(shared_db, tmp_path / "validator")
    with pytest.raises(PermissionDeniedError):
        approvals.approve(trainer_side, "sam", "credit-risk@1", reason="my own model")
    row = approvals.approve(validator_side, "vic", "credit-risk@1", reason="checked the evidence")
    assert row.approver == "vic"
    remotes.sync(trainer_side, "sam")
    assert trainer_side.ledger.head() == validator_side.ledger.head()
    assert approvals.verify_approval(trainer_side, row.seq) is None  # its envelope came too
    out = tmp_path / "bundle.zip"
    bundle.export(trainer_side, "alice", "credit-risk@1", out, reason="audit")
    report = bundle.verify(out)
    assert report["verified"] and report["model"] == "credit-risk@1", report


def test_a_fork_is_caught_where_two_views_meet_in_a_bundle(  # type: ignore[no-untyped-def]
    gov, pg_server: PgServer, shared_db: str, tmp_path: Path
) -> None:
    """A bundle exported at one workstation carries its signed checkpoint to the other."""
    import zipfile

    from core.audit import verification

    here = gov.ws
    remotes.add(here, "alice", "origin", shared_db)
    name = shared_db.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}_twin" TEMPLATE "{name}"')  # type: ignore[arg-type]
    there = remotes.clone(pg_server.url(f"{name}_twin"), tmp_path / "there")
    actors.add(here, "alice", "only-here", ["auditor"])  # the histories part here
    out = tmp_path / "bundle.zip"
    bundle.export(here, "alice", "credit-risk@1", out, reason="for the regulator")
    for n in range(4):
        actors.add(there, "alice", f"other{n}", ["auditor"])
    carried = tmp_path / "checkpoint.json"
    with zipfile.ZipFile(out) as archive:
        carried.write_bytes(archive.read("ledger/checkpoint.json"))
    assert verification.verify(here, external=[carried]).ok
    report = verification.verify(there, external=[carried])
    assert not report.ok
    assert any("root" in f or "differ" in f for f in report.failures), report.failures


def test_a_garbage_or_forged_cosignature_is_reported_not_trusted(
    ws: Workspace, shared_db: str
) -> None:
    remotes.add(ws, "alice", "origin", shared_db)
    remotes.sync(ws, "bob")
    [note] = _rows(shared_db, "SELECT note FROM ledger_cosignatures")
    origin, _, rest = str(note[0]).split("\n", 2)
    forged = f"{origin}\n2\n{rest}"  # bob's signature over another size
    _tamper(
        shared_db,
        "INSERT INTO ledger_cosignatures (size, key_id, actor, note) VALUES "
        "(1, 'aa', 'mallory', 'not a note'), (2, 'bb', 'bob', %s)",
        forged,
    )
    actors.add(ws, "alice", "ann", ["approver"])
    done = remotes.sync(ws, "bob")
    assert len(done.problems) == 2 and all("ignored" in p for p in done.problems)
    assert any("does not match its text" in p for p in done.problems)


@pytest.mark.parametrize("pulled_first", [False, True])
def test_a_replayed_signed_event_is_caught(
    ws: Workspace, shared_db: str, tmp_path: Path, pulled_first: bool
) -> None:
    """The signature leaves the number to the server: serving a body twice must not pass."""
    from core.identity import attest

    behind, _ = _pair(ws, shared_db, tmp_path)
    signed = tmp_path / "card.md"
    signed.write_text("reviewed\n")
    attest.create(ws, "alice", signed, reason="reviewed")  # not an authority event
    if pulled_first:  # the copy is checked against the replica's catalog
        remotes.sync(behind, "bob")
    size, head = PgRemote(shared_db).head()
    body = PgRemote(shared_db).events(size - 1, 1)[0].body
    digest = hashlib.sha256(b"%d %s %s" % (size + 1, head.encode(), body)).hexdigest()
    _tamper(
        shared_db,
        "INSERT INTO ledger_events (seq, prev, hash, body) VALUES (%s, %s, %s, %s)",
        size + 1,
        head,
        digest,
        body,
    )
    before = behind.ledger.head()
    with pytest.raises(
        IntegrityError, match=f"event #{size + 1} is dated .*, not later than the event before it"
    ):
        remotes.sync(behind, "bob")
    assert behind.ledger.head() == before


def test_a_bundle_export_that_loses_the_race_records_once_and_verifies(  # type: ignore[no-untyped-def]
    gov, shared_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export's commit step writes a file first; a retry must not write or lose it twice."""
    from core.team import replica

    here = gov.ws
    remotes.add(here, "alice", "origin", shared_db)
    teammate = remotes.clone(shared_db, tmp_path / "teammate")
    publish = replica.Replica.publish
    raced: list[int] = []

    def teammate_first(self: replica.Replica, session, body: bytes):  # type: ignore[no-untyped-def]
        if not raced and session.workspace.root == here.root:
            actors.add(teammate, "alice", "quick", ["auditor"])
            raced.append(teammate.ledger.head()[0])
        return publish(self, session, body)

    monkeypatch.setattr(replica.Replica, "publish", teammate_first)
    out = tmp_path / "bundle.zip"
    done = bundle.export(here, "alice", "credit-risk@1", out, reason="for the regulator")
    assert raced, "the teammate's event did not come first"
    assert _actions(here).count("bundle.export") == 1
    last = here.ledger.tail()
    assert last is not None and last.seq == raced[0] + 1  # after the teammate's event
    assert f'"bundle_sha256":"{done["sha256"]}"' in last.body.decode()
    assert bundle.verify(out)["verified"]


def test_a_retry_reuses_the_key_its_first_attempt_made(
    ws: Workspace, shared_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Losing the race must not make a second key pair (an orphan, a passphrase asked again)."""
    from core.identity import keys
    from core.team import replica

    remotes.add(ws, "alice", "origin", shared_db)
    teammate = remotes.clone(shared_db, tmp_path / "teammate")
    made: list[str] = []
    generate = keys.generate_record

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        record = generate(*args, **kwargs)
        if kwargs.get("owner") == "newcomer":
            made.append(record.key_id)
        return record

    publish = replica.Replica.publish
    raced: list[int] = []

    def teammate_first(self: replica.Replica, session, body: bytes):  # type: ignore[no-untyped-def]
        if not raced and session.workspace.root == ws.root:
            actors.add(teammate, "alice", "quick", ["auditor"])
            raced.append(teammate.ledger.head()[0])
        return publish(self, session, body)

    monkeypatch.setattr(keys, "generate_record", counted)
    monkeypatch.setattr(replica.Replica, "publish", teammate_first)
    actors.add(ws, "alice", "newcomer", ["auditor"])
    assert raced, "the teammate's event did not come first"
    assert len(made) == 1
    with ws.session() as s:
        assert [k.key_id for k in s.catalog.keys_of("newcomer")] == made


def test_the_same_file_added_at_two_workstations_at_once_is_one_version(
    ws: Workspace, shared_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loser's retry compares its (already published) copy with the teammate's version."""
    from core.data import snapshots
    from core.team import replica

    table = tmp_path / "loans.csv"
    table.write_text("id,amount,approved\n1,100,yes\n2,250,no\n3,75,yes\n")
    remotes.add(ws, "alice", "origin", shared_db)
    teammate = remotes.clone(shared_db, tmp_path / "teammate")
    publish = replica.Replica.publish
    raced: list[int] = []

    def teammate_first(self: replica.Replica, session, body: bytes):  # type: ignore[no-untyped-def]
        if not raced and session.workspace.root == ws.root:
            snapshots.add(teammate, "alice", table, dataset="loans")
            raced.append(teammate.ledger.head()[0])
        return publish(self, session, body)

    monkeypatch.setattr(replica.Replica, "publish", teammate_first)
    row, new = snapshots.add(ws, "alice", table, dataset="loans", encrypt=True)
    assert raced, "the teammate's event did not come first"
    assert not new and row.version == 1  # the teammate's plaintext version, not a second one
    assert _actions(ws).count("snapshot.add") == 1
