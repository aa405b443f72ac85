"""Governed training, registry, signatures (keyring and SoftHSM2), safe loading, reproduction,
lineage — on the German credit data with real scikit-learn models."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
from pathlib import Path

import model_signing
import pytest

from core.audit import lineage
from core.audit.exports import facts, openlineage
from core.data import features, snapshots, validation
from core.evidence import evaluation
from core.identity import actors, keys
from core.kernel.errors import CheckFailedError, IntegrityError, NotFoundError, UsageError
from core.kernel.workspace import Workspace
from core.modelling import environment, model_view, models, reproduce, training
from core.modelling.spec import load_spec
from tests.conftest import copy_workspace

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"


@pytest.fixture(scope="module")
def gated_template(ws_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``ws`` workspace with the sample data and its feature view, not yet validated."""
    root = tmp_path_factory.mktemp("gated") / "ws"
    ws = copy_workspace(ws_template, root)
    actors.add(ws, "alice", "dana", ["data-steward"])
    actors.add(ws, "alice", "val", ["validator", "approver"])
    snapshots.add(ws, "dana", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "sam", SAMPLE / "features.toml")
    return root


@pytest.fixture(scope="module")
def trained_template(gated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gated workspace with the view validated and credit-risk@1 trained and registered."""
    root = tmp_path_factory.mktemp("trained") / "ws"
    ws = copy_workspace(gated_template, root)
    validation.run(ws, "sam", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "sam", SAMPLE / "train.toml", reason="test")
    models.register(ws, "sam", run.run_id, "credit-risk")
    return root


@pytest.fixture
def gated_ws(gated_template: Path, ws_path: Path) -> Workspace:
    """A private copy of ``gated_template`` (built once per module: training inputs cost
    seconds, and most tests here change the workspace)."""
    return copy_workspace(gated_template, ws_path)


@pytest.fixture
def trained_ws(trained_template: Path, ws_path: Path) -> Workspace:
    """A private copy of ``trained_template``."""
    return copy_workspace(trained_template, ws_path)


def spec_with(tmp_path: Path, **changes: str) -> Path:
    text = (SAMPLE / "train.toml").read_text()
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_training_refuses_an_ungated_input(gated_ws: Workspace) -> None:
    head = gated_ws.ledger.head()
    with pytest.raises(CheckFailedError, match="no recorded run of suite"):
        training.train(gated_ws, "sam", SAMPLE / "train.toml")
    assert gated_ws.ledger.head() == head


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features = [\n": 'features = [\n  "sex",\n'}, "sensitive attribute 'sex'"),
        ({'type = "logistic_regression"': 'type = "svm_rbf"'}, "not allowed"),
        ({"C = 0.5": "C = -1"}, "C"),
        # credit_risk holds "good"/"bad": the declared positive_label 1 is none of its values.
        ({'target = "bad_credit"': 'target = "credit_risk"'}, "no row has the positive label 1"),
        ({'"checking_account",': '"no_such_column",'}, "not in german-credit-features@1"),
        (  # the list moves under another known key, so features is the only thing wrong
            {
                "features = [\n": "features = 5\nallow_sensitive_features = [\n",
                "allow_sensitive_features = []": "",
            },
            r"\[run\] features must be a list",
        ),
        ({'sensitive = ["sex"': 'sensitive = [1, "sex"'}, r"\[run\] sensitive must be a list"),
        ({"params = { C = 0.5, max_iter = 2000 }": "params = 5"}, r"\[estimator\] params"),
        ({"test_size = 0.3": "test_size = 0.9999"}, "cannot split 1000 rows"),
    ],
)
def test_bad_specs_are_refused(
    gated_ws: Workspace, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    validation.run(gated_ws, "sam", "german-credit-features", SAMPLE / "features_suite.toml")
    head = gated_ws.ledger.head()
    with pytest.raises(UsageError, match=message):
        training.train(gated_ws, "sam", spec_with(tmp_path, **change))
    assert gated_ws.ledger.head() == head


def test_run_records_everything_and_training_is_deterministic(trained_ws: Workspace) -> None:
    [run] = models.list_models(trained_ws)
    record = training.run_event(trained_ws, trained_ws_run(trained_ws))["data"]
    assert record["input"]["ref"] == "german-credit-features@1"
    assert record["gate"]["suite"] == "german-credit-features"
    assert record["code"]["transforms"]  # the feature view's SQL hash
    assert set(record["metrics"]) >= {
        "roc_auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "brier",
        "log_loss",
        "confusion_matrix",
    }
    env = json.loads(trained_ws.objects.read_verified(record["environment_digest"]))
    assert env["packages"]["scikit-learn"] and env["python"] == sys.version.split()[0]
    assert env["threads"]["limit"] == environment.cpu_budget()[0]
    assert {p["api"] for p in env["threads"]["pools"]} >= {"openmp", "blas"}
    assert all(p["threads"] <= env["threads"]["limit"] for p in env["threads"]["pools"])
    preds = json.loads(trained_ws.objects.read_verified(record["predictions_object"]))
    assert set(preds["sensitive"]) == {
        "sex",
        "age_group",
        "age_years",
        "personal_status",
        "foreign_worker",
    }
    assert "sex" not in training.load_run_spec(trained_ws, trained_ws_run(trained_ws)).features
    spec = load_spec(SAMPLE / "train.toml")
    snap = snapshots.show(trained_ws, "german-credit-features@1")
    first, second = (training.fit(trained_ws, spec, snap) for _ in range(2))
    assert (
        first["predictions_digest"] == second["predictions_digest"] == record["predictions_digest"]
    )
    assert first["metrics"] == second["metrics"]
    assert run.model_digest == record["model_digest"]


def trained_ws_run(ws: Workspace):  # type: ignore[no-untyped-def]
    with ws.session() as s:
        return s.catalog.runs()[-1]


def test_nothing_unsigned_or_altered_is_deserialised(
    trained_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(IntegrityError, match="no valid signature"):
        models.load(trained_ws, "credit-risk@1")
    assert models.load(trained_ws, "credit-risk@1", purpose="evaluate") is not None
    keys.create(trained_ws, "alice", owner="sam", label="sam-extra")
    models.sign(trained_ws, "sam", "credit-risk@1", reason="ok")
    pipeline = models.load(trained_ws, "credit-risk@1")
    assert hasattr(pipeline, "predict_proba")

    import skops.io

    def explode(*_: object, **__: object) -> None:
        raise AssertionError("deserialised a model that failed its checks")

    monkeypatch.setattr(skops.io, "loads", explode)
    model = model_view.view(trained_ws, "credit-risk@1").to_json()["model"]
    path = trained_ws.objects.path(model["model_digest"])
    path.chmod(stat.S_IWUSR | stat.S_IRUSR)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"bytes|altered|hashes to"):
        models.load(trained_ws, "credit-risk@1")
    assert not models.verify(trained_ws, "credit-risk@1").trusted


def test_forged_signature_and_revoked_key(trained_ws: Workspace) -> None:
    key, _ = keys.create(trained_ws, "alice", owner="sam", label="sam-extra")
    sig = models.sign(trained_ws, "sam", "credit-risk@1")
    env_path = trained_ws.objects.path(sig.envelope_digest)
    original = env_path.read_bytes()
    env = json.loads(original)
    env["signatures"][0]["sig"] = env["signatures"][0]["sig"][:-8] + "AAAAAAA="
    env_path.chmod(stat.S_IWUSR | stat.S_IRUSR)
    env_path.write_text(json.dumps(env))
    check = models.verify(trained_ws, "credit-risk@1")
    assert not check.trusted and "altered" in check.signatures[0].detail
    assert check.why_untrusted == "no signature verifies"
    env_path.write_bytes(original)
    assert models.verify(trained_ws, "credit-risk@1").trusted
    keys.revoke(trained_ws, "alice", key.key_id, reason="laptop stolen")
    check = models.verify(trained_ws, "credit-risk@1")
    assert check.signatures[0].ok and check.signatures[0].key_status == "revoked"
    assert not check.trusted  # signed-then-revoked stays evidence but does not run
    assert "every valid signature is from a revoked key" in check.why_untrusted
    with pytest.raises(IntegrityError, match="unrevoked"):
        models.load(trained_ws, "credit-risk@1")
    with pytest.raises(IntegrityError, match="unrevoked"):  # nor evaluated: it is not trusted
        models.load(trained_ws, "credit-risk@1", purpose="evaluate")
    keys.create(trained_ws, "alice", owner="sam", label="sam-evaluator")
    head = trained_ws.ledger.head()[0]
    with pytest.raises(IntegrityError, match="unrevoked"):
        evaluation.evaluate(trained_ws, "sam", "credit-risk@1", SAMPLE / "evaluation.toml")
    assert trained_ws.ledger.head()[0] == head  # no evidence about a model nobody trusts


@pytest.mark.parametrize("backend", ["keyring", "pkcs11"])
def test_openssf_bundle_verifies_with_model_signing(
    trained_ws: Workspace, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "pkcs11":
        request.getfixturevalue("hsm")
    keys.create(trained_ws, "alice", owner="val", backend=backend)
    sig = models.sign(trained_ws, "val", "credit-risk@1", reason="validated")
    assert sig.openssf_digest
    head = trained_ws.ledger.head()[0]
    paths = models.export(trained_ws, "credit-risk@1", tmp_path / "out", "sam")
    exported = trained_ws.ledger.entry(head + 1).decode()  # the export is in the access log
    assert (exported["action"], exported["actor"]) == ("model.export", "sam")
    model_signing.verifying.Config().use_elliptic_key_verifier(
        public_key=paths["public_key"]
    ).verify(paths["model"], paths["signature"])
    (paths["model"] / "model.skops").write_bytes(b"swapped")
    with pytest.raises(ValueError):
        model_signing.verifying.Config().use_elliptic_key_verifier(
            public_key=paths["public_key"]
        ).verify(paths["model"], paths["signature"])


def test_ed25519_keys_sign_without_an_openssf_bundle(trained_ws: Workspace) -> None:
    keys.create(trained_ws, "alice", owner="sam", label="sam-ed", algorithm="ed25519")
    sig = models.sign(trained_ws, "sam", "credit-risk@1")
    assert sig.openssf_digest is None and models.verify(trained_ws, "credit-risk@1").trusted


def test_registry_refusals(trained_ws: Workspace) -> None:
    run = trained_ws_run(trained_ws)
    again, created = models.register(trained_ws, "sam", run.run_id, "credit-risk")
    assert not created and again.ref == "credit-risk@1"
    with pytest.raises(NotFoundError, match="no run"):
        models.register(trained_ws, "sam", "run:nope", "credit-risk")
    with pytest.raises(UsageError, match="invalid model name"):
        models.register(trained_ws, "sam", run.run_id, "Credit Risk")
    with pytest.raises(NotFoundError, match="no model credit-risk@5"):
        models.verify(trained_ws, "credit-risk@5")
    with pytest.raises(NotFoundError, match="no key matches"):
        models.sign(trained_ws, "val", "credit-risk@1", key_ref="nonexistent-key")


def test_reproduction_passes_and_a_different_result_fails_clearly(
    trained_ws: Workspace, tmp_path: Path
) -> None:
    run = trained_ws_run(trained_ws)
    row, outcome = reproduce.run(trained_ws, "val", run.run_id, reason="check")
    assert row.passed and outcome["differences"] == []
    assert outcome["predictions_digest"]["recorded"] == outcome["predictions_digest"]["reproduced"]
    # Another machine, simulated: the real retraining, then a newer scikit-learn and
    # different predictions reported back, as a changed library would produce.
    other = tmp_path / "other-python"
    other.write_text(
        "#!/bin/sh\n"
        f"{sys.executable} -c 'import json, runpy, sys, io, contextlib\n"
        "sys.argv = sys.argv[0:1] + sys.argv[3:]\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        '    runpy.run_module("core.modelling.reproduce", run_name="__main__")\n'
        "out = json.loads(buf.getvalue())\n"
        'out["environment"]["packages"]["scikit-learn"] = "99.0"\n'
        'out["predictions_digest"] = "0" * 64\n'
        'print(json.dumps(out))\' "$@"\n'
    )
    other.chmod(0o755)
    row, outcome = reproduce.run(trained_ws, "val", run.run_id, python=str(other))
    assert not row.passed
    assert "test-split predictions differ from the recorded ones" in outcome["differences"]
    assert any("scikit-learn" in d and "99.0" in d for d in outcome["differences"])
    with pytest.raises(CheckFailedError, match="did not reproduce"):
        reproduce.require_reproduced(row)


def test_reproduction_refuses_an_altered_input(trained_ws: Workspace) -> None:
    snap = snapshots.show(trained_ws, "german-credit-features@1")
    path = trained_ws.objects.path(snap.parquet_digest)
    path.chmod(stat.S_IWUSR | stat.S_IRUSR)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError, match="Parquet copy of german-credit-features@1"):
        reproduce.run(trained_ws, "val", trained_ws_run(trained_ws).run_id)


def test_environment_differences_are_named() -> None:
    old = {"python": "3.11.7", "packages": {"numpy": "2.0", "old": "1"}}
    new = {"python": "3.12.1", "packages": {"numpy": "2.1", "new": "3"}}
    assert environment.differences(old, new) == [
        "python: 3.11.7 → 3.12.1",
        "package new: absent → 3",
        "package numpy: 2.0 → 2.1",
        "package old: 1 → absent",
    ]


def test_native_thread_pools_are_capped_at_the_cores_the_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)

    cores, basis = environment.cpu_budget()
    assert 1 <= cores <= len(os.sched_getaffinity(0)) and basis
    monkeypatch.setenv("LEDGERML_THREADS", "1")
    with environment.native_threads() as threads:
        assert threads["limit"] == 1 and threads["basis"] == "LEDGERML_THREADS"
        assert threads["pools"] and all(p["threads"] == 1 for p in threads["pools"])
    monkeypatch.setenv("LEDGERML_THREADS", str(cores + 5))  # never more than there are
    assert environment.cpu_budget() == (cores, basis)
    monkeypatch.setenv("LEDGERML_THREADS", "zero")
    with pytest.raises(UsageError, match="LEDGERML_THREADS"):
        environment.cpu_budget()
    old = {"threads": {"limit": 4}, "packages": {}}
    assert environment.differences(old, {"threads": {"limit": 1}, "packages": {}}) == [
        "native thread limit: 4 → 1"
    ]
    assert environment.differences({"packages": {}}, old) == []  # runs recorded before limits


def test_lineage_up_down_and_exports(trained_ws: Workspace) -> None:
    keys.create(trained_ws, "alice", owner="sam", label="sam-extra")
    models.sign(trained_ws, "sam", "credit-risk@1")
    up = lineage.walk(trained_ws, "credit-risk@1")
    nodes = {e.dst for e in up.edges}
    raw = "sha256:b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871"
    assert {"snapshot:german-credit-features@1", "snapshot:german-credit@1", raw} <= nodes
    down = lineage.walk(trained_ws, "german-credit@1", down=True)
    sources = {e.src for e in down.edges}
    assert "model:credit-risk@1" in sources and any(s.startswith("signature:") for s in sources)
    downstream = openlineage.for_walk(trained_ws, down)
    assert {e["job"]["name"] for e in downstream} == {
        "intake.german-credit",
        "feature.german-credit-features",
        "train.credit-risk",
    }
    raw_seq = snapshots.show(trained_ws, "german-credit@1").created_seq
    early = openlineage.for_walk(trained_ws, down, as_of=raw_seq)  # as a bundle's checkpoint
    assert [e["job"]["name"] for e in early] == ["intake.german-credit"] * 2
    tree = lineage.render_tree(up)
    assert tree.splitlines()[0] == "model:credit-risk@1" and "[produced-by]" in tree
    assert "digraph lineage" in lineage.render_dot(up)
    events = openlineage.for_walk(trained_ws, up)
    assert events == openlineage.build(facts.gather(trained_ws, "credit-risk@1"))
    train_event = next(
        e
        for e in events
        if e["job"]["name"] == "train.credit-risk" and e["eventType"] == "COMPLETE"
    )
    snap = snapshots.show(trained_ws, "german-credit-features@1")
    assert (
        train_event["inputs"][0]["facets"]["version"]["datasetVersion"]
        == f"sha256:{snap.table_digest}"
    )
    assert train_event["eventType"] == "COMPLETE" and train_event["run"]["runId"]
    assert train_event["schemaURL"].endswith("OpenLineage.json#/$defs/RunEvent")
    assert train_event["producer"] == openlineage.PRODUCER
    again = openlineage.for_walk(trained_ws, up)
    assert again == events  # run ids are derived from the records, so exports repeat exactly
    with pytest.raises(NotFoundError, match="has lineage"):
        lineage.walk(trained_ws, "nothing-here")
    assert os.environ.get("LEDGERML_FAILPOINT") is None


def test_inventory_shows_gate_signature_and_key_state(
    trained_ws: Workspace, tmp_path: Path
) -> None:
    from core.audit import inventory

    def line() -> inventory.ModelLine:
        (only,) = inventory.overview(trained_ws, "sam").models
        return only

    assert (line().validation, line().signatures) == ("german-credit-features PASS", "unsigned")
    key, _ = keys.create(trained_ws, "alice", owner="sam", label="sam-extra")
    models.sign(trained_ws, "sam", "credit-risk@1")
    assert line().signatures == "signed ×1" and line().failing == []
    # The suite is tightened under the same name: the gate's newest result is now a failure.
    strict = tmp_path / "strict.toml"
    strict.write_text(
        (SAMPLE / "features_suite.toml").read_text()
        + '\n[[checks]]\nname = "at least 5000 rows"\ntype = "row_count"\nmin = 5000\n'
    )
    validation.run(trained_ws, "sam", "german-credit-features", strict)
    assert line().validation == "german-credit-features FAIL"
    keys.revoke(trained_ws, "alice", key.key_id, reason="laptop stolen")
    assert line().signatures == "signed ×1 (1 by a revoked key)"
    assert line().failing == ["1 validation error", "no signature from an unrevoked key"]


def test_every_estimator_is_one_record_with_an_exact_explainer() -> None:
    from core.modelling import estimators

    for name, est in estimators.ESTIMATORS.items():
        assert est.name == name and est.explainer in estimators.EXPLAINERS
        assert estimators.by_class(est.cls) is est
        assert est.load_class().__name__ == est.cls
    assert estimators.by_class("SVC") is None
    assert {
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    } == models.TRUSTED_TYPES


@pytest.mark.parametrize("name", ["logistic_regression", "random_forest", "hist_gradient_boosting"])
def test_each_estimators_archive_needs_exactly_the_types_its_record_names(
    trained_ws: Workspace, name: str
) -> None:
    """Train the estimator through the real pipeline and ask skops what its archive holds."""
    import pandas as pd
    from skops.io import dumps, get_untrusted_types

    from core.modelling import estimators

    rng = __import__("numpy").random.default_rng(0)
    frame = pd.DataFrame({"x": rng.random(120), "c": rng.choice(["a", "b"], 120)})
    spec = dataclasses.replace(
        load_spec(SAMPLE / "train.toml"), features=["x", "c"], estimator=name, params={}
    )
    pipeline = training._pipeline(spec, frame).fit(frame, rng.integers(0, 2, 120))
    needed = set(get_untrusted_types(data=dumps(pipeline)))
    record = estimators.ESTIMATORS[name]
    assert needed <= {*estimators.PIPELINE_TRUSTED, *record.trusted}
    assert needed - set(estimators.PIPELINE_TRUSTED) == set(record.trusted)
