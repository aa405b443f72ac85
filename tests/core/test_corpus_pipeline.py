"""The whole pipeline on the generated corpus, its verdicts checked by an independent computation.

For each table of :mod:`tests.corpus.generate` (a positive class that is the good outcome,
"?" codes, NULLs in a sensitive column, a sparse intersection, planted PII, a header-less
``", "`` file): snapshot → validate → view → validate → train → evaluate → reports → bundle.
The fairness figures the evidence records are recomputed with pandas and numpy alone
(:mod:`tests.corpus.reference`) from the source file itself, and must agree; where the
four-fifths rule must fail, the verdict must say so.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.audit import admin, bundle
from core.data import features, snapshots, tables, validation
from core.documents import modelcard
from core.evidence import evaluation
from core.identity import actors, keys
from core.kernel.workspace import Workspace
from core.modelling import models, training
from tests.corpus import generate, reference
from tests.corpus.generate import Table

ROW_COUNT = '[suite]\nname = "{name}"\n\n[[checks]]\ntype = "row_count"\nmin = 100\n'


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return generate.write_all(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = admin.init(tmp_path_factory.mktemp("corpus-ws") / "ws", "alice", reason="corpus")
    actors.add(ws, "alice", "val", ["validator"])
    keys.create(ws, "val")
    return ws


def _toml(value: Any) -> str:
    return json.dumps(value)  # TOML accepts JSON strings, numbers, booleans and lists


def pipeline(
    ws: Workspace,
    folder: Path,
    table: Table,
    name: str,
    *,
    view_sql: str,
    sensitive: list[str],
    feature_names: list[str],
    options: tables.ReadOptions | None = None,
    intersections: list[list[str]] | None = None,
) -> tuple[str, Any, dict[str, Any]]:
    """snapshot → validate → view → validate → train → register → sign → evaluate."""
    snap, _ = snapshots.add(
        ws, "alice", table.path, dataset=name, pii=table.pii, options=options, reason="corpus"
    )
    suite = folder / f"{name}-suite.toml"
    suite.write_text(ROW_COUNT.format(name=name))
    validation.run(ws, "alice", snap.ref, suite)
    (folder / f"{name}.sql").write_text(view_sql)
    (folder / f"{name}-view.toml").write_text(
        f'[view]\nname = "{name}-features"\nsql = "{name}.sql"\n\n'
        f'[inputs]\nraw = "{snap.ref}"\n\n[tags]\nsensitive = {_toml(sensitive)}\n'
    )
    view, _ = features.build(ws, "alice", folder / f"{name}-view.toml")
    view_suite = folder / f"{name}-view-suite.toml"
    view_suite.write_text(ROW_COUNT.format(name=f"{name}-features"))
    validation.run(ws, "alice", view.ref, view_suite)
    outcome = "\n".join(f"{k} = {_toml(v)}" for k, v in table.outcome.items())
    spec = folder / f"{name}-train.toml"
    spec.write_text(
        f'[run]\nname = "{name}"\ninput = "{view.ref}"\nsuite = "{name}-features"\n'
        f"target = {_toml(table.target)}\nfeatures = {_toml(feature_names)}\n"
        f"sensitive = {_toml(sensitive)}\nseed = 3\ntest_size = 0.4\n\n"
        f'[estimator]\ntype = "logistic_regression"\n\n[outcome]\n{outcome}\n'
    )
    run = training.train(ws, "alice", spec)
    models.register(ws, "alice", run.run_id, name)
    models.sign(ws, "val", f"{name}@1")
    evaluation_suite = folder / f"{name}-evaluation.toml"
    evaluation_suite.write_text(
        "[evaluation]\nseed = 1\n\n[fairness]\n"
        f"attributes = {_toml(sensitive)}\n"
        f"intersections = {_toml(intersections or [])}\n"
        "bootstrap = 40\nmin_group_size = 30\nmin_disparate_impact = 0.8\n"
        'severity = "error"\n'
    )
    _, evidence = evaluation.evaluate(ws, "val", f"{name}@1", evaluation_suite, reason="corpus")
    return f"{name}@1", run, evidence.to_json()


def held_out(ws: Workspace, run: Any, source: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The source file's rows the run held out, and the model's scores for them.

    Rows come from the source file read by pandas (not from ledgerml's copy), by the row
    numbers the run recorded; the scores are the run's, so only the fairness arithmetic and
    the label and group handling are recomputed.
    """
    preds = json.loads(ws.objects.read_verified(training.run_record(ws, run).predictions_object))
    return source.iloc[preds["row"]].reset_index(drop=True), np.asarray(preds["probability"])


