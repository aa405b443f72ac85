"""``bundle verify --recompute``: the headline figures recomputed from the bundled predictions.

A workspace trains a model on a generated table unlike German credit (three regions, a
small one, a label that is the good outcome), evaluates its fairness, and exports it in full
and with ``--data hashes``. The recomputation must agree with the signed evidence and with an
independent pandas/numpy computation, name a figure that was changed in the evidence or a
prediction that was changed in the bundle, and say plainly that a hashes-only bundle cannot
be recomputed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.audit import bundle
from core.data import snapshots, validation
from core.evidence import evaluation
from core.identity import actors, keys
from core.kernel.workspace import Workspace
from core.modelling import models, training
from storage import bundle_verifier
from tests.corpus import reference

SUITE = """
[suite]
name = "applicants"

[[checks]]
type = "row_count"
min = 100
"""

SPEC = """
[run]
name = "hire"
input = "applicants@1"
suite = "applicants"
target = "hired"
features = ["skill", "years", "test_score"]
sensitive = ["region", "band"]
seed = 3
test_size = 0.4
threshold = 0.45

[estimator]
type = "logistic_regression"
params = { C = 1.0, max_iter = 500 }

[outcome]
positive_label = 1
positive = "hired"
negative = "not hired"
favourable = "positive"
"""

EVALUATION = """
[evaluation]
name = "hiring-fairness"
seed = 5

[fairness]
attributes = ["region", "band"]
intersections = [["region", "band"]]
bootstrap = 20
severity = "warn"
"""


def _table(path: Path, n: int = 900, seed: int = 11) -> None:
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "islands"], size=n, p=[0.5, 0.4, 0.1])
    band = rng.choice(["junior", "senior"], size=n)
    skill = rng.normal(0, 1, n) + np.where(region == "south", -0.6, 0.0)
    years = rng.integers(0, 30, n)
    score = np.round(rng.normal(60, 10, n), 1)
    logit = 1.1 * skill + 0.04 * (years - 10) + 0.05 * (score - 60)
    hired = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    pd.DataFrame(
        {
            "skill": np.round(skill, 4),
            "years": years,
            "test_score": score,
            "region": region,
            "band": band,
            "hired": hired,
        }
    ).to_csv(path, index=False)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path, Path]:
    from core.audit import admin

    root = tmp_path_factory.mktemp("recompute")
    _table(root / "applicants.csv")
    (root / "suite.toml").write_text(SUITE)
    (root / "train.toml").write_text(SPEC)
    (root / "evaluation.toml").write_text(EVALUATION)
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "val", ["validator"])
    snapshots.add(ws, "alice", root / "applicants.csv", dataset="applicants")
    validation.run(ws, "alice", "applicants@1", root / "suite.toml")
    run = training.train(ws, "alice", root / "train.toml")
    models.register(ws, "alice", run.run_id, "hire")
    keys.create(ws, "val")
    models.sign(ws, "val", "hire@1")
    evaluation.evaluate(ws, "val", "hire@1", root / "evaluation.toml")
    full, hashes = root / "full.zip", root / "hashes.zip"
    bundle.export(ws, "alice", "hire@1", full)
    bundle.export(ws, "alice", "hire@1", hashes, data="hashes")
    return ws, full, hashes


def _rewrite(src: Path, dst: Path, name: str, change: object) -> None:
    """Copy a bundle, replacing one JSON member by ``change(doc)`` (then re-read unchecked)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == name:
                doc = json.loads(data)
                change(doc)  # type: ignore[operator]
                data = json.dumps(doc).encode()
            zout.writestr(info, data)


def _member(path: Path, suffix: str, prefix: str = "") -> tuple[str, dict]:  # type: ignore[type-arg]
    """The one member whose name starts with ``prefix`` and ends with ``suffix``."""
    with zipfile.ZipFile(path) as z:
        (name,) = [n for n in z.namelist() if n.startswith(prefix) and n.endswith(suffix)]
        return name, json.loads(z.read(name))


