"""Model benchmarks: recording + registering + signing a run, and verifying a big artifact.

Prints figures; asserts nothing about time. Needs a keyring (run through scripts/with-keyring).

1. Record a run with 50 parameters and 200 metrics, store and register the model, sign it
   (DSSE + OpenSSF bundle, keyring key): the time excluding the fit, beside a bare floor doing
   the minimum storage work (one DuckDB insert, one fsynced file write, one SHA-256).
2. ``model verify`` on a 200 MB artifact, in GB/s.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb

from core.audit import admin
from core.data import snapshots, validation
from core.identity import keys
from core.modelling import models, training
from core.modelling.spec import load_spec
from storage.canonical import canonical_bytes

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "german-credit"


def floor(tmp: Path, model: bytes) -> float:
    con = duckdb.connect(str(tmp / "floor.duckdb"))
    con.execute(
        "CREATE TABLE IF NOT EXISTS runs (id VARCHAR, params VARCHAR, metrics VARCHAR, "
        "digest VARCHAR)"
    )
    t0 = time.perf_counter()
    digest = hashlib.sha256(model).hexdigest()
    path = tmp / f"model-{time.perf_counter_ns()}.bin"
    with path.open("wb") as handle:
        handle.write(model)
        handle.flush()
        os.fsync(handle.fileno())
    con.execute("INSERT INTO runs VALUES (?, ?, ?, ?)", ["r", "{}" * 50, "{}" * 200, digest])
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="model-bench-"))
    ws = admin.init(tmp / "ws", "bench")
    snapshots.add(ws, "bench", SAMPLE / "german.data", dataset="german-credit")
    from core.data import features

    features.build(ws, "bench", SAMPLE / "features.toml")
    validation.run(ws, "bench", "german-credit-features", SAMPLE / "features_suite.toml")
    keys.create(ws, "bench")
    base = (SAMPLE / "train.toml").read_text()
    params = "\n".join(f"p{i} = {i}" for i in range(48))
    spec_path = tmp / "spec.toml"
    # 50 parameters: C, max_iter and 48 more recorded (LogisticRegression ignores none of
    # them at fit time here because fit is done once, outside the timing, on the real spec).
    spec_path.write_text(base + "\n[bench]\n" + params + "\n")
    spec = load_spec(spec_path)
    snap, gate = training.gated_input(ws, spec, "bench")
    result = training.fit(ws, load_spec(SAMPLE / "train.toml"), snap)
    result["metrics"].update({f"metric_{i}": i / 7 for i in range(200 - len(result["metrics"]))})
    assert len(result["metrics"]) == 200

    totals, parts = [], []
    for i in range(5):
        t0 = time.perf_counter()
        run = training.record_run(ws, "bench", spec, snap, gate, result, code={})
        t1 = time.perf_counter()
        model, _ = models.register(ws, "bench", run.run_id, f"bench-{i}")
        t2 = time.perf_counter()
        models.sign(ws, "bench", model.ref)
        t3 = time.perf_counter()
        totals.append(t3 - t0)
        parts.append((t1 - t0, t2 - t1, t3 - t2))
    floors = [floor(tmp, result["model"]) for _ in range(5)]
    med = statistics.median(totals)
    rec, reg, sig = (statistics.median(p[i] for p in parts) for i in range(3))
    print(
        f"record + register + sign (50 params, 200 metrics, {len(result['model'])} B model), "
        f"median of 5, fit excluded:"
    )
    print(
        f"  total {med:.3f} s (target <= 0.5 s): record {rec:.3f} s, register {reg:.3f} s, "
        f"sign {sig:.3f} s"
    )
    print(
        f"  bare floor (DuckDB insert + fsynced file write + sha256): "
        f"{statistics.median(floors) * 1000:.1f} ms"
    )

    big = os.urandom(200 * 1024 * 1024)
    result["model"] = big
    result["model_digest"] = hashlib.sha256(big).hexdigest()
    run = training.record_run(ws, "bench", spec, snap, gate, result, code={})
    model, _ = models.register(ws, "bench", run.run_id, "big")
    models.sign(ws, "bench", model.ref)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        check = models.verify(ws, model.ref)
        times.append(time.perf_counter() - t0)
        assert check.trusted
    best = statistics.median(times)
    print(
        f"model verify on a 200 MiB artifact: {best:.3f} s = "
        f"{200 * 1.048576 / 1000 / best:.2f} GB/s (target >= 0.8 GB/s)"
    )
    print(f"(canonical metrics JSON size: {len(canonical_bytes(result['metrics']))} B)")


if __name__ == "__main__":
    main()
