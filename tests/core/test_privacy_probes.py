"""Privacy evidence beside membership inference: attribute inference and the DP curve.

Real workspaces, real models, real signed evaluations. The attribute-inference figures are
recomputed here with scikit-learn directly; the DP learners are held to their definitions
(no noise: the plain regularised fit; the noise: the distribution the algorithm draws).
Two tables: German credit (1,000 rows, the sample spec) and a synthetic table where one
sensitive attribute is recoverable from the score (the probe must FAIL) and one is not (it
must PASS).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.audit import admin
from core.data import snapshots, validation
from core.documents import modelcard
from core.evidence import attribute_inference, dp, evaluation, privacy_budget
from core.evidence.document import Evidence
from core.evidence.sections.attribute_inference import AttributeInference, encode
from core.evidence.sections.differential_privacy import DifferentialPrivacy
from core.evidence.suite import load_suite
from core.identity import actors, keys
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace
from core.modelling import models, training
from storage.canonical import canonical_bytes
from tests.conftest import copy_workspace

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"
SEED = 3


def _suite(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(f"[evaluation]\nseed = {SEED}\n{text}")
    return path


@pytest.fixture(scope="module")
def credit(credit_keyed: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    """The sample credit-risk model, an evaluator with a key (a copy of ``credit_keyed``)."""
    tmp = tmp_path_factory.mktemp("credit")
    return copy_workspace(credit_keyed, tmp / "ws"), tmp


def _synthetic(tmp: Path, rows: int = 600) -> Path:
    """x_secret is a proxy of s_leak; s_free is independent of everything; PII has canaries."""
    rng = np.random.default_rng(11)
    s_leak = rng.integers(0, 2, rows)
    x_secret = s_leak * 2.0 + rng.normal(scale=0.5, size=rows)
    x_public = rng.normal(size=rows)
    y = (x_secret + x_public + rng.normal(scale=0.7, size=rows) > 1.0).astype(int)
    pd.DataFrame(
        {
            "x_public": x_public,
            "x_secret": x_secret,
            "s_leak": np.where(s_leak == 1, "yes", "no"),
            "s_free": rng.choice(["a", "b", "c"], rows),
            "tribe": rng.choice(["CANARY-ONE", "CANARY-TWO"], rows),
            "y": y,
        }
    ).to_csv(tmp / "people.csv", index=False)
    return tmp / "people.csv"


def _train(ws: Workspace, tmp: Path, name: str, estimator: str, extra: str = "") -> str:
    spec = tmp / f"{name}.toml"
    spec.write_text(
        f'[run]\nname = "{name}"\ninput = "people@1"\nsuite = "people"\ntarget = "y"\n'
        'features = ["x_public", "x_secret"]\nsensitive = ["s_leak", "s_free"]\n'
        "seed = 5\ntest_size = 0.3\n"
        '[outcome]\npositive_label = 1\npositive = "yes"\nnegative = "no"\n'
        'favourable = "positive"\n'
        f'[estimator]\ntype = "{estimator}"\n'
        + (f"params = {{ {extra.strip()} }}\n" if extra else "")
    )
    run = training.train(ws, "alice", spec)
    return models.register(ws, "alice", run.run_id, name)[0].ref


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path, dict[str, str]]:
    """A synthetic table and three models on it: logistic, random forest, gradient boosting."""
    tmp = tmp_path_factory.mktemp("people")
    ws = admin.init(tmp / "ws", "alice")
    actors.add(ws, "alice", "val", ["validator"])
    keys.create(ws, "val")
    snapshots.add(
        ws,
        "alice",
        _synthetic(tmp),
        dataset="people",
        sensitive=["s_leak", "s_free"],
        pii=["tribe"],
    )
    suite = tmp / "people_suite.toml"
    suite.write_text('[suite]\nname = "people"\n[[checks]]\ntype = "row_count"\nmin = 1\n')
    validation.run(ws, "alice", "people@1", suite)
    refs = {
        "logistic": _train(ws, tmp, "leaky", "logistic_regression"),
        "forest": _train(ws, tmp, "forest", "random_forest", "n_estimators = 20\n"),
        "boosting": _train(ws, tmp, "boosted", "gradient_boosting", "n_estimators = 20\n"),
    }
    return ws, tmp, refs


# --- attribute inference ------------------------------------------------------------------


@pytest.fixture(scope="module")
def leaky(people: tuple[Workspace, Path, dict[str, str]]) -> Evidence:
    """The logistic model's signed evidence; the adversary knows x_public, not x_secret."""
    ws, tmp, refs = people
    suite = _suite(tmp, "ai.toml", '[attribute_inference]\nknown = ["x_public"]\nbootstrap = 20\n')
    return evaluation.evaluate(ws, "val", refs["logistic"], suite)[1]


