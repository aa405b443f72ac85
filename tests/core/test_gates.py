"""Gates on every stage: a failed latest run refuses views and training until passed or waived."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.data import features, gates, snapshots, validation
from core.documents import datasheet
from core.identity import actors
from core.kernel.errors import PermissionDeniedError, UsageError
from core.kernel.workspace import Workspace
from core.modelling import training
from storage.errors import CheckFailedError
from tests.conftest import run_cli_here

SUITE = """
[suite]
name = "loans-intake"

[[checks]]
type = "range"
column = "amount"
min = 0
max = {max}

[[checks]]
type = "null_rate"
column = "term"
max = 0.0
"""

VIEW = """
[view]
name = "loans-features"
sql = "loans.sql"

[inputs]
raw = "loans@1"
"""

TRAIN = """
[run]
name = "loans"
input = "loans-features@1"
suite = "loans-features"
target = "repaid"
features = ["amount", "term"]
sensitive = []
allow_sensitive_features = []
seed = 3
test_size = 0.3
threshold = 0.5

[estimator]
type = "logistic_regression"
params = { C = 1.0, max_iter = 500 }

[preprocessing]
scale = true
"""

FEATURE_SUITE = """
[suite]
name = "loans-features"

[[checks]]
type = "row_count"
min = 1
"""

STRICT_FEATURE_SUITE = """
[suite]
name = "loans-features-strict"