def agrees(evidence: dict[str, Any], attribute: str, expected: reference.GroupFigures) -> None:
    """The evidence's table for one attribute matches the independent figures."""
    recorded = evidence["sections"]["fairness"]["groups"][attribute]
    rows = {r["group"]: r for r in recorded["table"] if r["count"]}
    assert {g: r["count"] for g, r in rows.items()} == expected.count
    for group, rate in expected.favourable_rate.items():
        assert rows[group]["favourable_rate"] == pytest.approx(rate, abs=1e-9)
        assert rows[group]["tpr"] == pytest.approx(expected.tpr[group], abs=1e-9, nan_ok=True)
        assert rows[group]["fpr"] == pytest.approx(expected.fpr[group], abs=1e-9, nan_ok=True)
    assert recorded["disparate_impact"] == pytest.approx(expected.disparate_impact, abs=1e-9)
    assert recorded["four_fifths_rule"] is expected.four_fifths_met
    assert recorded["equalized_odds_difference"] == pytest.approx(
        expected.equalized_odds_difference, abs=1e-9
    )


def verdict_of(evidence: dict[str, Any], prefix: str) -> str:
    [found] = [c for c in evidence["checks"] if c["name"].startswith(prefix)]
    return str(found["verdict"])


def test_loans_whose_positive_class_is_the_good_outcome(
    team: Workspace, corpus: dict[str, Any], tmp_path: Path
) -> None:
    table: Table = corpus["loans"]
    ref, run, evidence = pipeline(
        team,
        tmp_path,
        table,
        "loans",
        view_sql='SELECT income, debt, purpose, "group", gender, repaid FROM raw',
        sensitive=["group", "gender"],
        feature_names=["income", "debt", "purpose"],
        intersections=[["group", "gender"]],
    )
    source = pd.read_csv(table.path, keep_default_na=False, na_values=[""])
    rows, proba = held_out(team, run, source)
    y = (rows["repaid"] == 1).to_numpy()
    predicted = (proba >= 0.5).astype(int)
    for attribute in ("group", "gender"):
        expected = reference.group_figures(y, predicted, rows[attribute], favourable_prediction=1)
        agrees(evidence, attribute, expected)
    by_group = reference.group_figures(y, predicted, rows["group"], favourable_prediction=1)
    # The rule must fail here, and the inverted ratio (the old "predicted 0" default) would
    # have passed it: this is the case that misled before.
    assert not by_group.four_fifths_met
    assert verdict_of(evidence, "disparate impact on loan offered (group)") == "FAIL"
    assert evidence["verdict"] == "FAIL" and not evidence["passed"]
    # NULL genders are a group of their own, named, not dropped and not "nan".
    gender = evidence["sections"]["fairness"]["groups"]["gender"]["table"]
    assert "missing" in {r["group"] for r in gender} and "nan" not in {r["group"] for r in gender}
    # The sparse cell (women in group B) decides nothing: the comparison is inconclusive or
    # failed, never a pass.
    assert verdict_of(evidence, "disparate impact on loan offered (group × gender)") in {
        "INCONCLUSIVE",
        "FAIL",
    }
    # The workstation marks each attribute by its worst check, not only the whole evidence.
    from core.evidence import views

    shown = views.model_detail(team, ref).evidence
    assert shown is not None
    marks = {f.attribute: f.verdict for f in shown.fairness}
    assert marks["group"] == "FAIL" and marks["group × gender"] in {"INCONCLUSIVE", "FAIL"}
    # The model card speaks the table's language, not credit's.
    md, _ = modelcard.write_card(team, "val", ref, tmp_path / "reports")
    card = md.read_text()
    assert "loan offered" in card and "repays" in card
    for credit_word in ("bad risk", "bad credit", "flagged"):
        assert credit_word not in card.lower()
    assert "Evidence verdict: **FAIL**" in card
    # The bundle lets an auditor recompute the figures from its test predictions.
    out = tmp_path / "loans.zip"
    bundle.export(team, "alice", ref, out, data="full")
    report = bundle.verify(out, recompute=True)
    figures = report["recompute"]
    assert figures["possible"] and not figures["differ"], report["recompute_lines"]
    recomputed = " ".join(c["figure"] for c in figures["compared"])
    for headline in ("disparate_impact", "favourable_rate", "roc_auc", "accuracy"):
        assert headline in recomputed, recomputed
    # A signer who keeps the figures honest but calls the failing rule a pass is caught.
    from storage import bundle_verifier
    from tests.core.test_recompute import _member, _rewrite

    name, _ = _member(out, ".json", prefix="evidence/evaluation-")

    def kinder(doc: dict[str, Any]) -> None:
        for check in doc["checks"]:
            check.update(passed=True, verdict="PASS")
        doc.update(verdict="PASS", passed=True, errors=0)

    forged = tmp_path / "kinder.zip"
    _rewrite(out, forged, name, kinder)
    differ = " ".join(bundle_verifier.recompute(str(forged))["differ"])
    assert "disparate impact on loan offered (group)' passed" in differ


