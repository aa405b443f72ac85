"""Data benchmarks: snapshot ingest, validation and drift, each beside a floor measured in
the same run on the same file. Prints figures; asserts nothing about time.

    .venv/bin/python bench/data_bench.py            # uses bench/gen_credit.py's files

1. ``snapshot add`` of the 5M-row CSV (raw copy + hash, canonical Parquet, table digest,
   profile, ledger event) in MB/s, beside ``sha256sum`` and DuckDB's own
   ``COPY (SELECT * FROM read_csv(...)) TO 'x.parquet'``; peak memory of the ingest process.
2. ``validate`` with 12 typical checks on the 5M-row snapshot (file to recorded result),
   beside one hand-written DuckDB query computing the same 12 figures.
3. Drift of 1M vs 1M rows over 16 columns (KS and PSI on numeric, chi-square and PSI on
   categorical columns).
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import duckdb  # noqa: E402
from gen_credit import generate  # noqa: E402

SUITE = """
[suite]
name = "credit-typical"
[[checks]]
type = "row_count"
min = 1
[[checks]]
type = "null_rate"
column = "income"
max = 0.1
[[checks]]
type = "null_rate"
column = "savings"
max = 0.2
[[checks]]
type = "range"
column = "age"
min = 18
max = 100
[[checks]]
type = "range"
column = "credit_amount"
min = 0
max = 1000000
[[checks]]
type = "allowed_values"
column = "sex"
values = ["female", "male"]
[[checks]]
type = "allowed_values"
column = "purpose"
values = ["car", "furniture", "radio/tv", "education", "business", "repairs", "holiday",
          "retraining", "other"]
[[checks]]
type = "unique"
column = "applicant_id"
[[checks]]
type = "regex"
column = "region"
pattern = "R[0-9]{2}"
[[checks]]
type = "mean"
column = "debt_ratio"
min = 0.2
max = 0.4
[[checks]]
type = "std"
column = "credit_score"
min = 50
max = 120
[[checks]]
type = "quantile"
column = "age"
q = 0.5
min = 30
max = 60
"""

HAND_WRITTEN = """
SELECT count(*),
       count(*) FILTER (WHERE income IS NULL) / count(*),
       count(*) FILTER (WHERE savings IS NULL) / count(*),
       count(*) FILTER (WHERE age < 18 OR age > 100),
       count(*) FILTER (WHERE credit_amount < 0 OR credit_amount > 1000000
                        OR isnan(credit_amount)),
       count(*) FILTER (WHERE sex NOT IN ('female', 'male')),
       count(*) FILTER (WHERE purpose NOT IN ('car', 'furniture', 'radio/tv', 'education',
                        'business', 'repairs', 'holiday', 'retraining', 'other')),
       count(applicant_id) - count(DISTINCT applicant_id),
       count(*) FILTER (WHERE NOT regexp_full_match(region, 'R[0-9]{2}')),
       avg(debt_ratio), stddev_samp(credit_score), quantile_cont(age, 0.5)
