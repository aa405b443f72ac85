"""Pseudonyms at ingest: keyed, versioned, never the plain value; re-linking is recorded.

Each guarantee of :mod:`core.data.pseudonyms` next to the attack it answers: a dictionary of
guessed values, another workspace's data, a rotated key, a scan of every stored byte, a
re-link by a role that may not read, a reason that quotes the value, a missing or replaced
key in the keyring.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from app.cli import app
from core.audit import admin, verification
from core.data import encryption, pseudonyms, snapshots, tables
from core.identity import actors
from core.kernel.errors import IntegrityError, KeyStoreError, PermissionDeniedError, UsageError
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Workspace
from tests.privacy.people_data import people_csv, scan

PSEUDONYMISED = ["name", "email", "phone", "customer_id"]


def _ledger(ws: Workspace) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((ws.root / "ledger").rglob("*")) if p.is_file())


def _table(ws: Workspace, actor: str, snap: SnapshotRow) -> list[dict[str, object]]:
    with encryption.open(ws, actor, [snap], "validate", reason="test reads"):
        con = tables.connect(None)
        try:
            rows = con.execute(f"SELECT * FROM {encryption.table_source(ws, con, snap)}")
            names = [d[0] for d in rows.description]
            return [dict(zip(names, r, strict=True)) for r in rows.fetchall()]
        finally:
            con.close()


def _key(ws: Workspace, version: int) -> bytes:
    with ws.session() as s:
        found = next(v for v in pseudonyms.versions(s.catalog) if v.version == version)
    return pseudonyms.key(ws, found)


@pytest.fixture(scope="module")
def steward(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, SnapshotRow, list]:
    """A workspace with a pseudonym key and the people table pseudonymised in four columns."""
    root = tmp_path_factory.mktemp("pseudonyms")
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    actors.add(ws, "alice", "sam", ["data-scientist"])
    actors.add(ws, "alice", "opal", ["operator"])
    pseudonyms.rotate(ws, "dana", reason="first key")
    rows = people_csv(root / "people.csv")
    snap, created = snapshots.add(
        ws,
        "dana",
        root / "people.csv",
        dataset="people",
        pii=["name"],
        sensitive=["sex"],
        pseudonymize=PSEUDONYMISED,
    )
    assert created
    return ws, snap, rows


def test_the_stored_values_are_hmac_sha256_under_the_key(steward: tuple) -> None:
    ws, snap, rows = steward
    key = _key(ws, 1)
    stored = _table(ws, "dana", snap)
    for plain, got in zip(rows, stored, strict=True):
        for column in PSEUDONYMISED:
            # DuckDB's HMAC equals the reference HMAC of the value as written in the file
            expected = hmac.new(key, plain[column].encode(), hashlib.sha256).hexdigest()
            assert got[column] == expected
        assert got["income"] == int(plain["income"])  # the other columns are untouched
    recorded = json.loads(snap.pseudonyms or "{}")
    assert recorded == dict.fromkeys(PSEUDONYMISED, 1)
    # pseudonymised data is still personal data: the columns are PII, the copies encrypted
    assert set(PSEUDONYMISED) <= set(snap.pii) and snap.encryption
    # an identifier with leading zeros is read as text: "00007", not the number 7
    assert {c["name"]: c["type"] for c in json.loads(snap.columns)}["customer_id"] == "VARCHAR"


def test_plain_values_are_stored_nowhere(steward: tuple) -> None:
    ws, snap, _ = steward
    # every byte under the workspace: objects, catalog and its WAL, ledger, key store, tmp
    assert scan(ws.root) == []
    profile = snapshots.load_profile(ws, snap)
    assert "canary" not in json.dumps(profile)


def test_a_dictionary_attack_without_the_key_finds_nothing(steward: tuple) -> None:
    ws, snap, rows = steward
    stored = {v for r in _table(ws, "dana", snap) for c in PSEUDONYMISED for v in [r[c]]}
    guesses = [r[c] for r in rows for c in PSEUDONYMISED]
    # every plain value guessed right, hashed every keyless way
    keyless = set()
    for g in guesses:
        for variant in (g, g.lower(), g.upper(), g.strip()):
            data = variant.encode()
            keyless |= {
                hashlib.sha256(data).hexdigest(),
                hashlib.sha1(data).hexdigest(),
                hashlib.md5(data).hexdigest(),
                hmac.new(b"", data, hashlib.sha256).hexdigest(),
                hashlib.sha256(b"ledgerml" + data).hexdigest(),
            }
    assert not stored & keyless


def test_pseudonyms_are_deterministic_so_rows_still_link(steward: tuple, tmp_path: Path) -> None:
    ws, snap, _ = steward
    later = people_csv(tmp_path / "people-march.csv", rows=40)  # the same people, fewer rows
    again, created = snapshots.add(
        ws,
        "dana",
        tmp_path / "people-march.csv",
        dataset="people-march",
        pii=["name", "phone"],
        pseudonymize=["email"],
    )
    assert created
    first = {r["email"] for r in _table(ws, "dana", snap)}
    second = {r["email"] for r in _table(ws, "dana", again)}
    assert second <= first and len(second) == len(later)


def test_another_workspace_makes_other_pseudonyms(steward: tuple, tmp_path: Path) -> None:
    ws, snap, _ = steward
    other = admin.init(tmp_path / "other", "olga")
    pseudonyms.rotate(other, "olga", reason="their own key")
    people_csv(tmp_path / "people.csv")
    theirs, _ = snapshots.add(
        other, "olga", tmp_path / "people.csv", dataset="people", pseudonymize=["email"]
    )
    mine = {r["email"] for r in _table(ws, "dana", snap)}
    assert not mine & {r["email"] for r in _table(other, "olga", theirs)}


def test_a_rotated_key_makes_a_new_version_that_does_not_link(tmp_path: Path) -> None:
    ws = admin.init(tmp_path / "ws", "alice")
    people_csv(tmp_path / "people.csv", rows=30)
    with pytest.raises(UsageError, match="no pseudonym key yet") as refused:
        snapshots.add(ws, "alice", tmp_path / "people.csv", dataset="p", pseudonymize=["email"])
    assert "pseudonym-key rotate" in refused.value.hint
    pseudonyms.rotate(ws, "alice", reason="v1")
    v1, _ = snapshots.add(ws, "alice", tmp_path / "people.csv", dataset="p", pseudonymize=["email"])
    same, created = snapshots.add(
        ws, "alice", tmp_path / "people.csv", dataset="p", pseudonymize=["email"]
    )
    assert (same.ref, created) == (v1.ref, False)  # one key version: the same table
    made = pseudonyms.rotate(ws, "alice", reason="yearly rotation")
    assert made.version == 2
    v2, created = snapshots.add(
        ws, "alice", tmp_path / "people.csv", dataset="p", pseudonymize=["email"]
    )
    assert created and v2.ref == "p@2" and json.loads(v2.pseudonyms or "{}") == {"email": 2}
    old = {r["email"] for r in _table(ws, "alice", v1)}
    assert not old & {r["email"] for r in _table(ws, "alice", v2)}
    # the ledger holds the versions' check values, never a key
    body = _ledger(ws)
    for version in (1, 2):
        assert _key(ws, version).hex().encode() not in body
    assert verification.verify(ws).ok


def test_relink_finds_the_row_and_records_the_access_not_the_value(steward: tuple) -> None:
    ws, snap, rows = steward
    value = rows[17]["email"]
    found = pseudonyms.relink(
        ws, "sam", snap.ref, "email", value, reason="subject access request #17"
    )
    assert found.rows == 1 and found.pseudonym == pseudonyms.pseudonym(_key(ws, 1), value)
    body = ws.ledger.entry(found.seq).decode()
    assert body["action"] == "data.access" and body["actor"] == "sam"
    assert body["data"] == {"snapshot": snap.ref, "purpose": "relink", "columns": ["email"]}
    assert value.encode() not in _ledger(ws)
    assert scan(ws.root) == []  # nor in the catalog, its WAL or a temporary file
    missing = pseudonyms.relink(
        ws, "sam", snap.ref, "email", "nobody@example.org", reason="ticket 9"
    )
    assert missing.rows == 0
    # a number-looking identifier is matched as written in the file
    assert pseudonyms.relink(ws, "sam", snap.ref, "customer_id", "00017", reason="t").rows == 1
    assert pseudonyms.relink(ws, "sam", snap.ref, "customer_id", "17", reason="t").rows == 0


def test_relink_refusals_record_nothing(steward: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, snap, rows = steward
    value = rows[3]["email"]
    before = ws.ledger.head()
    with pytest.raises(PermissionDeniedError):
        pseudonyms.relink(ws, "opal", snap.ref, "email", value, reason="curious")
    with pytest.raises(UsageError, match="not a pseudonymised column"):
        pseudonyms.relink(ws, "sam", snap.ref, "income", "1500", reason="ticket 3")
    with pytest.raises(UsageError, match="needs a reason"):
        pseudonyms.relink(ws, "sam", snap.ref, "email", value, reason=" ")
    with pytest.raises(UsageError, match="quotes the value"):
        pseudonyms.relink(ws, "sam", snap.ref, "email", value, reason=f"look up {value}")
    with pytest.raises(Exception, match="no snapshot"):
        pseudonyms.relink(ws, "sam", "people@9", "email", value, reason="ticket 3")
    # the key gone from the keyring, or replaced by another: a clear error, nothing recorded
    store = pseudonyms._keyring()
    entry = f"{ws.workspace_id}/v1"
    kept = store.get_password(pseudonyms.SERVICE, entry)
    try:
        store.delete_password(pseudonyms.SERVICE, entry)
        with pytest.raises(KeyStoreError, match="not in this keyring"):
            pseudonyms.relink(ws, "sam", snap.ref, "email", value, reason="ticket 3")
        store.set_password(pseudonyms.SERVICE, entry, "00" * 32)
        with pytest.raises(IntegrityError, match="is not the one"):
            pseudonyms.relink(ws, "sam", snap.ref, "email", value, reason="ticket 3")
    finally:
        store.set_password(pseudonyms.SERVICE, entry, kept)
    assert ws.ledger.head() == before


def test_ingest_refusals_record_nothing(steward: tuple, tmp_path: Path) -> None:
    ws, _, _ = steward
    people_csv(tmp_path / "people.csv", rows=10)
    before, keys = ws.ledger.head(), sorted((ws.root / "keystore").iterdir())
    with pytest.raises(UsageError, match="'nosuch', which is not in the table"):
        snapshots.add(ws, "dana", tmp_path / "people.csv", dataset="x", pseudonymize=["nosuch"])
    with pytest.raises(UsageError, match="--no-encrypt"):
        snapshots.add(
            ws, "dana", tmp_path / "people.csv", dataset="x", pseudonymize=["email"], encrypt=False
        )
    with pytest.raises(PermissionDeniedError):
        pseudonyms.rotate(ws, "sam", reason="not a steward")
    assert ws.ledger.head() == before
    assert sorted((ws.root / "keystore").iterdir()) == keys  # no data key left behind


def test_values_that_are_not_text_are_hashed_as_text(steward: tuple, tmp_path: Path) -> None:
    ws, _, _ = steward
    table = pa.table({"account": pa.array([123, 4567, None], pa.int64()), "y": [1.5, 2.0, 3.25]})
    pq.write_table(table, tmp_path / "accounts.parquet")
    snap, _ = snapshots.add(
        ws, "dana", tmp_path / "accounts.parquet", dataset="accounts", pseudonymize=["account", "y"]
    )
    key = _key(ws, 1)
    got = _table(ws, "dana", snap)
    assert [r["account"] for r in got] == [
        pseudonyms.pseudonym(key, "123"),
        pseudonyms.pseudonym(key, "4567"),
        None,  # a missing value stays missing
    ]
    assert got[0]["y"] == pseudonyms.pseudonym(key, "1.5")


def test_the_cli_pseudonymises_and_relinks(steward: tuple, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, _, _ = steward
    rows = people_csv(tmp_path / "people.csv", rows=12, tag="cli")
    base = ["--workspace", str(ws.root), "--json"]
    added = cli(
        *base,
        "--as",
        "dana",
        "snapshot",
        "add",
        str(tmp_path / "people.csv"),
        "--dataset",
        "people-cli",
        "--pseudonymize",
        "email,phone",
        "--pii",
        "name",
        check=True,
    )
    doc = json.loads(added.stdout)
    assert doc["pseudonyms"] == {"email": 1, "phone": 1} and "email" in doc["pii"]
    assert any("pseudonymised email, phone" in n for n in doc["notices"])
    value = rows[5]["phone"]
    done = cli(
        *base,
        "--as",
        "sam",
        "data",
        "relink",
        "people-cli@1",
        "--column",
        "phone",
        "--value",
        value,
        "--reason",
        "complaint 5",
        check=True,
    )
    assert json.loads(done.stdout)["rows"] == 1
    # the in-process runner for the rest (the same command tree, no interpreter start-up)
    listed = CliRunner().invoke(app, [*base, "data", "pseudonym-key", "list"])
    assert [v["version"] for v in json.loads(listed.output)] == [1]
    refused = CliRunner().invoke(
        app,
        [*base, "--as", "opal", "data", "relink", "people-cli@1", "--column", "phone",
         "--value", value, "--reason", "x"],
    )  # fmt: skip
    assert refused.exit_code == 2 and "Permission denied" in refused.output
    from_stdin = CliRunner().invoke(
        app,
        [*base, "--as", "sam", "data", "relink", "people-cli@1", "--column", "email",
         "--value-file", "-", "--reason", "complaint 6"],
        input=rows[6]["email"] + "\n",
    )  # fmt: skip
    assert from_stdin.exit_code == 0 and json.loads(from_stdin.output)["rows"] == 1
    assert value.encode() not in _ledger(ws)
