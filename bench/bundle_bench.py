"""Bundle benchmark: export and verify a bundle carrying a real ~1 GiB snapshot.

Prints figures; asserts nothing. Needs a keyring (run through scripts/with-keyring).

The pipeline is the real one, on generated data: a ~1 GiB Parquet table of random numbers
(incompressible, so the canonical copy stays ~1 GiB) is snapshotted; a feature view keeps
its first 5,000 rows, so training takes seconds; the model is registered and signed; the
bundle is exported with ``--data full`` and so carries the whole raw snapshot. Export runs
in a fresh process so its peak memory can be read.

    scripts/with-keyring .venv/bin/python bench/bundle_bench.py [--rows 22000000]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from core.audit import admin  # noqa: E402
from core.data import features, snapshots, validation  # noqa: E402
from core.identity import keys  # noqa: E402
from core.modelling import models, training  # noqa: E402
from storage import bundle_verifier  # noqa: E402

GIB = 1024**3

VIEW = """
[view]
name = "big-features"
sql = "big.sql"
description = "The first 5,000 rows of the big table."

[inputs]
raw = "big@1"
"""
SQL = "SELECT * FROM raw WHERE id < 5000 ORDER BY id\n"
SUITE = """
[suite]
name = "big-features"

[[checks]]
type = "row_count"
min = 5000
max = 5000
"""
SPEC = """
[run]
name = "big-model"
input = "big-features@1"
suite = "big-features"
target = "y"
features = ["x1", "x2", "x3", "x4", "x5", "x6"]
sensitive = []
seed = 1
test_size = 0.3

[estimator]
type = "logistic_regression"
params = { max_iter = 500 }
"""


def generate(path: Path, rows: int) -> None:
    """Six columns of uniform random doubles (8 incompressible bytes each) and a target."""
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    cols = ", ".join(f"random() AS x{i}" for i in range(1, 7))
    con.execute(
        f"COPY (SELECT i AS id, {cols}, (random() < 0.3)::INTEGER AS y FROM range({rows}) t(i)) "
        f"TO '{path}' (FORMAT parquet, COMPRESSION zstd)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=22_000_000)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bundle-bench-"))
    source = tmp / "big.parquet"
    t0 = time.perf_counter()
    generate(source, opts.rows)
    print(
        f"generated {opts.rows:,} rows, {source.stat().st_size / GIB:.2f} GiB of Parquet "
        f"in {time.perf_counter() - t0:.1f} s"
    )

    ws = admin.init(tmp / "ws", "bench")
    t0 = time.perf_counter()
    snap, _ = snapshots.add(ws, "bench", source, dataset="big")
    parquet = snapshots.parquet_path(ws, snap)
    print(
        f"snapshot add: {time.perf_counter() - t0:.1f} s; canonical copy "
        f"{parquet.stat().st_size / GIB:.2f} GiB"
    )
    for name, text in (
        ("view.toml", VIEW),
        ("big.sql", SQL),
        ("suite.toml", SUITE),
        ("spec.toml", SPEC),
    ):
        (tmp / name).write_text(text)
    features.build(ws, "bench", tmp / "view.toml")
    validation.run(ws, "bench", "big-features", tmp / "suite.toml")
    run = training.train(ws, "bench", tmp / "spec.toml")
    models.register(ws, "bench", run.run_id, "big-model")
    keys.create(ws, "bench")
    models.sign(ws, "bench", "big-model@1")

    export = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from core.audit import bundle
        from core.kernel.workspace import Workspace
        ws = Workspace.open(Path({str(tmp / "ws")!r}))
        t0 = time.perf_counter()
        bundle.export(ws, "bench", "big-model@1", Path(sys.argv[1]), data="full")
        print(time.perf_counter() - t0)
    """)
    times, peak = [], 0
    for i in range(3):
        done = subprocess.run(
            [sys.executable, "-c", export, str(tmp / f"big-{i}.zip")],
            check=True,
            capture_output=True,
            text=True,
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    large = tmp / "big-0.zip"
    size = large.stat().st_size
    med = statistics.median(times)
    print(
        f"export with --data full of a {size / GIB:.2f} GiB bundle: median {med:.2f} s "
        f"= {size / med / 1e9:.2f} GB/s; peak memory of the export process {peak / 1024:.0f} MB"
    )

    def sha_of_file() -> None:
        digest = hashlib.sha256()
        with large.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)

    def verify() -> None:
        report = bundle_verifier.verify(str(large))
        if not report["verified"]:
            raise SystemExit(f"the bundle did not verify: {report}")

    figures: dict[str, list[tuple[float, float]]] = {"verify": [], "sha": []}
    for _ in range(5):  # interleaved with the floor, so both see the same machine
        for key, fn in (("verify", verify), ("sha", sha_of_file)):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            figures[key].append((time.perf_counter() - t0, time.process_time() - c0))
    (v_wall, v_cpu), (s_wall, s_cpu) = (
        (statistics.median(w for w, _ in figures[k]), statistics.median(c for _, c in figures[k]))
        for k in ("verify", "sha")
    )
    print(f"verify of the {size / GIB:.2f} GiB bundle, in process, median of 5 (interleaved):")
    print(
        f"  floor: SHA-256 of the same file alone: wall {s_wall:.2f} s, cpu {s_cpu:.2f} s "
        f"= {size / s_wall / 1e9:.2f} GB/s"
    )
    print(
        f"  bundle_verifier.verify:                 wall {v_wall:.2f} s, cpu {v_cpu:.2f} s "
        f"= {size / v_wall / 1e9:.2f} GB/s (target >= 1 GB/s), "
        f"{v_cpu / s_cpu:.2f}x the floor's cpu (target <= 1.5x)"
    )
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
