"""Monitoring benchmark: one window of 1M decisions against a 1M-row training snapshot,
16 input columns, beside the DuckDB floor measured in the same run. Prints figures; asserts
nothing about time.

    .venv/bin/python bench/monitor_bench.py [--runs 3] [--rows 1000000]

- **ledgerml**: what ``monitor run`` computes once the plan is resolved
  (``core.operations.monitoring``): the decision batch read whole from the object store and
  checked against its digest, parsed, then every check: input drift per feature (PSI + KS
  on the 10 numeric, PSI + chi-square on the 6 categorical columns), domain skew, error,
  refusal and latency figures, prediction drift, CBPE.
- **floor**: the same PSI and KS / chi-square figures (inputs and scores) by the same DuckDB
  queries and scipy calls, run bare on the Parquet files (no digest check, no skew, no
  rates, latency or CBPE).
- **evidently** (if it installs from the package registry; never a dependency of ledgerml):
  its data drift preset on the same columns, CPU time beside ours. Run it with
  ``--evidently PYTHON`` naming an interpreter that has it.

Every figure is the median of interleaved runs, wall and CPU time (all threads).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from data_bench import CATEGORICAL, NUMERIC, Figure, in_process, line  # noqa: E402
from gen_credit import generate  # noqa: E402

FEATURES = NUMERIC + CATEGORICAL


def decision_batch(current: Path, out: Path) -> Path:
    """The current rows as one decision batch of the agreed schema, inputs kept (``rows``)."""
    path = out / f"decisions-{current.stem}.parquet"
    if path.exists():
        return path
    table = pq.read_table(current, columns=FEATURES)
    n = table.num_rows
    rng = np.random.default_rng(11)
    score = rng.beta(2, 5, n)
    cols: dict[str, Any] = {
        "request_id": pa.array([f"r{i:08d}" for i in range(n)]),
        "ts": pa.array(["2026-03-01T10:00:00.000000Z"] * n),
        "caller": pa.array(["bench"] * n),
        "env": pa.array(["production"] * n),
        "deployment_id": pa.array(["dep-000000000001"] * n),
        "arm": pa.array(["live"] * n),
        "returned": pa.array(np.ones(n, dtype=bool)),
        "model": pa.array(["credit@1"] * n),
        "model_digest": pa.array(["ab" * 32] * n),
        "policy_digest": pa.nulls(n, pa.string()),
        "input_hmac": pa.array(["00" * 32] * n),
        "status": pa.array(["ok"] * n),
        "score": pa.array(score),
        "label": pa.array((score >= 0.5).astype("int8")),
        "decision": pa.nulls(n, pa.string()),
        "detail": pa.nulls(n, pa.string()),
        "reasons": pa.nulls(n, pa.string()),
        "latency_ms": pa.array(rng.gamma(2.0, 2.0, n)),
    }
    for f in FEATURES:
        cols[f"in.{f}"] = table.column(f)
    pq.write_table(pa.table(cols), path, compression="zstd")
    return path


def ours(store: Any, digest: str, reference: Path, folder: Path) -> dict[str, Any]:
    from core.data import duck
    from core.operations import monitoring

    rng = np.random.default_rng(5)
    p = rng.beta(2, 5, 300)
    ref = monitoring.Reference(
        table=duck.parquet_source(reference),
        features=FEATURES,
        y_true=(rng.random(300) < p).astype(int).tolist(),
        probability=p.tolist(),
        threshold=0.5,
        favourable=0,
    )
    con = duck.connect()
    try:
        table = monitoring.verified_copies(store, [digest], folder)
        con.execute(f"CREATE TEMP VIEW decisions AS SELECT * FROM {table} WHERE env = 'production'")
        return monitoring.evaluate(con, ref, "decisions", None, "ab" * 32)
    finally:
        con.close()


def floor(reference: Path, batch: Path) -> list[float]:
    """The same drift figures, bare: DuckDB queries and scipy on the Parquet files."""
    from core.data import drift, duck

    con = duck.connect()
    try:
        ref, cur = duck.parquet_source(reference), duck.parquet_source(batch)
        out = []
        for f in NUMERIC:
            out.append(drift.psi(con, ref, cur, f, numeric=True, cur_col=f"in.{f}")["statistic"])
            out.append(drift.ks(con, ref, cur, f, cur_col=f"in.{f}")["statistic"])
        for f in CATEGORICAL:
            out.append(drift.psi(con, ref, cur, f, numeric=False, cur_col=f"in.{f}")["statistic"])
            out.append(drift.chi2(con, ref, cur, f, cur_col=f"in.{f}")["statistic"])
        # prediction drift is the same two figures on the scores
        con.register("scores", {"score": np.random.default_rng(5).beta(2, 5, 300)})
        out.append(drift.psi(con, "scores", cur, "score", numeric=True)["statistic"])
        out.append(drift.ks(con, "scores", cur, "score")["statistic"])
        return out
    finally:
        con.close()


EVIDENTLY = textwrap.dedent(
    """
    import sys, time, pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    ref = pd.read_parquet(sys.argv[1], columns=sys.argv[3].split(","))
    cur = pd.read_parquet(sys.argv[2])
    cur = cur[[f"in.{c}" for c in ref.columns]]
    cur.columns = ref.columns
    c0 = time.process_time(); t0 = time.perf_counter()
    Report([DataDriftPreset()]).run(reference_data=ref, current_data=cur)
    print(time.perf_counter() - t0, time.process_time() - c0)
    """
)


def evidently(python: str, reference: Path, batch: Path) -> tuple[float, float] | str:
    done = subprocess.run(
        [python, "-c", EVIDENTLY, str(reference), str(batch), ",".join(FEATURES)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
    wall, cpu = (float(x) for x in done.stdout.split()[-2:])
    return wall, cpu


def main() -> None:
    from storage.objects import ObjectStore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--evidently", help="a Python interpreter that has evidently installed")
    args = parser.parse_args()
    out = HERE / "out"
    _, reference = generate(args.rows, out)
    _, current = generate(args.rows, out, seed=8)
    batch = decision_batch(current, out)
    print(f"machine: {os.cpu_count()} cpus; {args.rows:,} vs {args.rows:,} rows, 16 columns")
    with tempfile.TemporaryDirectory() as tmp:
        store = SimpleNamespace(objects=ObjectStore(Path(tmp) / "objects"))
        digest = store.objects.put_bytes(batch.read_bytes())
        mine, bare = Figure(), Figure()
        found: dict[str, Any] = {}
        for _ in range(args.runs):  # interleaved, so both share the machine's moods
            found = in_process(lambda: ours(store, digest, reference, Path(tmp)), mine)
            in_process(lambda: floor(reference, batch), bare)
    drifted = [
        c["name"] for c in found["checks"] if c["kind"] == "drift" and c["verdict"] != "PASS"
    ]
    print(line("floor (PSI + KS/chi-square, bare)", bare))
    print(
        line("ledgerml monitoring (verified read, all)", mine, bare, "  (target <= 1.2x)")
        + f"; {len(found['checks'])} checks, not passed: {', '.join(drifted) or 'none'}"
    )
    if args.evidently:
        t0 = time.perf_counter()
        got = evidently(args.evidently, reference, batch)
        if isinstance(got, str):
            print(f"  evidently: did not run ({got})")
        else:
            print(
                f"  {'evidently DataDriftPreset':<40} wall {got[0]:6.2f} s   cpu {got[1]:6.2f} s"
                f"   = {got[1] / mine.c:4.2f}x ledgerml's cpu "
                f"(with pandas reading: {time.perf_counter() - t0:.1f} s wall)"
            )
    else:
        print("  evidently: not measured (pass --evidently PYTHON with it installed)")


if __name__ == "__main__":
    main()
