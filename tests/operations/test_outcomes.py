"""Late outcomes joined by request id, and human overrides (Art. 14), on logged decisions."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.operations import decision_log, deployments, outcomes, overrides, scoring
from tests.operations.applicants import applicants
from tests.operations.conftest import V1, V2, Ops


@dataclass
class Decided:
    root: Path
    ids: list[str]

    def copy(self, tmp_path: Path) -> Ops:
        shutil.copytree(self.root, tmp_path / "ws")
        return Ops(tmp_path / "ws")


@pytest.fixture(scope="module")
def decided(ops_team: Ops, tmp_path_factory: pytest.TempPathFactory) -> Decided:
    root = tmp_path_factory.mktemp("decided") / "ws"
    shutil.copytree(ops_team.root, root)
    ws = Ops(root).ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go live")
    deployments.deploy(ws, "opal", V2, env="production", strategy="shadow", reason="s")
    frame = applicants(ws, 10).assign(age_years=35)
    res = scoring.Scorer.open(ws, "production", "scorer").score(frame, caller="cal")
    ids = res.answers.column("request_id").to_pylist()
    return Decided(root, ids)


def _file(tmp_path: Path, rows: dict[str, list[object]], name: str = "outcomes.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_outcomes_join_by_request_id_and_unknown_ids_are_reported(
    decided: Decided, tmp_path: Path
) -> None:
    ws = decided.copy(tmp_path).ws
    ids = decided.ids
    path = _file(
        tmp_path,
        {
            "rid": [ids[0], ids[1], ids[2], "r-unknown-1", "r-unknown-2"],
            "bad_credit": [1, 0, "bad credit risk", 1, 0],
        },
    )
    added = outcomes.add(ws, "opal", path, request_id_column="rid", outcome_column="bad_credit")
    assert added.matched == 3 and added.unmatched == ["r-unknown-1", "r-unknown-2"]
    assert added.batch is not None and (added.batch.rows, added.batch.matched) == (5, 3)
    got = outcomes.read(ws).to_pandas()
    assert got["request_id"].tolist() == ids[:3]  # nothing invented for the unknown ids
    assert got["outcome"].tolist() == [1, 0, 1]  # the declared positive class: bad risk
    nothing = outcomes.add(ws, "opal", _file(tmp_path, {"request_id": ["r-x"], "outcome": [1]},
                                             "none.csv"))  # fmt: skip
    assert nothing.batch is None and nothing.unmatched == ["r-x"]


def test_malformed_outcome_files_are_refused(decided: Decided, tmp_path: Path) -> None:
    ws = Ops(decided.root).ws
    before = ws.ledger.head()[0]
    ids = decided.ids
    cases = [
        ({"request_id": [ids[0]], "result": [1]}, "no column 'outcome'"),
        ({"request_id": [ids[0], ids[0]], "outcome": [1, 0]}, "repeat"),
        ({"request_id": [ids[0]], "outcome": ["maybe"]}, "neither"),
    ]
    for i, (rows, message) in enumerate(cases):
        with pytest.raises(UsageError, match=message):
            outcomes.add(ws, "opal", _file(tmp_path, rows, f"bad{i}.csv"))
    with pytest.raises(UsageError, match=r"csv or \.parquet"):
        outcomes.add(ws, "opal", _file(tmp_path, {"a": [1]}, "x.txt"))
    with pytest.raises(PermissionDeniedError):
        outcomes.add(ws, "cal", _file(tmp_path, {"request_id": [ids[0]], "outcome": [1]}))
    assert ws.ledger.head()[0] == before


def test_a_person_overrides_a_service_may_not(decided: Decided, tmp_path: Path) -> None:
    ws = decided.copy(tmp_path).ws
    rid = decided.ids[1]
    [found] = [f for f in decision_log.find(ws, rid) if f.row["returned"]]
    other = "declined" if found.row["decision"] == "approved" else "approved"
    before = ws.ledger.head()[0]
    with pytest.raises(PermissionDeniedError, match="only a person"):
        overrides.override(ws, "scorer", rid, outcome=other, reason="automatic")
    with pytest.raises(PermissionDeniedError, match="lacks the role"):
        overrides.override(ws, "cal", rid, outcome=other, reason="I disagree")
    with pytest.raises(UsageError, match="not a decision of"):
        overrides.override(ws, "opal", rid, outcome="perhaps", reason="r")
    with pytest.raises(NotFoundError):
        overrides.override(ws, "opal", "r-nosuch", outcome=other, reason="r")
    assert ws.ledger.head()[0] == before
    row = overrides.override(ws, "opal", rid, outcome=other, reason="income proof seen")
    assert (row.request_id, row.outcome, row.created_by, row.batch_seq) == (
        rid, other, "opal", found.batch.seq,
    )  # fmt: skip
    body = ws.ledger.entry(row.seq).decode()
    assert body["data"]["was"] == found.row["decision"] and body["reason"] == "income proof seen"
    # the logged decision is never rewritten
    assert decision_log.find(ws, rid)[0].row["decision"] == found.row["decision"]


def test_cli_outcome_add_and_override(decided: Decided, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    ops = decided.copy(tmp_path)
    path = _file(tmp_path, {"request_id": [decided.ids[4], "r-ghost"], "outcome": [0, 1]})
    run = CliRunner().invoke(
        app, ["--workspace", str(ops.root), "--as", "opal", "outcome", "add", str(path)]
    )
    assert run.exit_code == 0, run.output
    assert "recorded 1 outcomes" in run.output and "r-ghost" in run.output
    refused = CliRunner().invoke(
        app,
        ["--workspace", str(ops.root), "--as", "scorer", "decision", "override",
         decided.ids[4], "--outcome", "approved", "--reason", "bot"],
    )  # fmt: skip
    assert refused.exit_code == 2 and "only a person" in refused.output
    done = CliRunner().invoke(
        app,
        ["--workspace", str(ops.root), "--as", "opal", "--json", "decision", "override",
         decided.ids[4], "--outcome", "approved", "--reason", "reviewed by hand"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["created_by"] == "opal"
