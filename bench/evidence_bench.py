"""Evidence benchmark: what the evaluation machinery adds over the SHAP and fairlearn calls
it wraps. Prints figures; asserts nothing about time. Needs a keyring (scripts/with-keyring).

A HistGradientBoosting model on the 100k-row synthetic credit table (bench/gen_credit.py),
evaluated with fairness (sex, 200 bootstrap resamples) and SHAP on a 10k-row sample of its
held-out split (exact TreeExplainer, 100 background rows, no extra stability seeds so both
sides do the same work). The bare side calls MetricFrame and TreeExplainer directly on data
already in memory; the ledgerml side is `evaluate` end to end: verified model load, data
reload, both sections, canonical evidence, signature, ledger event.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from gen_credit import generate  # noqa: E402

FEATURES = [
    "age",
    "income",
    "credit_amount",
    "duration_months",
    "purpose",
    "housing",
    "job",
    "region",
    "existing_credits",
    "dependents",
    "debt_ratio",
    "savings",
    "credit_score",
    "months_employed",
    "channel",
]


def main() -> None:
    import numpy as np
    import pandas as pd
    import shap
    from fairlearn.metrics import MetricFrame

    from core.audit import admin
    from core.data import snapshots, validation
    from core.evidence import evaluation
    from core.identity import keys
    from core.modelling import models, training

    _, parquet = generate(100_000, HERE / "out")
    tmp = Path(tempfile.mkdtemp(prefix="evidence-bench-"))
    ws = admin.init(tmp / "ws", "bench")
    snapshots.add(ws, "bench", parquet, dataset="credit100k", sensitive=["sex"])
    suite = tmp / "suite.toml"
    suite.write_text('[suite]\nname = "rows"\n[[checks]]\ntype = "row_count"\nmin = 1\n')
    validation.run(ws, "bench", "credit100k@1", suite)
    spec = tmp / "spec.toml"
    spec.write_text(
        '[run]\nname = "hgb"\ninput = "credit100k@1"\nsuite = "rows"\ntarget = "default"\n'
        f"features = {FEATURES!r}\n".replace("'", '"')
        + 'sensitive = ["sex"]\nseed = 3\ntest_size = 0.2\n'
        '[estimator]\ntype = "hist_gradient_boosting"\nparams = { max_iter = 100 }\n'
    )
    t0 = time.perf_counter()
    run = training.train(ws, "bench", spec)
    print(f"train HistGradientBoosting on 80k rows: {time.perf_counter() - t0:.2f} s")
    models.register(ws, "bench", run.run_id, "hgb")
    keys.create(ws, "bench")
    ev_suite = tmp / "evaluation.toml"
    ev_suite.write_text(
        '[evaluation]\nseed = 5\n[fairness]\nattributes = ["sex"]\nbootstrap = 200\n'
        "[explainability]\nsample = 10000\nbackground = 100\nstability_seeds = []\n"
    )

    # Bare: the same library calls on data already prepared in memory.
    pipeline = models.load(ws, "hgb@1", purpose="evaluate")
    record = training.run_event(ws, models.resolve_run_for(ws, "hgb@1"))["data"]
    import json

    preds = json.loads(ws.objects.read_verified(record["predictions_object"]))
    snap = snapshots.show(ws, "credit100k@1")
    frame = training.load_table(ws, snap, FEATURES)
    x_test = frame.iloc[preds["row"]][FEATURES].reset_index(drop=True)
    y = np.asarray(preds["y_true"])
    pred = (np.asarray(preds["probability"]) >= 0.5).astype(int)
    sf = pd.DataFrame({"sex": preds["sensitive"]["sex"]})
    z = np.asarray(pipeline.named_steps["preprocess"].transform(x_test), dtype=float)
    rng = np.random.default_rng(5)
    sample = z[np.sort(rng.choice(len(z), 10_000, replace=False))]
    background = z[np.sort(np.random.default_rng(5).choice(len(z), 100, replace=False))]
    t0 = time.perf_counter()
    from fairlearn_floor import fairness_metrics

    exact, fast = fairness_metrics()
    MetricFrame(metrics=exact, y_true=y, y_pred=pred, sensitive_features=sf)
    MetricFrame(
        metrics=fast,
        y_true=y,
        y_pred=pred,
        sensitive_features=sf,
        n_boot=200,
        ci_quantiles=[0.025, 0.975],
        random_state=5,
    )
    t_fair = time.perf_counter() - t0
    t0 = time.perf_counter()
    explainer = shap.TreeExplainer(
        pipeline.named_steps["model"],
        background,
        feature_perturbation="interventional",
        model_output="raw",
    )
    explainer.shap_values(sample, check_additivity=False)
    t_shap = time.perf_counter() - t0
    bare = t_fair + t_shap

    t0 = time.perf_counter()
    seq, evidence = evaluation.evaluate(ws, "bench", "hgb@1", ev_suite)
    full = time.perf_counter() - t0
    print(
        f"bare fairlearn MetricFrames (same metrics, 200 bootstrap): {t_fair:.2f} s; "
        f"bare TreeExplainer on 10k rows: {t_shap:.2f} s; together {bare:.2f} s"
    )
    print(
        f"ledgerml evaluate (same sections, end to end, signed, recorded as #{seq}): "
        f"{full:.2f} s = {100 * (full / bare - 1):+.1f}% over the bare calls (target <= +10%)"
    )
    assert evidence.to_json()["sections"]["explainability"]["sample_rows"] == 10_000


if __name__ == "__main__":
    main()