def test_full_bundle_figures_agree_with_the_evidence(bundles: tuple[Workspace, Path, Path]) -> None:
    _, full, _ = bundles
    result = bundle_verifier.recompute(str(full))
    assert result["possible"] and result["agrees"], result["differ"]
    figures = {c["figure"] for c in result["compared"]}
    run_figures = {f for f in figures if f.startswith("run ")}
    assert any(f.endswith("roc_auc") for f in run_figures)
    assert any(f.endswith("accuracy") for f in run_figures)
    for key in ("region", "band", "region × band"):
        assert any(f"({key}) equalized_odds_difference" in f for f in figures)
        assert any(f"({key}) demographic_parity_difference" in f for f in figures)
    assert any("group 'islands' tpr" in f for f in figures)


def test_recomputation_matches_an_independent_pandas_computation(
    bundles: tuple[Workspace, Path, Path],
) -> None:
    _, full, _ = bundles
    _, preds = _member(full, "/predictions.json")
    _, metrics = _member(full, "/metrics.json")
    y = np.asarray(preds["y_true"])
    proba = np.asarray(preds["probability"])
    pred = (proba >= 0.45).astype(int)
    assert metrics["threshold"] == 0.45
    ours = {c["figure"]: c["recomputed"] for c in bundle_verifier.recompute(str(full))["compared"]}
    (auc,) = [v for k, v in ours.items() if k.endswith(" roc_auc")]
    (acc,) = [v for k, v in ours.items() if k.endswith(" accuracy")]
    assert auc == pytest.approx(reference.roc_auc(y, proba), rel=1e-12)
    assert acc == pytest.approx(reference.accuracy(y, pred), rel=1e-12)
    region = pd.Series(preds["sensitive"]["region"])
    figures = reference.group_figures(y, pred, region, favourable_prediction=1)
    (eod,) = [v for k, v in ours.items() if k.endswith("(region) equalized_odds_difference")]
    assert eod == pytest.approx(figures.equalized_odds_difference, rel=1e-12)
    for g, rate in figures.favourable_rate.items():
        (got,) = [v for k, v in ours.items() if k.endswith(f"(region) group '{g}' selection_rate")]
        assert got == pytest.approx(rate, rel=1e-12)
        assert ours[next(k for k in ours if k.endswith(f"(region) group '{g}' tpr"))] == (
            pytest.approx(figures.tpr[g], rel=1e-12)
        )


def test_favourable_figures_only_where_the_evidence_declares_the_outcome(
    bundles: tuple[Workspace, Path, Path],
) -> None:
    _, full, _ = bundles
    result = bundle_verifier.recompute(str(full))
    _, ev = _member(full, ".json", prefix="evidence/evaluation-")
    declared = "outcome" in ev["sections"]["fairness"]
    said = any("does not declare the favourable outcome" in i for i in result["impossible"])
    recomputed_di = any(c["figure"].endswith("disparate_impact") for c in result["compared"])
    assert said is not declared
    assert recomputed_di is declared


