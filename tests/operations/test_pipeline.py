"""``ledgerml pipeline run`` on the real sample data: the gates as tests, the run as an event.

A lean workspace of its own (no model yet: the passing pipeline trains the only one), so the
module costs one training and one evaluation.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from tests.operations.conftest import CAST, POLICY, SAMPLE

STEPS = """
[[step]]
name = "snapshot"
do = "snapshot"
as = "sam"
file = "{S}/german.data"
dataset = "german-credit"

[[step]]
name = "validate raw"
do = "validate"
as = "vic"
target = "{{snapshot}}"
suite = "{RAW_SUITE}"

[[step]]
name = "features"
do = "feature"
as = "sam"
view = "{S}/features.toml"

[[step]]
name = "validate features"
do = "validate"
as = "sam"
target = "{{view}}"
suite = "{S}/features_suite.toml"

[[step]]
name = "train"
do = "train"
as = "sam"
spec = "{S}/train.toml"

[[step]]
name = "register"
do = "register"
as = "sam"
model-name = "credit-risk"

[[step]]
name = "sign"
do = "sign"
as = "sam"

[[step]]
name = "evaluate"
do = "evaluate"
as = "vic"
suite = "{S}/evaluation.toml"

[[step]]
name = "validated"
do = "promote"
as = "vic"
to = "validated"

[[step]]
name = "ask for approval"
do = "approval-request"
as = "sam"
out = "request.json"

[[step]]
name = "stage it"
do = "deploy"
as = "opal"
env = "staging"
"""


def pipeline_text(raw_suite: Path = SAMPLE / "raw_suite.toml") -> str:
    head = '[pipeline]\nname = "credit-risk-ci"\nreason = "CI run"\n'
    return head + STEPS.format(S=SAMPLE, RAW_SUITE=raw_suite)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Alice, the operations cast and the test policy; no data yet."""
    from core.audit import admin
    from core.governance import policy
    from core.identity import actors

    root = tmp_path_factory.mktemp("pipe") / "ws"
    ws = admin.init(root, "alice", reason="test")
    for name, (roles, kind) in CAST.items():
        actors.add(ws, "alice", name, roles, kind=kind)
    policy.install(ws, "alice", POLICY, reason="test policy")
    return root


