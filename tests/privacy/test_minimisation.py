"""The data-minimisation report, checked against figures computed here independently.

German credit: the model's spec (read here with tomllib) and the feature view's SQL (read
here line by line) say which columns of the view and of the raw file the model uses; the
report must say the same, through the view. A table of another shape (people with names,
e-mail addresses, a postcode) must give the DPO's two verdicts: PII and sensitive columns no
model uses (drop candidates), and a PII column a model reads (FLAG).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from core.audit import admin
from core.data import snapshots, validation
from core.documents import privacy_reports
from core.identity import actors
from core.kernel.workspace import Workspace
from core.modelling import models, training
from core.privacy import minimisation
from tests.conftest import copy_workspace
from tests.privacy.people_data import SUITE, people_csv, spec

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"


def _entry(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(s for s in doc["snapshots"] if s["snapshot"] == ref)


def _uses(entry: dict[str, Any]) -> dict[str, set[str]]:
    """Per column, how it is used (input, target, fairness)."""
    return {c["name"]: {u["as"] for u in c["used_by"]} for c in entry["columns"]}


@pytest.fixture(scope="module")
def german(credit_registered: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """German credit (``column08`` sensitive) through its view to a registered model: a copy
    of the suite's ``credit_registered`` (its validator and auditor read nothing here)."""
    return copy_workspace(credit_registered, tmp_path_factory.mktemp("minimisation") / "ws")


def test_german_credit_matches_the_spec_and_the_views_sql(german: Workspace) -> None:
    doc = minimisation.report(german)
    spec_run = tomllib.loads((SAMPLE / "train.toml").read_text())["run"]
    expected_view = {key: {"fairness"} for key in spec_run["sensitive"]}
    expected_view[spec_run["target"]] = {"target"}
    expected_view.update({key: {"input"} for key in spec_run["features"]})
    view = _entry(doc, "german-credit-features@1")
    uses = _uses(view)
    assert {c: u for c, u in uses.items() if u} == expected_view
    assert view["unused"] == sorted(set(uses) - set(expected_view), key=list(uses).index)
    assert view["unused"] == ["credit_risk"]  # the readable label: no model reads it
    assert view["drop_candidates"] == [] and view["pii_used"] == []

    # the raw columns: each output line of the SQL names the raw columns it reads
    sql = (SAMPLE / "features.sql").read_text()
    select = sql.split("SELECT", 1)[1].rsplit("FROM", 1)[0]
    reads: dict[str, set[str]] = {}
    for line in select.splitlines():
        named = re.search(r"AS (\w+),?\s*$", line)
        if named:
            reads[named.group(1)] = set(re.findall(r"\bcolumn\d\d\b", line))
    expected_raw: dict[str, set[str]] = {}
    for output, how in expected_view.items():
        for raw_column in reads[output]:
            expected_raw.setdefault(raw_column, set()).update(how)
    raw = _entry(doc, "german-credit@1")
    assert {c: u for c, u in _uses(raw).items() if u} == expected_raw
    every_via = {tuple(u["via"]) for c in raw["columns"] for u in c["used_by"]}
    assert every_via == {("german-credit-features@1",)}
    # column08 (sex and personal status) is sensitive and used, for fairness checks only
    assert _uses(raw)["column08"] == {"fairness"} and raw["drop_candidates"] == []
    [model] = doc["models"]
    assert (model["model"], model["features"], model["pii_inputs"]) == (
        "credit-risk@1",
        spec_run["features"],
        [],
    )


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("people")
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    people_csv(root / "people.csv")
    snapshots.add(
        ws,
        "dana",
        root / "people.csv",
        dataset="people",
        pii=["name", "email", "phone", "zip"],
        sensitive=["sex", "age"],
    )
    people_csv(root / "prospects.csv", rows=15, tag="prospect")
    snapshots.add(ws, "dana", root / "prospects.csv", dataset="prospects", pii=["name"])
    (root / "suite.toml").write_text(SUITE)
    validation.run(ws, "alice", "people@1", root / "suite.toml")
    for name, feats in (("risk", ["income"]), ("local", ["income", "zip"])):
        (root / f"{name}.toml").write_text(spec("people@1", name, feats, ["sex"]))
        run = training.train(ws, "alice", root / f"{name}.toml")
        models.register(ws, "alice", run.run_id, name)
    return ws


def test_another_shape_gives_drop_candidates_and_a_pii_flag(people: Workspace) -> None:
    doc = minimisation.report(people)
    entry = _entry(doc, "people@1")
    uses = _uses(entry)
    assert uses["income"] == {"input"} and uses["default"] == {"target"}
    assert uses["sex"] == {"fairness"} and uses["zip"] == {"input"}
    # stored, tagged, read by no model: what the DPO may ask to drop
    assert entry["drop_candidates"] == ["name", "email", "phone", "age"]
    assert entry["pii_used"] == ["zip"]
    assert entry["verdicts"][0].startswith("FLAG: PII column(s) zip")
    assert entry["verdicts"][1].startswith("DROP CANDIDATES: PII or sensitive column(s) name")
    zip_users = next(c for c in entry["columns"] if c["name"] == "zip")["used_by"]
    assert [u["model"] for u in zip_users] == ["local@1"]
    prospects = _entry(doc, "prospects@1")
    assert prospects["used"] is False and prospects["drop_candidates"] == ["name"]
    assert any("no model uses prospects@1" in v for v in prospects["verdicts"])
    pii_inputs = {m["model"]: m["pii_inputs"] for m in doc["models"]}
    assert pii_inputs == {"risk@1": [], "local@1": ["zip"]}


def test_the_report_states_the_verdicts_plainly(people: Workspace, tmp_path: Path) -> None:
    before = people.ledger.head()[0]
    md, html, doc = privacy_reports.write_minimisation(people, "alice", tmp_path)
    assert doc["headline"].startswith("FLAG: 1 PII column(s) read by a model")
    assert "5 PII or sensitive column(s) used by no model" in doc["headline"]
    text = md.read_text()
    assert "| zip | BIGINT | PII | local@1 input | FLAG |" in text
    assert "| email | VARCHAR | PII | no model | DROP? |" in text
    assert "canary" not in text and "canary" not in html.read_text()  # names, never values
    recorded = people.ledger.entry(before + 1).decode()
    assert recorded["action"] == "report.minimisation"
    assert recorded["data"]["verdict"] == doc["headline"]
    # the JSON figures are the core's
    assert json.loads(json.dumps(doc["snapshots"])) == minimisation.report(people)["snapshots"]
