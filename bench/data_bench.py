"""Data benchmarks: snapshot ingest, validation and drift, each beside a floor measured in
the same run on the same file. Prints figures; asserts nothing about time.

    .venv/bin/python bench/data_bench.py [--only ingest|validate|drift] [--runs 3]

Every figure is wall time and CPU time (user + sys of the process and its children, all
threads), the median of interleaved runs, beside its floor from the same run: on a shared
machine a lone wall time says little, a ratio measured side by side says more.

1. ``ledgerml snapshot add`` of the 5M-row CSV (the command, in a fresh workspace: raw copy
   + hash, canonical Parquet, table digest, profile, ledger event) beside ``sha256sum`` and
   DuckDB's own ``COPY (SELECT * FROM read_csv(...)) TO 'x.parquet'``; peak memory of each.
2. ``validate`` with 12 typical checks on the 5M-row snapshot (file to recorded result),
   beside one hand-written DuckDB query computing the same 12 figures.
3. Drift of 1M vs 1M rows over 16 columns (KS and PSI on numeric, chi-square and PSI on
   categorical columns).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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


@dataclass
class Figure:
    """Runs of one thing: wall seconds, CPU seconds (user + sys, children included), peak RSS."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def w(self) -> float:
        return statistics.median(self.wall)

    @property
    def c(self) -> float:
        return statistics.median(self.cpu)


def child(cmd: list[str], figure: Figure) -> str:
    """Run a process; add its wall time, CPU time and peak memory (its own wait4 usage)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # reap it here, to read its own usage
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd[:3]} failed: {err.read()[-2000:].decode()}")
    figure.wall.append(wall)
    figure.cpu.append(usage.ru_utime + usage.ru_stime)
    figure.rss_mb.append(usage.ru_maxrss / 1024)
    return out.decode()


def in_process(fn, figure: Figure):  # type: ignore[no-untyped-def]
    """Call ``fn`` here; add its wall time and this process's CPU time (all threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    figure.cpu.append(time.process_time() - c0)
    figure.wall.append(time.perf_counter() - t0)
    return result


def line(label: str, fig: Figure, floor: Figure | None = None, extra: str = "") -> str:
    text = f"  {label:<40} wall {fig.w:6.2f} s   cpu {fig.c:6.2f} s"
    if floor is not None:
        text += f"   = {fig.w / floor.w:4.2f}x wall, {fig.c / floor.c:4.2f}x cpu"
    return text + extra


def ingest_bench(csv5: Path, out: Path, runs: int, baseline: Path | None) -> None:
    from core.audit import admin

    size_mb = csv5.stat().st_size / 1e6
    py = sys.executable
    cli = str(Path(py).parent / "ledgerml")
    copy_script = (
        f'import duckdb; duckdb.connect().execute("COPY (SELECT * FROM '
        f"read_csv('{csv5}')) TO '{out / 'floor.parquet'}' (FORMAT parquet)\")"
    )
    sha, duck, ingest, start, base = Figure(), Figure(), Figure(), Figure(), Figure()
    # The same command run from another checkout (``--baseline``), for before/after figures.
    base_cli = [
        py,
        "-c",
        f"import sys; sys.path.insert(0, {str(baseline)!r}); from app.cli import main; main()",
    ]
    for _ in range(runs):  # interleaved, so all figures share the machine's moods
        tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
        try:
            admin.init(tmp / "ws", "bench")
            ws = ["--workspace", str(tmp / "ws"), "--as", "bench"]
            child(["sha256sum", str(csv5)], sha)
            child([py, "-c", copy_script], duck)
            child([cli, *ws, "snapshot", "add", str(csv5), "--dataset", "credit"], ingest)
            child([cli, *ws, "snapshot", "list"], start)
            if baseline is not None:
                child([*base_cli, *ws, "snapshot", "add", str(csv5), "--dataset", "base"], base)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nsnapshot add of the 5M-row CSV ({size_mb:.0f} MB), median of {runs}, interleaved")
    print(line("sha256sum", sha))
    print(line("DuckDB COPY csv->parquet (floor)", duck))
    print(
        line(
            "ledgerml snapshot add",
            ingest,
            duck,
            f"  (target <= 1.5x); {size_mb / ingest.w:.0f} MB/s",
        )
    )
    if baseline is not None:
        print(line("the same, from --baseline", base, duck))
    print(line("  for scale: ledgerml snapshot list", start))
    print(
        f"  peak memory: snapshot add {max(ingest.rss_mb):.0f} MB (target < 2048), "
        f"DuckDB COPY {max(duck.rss_mb):.0f} MB"
        + (f", baseline {max(base.rss_mb):.0f} MB" if baseline is not None else "")
    )


def validate_bench(csv5: Path, runs: int) -> None:
    from core.audit import admin
    from core.data import snapshots, validation

    tmp = Path(tempfile.mkdtemp())
    try:
        ws = admin.init(tmp / "ws", "bench")
        snap, _ = snapshots.add(ws, "bench", csv5, dataset="credit")
        suite = tmp / "suite.toml"
        suite.write_text(SUITE)
        parquet = snapshots.parquet_path(ws, snap)
        con = duckdb.connect()
        hand_sql = HAND_WRITTEN.replace("PATH", str(parquet))
        con.execute(hand_sql).fetchall()  # warm the page cache for both
        hand, val = Figure(), Figure()
        result: validation.ValidationResult | None = None
        for _ in range(runs):
            in_process(lambda: con.execute(hand_sql).fetchall(), hand)
            _, result = in_process(lambda: validation.run(ws, "bench", "credit@1", suite), val)
        assert result is not None and len(result.checks) == 12
        print(f"\nvalidate, 12 checks on 5M rows, median of {runs}, interleaved")
        print(line("one hand-written DuckDB query (floor)", hand))
        print(line("ledgerml validate (file to recorded)", val, hand, "  (target <= 1.3x)"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def drift_bench(pq1: Path, pq1b: Path, runs: int) -> None:
    from core.audit import admin
    from core.data import snapshots, validation

    tmp = Path(tempfile.mkdtemp())
    try:
        ws = admin.init(tmp / "ws", "bench")
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
        drift = Figure()
        dres: validation.ValidationResult | None = None
        for _ in range(runs):
            _, dres = in_process(lambda: validation.run(ws, "bench", b.ref, drift_suite), drift)
        assert dres is not None
        checks = dres.checks
        print(
            "\ndrift, 1M vs 1M rows, 16 columns (10 numeric: KS + PSI; 6 categorical: "
            "chi-square + PSI)"
        )
        print(
            line("ledgerml validate (file to recorded)", drift, None, "  (target <= 3 s wall)")
            + f"; {len(checks)} checks, {sum(c.passed for c in checks)} passed"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["ingest", "validate", "drift"], action="append")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout of ledgerml to run side by side"
    )
    args = parser.parse_args()
    only = set(args.only or ["ingest", "validate", "drift"])
    out = HERE / "out"
    csv5, _ = generate(5_000_000, out)
    _, pq1 = generate(1_000_000, out)
    _, pq1b = generate(1_000_000, out, seed=8)
    print(f"machine: {os.cpu_count()} cpus; cpu = user + sys of the process and its children")
    if "ingest" in only:
        ingest_bench(csv5, out, args.runs, args.baseline)
    if "validate" in only:
        validate_bench(csv5, args.runs)
    if "drift" in only:
        drift_bench(pq1, pq1b, args.runs)


if __name__ == "__main__":
    main()
