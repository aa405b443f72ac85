"""Encryption at rest: round trips, the read door, access as a control, dedupe.

One workspace for the module (the German credit pipeline run twice, once over a plaintext
and once over an encrypted raw snapshot), so the expensive part runs once; attacks that
change bytes restore them before they return. Tampering, wrong keys and the canary scan
are in their own modules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from core.data import data_keys, encryption, features, snapshots, tables, validation
from core.identity import actors
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.rows import DataAccessRow, SnapshotRow
from core.kernel.workspace import Workspace
from core.modelling import reproduce, training

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"


def accesses(ws: Workspace) -> list[DataAccessRow]:
    with ws.session() as s:
        return list(s.catalog.rows(DataAccessRow, "SELECT * FROM data_access ORDER BY seq"))


def spec_for(root: Path, view_ref: str, name: str) -> Path:
    """The sample training spec, pointed at one version of the feature view."""
    text = (SAMPLE / "train.toml").read_text()
    text = text.replace('input = "german-credit-features@1"', f'input = "{view_ref}"')
    path = root / f"train-{name}.toml"
    path.write_text(text.replace('name = "credit-risk"', f'name = "{name}"'))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """German credit through validation, a feature view and training, plain and encrypted."""
    from core.audit import admin

    root = tmp_path_factory.mktemp("enc")
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    actors.add(ws, "alice", "sam", ["data-scientist"])
    actors.add(ws, "alice", "olga", ["operator"])
    actors.add(ws, "alice", "cora", ["consumer"])
    data = SAMPLE / "german.data"
    plain, _ = snapshots.add(ws, "dana", data, dataset="german-credit", pii=["column00"])
    sealed, _ = snapshots.add(
        ws, "dana", data, dataset="german-credit-enc", pii=["column00"], encrypt=True
    )
    out: dict[str, Any] = {"ws": ws, "root": root, "plain": plain, "sealed": sealed}
    before = len(accesses(ws))
    for tag, raw in (("plain", plain), ("sealed", sealed)):
        _, result = validation.run(ws, "sam", raw.ref, SAMPLE / "raw_suite.toml")
        out[f"{tag}_raw_validation"] = result
        view, _ = features.build(ws, "sam", SAMPLE / "features.toml", inputs={"raw": raw.ref})
        out[f"{tag}_view"] = view
        _, result = validation.run(ws, "sam", view.ref, SAMPLE / "features_suite.toml")
        out[f"{tag}_view_validation"] = result
        out[f"{tag}_run"] = training.train(ws, "sam", spec_for(root, view.ref, f"credit-{tag}"))
    out["pipeline_accesses"] = accesses(ws)[before:]
    return out


def test_an_encrypted_snapshot_records_its_keys_and_ciphertext_digests(
    world: dict[str, Any],
) -> None:
    ws: Workspace = world["ws"]
    sealed: SnapshotRow = world["sealed"]
    info = encryption.recorded(sealed)
    assert info is not None and info["scheme"] == "ledgerml-at-rest/1"
    assert set(info) == {"scheme", "raw", "parquet", "raw_commitment"}
    assert info["raw"]["id"] != info["parquet"]["id"]  # a fresh key per object
    for part in ("raw", "parquet"):
        assert data_keys.exists(ws, info[part]["id"])
    event = ws.ledger.entry(sealed.created_seq).decode()["data"]
    assert event["encryption"] == info
    raw_bytes = (SAMPLE / "german.data").read_bytes()
    assert sealed.raw_digest is not None
    stored = ws.objects.path(sealed.raw_digest).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == sealed.raw_digest  # digest of ciphertext
    assert sealed.raw_digest != world["plain"].raw_digest and b"A11" not in stored
    parquet = ws.objects.path(sealed.parquet_digest).read_bytes()
    assert parquet[-4:] == b"PARE"  # Parquet Modular Encryption, encrypted footer
    # The raw commitment is HMAC-SHA-256 of the plaintext under the raw key: the raw copy
    # decrypts to the file, byte for byte.
    with encryption.open(ws, "dana", [sealed], "erase", raw=True) as grant:
        key = grant.raw_key(sealed)
        assert b"".join(encryption.raw_chunks(ws, sealed, key)) == raw_bytes
    assert hmac.new(key, raw_bytes, hashlib.sha256).hexdigest() == info["raw_commitment"]


def test_encrypted_and_plaintext_copies_give_the_same_table_profile_and_results(
    world: dict[str, Any],
) -> None:
    ws: Workspace = world["ws"]
    plain, sealed = world["plain"], world["sealed"]
    assert plain.table_digest == sealed.table_digest
    assert plain.profile_digest == sealed.profile_digest  # the very same profile bytes
    assert snapshots.load_profile(ws, plain) == snapshots.load_profile(ws, sealed)
    for step in ("raw_validation", "view_validation"):
        a, b = world[f"plain_{step}"].to_json(), world[f"sealed_{step}"].to_json()
        a.pop("snapshot"), b.pop("snapshot")
        assert a == b
    pv, sv = world["plain_view"], world["sealed_view"]
    assert pv.table_digest == sv.table_digest and pv.profile_digest == sv.profile_digest
    pr, sr = world["plain_run"], world["sealed_run"]
    assert pr.predictions_digest == sr.predictions_digest
    assert json.loads(pr.metrics) == json.loads(sr.metrics)


def test_a_view_over_an_encrypted_input_is_encrypted_under_its_own_key(
    world: dict[str, Any],
) -> None:
    view: SnapshotRow = world["sealed_view"]
    info = encryption.recorded(view)
    assert info is not None and set(info) == {"scheme", "parquet"}  # a view has no raw file
    assert encryption.recorded(world["plain_view"]) is None
    raw_info = encryption.recorded(world["sealed"])
    assert raw_info is not None and info["parquet"]["id"] != raw_info["parquet"]["id"]


def test_each_decryption_records_one_access_with_its_purpose(world: dict[str, Any]) -> None:
    """Plaintext reads record nothing; each encrypted read, one data.access, before it."""
    sealed, view, run = world["sealed"], world["sealed_view"], world["sealed_run"]
    got = [(a.snapshot, a.purpose, a.target, a.actor) for a in world["pipeline_accesses"]]
    assert got == [
        (sealed.ref, "validate", "suite:german-credit-raw", "sam"),
        (sealed.ref, "feature", "view:german-credit-features", "sam"),
        (view.ref, "validate", "suite:german-credit-features", "sam"),
        (view.ref, "train", f"run:{run.run_id}", "sam"),
    ]
    ws: Workspace = world["ws"]
    for access in world["pipeline_accesses"]:
        event = ws.ledger.entry(access.seq).decode()
        assert event["action"] == "data.access" and event["actor"] == "sam"
        assert event["subjects"] == [f"snapshot:{access.snapshot}"]


def test_a_role_without_read_access_decrypts_nothing_and_records_nothing(
    world: dict[str, Any],
) -> None:
    ws: Workspace = world["ws"]
    head = ws.ledger.head()
    for who in ("olga", "cora"):  # an operator, a consumer
        with pytest.raises(PermissionDeniedError, match="decrypt data"):
            encryption.open(ws, who, [world["sealed"]], "monitor")
    assert ws.ledger.head() == head
    # Outside a grant, the door itself refuses: no path around the access record.
    con = tables.connect()
    try:
        with pytest.raises(PermissionDeniedError, match="encrypted at rest"):
            encryption.table_source(ws, con, world["sealed"])
    finally:
        con.close()
    with pytest.raises(UsageError, match="unknown access purpose"):
        encryption.open(ws, "sam", [world["sealed"]], "curiosity")
    assert ws.ledger.head() == head


def test_the_door_reads_without_spilling(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    with encryption.open(ws, "sam", [world["sealed"]], "profile", target="test"):
        con = tables.connect(ws.root / "tmp")
        try:
            source = encryption.table_source(ws, con, world["sealed"])
            [(spill,)] = con.execute("SELECT current_setting('temp_directory')").fetchall()
            assert spill == ""
            [(rows,)] = con.execute(f"SELECT count(*) FROM {source}").fetchall()
            assert rows == 1000
        finally:
            con.close()


def test_an_erased_snapshot_is_refused_by_name(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    erased = SnapshotRow(**{**world["plain"].as_dict(), "erased_seq": 4242})
    con = tables.connect()
    try:
        with pytest.raises(NotFoundError, match="erased at event #4242"):
            encryption.table_source(ws, con, erased)
    finally:
        con.close()
    with pytest.raises(NotFoundError, match="erased at event #4242"):
        encryption.open(ws, "sam", [erased], "train")


def test_an_encrypted_re_add_is_recognised_and_leaves_no_key_behind(
    world: dict[str, Any],
) -> None:
    ws: Workspace = world["ws"]
    data = SAMPLE / "german.data"
    keys = sorted(p.name for p in data_keys.folder(ws).iterdir())
    head = ws.ledger.head()
    again, created = snapshots.add(ws, "dana", data, dataset="german-credit-enc", encrypt=True)
    assert not created and again.ref == world["sealed"].ref
    # Plaintext into the dataset holding it encrypted, encrypted into the one holding it
    # in plaintext: the same bytes, recognised; what was not applied is said.
    same, created = snapshots.add(ws, "dana", data, dataset="german-credit-enc")
    assert not created and same.ref == world["sealed"].ref
    same, created = snapshots.add(ws, "dana", data, dataset="german-credit", encrypt=True)
    assert not created and same.ref == world["plain"].ref
    assert snapshots.unapplied(same, encrypt=True) == ["encryption"]
    assert ws.ledger.head() == head
    assert sorted(p.name for p in data_keys.folder(ws).iterdir()) == keys


def test_other_bytes_of_the_same_table_are_a_new_version(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """The table digest only narrows the candidates; the raw commitment decides."""
    ws: Workspace = world["ws"]
    shifted = tmp_path / "german.data"
    shifted.write_bytes((SAMPLE / "german.data").read_bytes().replace(b"\n", b"\r\n"))
    snap, created = snapshots.add(ws, "dana", shifted, dataset="german-credit-enc", encrypt=True)
    assert created and snap.table_digest == world["sealed"].table_digest
    assert snap.version == world["sealed"].version + 1


def test_reproduction_hands_the_key_to_the_child_on_a_pipe(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    run = world["sealed_run"]
    before = len(accesses(ws))
    _, outcome = reproduce.run(ws, "sam", f"run:{run.run_id}")
    assert outcome["passed"], outcome["differences"]
    new = accesses(ws)[before:]
    assert [(a.snapshot, a.purpose, a.target) for a in new] == [
        (world["sealed_view"].ref, "reproduce", f"run:{run.run_id}")
    ]


def _other_shape(folder: Path, rows: int) -> Path:
    """A wide CSV with non-ASCII text, NULLs, dates, timestamps, floats, booleans."""
    names = ["Zoë", "Łukasz", "Søren", "Ada", "José", "Ğül", "李雷", ""]
    header = ["id", "name", "born", "seen", "score", "flag", *(f"w{i:02d}" for i in range(12))]
    lines = [",".join(header)]
    for i in range(rows):
        name = names[i % len(names)]
        born = (dt.date(1950, 1, 1) + dt.timedelta(days=i % 20000)).isoformat()
        seen = f"2024-03-{1 + i % 28:02d} 12:{i % 60:02d}:00"
        score = "" if i % 11 == 0 else f"{(i * 7919 % 1000) / 7:.6f}"
        wide = [str((i * (k + 3)) % 97) if (i + k) % 13 else "" for k in range(12)]
        lines.append(
            ",".join(
                [str(i), f'"{name}"', born if i % 17 else "", seen, score, str(i % 2 == 0), *wide]
            )
        )
    path = folder / "other.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_another_shape_round_trips_across_row_groups(world: dict[str, Any], tmp_path: Path) -> None:
    """Two row groups (122,880 rows each), so the decrypting scan must keep rows in order."""
    ws: Workspace = world["ws"]
    csv = _other_shape(tmp_path, 130_000)
    plain, _ = snapshots.add(ws, "dana", csv, dataset="other", pii=["name"])
    sealed, _ = snapshots.add(ws, "dana", csv, dataset="other-enc", pii=["name"], encrypt=True)
    kinds = {c["name"]: c["kind"] for c in json.loads(sealed.columns)}
    assert (kinds["born"], kinds["seen"], kinds["flag"]) == ("date", "timestamp", "bool")
    assert plain.table_digest == sealed.table_digest
    assert plain.profile_digest == sealed.profile_digest
    with encryption.open(ws, "sam", [sealed], "profile", target="test"):
        con = tables.connect()
        try:
            src = encryption.table_source(ws, con, sealed)
            got = con.execute(
                f"SELECT name, count(*) FROM {src} WHERE name IS NOT NULL GROUP BY 1 ORDER BY 1"
            ).fetchall()
        finally:
            con.close()
    assert ("李雷", 16250) in got and ("Zoë", 16250) in got


def test_a_query_too_large_for_memory_says_so_instead_of_spilling(
    world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws: Workspace = world["ws"]
    sealed = snapshots.show(ws, "other-enc")
    monkeypatch.setenv("LEDGERML_MEMORY", "4MB")
    before = sorted(p.name for p in (ws.root / "tmp").iterdir())
    with (
        pytest.raises(UsageError, match="LEDGERML_MEMORY") as caught,
        encryption.open(ws, "sam", [sealed], "profile", target="test"),
    ):
        con = tables.connect(ws.root / "tmp")  # asks for a spill folder: the door drops it
        try:
            src = encryption.table_source(ws, con, sealed)
            con.execute(f"SELECT id, count(*) FROM {src} GROUP BY 1 ORDER BY 2").fetchall()
        finally:
            con.close()
    assert "never spilled" in caught.value.msg
    assert sorted(p.name for p in (ws.root / "tmp").iterdir()) == before


def test_an_empty_table_is_refused_and_leaves_no_key_or_object(
    world: dict[str, Any], tmp_path: Path
) -> None:
    ws: Workspace = world["ws"]
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    keys = sorted(p.name for p in data_keys.folder(ws).iterdir())
    objects = set(ws.objects.digests())
    head = ws.ledger.head()
    with pytest.raises(UsageError, match="no rows"):
        snapshots.add(ws, "dana", empty, dataset="empty", encrypt=True)
    assert ws.ledger.head() == head
    assert sorted(p.name for p in data_keys.folder(ws).iterdir()) == keys
    assert set(ws.objects.digests()) == objects


def test_the_workspace_setting_encrypts_pii_by_default(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    with pytest.raises(PermissionDeniedError):
        encryption.set_encrypt_pii(ws, "dana", True)  # admins only
    assert encryption.set_encrypt_pii(ws, "alice", True) is True
    try:
        assert snapshots.encrypt_pii(ws)
        assert snapshots.encrypt_default(ws, ["column00"], None) == (True, [])
        assert snapshots.encrypt_default(ws, [], None) == (False, [])
        plain, notes = snapshots.encrypt_default(ws, ["column00"], False)
        assert not plain and "plaintext" in notes[0]
    finally:
        encryption.set_encrypt_pii(ws, "alice", False)
    assert not snapshots.encrypt_pii(ws)
