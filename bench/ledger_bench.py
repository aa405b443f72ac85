"""Ledger benchmarks: append throughput, full verification time, inclusion proofs.

Prints figures; asserts nothing about time. Run with `make bench` or
`.venv/bin/python bench/ledger_bench.py [--sizes 10000,100000,1000000]`.
The events are synthetic but valid (each carries the fields its projector handler reads, so
a workspace replays them), about 300-700 bytes of canonical JSON.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.kernel.events import Event, now_iso
from storage import merkle
from storage.ledger import Ledger


def _data(action: str, i: int) -> dict[str, object]:
    """A body the projector can fold: the fields its handler for ``action`` reads."""
    digest = f"{i:064x}"
    if action == "snapshot.add":
        return {
            "dataset": f"german-credit-{i % 50}",
            "version": i,
            "kind": "raw",
            "dialect": {"format": "parquet"},
            "parquet_digest": digest,
            "table_digest": digest,
            "profile_digest": digest,
            "rows": 1000 + i % 500,
            "columns": [{"name": "age", "type": "BIGINT", "kind": "int"}],
            "provenance": {},
            "pii": [],
            "sensitive": [],
            "retention": "",
            "lineage": [],
        }
    if action == "validation.run":
        return {
            "snapshot": f"german-credit-{i % 50}@{i - 1}",
            "suite_name": "credit-typical",
            "suite_digest": digest,
            "result_digest": digest,
            "passed": i % 3 != 0,
            "errors": int(i % 3 == 0),
            "warnings": 0,
            "checks": 12,
        }
    if action == "model.register":
        return {"name": "credit-risk", "version": i, "run_id": f"{i:08x}", "model_digest": digest}
    return {
        "subject": f"model:credit-risk@{i - 1}",
        "key_id": digest,
        "envelope": digest,
        "predicate_type": "https://ledgerml.dev/model/v1",
    }


def event(i: int, actor: str = "", ts: str = "") -> Event:
    """A synthetic event that is also a valid one, so a workspace can replay it."""
    action = ("snapshot.add", "validation.run", "model.register", "model.sign")[i % 4]
    return Event(
        actor=actor or f"actor-{i % 17}",
        action=action,
        subjects=[f"dataset:german-credit@{i % 50}", f"run:{i:08x}"],
        data=_data(action, i),
        reason="synthetic benchmark event",
        ts=ts or f"2026-11-28T04:{(i // 60) % 60:02d}:{i % 60:02d}.000000Z",
    )


def body(i: int) -> bytes:
    """The unsigned body of :func:`event` (the storage-level figures need no signer)."""
    return event(i).body()


def generate(root: Path, n: int, batch: int = 50_000) -> Ledger:
    ledger = Ledger(root)
    for start in range(0, n, batch):
        ledger.append([body(i) for i in range(start, min(n, start + batch))])
    return ledger


def best_of(fn, repeat: int = 3) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def workspace_figures(sizes: list[int]) -> None:
    """Whole-workspace figures: rebuild (replay into DuckDB) and `audit verify` end to end."""
    from core.audit import admin, checkpoints, verification
    from core.identity import signer

    for n in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="ws-bench-"))
        try:
            ws = admin.init(tmp / "ws", "bench")
            with ws.session("bench") as s:
                # Signed by the founder, at real times: a workspace verifies every signature.
                seal = signer.prove(s, signer.authority_of(s))
                for start in range(0, n - 1, 50_000):
                    ws.ledger.append(
                        [
                            seal.seal(event(i, "bench", now_iso()))
                            for i in range(start, min(n - 1, start + 50_000))
                        ]
                    )
            t0 = time.perf_counter()
            ws.rebuild()
            t_rebuild = time.perf_counter() - t0
            checkpoints.checkpoint(ws, "bench")
            t_verify, report = best_of(partial(verification.verify, ws), repeat=3)
            assert report.ok, report.failures  # type: ignore[attr-defined]
            print(f"\nworkspace with {n:,} events")
            print(
                f"  rebuild (replay into DuckDB): {t_rebuild:.2f} s = {n / t_rebuild:,.0f} events/s"
            )
            print(
                f"  audit verify end to end (chain, Merkle, every event's signature and role, "
                f"checkpoint signature, objects, catalog witness): {t_verify:.2f} s"
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--single", type=int, default=2000, help="one-by-one appends to time")
    # Real events replay through the projector at about 130 events/s today (one catalog
    # statement per row), so the workspace figures default to sizes that finish in minutes;
    # pass larger sizes explicitly.
    parser.add_argument("--workspace-sizes", default="1000,5000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    print(f"machine: {os.cpu_count()} cpus; events ~{len(body(1))} bytes of canonical JSON")
    try:
        ledger = Ledger(tmp / "single")
        t0 = time.perf_counter()
        for i in range(args.single):
            ledger.append([body(i)])
        dt = time.perf_counter() - t0
        print(f"append one-by-one (fsync each): {args.single / dt:,.0f} events/s")

        for n in sizes:
            root = tmp / f"n{n}"
            t0 = time.perf_counter()
            ledger = generate(root, n)
            dt = time.perf_counter() - t0
            print(f"\n{n:,} events")
            print(f"  append batched (50k per fsync): {n / dt:,.0f} events/s")
            serial, _ = best_of(partial(ledger.scan, workers=1))
            full, scan = best_of(partial(ledger.scan, cuts=[n // 2, n]))
            print(f"  full verify (chain + Merkle roots), 1 process: {serial:.3f} s")
            print(f"  full verify (chain + Merkle roots), {os.cpu_count()} processes: {full:.3f} s")
            assert scan.problem is None  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            leaves = ledger.leaf_hashes()
            t_leaves = time.perf_counter() - t0
            index = n // 3
            t0 = time.perf_counter()
            proof = merkle.inclusion_proof(index, leaves)
            t_proof = time.perf_counter() - t0
            t0 = time.perf_counter()
            merkle.verify_inclusion(index, n, leaves[index], proof, merkle.root(leaves))
            print(
                f"  inclusion proof: {len(proof)} hashes = {32 * len(proof)} bytes; "
                f"leaves {t_leaves:.3f} s + path {t_proof:.3f} s to build; "
                f"checking it needs {len(proof)} hashes"
            )
            shutil.rmtree(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.workspace_sizes:
        workspace_figures([int(s) for s in args.workspace_sizes.split(",")])


if __name__ == "__main__":
    main()
