"""The canary campaign (the issue's must-hold), and subject erasure.

Unique values are planted in the PII columns of a people table (not German credit's
shape). Encrypted: snapshot, validation, a feature view, training on non-PII features, a
full bundle; every byte under the workspace (objects, catalog.duckdb and its WAL, ledger,
tmp, keystore) and every bundle member is scanned, as stored and as any reader could decode
it (plaintext Parquet read back, the DuckDB file dumped: see ``tests.privacy.erasing``): no
canary. Erased, scanned again, a new bundle exported and scanned: none. The control runs
the same pipeline unencrypted: the scan finds the canaries in the objects and in the full
bundle (so it can fail), and after the erasure finds none on disk or in a new bundle.

Subject erasure removes exactly one person's rows (the count checked against pandas); the
value is then nowhere under the workspace while the other people's values still are (the
same scan finds them), and "was this person erased?" is answered by the keyed commitment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.audit import bundle, verification
from core.data import encryption, features, snapshots, validation
from core.identity import actors
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace
from core.modelling import models, training
from core.privacy import erasure, subject_erasure
from tests.core.test_pii import INTAKE, TRAIN, VIEW, VIEW_SQL, VIEW_SUITE, people, write
from tests.privacy.erasing import ledger_bytes, scan, scan_zip

PII = ["full_name", "email", "date_of_birth", "case_number"]
CANARY_COLUMNS = ("full_name", "email", "case_number")
BASIS = "GDPR Art. 17(1)(b)"


def _pipeline(root: Path, *, encrypt: bool) -> dict[str, Any]:
    from core.audit import admin

    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    actors.add(ws, "alice", "sam", ["data-scientist"])
    actors.add(ws, "alice", "bob", ["auditor"])
    csv, _ = people(root, rows=120, seed=21)
    frame = pd.read_csv(csv)
    canaries = sorted({str(v) for col in CANARY_COLUMNS for v in frame[col]})
    raw, _ = snapshots.add(ws, "dana", csv, dataset="people", pii=PII, encrypt=encrypt)
    validation.run(ws, "sam", raw.ref, write(root, "intake.toml", INTAKE))
    write(root, "people.sql", VIEW_SQL)
    view, _ = features.build(ws, "sam", write(root, "view.toml", VIEW))
    validation.run(ws, "sam", view.ref, write(root, "view_suite.toml", VIEW_SUITE))
    run = training.train(ws, "sam", write(root, "train.toml", TRAIN))
    models.register(ws, "sam", run.run_id, "repayment")
    models.sign(ws, "sam", "repayment@1")
    bundle.export(ws, "bob", "repayment@1", root / "before.zip", reason="audit")
    pattern = re.compile(b"|".join(re.escape(v.encode()) for v in canaries))
    found = {"ws": scan(ws.root, pattern), "bundle": scan_zip(root / "before.zip", pattern)}
    done = erasure.erase(ws, "dana", "people@1", reason="REQ-5", legal_basis=BASIS)
    bundle.export(ws, "bob", "repayment@1", root / "after.zip", reason="audit")
    after = {"ws": scan(ws.root, pattern), "bundle": scan_zip(root / "after.zip", pattern)}
    return {"ws": ws, "raw": raw, "done": done, "before": found, "after": after}


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _pipeline(tmp_path_factory.mktemp("canary-sealed"), encrypt=True)


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _pipeline(tmp_path_factory.mktemp("canary-plain"), encrypt=False)


def test_encrypted_canaries_are_nowhere_before_or_after_the_erasure(sealed: dict[str, Any]) -> None:
    ws: Workspace = sealed["ws"]
    assert encryption.is_encrypted(sealed["raw"]) and sealed["done"].method == "crypto-shred"
    assert (ws.root / "keystore").is_dir() and (ws.root / "catalog.duckdb").is_file()
    assert sealed["before"] == {"ws": {}, "bundle": {}}
    assert sealed["after"] == {"ws": {}, "bundle": {}}
    assert verification.verify(ws).ok


def test_the_control_finds_plaintext_canaries_and_none_after_the_erasure(
    control: dict[str, Any],
) -> None:
    before = control["before"]
    assert before["ws"] and all(p.startswith("objects/") for p in before["ws"])
    assert "data/people-1.parquet" in before["bundle"]  # a full bundle carried the rows
    assert control["done"].method == "delete"
    assert control["after"] == {"ws": {}, "bundle": {}}
    assert verification.verify(control["ws"]).ok


@pytest.fixture(scope="module")
def subject(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from core.audit import admin

    root = tmp_path_factory.mktemp("subject")
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    csv, _ = people(root, rows=80, seed=4)
    frame = pd.read_csv(csv)
    plain, _ = snapshots.add(ws, "dana", csv, dataset="plain", pii=PII)
    write(root, "people.sql", VIEW_SQL)
    view, _ = features.build(ws, "dana", write(root, "view.toml", VIEW), inputs={"raw": plain.ref})
    copy = root / "copy.csv"  # other bytes than plain's raw copy: not erased with it
    frame.to_csv(copy, index=False, lineterminator="\r\n")
    sealed, _ = snapshots.add(ws, "dana", copy, dataset="sealed", pii=PII, encrypt=True)
    return {"ws": ws, "root": root, "frame": frame, "plain": plain, "view": view, "sealed": sealed}


def _own_copy(subject: dict[str, Any], name: str, shift: int) -> Path:
    """The same people, rows rotated: other bytes, so no other test's dataset is the same
    object (an erasure covers every snapshot holding the same bytes)."""
    frame: pd.DataFrame = subject["frame"]
    path = subject["root"] / f"{name}.csv"
    pd.concat([frame.iloc[shift:], frame.iloc[:shift]]).to_csv(path, index=False)
    return path


def test_subject_erasure_removes_exactly_that_persons_rows(subject: dict[str, Any]) -> None:
    ws: Workspace = subject["ws"]
    frame: pd.DataFrame = subject["frame"]
    value = str(frame["case_number"][17])
    done = erasure.erase(
        ws, "dana", "plain@1", reason="REQ-77", legal_basis=BASIS,
        subject_column="case_number", subject=value,
    )  # fmt: skip
    expected = int((frame["case_number"] == value).sum())
    assert done.rows_removed == expected == 1
    new = snapshots.show(ws, str(done.replaced_by))
    assert new.rows == len(frame) - expected and new.erased_seq is None
    assert done.snapshots == ["plain@1", subject["view"].ref]  # its view goes with it
    with ws.session() as s:
        edges = s.catalog.edges_from(f"snapshot:{new.ref}")
    assert [(e.dst, e.relation) for e in edges] == [("snapshot:plain@1", "redacted-from")]
    # The value is nowhere; the other people's values still are in the plaintext new version.
    assert scan(ws.root, re.compile(re.escape(value.encode()))) == {}
    other = str(frame["case_number"][18])
    assert scan(ws.root, re.compile(re.escape(other.encode())))
    receipt = erasure.receipt(ws, done.seq)
    assert receipt["subject"]["column"] == "case_number"
    assert receipt["subject"]["commitment"].startswith("hmac-sha256:")
    assert value not in repr(receipt)
    assert subject_erasure.erasures_of(ws, "case_number", value)["erasures"] == [done.seq]
    assert subject_erasure.erasures_of(ws, "case_number", other)["erasures"] == []
    assert verification.verify(ws).ok


def test_subject_erasure_of_an_encrypted_snapshot_stays_encrypted(subject: dict[str, Any]) -> None:
    ws: Workspace = subject["ws"]
    frame: pd.DataFrame = subject["frame"]
    value = str(frame["email"][5])
    done = erasure.erase(
        ws, "dana", "sealed@1", reason="REQ-78", legal_basis=BASIS,
        subject_column="email", subject=value,
    )  # fmt: skip
    assert done.method == "crypto-shred" and done.rows_removed == 1
    new = snapshots.show(ws, str(done.replaced_by))
    assert encryption.is_encrypted(new) and new.rows == len(frame) - 1
    last_access = [
        e.decode() for e in ws.ledger.iter_entries() if e.decode()["action"] == "data.access"
    ]
    assert last_access[-1]["data"]["purpose"] == "erase"  # type: ignore[index]
    # Other tests' plaintext datasets of the same people hold the value, on purpose; no
    # other byte under the workspace does (the erased ciphertext, its keys, the new copy).
    plain = {
        str(ws.objects.path(d).relative_to(ws.root))
        for snap in snapshots.list_snapshots(ws)
        if snap.erased_seq is None and not encryption.is_encrypted(snap)
        for d in (snap.raw_digest, snap.parquet_digest)
        if d
    }
    found = scan(ws.root, re.compile(re.escape(value.encode())))
    assert set(found) <= plain, sorted(set(found) - plain)


def test_a_region_shared_by_many_rows_is_counted_as_pandas_counts(subject: dict[str, Any]) -> None:
    ws: Workspace = subject["ws"]
    frame: pd.DataFrame = subject["frame"]
    new, _ = snapshots.add(ws, "dana", _own_copy(subject, "regions", 1), dataset="regions")
    done = erasure.erase(
        ws, "dana", new.ref, reason="REQ-79", legal_basis=BASIS,
        subject_column="region", subject="north",
    )  # fmt: skip
    assert done.rows_removed == int((frame["region"] == "north").sum())


def test_bad_subject_requests_change_nothing(subject: dict[str, Any]) -> None:
    ws: Workspace = subject["ws"]
    frame: pd.DataFrame = subject["frame"]
    snap, _ = snapshots.add(ws, "dana", _own_copy(subject, "refusals", 2), dataset="refusals")
    value = str(frame["full_name"][3])
    before = ledger_bytes(ws)
    with pytest.raises(UsageError, match="holds the subject's value"):
        erasure.erase(
            ws, "dana", snap.ref, reason=f"asked by {value}", legal_basis=BASIS,
            subject_column="full_name", subject=value,
        )  # fmt: skip
    with pytest.raises(UsageError) as caught:
        erasure.erase(
            ws, "dana", snap.ref, reason="REQ-80", legal_basis=BASIS,
            subject_column="full_name", subject="Nobody Here",
        )  # fmt: skip
    assert "no row" in caught.value.msg and "Nobody" not in caught.value.msg + caught.value.hint
    with pytest.raises(UsageError, match="has no column"):
        erasure.erase(
            ws, "dana", snap.ref, reason="REQ-81", legal_basis=BASIS,
            subject_column="nope", subject=value,
        )  # fmt: skip
    assert ledger_bytes(ws) == before
    view, _ = features.build(ws, "dana", subject["root"] / "view.toml", inputs={"raw": snap.ref})
    with pytest.raises(UsageError, match="is a feature view"):
        erasure.erase(
            ws, "dana", view.ref, reason="REQ-82", legal_basis=BASIS,
            subject_column="full_name", subject=value,
        )  # fmt: skip


def test_an_interrupted_subject_erasure_makes_one_replacement(subject: dict[str, Any]) -> None:
    """Killed after the new version and before the erasure: the re-run reuses the version."""
    ws: Workspace = subject["ws"]
    frame: pd.DataFrame = subject["frame"]
    snap, _ = snapshots.add(ws, "dana", _own_copy(subject, "again", 3), dataset="again")
    value = str(frame["case_number"][9])
    _, first, _ = subject_erasure._replace(ws, "dana", snap.ref, "case_number", value, "REQ-83")
    done = erasure.erase(
        ws, "dana", snap.ref, reason="REQ-83", legal_basis=BASIS,
        subject_column="case_number", subject=value,
    )  # fmt: skip
    assert done.replaced_by == first.ref
    assert [s.ref for s in snapshots.list_snapshots(ws, dataset="again")] == ["again@1", "again@2"]