@pytest.fixture
def ws_root(base: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(base, copy)
    return copy


def cli(root: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--workspace", str(root), "--as", "alice", *args])


def head(root: Path) -> int:
    from core.kernel.workspace import Workspace

    return int(Workspace.open(root).ledger.head()[0])


def runs(root: Path) -> list[dict[str, Any]]:
    from core.kernel.workspace import Workspace

    with Workspace.open(root).session("") as s:
        return [
            json.loads(e.body)
            for e in s.catalog.events(action="pipeline.run")  # the signed events themselves
        ]


def cases(report: Path) -> dict[str, str]:
    """Each JUnit test case's outcome: passed, failure (with its message) or skipped."""
    out = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failure, skipped = case.find("failure"), case.find("skipped")
        if failure is not None:
            out[case.get("name", "")] = "failure: " + failure.get("message", "")
        else:
            out[case.get("name", "")] = "skipped" if skipped is not None else "passed"
    return out


def test_a_pipeline_that_passes_end_to_end(ws_root: Path, tmp_path: Path) -> None:
    from core.kernel.workspace import Workspace
    from core.operations import views

    path = tmp_path / "pipeline.toml"
    path.write_text(pipeline_text())
    report = tmp_path / "junit.xml"
    result = cli(ws_root, "pipeline", "run", str(path), "--junit", str(report),
                 "--out-dir", str(tmp_path / "out"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert set(cases(report).values()) == {"passed"} and len(cases(report)) == 11
    assert (tmp_path / "out" / "request.json").exists()  # the offline approval request
    [run] = runs(ws_root)
    data = run["data"]
    assert data["status"] == "passed" and data.get("failed_step") is None
    steps = {s["name"]: s for s in data["steps"]}
    assert steps["snapshot"]["events"] and steps["stage it"]["as"] == "opal"
    assert steps["ask for approval"]["events"] == []  # a request records nothing
    ws = Workspace.open(ws_root)
    # the report the event names is the one written, byte for byte
    assert ws.objects.read_verified(data["report_digest"]) == report.read_bytes()
    assert ws.objects.read_verified(data["spec_digest"]) == path.read_bytes()
    with ws.session("") as s:
        actor_of = {e.seq: e.actor for e in s.catalog.events()}
    for step in data["steps"]:  # each listed event is the step actor's own
        assert all(actor_of[seq] == step["as"] for seq in step["events"]), step
    staged = views.deployed_at(ws, env="staging").deployments
    assert [(d.row.model, d.row.created_by) for d in staged] == [("credit-risk@1", "opal")]


def test_a_failing_validation_gate_stops_the_pipeline(ws_root: Path, tmp_path: Path) -> None:
    strict = tmp_path / "strict_suite.toml"
    extra = '\n[[checks]]\nname = "five thousand rows"\ntype = "row_count"\nmin = 5000\n'
    strict.write_text((SAMPLE / "raw_suite.toml").read_text() + extra)
    path = tmp_path / "pipeline.toml"
    path.write_text(pipeline_text(strict))
    report = tmp_path / "junit.xml"
    result = cli(ws_root, "pipeline", "run", str(path), "--junit", str(report))
    assert result.exit_code == 1, result.output
    outcome = cases(report)
    assert outcome["snapshot"] == "passed"
    assert outcome["validate raw"].startswith("failure: validation gate FAILED")
    assert [outcome[n] for n in ("features", "train", "stage it")] == ["skipped"] * 3
    [run] = runs(ws_root)
    data = run["data"]
    assert data["status"] == "failed" and data["failed_step"] == "validate raw"
    failed = [s for s in data["steps"] if s["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["exit_code"] == 1
    assert failed[0]["events"]  # the failing validation is evidence too
    assert {s["status"] for s in data["steps"][2:]} == {"skipped"}
    listed = cli(ws_root, "--json", "pipeline", "runs")
    assert [r["status"] for r in json.loads(listed.output)] == ["failed"]


def test_a_failed_run_relabelled_passed_in_the_catalog_is_detected(
    ws_root: Path, tmp_path: Path
) -> None:
    """The insider's edit: the CI history says a refused pipeline passed."""
    import duckdb

    from core.audit import verification
    from core.kernel.workspace import Workspace

    path = tmp_path / "p.toml"
    path.write_text(
        '[pipeline]\nname = "p"\nreason = "r"\n\n[[step]]\nname = "snap"\ndo = "snapshot"\n'
        f'as = "sam"\nfile = "{tmp_path}/missing.csv"\ndataset = "german-credit"\n'
    )
    assert cli(ws_root, "pipeline", "run", str(path)).exit_code == 2  # bad input, recorded
    assert verification.verify(Workspace.open(ws_root)).failures == []
    con = duckdb.connect(str(ws_root / "catalog.duckdb"))
    try:
        con.execute("UPDATE pipeline_runs SET status = 'passed', failed_step = NULL")
    finally:
        con.close()
    failures = verification.verify(Workspace.open(ws_root)).failures
    assert any("pipeline_runs" in f for f in failures), failures


def test_a_step_as_the_wrong_role_fails_the_run_with_its_error(
    ws_root: Path, tmp_path: Path
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[pipeline]\nname = "p"\nreason = "r"\n\n[[step]]\nname = "snap"\ndo = "snapshot"\n'
        f'as = "cal"\nfile = "{SAMPLE}/german.data"\ndataset = "german-credit"\n'
    )
    result = cli(ws_root, "--json", "pipeline", "run", str(path))
    assert result.exit_code == 2
    out = json.loads(result.output)
    assert out["status"] == "failed" and "cal" in out["steps"][0]["detail"]
    assert runs(ws_root)[0]["data"]["failed_step"] == "snap"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[pipeline\n", "not valid TOML"),
        ('[pipeline]\nname = "p"\n', "reason"),
        ('[pipeline]\nname = "p"\nreason = "r"\nbogus = 1\n', "bogus"),
        ('[pipeline]\nname = "p"\nreason = "r"\n\n[[step]]\nname = "x"\ndo = "rm"\nas = "a"\n',
         "do = 'rm'"),
        ('[pipeline]\nname = "p"\nreason = "r"\n\n[[step]]\nname = "x"\ndo = "sign"\nas = "sam"\n',
         "before a step fills it"),
        ('[pipeline]\nname = "p"\nreason = "r"\n\n[[step]]\nname = "x"\ndo = "train"\n'
         'as = "sam"\nspec = "t.toml"\nseed = 3\n', "seed"),
    ],
)  # fmt: skip
def test_a_malformed_pipeline_records_nothing(
    ws_root: Path, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    before = head(ws_root)
    result = cli(ws_root, "pipeline", "run", str(path))
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert head(ws_root) == before


def test_the_sample_pipeline_parses() -> None:
    from core.operations import pipeline

    spec = pipeline.load(SAMPLE / "pipeline.toml")
    assert list(dict.fromkeys(s.do for s in spec.steps)) == list(pipeline.STEP_KINDS)
