"""Pseudonyms: HMAC-SHA-256 in DuckDB's SQL against a Python UDF over Arrow, on 1M values.

    .venv/bin/python bench/pseudonym_bench.py [--rows 1000000] [--runs 3] [--threads 2]

Each run copies a CSV of ``--rows`` rows (an e-mail address, a group number, an amount) to
zstd Parquet, as the canonical copy is written, three ways: plain (the floor), the e-mail
column replaced by ``core.data.pseudonyms.sql`` (HMAC from DuckDB's ``sha256``, the padded
key bound as connection variables; what ingest uses), and replaced by a Python scalar UDF
over Arrow (the padded key's SHA-256 states copied per value: the fastest pure-Python HMAC
here; ``hmac.digest`` one-shot was slower). Prints the median wall and CPU time of each and
checks that both give the reference HMAC. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    import duckdb
    import pyarrow as pa

    from core.data import pseudonyms

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    key = secrets.token_bytes(32)
    padded = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def udf(values: Any) -> Any:
        out = []
        for v in values.to_pylist():
            if v is None:
                out.append(None)
                continue
            h = inner.copy()
            h.update(v.encode())
            o = outer.copy()
            o.update(h.digest())
            out.append(o.hexdigest())
        return pa.array(out, pa.string())

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "people.csv"
        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT 'user' || i || '@example.org' AS email, i % 1000 AS grp, "
            f"(i * 7) % 97 AS amount FROM range({args.rows}) t(i)) TO '{src}' (HEADER)"
        )
        con.close()
        ways = {
            "plain copy (floor)": "email",
            "HMAC in DuckDB SQL": pseudonyms.sql("email", 1),
            "Python UDF over Arrow": "ps(email)",
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        first: dict[str, str] = {}
        for _ in range(args.runs):
            for name, expr in ways.items():
                con = duckdb.connect()
                con.execute(f"SET threads = {args.threads}")
                pseudonyms.bind(con, {1: key})
                con.create_function(
                    "ps", udf, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("VARCHAR"), type="arrow"
                )
                out = Path(tmp) / "out.parquet"
                wall, cpu = time.perf_counter(), _cpu()
                con.execute(
                    f"COPY (SELECT * REPLACE ({expr} AS email) FROM read_csv('{src}')) "
                    f"TO '{out}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
                )
                times[name].append((time.perf_counter() - wall, _cpu() - cpu))
                row = con.execute(f"SELECT email FROM '{out}' LIMIT 1").fetchone()
                first[name] = str(row[0]) if row else ""
                con.close()
    reference = hmac.new(key, b"user0@example.org", hashlib.sha256).hexdigest()
    floor_cpu = statistics.median(c for _, c in times["plain copy (floor)"])
    print(f"{args.rows:,} rows, {args.runs} runs, DuckDB threads {args.threads}")
    for name, measured in times.items():
        wall = statistics.median(w for w, _ in measured)
        cpu = statistics.median(c for _, c in measured)
        extra = "" if name.startswith("plain") else f"  (+{cpu - floor_cpu:.2f} s CPU)"
        print(f"  {name:24s} wall {wall:6.2f} s  CPU {cpu:6.2f} s{extra}")
    for name in ("HMAC in DuckDB SQL", "Python UDF over Arrow"):
        print(f"  {name}: {'reference HMAC' if first[name] == reference else 'WRONG VALUE'}")


if __name__ == "__main__":
    main()