def test_a_changed_figure_in_the_evidence_is_named(
    bundles: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    _, full, _ = bundles
    name, ev = _member(full, ".json", prefix="evidence/evaluation-")
    recorded = ev["sections"]["fairness"]["groups"]["region"]["equalized_odds_difference"]

    def kinder(doc: dict) -> None:  # type: ignore[type-arg]
        doc["sections"]["fairness"]["groups"]["region"]["equalized_odds_difference"] = 0.01

    forged = tmp_path / "forged.zip"
    _rewrite(full, forged, name, kinder)
    result = bundle_verifier.recompute(str(forged))
    assert not result["agrees"]
    (line,) = result["differ"]
    assert "(region) equalized_odds_difference" in line and "0.01" in line
    assert any(
        c["figure"].endswith("(region) equalized_odds_difference")
        and c["recomputed"] == pytest.approx(recorded, rel=1e-9)
        for c in result["compared"]
    )
    held, lines = bundle_verifier.recompute_lines(result)
    assert not held and lines[0].startswith("RECOMPUTED FIGURES DIFFER: 1 of")


def test_a_flipped_four_fifths_verdict_is_named(
    bundles: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    """The rule's yes/no is recomputed too: a kinder verdict beside honest figures differs."""
    _, full, _ = bundles
    name, ev = _member(full, ".json", prefix="evidence/evaluation-")
    region = ev["sections"]["fairness"]["groups"]["region"]

    def flipped(doc: dict) -> None:  # type: ignore[type-arg]
        groups = doc["sections"]["fairness"]["groups"]
        groups["region"]["four_fifths_rule"] = not region["four_fifths_rule"]

    forged = tmp_path / "flipped.zip"
    _rewrite(full, forged, name, flipped)
    result = bundle_verifier.recompute(str(forged))
    (line,) = result["differ"]
    assert "(region) four_fifths_rule" in line


def test_a_changed_prediction_is_named(
    bundles: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    _, full, _ = bundles
    name, preds = _member(full, "/predictions.json")
    # Flip the decision of every islands applicant: their rates and the gaps move.
    islands = [i for i, g in enumerate(preds["sensitive"]["region"]) if g == "islands"]

    def flip(doc: dict) -> None:  # type: ignore[type-arg]
        for i in islands:
            doc["probability"][i] = 1.0 - doc["probability"][i]

    forged = tmp_path / "flipped.zip"
    _rewrite(full, forged, name, flip)
    result = bundle_verifier.recompute(str(forged))
    assert not result["agrees"]
    assert any("group 'islands' selection_rate" in d for d in result["differ"])
    assert any(d.startswith("run ") and "roc_auc" in d for d in result["differ"])
    assert not any("group 'north'" in d for d in result["differ"])


def test_hashes_only_bundle_says_recomputation_is_not_possible(
    bundles: tuple[Workspace, Path, Path],
) -> None:
    _, _, hashes = bundles
    result = bundle_verifier.recompute(str(hashes))
    assert not result["possible"] and not result["compared"] and not result["differ"]
    assert any("digests only" in i and "--data hashes" in i for i in result["impossible"])
    held, lines = bundle_verifier.recompute_lines(result)
    assert held  # nothing differs; nothing was shown either, and the first line says so
    assert lines[0].startswith("RECOMPUTATION NOT POSSIBLE")


def test_cli_and_standalone_verifier_recompute(
    bundles: tuple[Workspace, Path, Path], tmp_path: Path, cli: object
) -> None:
    _, full, hashes = bundles
    done = cli("bundle", "verify", str(full), "--recompute")  # type: ignore[operator]
    assert done.returncode == 1, done.stderr  # unanchored, but every figure agrees
    assert "RECOMPUTED: all" in done.stdout
    done = cli("bundle", "verify", str(hashes), "--recompute", "--json")  # type: ignore[operator]
    report = json.loads(done.stdout)
    assert report["recompute"]["possible"] is False
    with zipfile.ZipFile(full) as z:
        (tmp_path / "verify.py").write_bytes(z.read("verify.py"))
    standalone = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "verify.py"), str(full), "--recompute"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert standalone.returncode == 1, standalone.stderr
    assert "RECOMPUTED: all" in standalone.stdout


def test_standalone_verifier_rejects_a_forged_figure_before_recomputing(
    bundles: tuple[Workspace, Path, Path], tmp_path: Path
) -> None:
    """Changing a member breaks the manifest: the bundle is rejected outright (exit 3)."""
    _, full, _ = bundles
    name, _ = _member(full, ".json", prefix="evidence/evaluation-")

    def kinder(doc: dict) -> None:  # type: ignore[type-arg]
        doc["sections"]["fairness"]["groups"]["band"]["disparate_impact"] = 1.0

    forged = tmp_path / "forged.zip"
    _rewrite(full, forged, name, kinder)
    assert bundle_verifier.main([str(forged), "--recompute"]) == bundle_verifier.EXIT_REJECTED


def test_old_evidence_is_recomputed_except_what_it_never_declared() -> None:
    """A bundle of ledgerml 0.1.0: its evidence predates declared outcomes."""
    old = Path(__file__).parents[1] / "data" / "bundles" / "v1" / "credit-risk-1.zip"
    result = bundle_verifier.recompute(str(old))
    assert result["possible"] and result["agrees"], result["differ"]
    assert any(c["figure"].endswith("(sex) equalized_odds_difference") for c in result["compared"])
    assert not any(c["figure"].endswith("disparate_impact") for c in result["compared"])
    assert result["impossible"] == [
        "evaluation-18: the evidence does not declare the favourable outcome, so the favourable "
        "rates and the disparate impact are not recomputed"
    ]
