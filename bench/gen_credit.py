"""Deterministic synthetic credit tables for the data benchmarks.

About 20 mixed columns (ints, floats with nulls and a few NaN, categories, a date, a flag) and
a binary label, written as CSV and Parquet in chunks so memory stays small. The same seed and
row count always give the same bytes.

    .venv/bin/python bench/gen_credit.py --rows 1000000 --out bench/out
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

PURPOSES = np.array(
    [
        "car",
        "furniture",
        "radio/tv",
        "education",
        "business",
        "repairs",
        "holiday",
        "retraining",
        "other",
    ]
)
HOUSING = np.array(["own", "rent", "free"])
JOBS = np.array(["unskilled", "skilled", "management", "unemployed"])
REGIONS = np.array([f"R{i:02d}" for i in range(40)])


def chunk(start: int, n: int, seed: int) -> pa.Table:
    """Rows ``start`` … ``start + n - 1``; each chunk has its own seeded generator."""
    rng = np.random.default_rng([seed, start])
    age = rng.integers(18, 80, n)
    income = np.round(rng.lognormal(10.3, 0.5, n), 2)
    income[rng.random(n) < 0.02] = np.nan  # NaN: recorded but unusable
    amount = np.round(rng.gamma(2.0, 2500.0, n), 2)
    duration = rng.choice([6, 12, 18, 24, 36, 48, 60], n)
    debt_ratio = np.round(rng.beta(2, 5, n), 4)
    score = rng.normal(650, 80, n).round().astype(np.int64)
    risk = 1 / (
        1
        + np.exp(
            -(-2.0 + 0.00012 * amount - 0.01 * (age - 40) + 3 * debt_ratio - 0.004 * (score - 650))
        )
    )
    label = (rng.random(n) < risk).astype(np.int64)
    cols = {
        "applicant_id": pa.array(np.arange(start, start + n, dtype=np.int64)),
        "age": pa.array(age),
        "sex": pa.array(np.where(rng.random(n) < 0.48, "female", "male")),
        "income": pa.array(income, mask=rng.random(n) < 0.05),
        "credit_amount": pa.array(amount),
        "duration_months": pa.array(duration),
        "purpose": pa.array(rng.choice(PURPOSES, n)),
        "housing": pa.array(rng.choice(HOUSING, n, p=[0.6, 0.3, 0.1])),
        "job": pa.array(rng.choice(JOBS, n, p=[0.2, 0.6, 0.15, 0.05])),
        "region": pa.array(rng.choice(REGIONS, n)),
        "existing_credits": pa.array(rng.poisson(1.2, n)),
        "dependents": pa.array(rng.integers(0, 5, n)),
        "debt_ratio": pa.array(debt_ratio),
        "savings": pa.array(np.round(rng.exponential(3000, n), 2), mask=rng.random(n) < 0.1),
        "credit_score": pa.array(score),
        "months_employed": pa.array(rng.integers(0, 480, n), mask=rng.random(n) < 0.03),
        "has_phone": pa.array(rng.random(n) < 0.6),
        "foreign_worker": pa.array(rng.random(n) < 0.05),
        "application_date": pa.array(
            (np.datetime64("2020-01-01") + rng.integers(0, 1800, n)).astype("datetime64[D]")
        ),
        "channel": pa.array(rng.choice(np.array(["branch", "online", "broker"]), n)),
        "default": pa.array(label),
    }
    return pa.table(cols)


def generate(rows: int, out: Path, seed: int = 7, step: int = 500_000) -> tuple[Path, Path]:
    """Write ``credit-<rows>[-s<seed>].csv`` and ``.parquet`` under ``out`` (kept if present)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"credit-{rows}" + ("" if seed == 7 else f"-s{seed}")
    csv_path, pq_path = out / f"{stem}.csv", out / f"{stem}.parquet"
    if csv_path.exists() and pq_path.exists():
        return csv_path, pq_path
    writer = None
    with csv_path.open("wb") as sink:
        for start in range(0, rows, step):
            table = chunk(start, min(step, rows - start), seed)
            pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=start == 0))
            if writer is None:
                writer = pq.ParquetWriter(pq_path, table.schema, compression="zstd")
            writer.write_table(table)
    assert writer is not None
    writer.close()
    return csv_path, pq_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for rows in args.rows:
        csv_path, pq_path = generate(rows, args.out, args.seed)
        print(
            f"{rows:>9,} rows: {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB), "
            f"{pq_path} ({pq_path.stat().st_size / 1e6:.0f} MB)"
        )


if __name__ == "__main__":
    main()