[[checks]]
name = "enough rows"
type = "row_count"
min = 100000
"""


def _ledger(ws: Workspace) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((ws.root / "ledger").rglob("*.log")))


@pytest.fixture
def loans(ws: Workspace, tmp_path: Path) -> Workspace:
    """A workspace with a loans table whose largest amount (9,000) breaks a 5,000 limit."""
    rng = np.random.default_rng(5)
    n = 200
    frame = pd.DataFrame(
        {
            "amount": np.append(rng.integers(100, 4000, n - 1), 9000),
            "term": rng.integers(6, 60, n),
        }
    )
    frame["repaid"] = (rng.random(n) < 0.6).astype(int)
    frame.to_csv(tmp_path / "loans.csv", index=False)
    actors.add(ws, "alice", "ada", ["approver"])
    snapshots.add(ws, "alice", tmp_path / "loans.csv", dataset="loans")
    (tmp_path / "strict.toml").write_text(SUITE.format(max=5000))
    (tmp_path / "loose.toml").write_text(SUITE.format(max=10000))
    (tmp_path / "loans.sql").write_text("SELECT amount, term, repaid FROM raw")
    (tmp_path / "view.toml").write_text(VIEW)
    (tmp_path / "train.toml").write_text(TRAIN)
    (tmp_path / "features.toml").write_text(FEATURE_SUITE)
    (tmp_path / "features-strict.toml").write_text(STRICT_FEATURE_SUITE)
    return ws


def test_a_view_from_a_failed_input_is_refused_naming_the_run(
    loans: Workspace, tmp_path: Path
) -> None:
    row, _ = validation.run(loans, "alice", "loans@1", tmp_path / "strict.toml")
    assert not row.passed
    independent = pd.read_csv(tmp_path / "loans.csv")["amount"].max() > 5000
    assert independent  # the verdict the gate relies on, computed apart
    before = _ledger(loans)
    with pytest.raises(CheckFailedError) as err:
        features.build(loans, "alice", tmp_path / "view.toml")
    message = err.value.msg
    assert f"event #{row.seq}" in message and "'loans-intake' FAILED" in message
    assert "range:amount" in message and "null_rate:term" not in message
    assert "waiver add loans@1 --suite loans-intake" in err.value.hint
    assert _ledger(loans) == before  # a refused build records nothing
    # A laxer suite under the same [suite] name passes on its own, but is another suite:
    # the strict one's failure stands (the bypass a data scientist alone could take).
    lax, _ = validation.run(loans, "alice", "loans@1", tmp_path / "loose.toml")
    assert lax.passed and lax.suite_name == row.suite_name
    with pytest.raises(CheckFailedError, match=f"event #{row.seq}"):
        features.build(loans, "alice", tmp_path / "view.toml")
    # The same bytes snapshotted again under another name carry the failure with them.
    snapshots.add(loans, "alice", tmp_path / "loans.csv", dataset="loans-copy")
    (tmp_path / "copy.toml").write_text(VIEW.replace('raw = "loans@1"', 'raw = "loans-copy@1"'))
    with pytest.raises(CheckFailedError, match=r"loans-copy@1 \(same table as loans@1\)"):
        features.build(loans, "alice", tmp_path / "copy.toml")
    # Data that passes (a corrected version) builds, with no waiver.
    fixed = pd.read_csv(tmp_path / "loans.csv")
    fixed.loc[fixed["amount"] > 5000, "amount"] = 4000
    fixed.to_csv(tmp_path / "loans-fixed.csv", index=False)
    snapshots.add(loans, "alice", tmp_path / "loans-fixed.csv", dataset="loans")
    assert validation.run(loans, "alice", "loans@2", tmp_path / "strict.toml")[0].passed
    (tmp_path / "v2.toml").write_text(VIEW.replace('raw = "loans@1"', 'raw = "loans@2"'))
    snap, created = features.build(loans, "alice", tmp_path / "v2.toml")
    assert created and "waivers" not in features.recorded_view(loans, snap)


def test_an_approvers_waiver_lets_its_stage_through_and_is_named(
    loans: Workspace, tmp_path: Path
) -> None:
    validation.run(loans, "alice", "loans@1", tmp_path / "strict.toml")
    with pytest.raises(PermissionDeniedError):
        gates.waive(loans, "sam", "loans@1", suite="loans-intake", reason="x", expires="2999-01-01")
    with pytest.raises(UsageError, match="in the past"):
        gates.waive(loans, "ada", "loans@1", suite="loans-intake", reason="x", expires="2001-01-01")
    with pytest.raises(UsageError, match="not a date"):
        gates.waive(loans, "ada", "loans@1", suite="loans-intake", reason="x", expires="soon")
    with pytest.raises(UsageError, match="not a stage"):
        gates.waive(
            loans,
            "ada",
            "loans@1",
            suite="loans-intake",
            reason="x",
            expires="2999-01-01",
            scope=["deploy"],
        )
    with pytest.raises(UsageError, match="no recorded run"):
        gates.waive(loans, "ada", "loans@1", suite="nope", reason="x", expires="2999-01-01")
    waiver = gates.waive(
        loans,
        "ada",
        "loans@1",
        suite="loans-intake",
        reason="9,000 is a known corporate loan",
        expires="2999-12-31",
        scope=["view"],
    )
    snap, _ = features.build(loans, "alice", tmp_path / "view.toml")
    [used] = features.recorded_view(loans, snap)["waivers"]
    assert used["seq"] == waiver.seq and used["by"] == "ada" and used["waives"] == waiver.waives
    md, _ = datasheet.write(loans, "alice", snap.ref, tmp_path / "reports")
    assert f"under waiver #{waiver.seq} by ada" in md.read_text()
    assert "9,000 is a known corporate loan" in md.read_text()
    raw_md, raw_html = datasheet.write(loans, "alice", "loans@1", tmp_path / "reports")
    line = f"Waiver: #{waiver.seq} by ada: failed run #{waiver.waives} of suite loans-intake"
    assert line in raw_md.read_text() and line in raw_html.read_text()
    # Expired, or for another stage, it does not count.
    with loans.session() as s:
        raw = snapshots.resolve(s.catalog, "loans@1")
        assert gates.require(s, [raw], "view", today=dt.date(2999, 12, 31)) == [waiver]
        with pytest.raises(CheckFailedError, match="FAILED"):
            gates.require(s, [raw], "view", today=dt.date(3000, 1, 1))
        with pytest.raises(CheckFailedError, match="FAILED"):
            gates.require(s, [raw], "train")
    # A new failure of the same suite needs a new decision.
    validation.run(loans, "alice", "loans@1", tmp_path / "strict.toml")
    with loans.session() as s, pytest.raises(CheckFailedError):
        gates.require(s, [snapshots.resolve(s.catalog, "loans@1")], "view")
    # A laxer suite of the same name passing clears nothing: the strict run is what a new
    # waiver waives.
    strict_seq = max(r.seq for r in validation_runs(loans, "loans@1") if not r.passed)
    validation.run(loans, "alice", "loans@1", tmp_path / "loose.toml")
    again = gates.waive(
        loans, "ada", "loans@1", suite="loans-intake", reason="y", expires="2999-01-01"
    )
    assert again.waives == strict_seq
    # Nothing to waive where the suite's latest run passed.
    rng = np.random.default_rng(1)
    pd.DataFrame({"amount": rng.integers(1, 99, 50), "term": rng.integers(6, 9, 50)}).to_csv(
        tmp_path / "small.csv", index=False
    )
    snapshots.add(loans, "alice", tmp_path / "small.csv", dataset="small")
    validation.run(loans, "alice", "small@1", tmp_path / "strict.toml")
    with pytest.raises(UsageError, match="nothing to waive"):
        gates.waive(loans, "ada", "small@1", suite="loans-intake", reason="x", expires="2999-01-01")


def test_training_is_refused_while_any_latest_run_of_its_input_failed(
    loans: Workspace, tmp_path: Path
) -> None:
    validation.run(loans, "alice", "loans@1", tmp_path / "loose.toml")
    features.build(loans, "alice", tmp_path / "view.toml")
    validation.run(loans, "alice", "loans-features@1", tmp_path / "features.toml")
    strict, _ = validation.run(
        loans, "alice", "loans-features@1", tmp_path / "features-strict.toml"
    )
    assert not strict.passed  # 200 rows < 100,000
    with pytest.raises(CheckFailedError, match=r"loans-features-strict' FAILED.*enough rows"):
        training.train(loans, "sam", tmp_path / "train.toml")
    gates.waive(
        loans,
        "ada",
        "loans-features@1",
        suite="loans-features-strict",
        reason="a pilot on a small sample",
        expires="2999-12-31",
        scope=["train"],
    )
    run = training.train(loans, "sam", tmp_path / "train.toml")
    # The run names the waiver it relied on, in its signed event.
    [waiver] = _recorded_waivers(loans, "loans-features@1")
    assert _train_event(loans, run.run_id)["gate"]["waivers"] == [waiver]


def test_the_waiver_commands(loans: Workspace, tmp_path: Path) -> None:
    validation.run(loans, "alice", "loans@1", tmp_path / "strict.toml")
    w = ["--workspace", str(loans.root)]
    denied = run_cli_here(
        *w,
        "--as",
        "sam",
        "waiver",
        "add",
        "loans@1",
        "--suite",
        "loans-intake",
        "--reason",
        "x",
        "--expires",
        "2999-01-01",
    )
    assert denied.returncode != 0 and "approver" in denied.stderr + denied.stdout
    done = run_cli_here(
        *w,
        "--as",
        "ada",
        "waiver",
        "add",
        "loans@1",
        "--suite",
        "loans-intake",
        "--reason",
        "known outlier",
        "--expires",
        "2999-01-01",
        "--scope",
        "view",
        check=True,
    )
    assert "may be used for view until 2999-01-01 (by ada)" in done.stdout
    listed = run_cli_here(*w, "--json", "waiver", "list", "loans@1", check=True)
    [entry] = json.loads(listed.stdout)
    assert entry["scope"] == ["view"] and entry["reason"] == "known outlier"
    built = run_cli_here(
        *w, "--as", "alice", "feature", "build", str(tmp_path / "view.toml"), check=True
    )
    assert f"under waiver #{entry['seq']} by ada" in built.stdout


def _recorded_waivers(ws: Workspace, ref: str) -> list[int]:
    with ws.session() as s:
        snap = snapshots.resolve(s.catalog, ref)
        return [w.seq for w in gates.waivers(s, snap)]


def _train_event(ws: Workspace, run_id: str) -> dict[str, Any]:
    for entry in ws.ledger.iter_entries():
        body = json.loads(entry.body)
        if body["action"] == "train.run" and body["data"]["run_id"] == run_id:
            return dict(body["data"])
    raise AssertionError(f"no train.run event for {run_id}")


def validation_runs(ws: Workspace, ref: str) -> list[Any]:
    with ws.session() as s:
        return list(s.catalog.validations(ref))