def test_a_recoverable_attribute_fails_and_an_independent_one_passes(leaky: Evidence) -> None:
    evidence = leaky
    section = evidence.section(AttributeInference)
    assert section is not None
    probes = {p.attribute: p for p in section.probes}
    # The snapshot declares s_leak, s_free (sensitive) and tribe (PII): all probed by default.
    assert set(probes) == {"s_leak", "s_free", "tribe"}
    leak, free = probes["s_leak"], probes["s_free"]
    assert leak.verdict == "FAIL" and leak.advantage > 0.2
    assert leak.without_score.roc_auc < 0.6 < leak.with_score.roc_auc
    assert free.verdict == "PASS" and abs(free.advantage) < 0.05
    assert free.classes == 3 and free.class_names == ["a", "b", "c"]
    checks = {c.name: c for c in evidence.checks if c.section == "attribute_inference"}
    assert checks["attribute inference advantage (s_leak)"].verdict == "FAIL"
    assert checks["attribute inference advantage (s_free)"].verdict == "PASS"
    assert not evidence.passed and evidence.verdict == "FAIL"
    lo, hi = leak.interval_95
    assert lo is not None and hi is not None and lo <= leak.advantage <= hi


def test_attacker_figures_match_scikit_learn_computed_directly(
    people: tuple[Workspace, Path, dict[str, str]], leaky: Evidence
) -> None:
    """The independent check: the same attack, written out with scikit-learn alone."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    ws, _, refs = people
    section = leaky.section(AttributeInference)
    assert section is not None
    leak = next(p for p in section.probes if p.attribute == "s_leak")

    with ws.session() as s:
        model = models.resolve(s.catalog, refs["logistic"])
        run = models.resolve_run(s.catalog, model.run_id)
        snap = snapshots.resolve(s.catalog, run.input_ref)
    frame = training.load_table(ws, snap, ["x_public", "x_secret", "s_leak"])
    preds = json.loads(ws.objects.read_verified(training.run_record(ws, run).predictions_object))
    train_rows = np.setdiff1d(np.arange(len(frame)), preds["row"])
    pipeline = models.load(ws, model.ref, purpose="evaluate")
    members = frame.iloc[train_rows]
    p = np.clip(pipeline.predict_proba(members[["x_public", "x_secret"]])[:, 1], 1e-6, 1 - 1e-6)
    known = members["x_public"].to_numpy()
    cols = np.column_stack([known, p, np.log(p / (1 - p))])
    cols = (cols - cols.mean(axis=0)) / cols.std(axis=0)
    target = members["s_leak"].astype(str).to_numpy()
    classes = np.unique(target)  # as the table stored them
    split = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    attacker = LogisticRegression(max_iter=500, tol=1e-3, class_weight="balanced")
    for matrix, figures in ((cols, leak.with_score), (cols[:, :1], leak.without_score)):
        proba = cross_val_predict(attacker, matrix, target, cv=split, method="predict_proba")
        guess = classes[proba.argmax(axis=1)]
        assert figures.roc_auc == pytest.approx(roc_auc_score(target == classes[1], proba[:, 1]))
        assert figures.accuracy == pytest.approx(accuracy_score(target, guess))
        assert figures.balanced_accuracy == pytest.approx(balanced_accuracy_score(target, guess))
    assert leak.majority_rate == pytest.approx(max(np.mean(target == c) for c in classes))


def test_the_rank_auc_of_the_bootstrap_is_scikit_learns() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    target = rng.choice(["a", "b", "c"], 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    classes = np.array(["a", "b", "c"])
    assert attribute_inference.rank_auc(target, proba, classes) == pytest.approx(
        roc_auc_score(target, proba, multi_class="ovr", average="macro", labels=classes)
    )
    two = np.array(["a", "b"])
    binary = rng.choice(two, 300)
    p2 = np.column_stack([1 - proba[:, 0], np.round(proba[:, 0], 1)])  # ties counted half
    assert attribute_inference.rank_auc(binary, p2, two) == pytest.approx(
        roc_auc_score(binary == "b", p2[:, 1])
    )


def test_pii_values_never_enter_the_evidence_and_the_thresholds_grade_the_verdict(
    people: tuple[Workspace, Path, dict[str, str]],
) -> None:
    ws, tmp, refs = people
    suite = _suite(
        tmp,
        "ai3.toml",
        '[attribute_inference]\nattributes = ["tribe", "s_leak"]\nknown = ["x_public"]\n'
        "bootstrap = 0\nmax_advantage = 0.9\nwarn_advantage = 0.05\n",
    )
    _, evidence = evaluation.evaluate(ws, "val", refs["logistic"], suite)
    assert b"CANARY" not in evidence.to_bytes()
    section = evidence.section(AttributeInference)
    assert section is not None
    tribe = next(p for p in section.probes if p.attribute == "tribe")
    assert tribe.pii and tribe.class_names is None and tribe.classes == 2
    leak = next(p for p in section.probes if p.attribute == "s_leak")
    # Above warn_advantage, below max_advantage: WARN, counted as a warning, not a failure.
    assert leak.verdict == "WARN" and evidence.passed and evidence.warnings >= 1
    assert leak.interval_95 == [None, None]


def test_a_model_input_is_labelled_and_an_identifier_is_inconclusive(
    people: tuple[Workspace, Path, dict[str, str]],
) -> None:
    ws, tmp, refs = people
    suite = _suite(
        tmp,
        "ai4.toml",
        '[attribute_inference]\nattributes = ["x_secret"]\nbootstrap = 0\n'
        'max_classes = 4\nattacker = "forest"\nfolds = 2\n',
    )
    _, evidence = evaluation.evaluate(ws, "val", refs["logistic"], suite)
    section = evidence.section(AttributeInference)
    assert section is not None
    probe = next(p for p in section.probes if p.attribute == "x_secret")
    assert probe.model_input and probe.encoding == "quartiles" and probe.classes == 4
    assert section.attacker == "forest" and probe.advantage > 0.2  # the score carries it
    assert "x_secret" not in section.known  # an attribute is never among the known inputs
    # A text column with more values than max_classes cannot be probed: INCONCLUSIVE.
    values = pd.Series([f"person-{i}" for i in range(50)])
    target, _, why = encode(values, pii=True, folds=5, max_classes=10)
    assert target is None and "50 distinct values" in why and "person-" not in why


def test_german_credit_passes_and_its_evidence_is_deterministic(
    credit: tuple[Workspace, Path],
) -> None:
    ws, tmp = credit
    suite_path = _suite(
        tmp,
        "gc.toml",
        '[attribute_inference]\nattributes = ["sex", "age_years"]\nbootstrap = 0\nfolds = 3\n'
        "[differential_privacy]\nepsilons = [0.5, 10]\nrepeats = 2\n",
    )
    suite, _ = load_suite(suite_path)
    with ws.session() as s:
        model = models.resolve(s.catalog, "credit-risk@1")
    first = evaluation.compute(ws, model, suite, "d")
    assert canonical_bytes(first.to_json()) == canonical_bytes(
        evaluation.compute(ws, model, suite, "d").to_json()
    )
    section = first.section(AttributeInference)
    assert section is not None and section.population.endswith("(members)")
    assert {p.attribute: p.verdict for p in section.probes} == {"sex": "PASS", "age_years": "PASS"}
    assert next(p for p in section.probes if p.attribute == "age_years").encoding == "quartiles"
    # The adversary knows the model's inputs, none of them sensitive.
    assert set(section.known) == set(model_features(ws, "credit-risk@1"))
    curve = first.section(DifferentialPrivacy)
    assert curve is not None and curve.applicable
    assert [p.epsilon for p in curve.curve] == [0.5, 10.0]
    assert curve.curve[1].mean > curve.curve[0].mean
    assert curve.epsilon_spent == 21.0 and curve.variants_trained == 4
    assert "not the model itself" in curve.subject


def model_features(ws: Workspace, ref: str) -> list[str]:
    with ws.session() as s:
        run = models.resolve_run(s.catalog, models.resolve(s.catalog, ref).run_id)
    return list(training.load_run_spec(ws, run).features)


# --- differential privacy -----------------------------------------------------------------


def test_objective_perturbation_without_noise_is_the_regularised_fit() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 6))
    y = (x[:, 0] - x[:, 1] + rng.normal(size=400) > 0).astype(int)
    unit = dp.unit_rows(np.clip(x, -3, 3), math.sqrt(6 * 9))
    assert np.linalg.norm(unit, axis=1).max() <= 1 + 1e-12
    l2 = 0.01
    w = dp.logistic_regression(unit, y, math.inf, l2, np.random.default_rng(0))
    plain = LogisticRegression(C=1 / (len(y) * l2), fit_intercept=False, tol=1e-12, max_iter=5000)
    assert np.allclose(w, plain.fit(unit, y).coef_[0], atol=1e-5)


def test_objective_perturbation_draws_the_noise_of_its_definition() -> None:
    n, d, eps, l2 = 700, 20, 1.0, 0.01
    rng = np.random.default_rng(2)
    draws = [dp.perturbation(n, d, eps, l2, rng) for _ in range(3000)]
    expected = eps - math.log(1 + 2 * 0.25 / (n * l2) + (0.25 / (n * l2)) ** 2)
    assert draws[0].epsilon_prime == pytest.approx(expected) and draws[0].delta == 0
    norms = np.array([np.linalg.norm(p.noise) for p in draws])
    # |b| ~ Gamma(d, 2/ε'): mean 2d/ε', variance 4d/ε'².
    assert norms.mean() == pytest.approx(2 * d / expected, rel=0.02)
    assert norms.var() == pytest.approx(4 * d / expected**2, rel=0.1)
    # A small ε with a weak regulariser: extra regularisation Δ and ε' = ε/2.
    tight = dp.perturbation(50, d, 0.1, 1e-4, rng)
    assert tight.epsilon_prime == 0.05
    assert tight.delta == pytest.approx(0.25 / (50 * math.expm1(0.1 / 4)) - 1e-4)


def test_random_trees_count_exactly_without_noise_and_add_laplace_noise() -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(2000, 3))
    y = (x[:, 0] > 0).astype(int)
    low, high = np.full(3, -1.0), np.full(3, 1.0)
    exact = dp.random_trees(x, y, math.inf, 4, 3, low, high, np.random.default_rng(9))
    assert sum(t.counts.sum() for t in exact) == 2000
    assert all(np.allclose(t.counts, np.round(t.counts)) for t in exact)
    noisy = dp.random_trees(x, y, 0.5, 4, 3, low, high, np.random.default_rng(9))
    diff = np.concatenate(
        [(a.counts - b.counts).ravel() for a, b in zip(noisy, exact, strict=True)]
    )
    # Laplace of scale 2/ε has standard deviation √2 · 2/ε (same seed: same splits).
    assert diff.std() == pytest.approx(math.sqrt(2) * 4, rel=0.35)
    p = dp.forest_proba(exact, x)
    assert ((p >= 0) & (p <= 1)).all()


def test_budget_is_signed_in_the_event_and_summed_per_snapshot(
    credit: tuple[Workspace, Path],
) -> None:
    ws, tmp = credit
    before = privacy_budget.spent(ws, "german-credit-features@1")
    suite = _suite(tmp, "dp.toml", "[differential_privacy]\nepsilons = [1, 2]\nrepeats = 1\n")
    seq, evidence = evaluation.evaluate(ws, "val", "credit-risk@1", suite)
    with ws.session() as s:
        event = s.catalog.events(action="model.evaluate")[-1]
    assert event.seq == seq
    data = json.loads(event.body)["data"]
    assert data["privacy_budget"] == {
        "snapshot": "german-credit-features@1",
        "table_digest": evidence.data.table_digest,
        "epsilon": 3.0,
        "variants": 2,
    }
    evaluation.evaluate(ws, "val", "credit-risk@1", suite)
    assert privacy_budget.spent(ws, "german-credit-features@1") == before + 6.0
    assert privacy_budget.totals(ws)["german-credit-features@1"] == before + 6.0
    card = modelcard.card_context(ws, "credit-risk@1", {})
    rows = dict(card.privacy)
    label = "differential privacy (DP-trained variants, not this model)"
    assert "objective perturbation" in rows[label]
    assert f"{before + 6.0:g} by all evaluations" in rows["privacy budget spent"]


def test_an_overspending_suite_is_refused_before_any_work(
    credit: tuple[Workspace, Path],
) -> None:
    ws, tmp = credit
    suite = _suite(
        tmp,
        "cap.toml",
        "[differential_privacy]\nepsilons = [100]\nrepeats = 1\nmax_total_epsilon = 50\n",
    )
    head = ws.ledger.head()
    with pytest.raises(UsageError, match="more than max_total_epsilon = 50"):
        evaluation.evaluate(ws, "val", "credit-risk@1", suite)
    assert ws.ledger.head() == head


def test_no_dp_variant_says_not_applicable_and_spends_nothing(
    people: tuple[Workspace, Path, dict[str, str]],
) -> None:
    ws, tmp, refs = people
    suite = _suite(tmp, "na.toml", "[differential_privacy]\nepsilons = [1]\nrepeats = 1\n")
    seq, evidence = evaluation.evaluate(ws, "val", refs["boosting"], suite)
    section = evidence.section(DifferentialPrivacy)
    assert section is not None and not section.applicable
    assert section.reason and "gradient boosting" in section.reason
    assert section.epsilon_spent == 0 and section.curve == []
    with ws.session() as s:
        event = next(e for e in s.catalog.events(action="model.evaluate") if e.seq == seq)
    assert "privacy_budget" not in json.loads(event.body)["data"]
    # A forest has a DP variant: random trees.
    _, forest = evaluation.evaluate(ws, "val", refs["forest"], suite)
    tree = forest.section(DifferentialPrivacy)
    assert tree is not None and tree.applicable and "random decision trees" in (tree.variant or "")
    assert Evidence.from_bytes(forest.to_bytes()).to_json() == forest.to_json()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[differential_privacy]\nepsilons = [1, -2]\n", "positive numbers"),
        ("[differential_privacy]\nrepeats = 0\n", "at least 1"),
        ("[differential_privacy]\nl2 = 0\n", "l2 must be a positive number"),
        ('[attribute_inference]\nattacker = "oracle"\n', "attacker must be one of"),
        ("[attribute_inference]\nfolds = 1\n", "at least 2"),
        (
            "[attribute_inference]\nwarn_advantage = 0.2\nmax_advantage = 0.1\n",
            "must not exceed",
        ),
        ("[attribute_inference]\nguess = 1\n", "has no setting 'guess'"),
    ],
)
def test_bad_settings_are_refused_when_the_suite_is_read(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        load_suite(_suite(tmp_path, "bad.toml", text))


def test_unknown_columns_are_refused_before_any_section_runs(
    people: tuple[Workspace, Path, dict[str, str]],
) -> None:
    ws, tmp, refs = people
    head = ws.ledger.head()
    for text, message in (
        ('[attribute_inference]\nattributes = ["nope"]\n', "'nope' is not in people@1"),
        ('[attribute_inference]\nknown = ["s_free"]\n', "not an input of the model"),
    ):
        with pytest.raises(UsageError, match=message):
            evaluation.evaluate(ws, "val", refs["logistic"], _suite(tmp, "cols.toml", text))
    assert ws.ledger.head() == head