FROM read_parquet('PATH')
"""

NUMERIC = [
    "age",
    "income",
    "credit_amount",
    "duration_months",
    "existing_credits",
    "dependents",
    "debt_ratio",
    "savings",
    "credit_score",
    "months_employed",
]
CATEGORICAL = ["sex", "purpose", "housing", "job", "region", "channel"]


def timed(cmd: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    out = HERE / "out"
    csv5, _ = generate(5_000_000, out)
    _, pq1 = generate(1_000_000, out)
    _, pq1b = generate(1_000_000, out, seed=8)
    size_mb = csv5.stat().st_size / 1e6
    py = sys.executable
    print(f"5M-row CSV: {size_mb:.0f} MB")

    sha = timed(["sha256sum", str(csv5)])
    copy_script = (
        f'import duckdb; duckdb.connect().execute("COPY (SELECT * FROM '
        f"read_csv('{csv5}')) TO '{out / 'floor.parquet'}' (FORMAT parquet)\")"
    )
    duck = timed([py, "-c", copy_script])
    ingest_script = textwrap.dedent(f"""
        import sys, time, tempfile, shutil
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from core import admin, snapshots
        root = Path(tempfile.mkdtemp()) / "ws"
        ws = admin.init(root, "bench")
        t0 = time.perf_counter()
        snapshots.add(ws, "bench", Path({str(csv5)!r}), dataset="credit")
        print(time.perf_counter() - t0)
        shutil.rmtree(root.parent)
    """)
    ingest_times = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        done = subprocess.run([py, "-c", ingest_script], check=True, capture_output=True, text=True)
        ingest_times.append(float(done.stdout.strip().splitlines()[-1]))
        peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    ingest = statistics.median(ingest_times)
    slower_floor = max(sha, duck)
    print("\nsnapshot add (median of 3)")
    print(f"  sha256sum:                 {sha:6.2f} s  {size_mb / sha:6.0f} MB/s")
    print(f"  DuckDB COPY csv->parquet:  {duck:6.2f} s  {size_mb / duck:6.0f} MB/s")
    print(
        f"  ledgerml snapshot add:     {ingest:6.2f} s  {size_mb / ingest:6.0f} MB/s  "
        f"= {slower_floor / ingest:.2f}x the slower floor (target >= 0.6x)"
    )
    print(f"  peak memory of the largest process so far: {peak / 1024:.0f} MB (target < 2048)")

    from core import admin, snapshots, validation

    tmp = Path(tempfile.mkdtemp())
    try:
        ws = admin.init(tmp / "ws", "bench")
        snap, _ = snapshots.add(ws, "bench", csv5, dataset="credit")
        suite = tmp / "suite.toml"
        suite.write_text(SUITE)
        parquet = snapshots.parquet_path(ws, snap)
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            _, result = validation.run(ws, "bench", "credit@1", suite)
            runs.append(time.perf_counter() - t0)
        assert len(result["checks"]) == 12
        con = duckdb.connect()
        hand = []
        for _ in range(3):
            t0 = time.perf_counter()
            con.execute(HAND_WRITTEN.replace("PATH", str(parquet))).fetchall()
            hand.append(time.perf_counter() - t0)
        v, h = statistics.median(runs), statistics.median(hand)
        print("\nvalidate, 12 checks on 5M rows (median of 3)")
        print(f"  one hand-written DuckDB query:        {h:6.2f} s")
        print(f"  ledgerml validate (file to recorded): {v:6.2f} s = {v / h:.2f}x (target <= 1.3x)")

        a, _ = snapshots.add(ws, "bench", pq1, dataset="drift")
        b, _ = snapshots.add(ws, "bench", pq1b, dataset="drift")
        lines = ['[suite]\nname = "drift16"']
        for col in NUMERIC:
            for method in ("ks", "psi"):
                lines.append(
                    f'[[checks]]\nname = "{col} {method}"\ntype = "drift"\n'
                    f'column = "{col}"\nreference = "{a.ref}"\nmethod = "{method}"\n'
                    "max = 0.2"
                )
        for col in CATEGORICAL:
            lines.append(
                f'[[checks]]\nname = "{col} chi2"\ntype = "drift"\ncolumn = "{col}"\n'
                f'reference = "{a.ref}"\nmethod = "chi2"\nmin_p = 0.001'
            )
            lines.append(
                f'[[checks]]\nname = "{col} psi"\ntype = "drift"\ncolumn = "{col}"\n'
                f'reference = "{a.ref}"\nmethod = "psi"\nmax = 0.2'
            )
        drift_suite = tmp / "drift.toml"
        drift_suite.write_text("\n".join(lines))
        drift_runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            _, dres = validation.run(ws, "bench", b.ref, drift_suite)
            drift_runs.append(time.perf_counter() - t0)
        print(
            "\ndrift, 1M vs 1M rows, 16 columns (10 numeric: KS + PSI; 6 categorical: "
            "chi-square + PSI)"
        )
        print(
            f"  ledgerml validate (file to recorded): {statistics.median(drift_runs):6.2f} s "
            f"(target <= 3 s); {len(dres['checks'])} checks, "
            f"{sum(c['passed'] for c in dres['checks'])} passed"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
