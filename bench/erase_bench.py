"""Erase bench: crypto-shredding an encrypted snapshot of about 1 GB. Prints; asserts nothing.

    scripts/with-keyring .venv/bin/python bench/erase_bench.py [--mb 1024] [--runs 3]

A CSV of ``--mb`` megabytes (people-like rows: an id, a name, an e-mail, numbers) is made
once, then each run adds it encrypted to a fresh workspace (not timed) and times
``erasure.erase`` in process: guards, the scope, the receipt, the ``data.erase`` event, the
destruction of the data keys and the deletion of the ciphertext objects. Wall and CPU time
(user + sys of this process), median of the runs; the target is at most 1 s. Beside it the
floor of the same run: unlinking files of the same sizes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_csv(path: Path, mb: int) -> int:
    """A CSV of about ``mb`` megabytes; its row count."""
    target, rows = mb * 1024 * 1024, 0
    with path.open("w") as out:
        out.write("customer_id,full_name,email,amount,score\n")
        written = 0
        while written < target:
            chunk = "".join(
                f"C-{i:09d},Person {i:09d},p{i:09d}@example.invalid,{i % 9973},{(i * 7) % 1000}\n"
                for i in range(rows, rows + 100_000)
            )
            out.write(chunk)
            written += len(chunk)
            rows += 100_000
    return rows


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from core.audit import admin
    from core.data import snapshots
    from core.identity import actors
    from core.privacy import erasure

    base = Path(tempfile.mkdtemp(prefix="erase-bench-"))
    try:
        csv = base / "people.csv"
        rows = make_csv(csv, args.mb)
        print(f"input: {csv.stat().st_size / 1e6:.0f} MB, {rows} rows")
        walls, cpus, floors, sizes = [], [], [], []
        for run in range(args.runs):
            ws = admin.init(base / f"ws{run}", "alice")
            actors.add(ws, "alice", "dana", ["data-steward"])
            snap, _ = snapshots.add(
                ws, "dana", csv, dataset="people", pii=["full_name", "email"], encrypt=True
            )
            size = sum(
                ws.objects.path(d).stat().st_size
                for d in (snap.raw_digest, snap.parquet_digest)
                if d
            )
            sizes.append(size)
            w0, c0 = time.perf_counter(), cpu()
            done = erasure.erase(
                ws, "dana", snap.ref, reason="bench", legal_basis="GDPR Art. 17(1)(b)"
            )
            walls.append(time.perf_counter() - w0)
            cpus.append(cpu() - c0)
            assert done.method == "crypto-shred" and not done.remaining
            floor_dir = base / f"floor{run}"
            floor_dir.mkdir()
            files = []
            for i in range(2):
                f = floor_dir / str(i)
                with f.open("wb") as out:
                    out.truncate(0)
                    out.write(os.urandom(1 << 20) * max(1, (size // 2) >> 20))
                files.append(f)
            w0 = time.perf_counter()
            for f in files:
                f.unlink()
            floors.append(time.perf_counter() - w0)
            shutil.rmtree(ws.root)
        print(f"ciphertext erased per run: {statistics.median(sizes) / 1e6:.0f} MB (raw + Parquet)")
        print(
            f"erase: median wall {statistics.median(walls):.3f} s, "
            f"CPU {statistics.median(cpus):.3f} s "
            f"over {args.runs} runs (walls {', '.join(f'{w:.3f}' for w in walls)}); target <= 1 s"
        )
        print(f"floor (unlink files of the same size): median {statistics.median(floors):.3f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
