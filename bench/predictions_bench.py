"""Score-audit benchmark: ``evaluate --predictions`` against fairlearn's MetricFrame alone.

Prints figures; asserts nothing about time. Needs a keyring (scripts/with-keyring).

Its own generator writes a score snapshot (default 1M rows): a probability score, a 0/1
label, and two sensitive attributes (``region``, 4 groups; ``age_band``, 3 groups). The
bare side calls fairlearn's MetricFrame exactly as the fairness section does (the exact
metrics, then the bootstrapped ones with 200 resamples), once per attribute, on arrays
already in memory. The ledgerml side is ``evaluate --predictions`` end to end: snapshot read
from Parquet, spec and suite parsing, label and score checks, fairness with the same
bootstrap, ROC AUC / accuracy / Brier, canonical evidence, signature and ledger event.

Usage: ``scripts/with-keyring .venv/bin/python -u bench/predictions_bench.py [ROWS [BOOTSTRAP
[FLOOR_BOOTSTRAP]]]`` (default 1,000,000 rows and 200 resamples, the issue's configuration).
fairlearn's row bootstrap re-groups every resample (about 12 CPU seconds each at a million
rows), so 200 of them take most of an hour per attribute: FLOOR_BOOTSTRAP (default: the same
as BOOTSTRAP) runs fewer on the fairlearn side, and the figure for BOOTSTRAP resamples is then
printed as an extrapolation from the measured cost per resample, marked as such. The exact
MetricFrame alone (no bootstrap, no intervals) is printed too: the floor of one pass.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SPEC = """
[score]
column = "score"
kind = "probability"
label = "label"
threshold = 0.5
sensitive = ["region", "age_band"]

[outcome]
positive_label = 1
positive = "defaults"
negative = "repays"
favourable = "negative"
"""

SUITE = """
[evaluation]
seed = 5

[fairness]
attributes = ["region", "age_band"]
bootstrap = {boot}
min_disparate_impact = 0.8
severity = "warn"
"""


def generate(rows: int, folder: Path, seed: int = 13) -> Path:
    """Write the score table as Parquet: score, label, region, age_band."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], size=rows, p=[0.4, 0.3, 0.2, 0.1])
    age_band = rng.choice(["<30", "30-60", ">60"], size=rows, p=[0.3, 0.5, 0.2])
    risk = rng.beta(2, 5, rows)
    label = (rng.random(rows) < risk).astype("int8")
    shift = np.where(region == "west", 0.1, 0.0)
    score = np.clip(risk + shift + rng.normal(0, 0.05, rows), 0, 1).round(6)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"scores-{rows}.parquet"
    pd.DataFrame(
        {"score": score, "label": label, "region": region, "age_band": age_band}
    ).to_parquet(path, index=False)
    return path


def _timed(fn: object) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()  # type: ignore[operator]
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    import numpy as np
    import pandas as pd
    from fairlearn.metrics import MetricFrame
    from fairlearn_floor import fairness_metrics

    from core.audit import admin
    from core.data import snapshots
    from core.evidence import score_evaluation
    from core.identity import keys

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    boot = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    floor_boot = int(sys.argv[3]) if len(sys.argv) > 3 else boot
    tmp = Path(tempfile.mkdtemp(prefix="predictions-bench-"))
    parquet = generate(rows, tmp)
    ws = admin.init(tmp / "ws", "bench")
    keys.create(ws, "bench")
    snapshots.add(ws, "bench", parquet, dataset="scores", sensitive=["region", "age_band"])
    (tmp / "score.toml").write_text(SPEC)
    (tmp / "suite.toml").write_text(SUITE.replace("{boot}", str(boot)))

    frame = pd.read_parquet(parquet)
    y = frame["label"].to_numpy().astype(int)
    pred = (frame["score"].to_numpy() >= 0.5).astype(int)
    exact, fast = fairness_metrics()

    def bare(n_boot: int) -> None:
        for attr in ("region", "age_band"):
            sf = pd.DataFrame({attr: frame[attr].to_numpy()})
            MetricFrame(metrics=exact, y_true=y, y_pred=pred, sensitive_features=sf)
            if not n_boot:
                continue
            frames = MetricFrame(
                metrics=fast,
                y_true=y,
                y_pred=pred,
                sensitive_features=sf,
                n_boot=n_boot,
                ci_quantiles=[0.025, 0.975],
                random_state=5,
            )
            frames.difference_ci()
            frames.ratio_ci()

    _, exact_wall, exact_cpu = _timed(lambda: bare(0))
    print(f"fairlearn exact only: wall {exact_wall:.2f} s, CPU {exact_cpu:.2f} s", flush=True)
    _, floor_wall, floor_cpu = _timed(lambda: bare(floor_boot))
    print(
        f"fairlearn with {floor_boot} resamples: wall {floor_wall:.2f} s, CPU {floor_cpu:.2f} s",
        flush=True,
    )
    per_wall = (floor_wall - exact_wall) / floor_boot
    per_cpu = (floor_cpu - exact_cpu) / floor_boot
    bare_wall, bare_cpu = exact_wall + per_wall * boot, exact_cpu + per_cpu * boot
    done, full_wall, full_cpu = _timed(
        lambda: score_evaluation.evaluate(
            ws, "bench", "scores@1", tmp / "score.toml", tmp / "suite.toml"
        )
    )
    seq, evidence = done  # type: ignore[misc]
    assert evidence.data.test_rows == rows and np.isfinite(evidence.score.summary["roc_auc"])
    extrapolated = (
        " (extrapolated from the measured cost per resample)" if floor_boot != boot else ""
    )
    print(f"rows: {rows:,}; sensitive attributes: region (4), age_band (3); bootstrap {boot}")
    print(
        "fairlearn MetricFrame exact only (no intervals), both attributes: "
        f"wall {exact_wall:.2f} s, CPU {exact_cpu:.2f} s"
    )
    print(
        f"fairlearn MetricFrame exact + {boot}-resample row bootstrap, both attributes"
        f"{extrapolated}: wall {bare_wall:.1f} s, CPU {bare_cpu:.1f} s "
        f"(per resample: CPU {per_cpu:.2f} s)"
    )
    print(
        f"ledgerml evaluate --predictions, {boot} resamples (end to end: Parquet read, checks, "
        f"fairness, ROC AUC, Brier, signed evidence, event #{seq}): "
        f"wall {full_wall:.2f} s, CPU {full_cpu:.2f} s"
    )
    print(
        f"ratio ledgerml / fairlearn with bootstrap: CPU {full_cpu / bare_cpu:.3f}x; "
        f"ledgerml / fairlearn exact only: CPU {full_cpu / exact_cpu:.2f}x"
    )


if __name__ == "__main__":
    main()