def test_clinic_with_codes_for_missing_and_planted_pii(
    team: Workspace, corpus: dict[str, Any], tmp_path: Path
) -> None:
    table: Table = corpus["clinic"]
    options = tables.ReadOptions(na_values=("?",))
    ref, run, evidence = pipeline(
        team,
        tmp_path,
        table,
        "clinic",
        view_sql=(
            "SELECT patient_name, age, dose, COALESCE(bmi, 26.0) AS bmi, bmi IS NULL AS "
            "bmi_missing, ward, ethnicity, outcome FROM raw"
        ),
        sensitive=["ethnicity"],
        feature_names=["age", "dose", "bmi", "bmi_missing", "ward"],
        options=options,
    )
    with team.session() as s:
        raw = snapshots.resolve(s.catalog, "clinic@1")
        view = snapshots.resolve(s.catalog, "clinic-features@1")
    # "?" is missing everywhere downstream: the profile counts it as a null, not a value.
    source = pd.read_csv(table.path, keep_default_na=False, na_values=["?"])
    profile = snapshots.load_profile(team, raw)
    assert profile["columns"]["ethnicity"]["nulls"] == int(source["ethnicity"].isna().sum()) > 0
    assert profile["columns"]["bmi"]["nulls"] == int(source["bmi"].isna().sum()) > 0
    # The PII tag followed the name into the view.
    assert "patient_name" in view.pii
    rows, proba = held_out(team, run, source)
    y = (rows["outcome"] == "recovered").to_numpy()
    expected = reference.group_figures(
        y, (proba >= 0.5).astype(int), rows["ethnicity"], favourable_prediction=1
    )
    assert "missing" in expected.count
    agrees(evidence, "ethnicity", expected)
    # A hashes-only bundle carries none of the planted values.
    out = tmp_path / "clinic-hashes.zip"
    bundle.export(team, "alice", ref, out, data="hashes")
    with zipfile.ZipFile(out) as z:
        blob = b"".join(z.read(n) for n in z.namelist())
    assert table.planted and not [p for p in table.planted if p.encode() in blob]
    # ...and the scan can find them where they are allowed: the source file.
    assert all(p.encode() in table.path.read_bytes() for p in table.planted)


def test_a_headerless_comma_space_file_with_names_and_codes(
    team: Workspace, corpus: dict[str, Any], tmp_path: Path
) -> None:
    table: Table = corpus["census"]
    options = tables.ReadOptions(header=False, names=tuple(table.columns), na_values=("?",))
    _, run, evidence = pipeline(
        team,
        tmp_path,
        table,
        "census",
        view_sql="SELECT age, COALESCE(workclass, 'unknown') AS workclass, hours_per_week, "
        "sex, income FROM raw",
        sensitive=["sex"],
        feature_names=["age", "workclass", "hours_per_week"],
        options=options,
    )
    source = pd.read_csv(
        table.path,
        header=None,
        names=table.columns,
        skipinitialspace=True,
        na_values=["?"],
        keep_default_na=False,
    )
    rows, proba = held_out(team, run, source)
    y = (rows["income"] == ">50K").to_numpy()
    expected = reference.group_figures(
        y, (proba >= 0.5).astype(int), rows["sex"], favourable_prediction=1
    )
    # Values were trimmed: the groups are "Female"/"Male", not " Female".
    assert set(expected.count) == {"Female", "Male"}
    agrees(evidence, "sex", expected)


def test_a_vendor_score_already_in_the_data(
    team: Workspace, corpus: dict[str, Any], tmp_path: Path
) -> None:
    """An existing score (a vendor's probability of default) audited without a model here."""
    from core.documents import scorecard
    from core.evidence import score_evaluation

    table: Table = corpus["vendor"]
    snap, _ = snapshots.add(team, "alice", table.path, dataset="vendor", reason="corpus")
    spec = tmp_path / "score.toml"
    outcome = "\n".join(f"{k} = {_toml(v)}" for k, v in table.outcome.items())
    spec.write_text(
        '[score]\ncolumn = "vendor_score"\nkind = "probability"\nlabel = "defaulted"\n'
        f"threshold = 0.5\nsensitive = {_toml(table.sensitive)}\n\n[outcome]\n{outcome}\n"
    )
    suite = tmp_path / "score-suite.toml"
    suite.write_text(
        "[evaluation]\nseed = 1\n\n[fairness]\n"
        f"attributes = {_toml(table.sensitive)}\nbootstrap = 40\nmin_disparate_impact = 0.8\n"
    )
    _, typed = score_evaluation.evaluate(team, "val", snap.ref, spec, suite, reason="corpus")
    evidence = typed.to_json()
    source = pd.read_csv(table.path)
    y = source["defaulted"].to_numpy()
    declined = (source["vendor_score"] >= 0.5).astype(int).to_numpy()
    # Favourable is the negative prediction ("approved"): rates of predicted 0 per region.
    expected = reference.group_figures(y, declined, source["region"], favourable_prediction=0)
    assert not expected.four_fifths_met  # rural applicants are declined far more often
    agrees(evidence, "region", expected)
    assert verdict_of(evidence, "disparate impact on approved (region)") == "FAIL"
    summary = evidence["score"]["summary"]
    assert summary["roc_auc"] == pytest.approx(
        reference.roc_auc(y, source["vendor_score"].to_numpy()), abs=1e-9
    )
    assert summary["accuracy"] == pytest.approx(reference.accuracy(y, declined), abs=1e-9)
    md, _ = scorecard.write(team, "val", f"{snap.ref}#vendor_score", tmp_path / "reports")
    card = md.read_text()
    assert "approved" in card and "FAIL" in card and "credit" not in card.lower()
