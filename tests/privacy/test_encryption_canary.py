"""The canary campaign for encryption at rest: no planted PII value lands on disk.

Unique values are planted in the PII columns of a CSV. After an encrypted ``snapshot add``,
validation (with checks on the PII columns), a feature view, its validation, training on
non-PII features, the profile and a data sheet, every byte under the workspace (objects,
catalog.duckdb and its WAL, ledger/, tmp/, keystore/) is scanned: no canary. The control
adds the same file unencrypted to the same workspace, and the same scan then finds them, so
the scan can fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.data import encryption, features, snapshots, validation
from core.documents import datasheet
from core.identity import actors
from core.kernel.rows import DataAccessRow
from core.kernel.workspace import Workspace
from core.modelling import training
from tests.core.test_pii import INTAKE, TRAIN, VIEW, VIEW_SQL, VIEW_SUITE, people, write

CANARY_COLUMNS = ("full_name", "email", "case_number")
PII = "full_name,email,date_of_birth,case_number"


def scan(root: Path, pattern: re.Pattern[bytes]) -> dict[str, list[str]]:
    """Every file under ``root`` holding a canary, with up to three of the canaries."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        hits = sorted({m.group(0).decode() for m in pattern.finditer(path.read_bytes())})
        if hits:
            found[str(path.relative_to(root))] = hits[:3]
    return found


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import pandas as pd

    from core.audit import admin

    root = tmp_path_factory.mktemp("canary")
    csv, _ = people(root, rows=200, seed=5)
    frame = pd.read_csv(csv)
    canaries = sorted({str(v) for col in CANARY_COLUMNS for v in frame[col]})
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    actors.add(ws, "alice", "sam", ["data-scientist"])
    raw, _ = snapshots.add(
        ws, "dana", csv, dataset="people", pii=PII.split(","), sensitive=["region"], encrypt=True
    )
    validation.run(ws, "sam", raw.ref, write(root, "intake.toml", INTAKE))
    write(root, "people.sql", VIEW_SQL)
    view, _ = features.build(ws, "sam", write(root, "view.toml", VIEW))
    validation.run(ws, "sam", view.ref, write(root, "view_suite.toml", VIEW_SUITE))
    run = training.train(ws, "sam", write(root, "train.toml", TRAIN))
    profiles = [snapshots.load_profile(ws, s) for s in (raw, view)]
    datasheet.write(ws, "dana", raw.ref, root / "reports")
    pattern = re.compile(b"|".join(re.escape(v.encode()) for v in canaries))
    return {
        "ws": ws,
        "root": root,
        "csv": csv,
        "raw": raw,
        "view": view,
        "run": run,
        "profiles": profiles,
        "pattern": pattern,
        "canaries": canaries,
    }


def test_the_pipeline_ran_on_encrypted_copies(campaign: dict[str, Any]) -> None:
    ws: Workspace = campaign["ws"]
    assert encryption.is_encrypted(campaign["raw"]) and encryption.is_encrypted(campaign["view"])
    assert campaign["run"].input_ref == campaign["view"].ref
    with ws.session() as s:
        purposes = [
            (a.snapshot, a.purpose)
            for a in s.catalog.rows(DataAccessRow, "SELECT * FROM data_access ORDER BY seq")
        ]
    raw, view = campaign["raw"].ref, campaign["view"].ref
    assert purposes == [
        (raw, "validate"),
        (raw, "feature"),
        (view, "validate"),
        (view, "train"),
        (raw, "datasheet"),
    ]


def test_no_byte_under_the_workspace_holds_a_canary(campaign: dict[str, Any]) -> None:
    ws: Workspace = campaign["ws"]
    pattern = campaign["pattern"]
    assert (ws.root / "catalog.duckdb").is_file() and (ws.root / "keystore").is_dir()
    assert scan(ws.root, pattern) == {}
    for profile in campaign["profiles"]:
        assert not pattern.search(repr(profile).encode())
    assert scan(campaign["root"] / "reports", pattern) == {}


def test_the_control_finds_the_canaries_in_plaintext_copies(campaign: dict[str, Any]) -> None:
    """Runs last in this module: it plants plaintext copies in the same workspace."""
    ws: Workspace = campaign["ws"]
    snapshots.add(ws, "dana", campaign["csv"], dataset="people-plain", pii=PII.split(","))
    found = scan(ws.root, campaign["pattern"])
    assert found and all(path.startswith("objects/") for path in found)
