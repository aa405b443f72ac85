"""Operations verification benchmark: what checking the decision log costs.

Prints figures; asserts nothing. No workspace and no keyring: a synthetic decision batch of
``--rows`` rows (the decision-log schema, realistic strings) is written as Parquet once, then:

- ``audit verify``'s per-batch check (:mod:`core.audit.operations_checks`): read the Parquet
  object, compute every ``decision-leaf/1`` leaf and the Merkle root, compare the rows'
  deployments — decisions per second;
- the stand-alone verifier (standard library only): the root recomputed from the leaf hashes
  a bundle carries, and ``--samples`` sample decisions' inclusion proofs checked.

    .venv/bin/python bench/operations_verify_bench.py [--rows 200000] [--samples 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic(rows: int) -> object:
    """A decision table of ``rows`` rows with the log's columns (seeded, deterministic)."""
    import pyarrow as pa

    from core.operations.decision_log import schema

    rnd = random.Random(7)
    scores = [rnd.random() for _ in range(rows)]
    cols = {
        "request_id": [f"r-{i:012x}" for i in range(rows)],
        "ts": [f"2026-12-01T10:{(i // 60) % 60:02d}:{i % 60:02d}.000000Z" for i in range(rows)],
        "caller": ["cal"] * rows,
        "env": ["production"] * rows,
        "deployment_id": ["dep-0123456789ab"] * rows,
        "arm": ["live"] * rows,
        "returned": [True] * rows,
        "model": ["credit-risk@1"] * rows,
        "model_digest": ["ab" * 32] * rows,
        "policy_digest": ["sha256:" + "cd" * 32] * rows,
        "input_hmac": [f"{rnd.getrandbits(256):064x}" for _ in range(rows)],
        "status": ["ok"] * rows,
        "score": scores,
        "label": [int(s >= 0.5) for s in scores],
        "decision": ["declined" if s >= 0.5 else "approved" for s in scores],
        "detail": [None] * rows,
        "reasons": [None] * rows,
        "latency_ms": [None] * rows,
    }
    return pa.table(cols, schema=schema())


def main() -> None:
    """Build one batch, then time both checks."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.operations.decision_log import leaf_hashes, merkle_root, to_parquet
    from storage import bundle_verifier, merkle

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    blob = to_parquet(synthetic(args.rows))
    print(f"batch: {args.rows} decisions, {len(blob) / 1e6:.1f} MB of Parquet (zstd)")

    t0 = time.perf_counter()
    table = pq.read_table(pa.BufferReader(blob))
    leaves = leaf_hashes(table)
    root = merkle_root(leaves).hex()
    ids = set(table.column("deployment_id").to_pylist())
    t1 = time.perf_counter()
    print(
        f"audit verify, per batch: {t1 - t0:.3f} s = {args.rows / (t1 - t0):,.0f} decisions/s "
        f"(read, leaves, root, deployments: {len(ids)})"
    )

    t0 = time.perf_counter()
    again = bundle_verifier._root_of(leaves).hex()
    t1 = time.perf_counter()
    assert again == root
    print(f"stand-alone verifier, root from leaf hashes: {t1 - t0:.3f} s")

    rows = table.to_pylist()
    picks = random.Random(3).sample(range(args.rows), min(args.samples, args.rows))
    proofs = [[p.hex() for p in merkle.inclusion_proof(i, leaves)] for i in picks]
    fields = bundle_verifier.DECISION_FIELDS
    t0 = time.perf_counter()
    ok = all(
        bundle_verifier.decision_included({f: rows[i][f] for f in fields}, i, args.rows, path, root)
        for i, path in zip(picks, proofs, strict=True)
    )
    t1 = time.perf_counter()
    print(
        f"stand-alone verifier, {len(picks)} sample proofs: {t1 - t0:.3f} s "
        f"({(t1 - t0) / len(picks) * 1e6:.0f} µs each), all valid: {ok}"
    )


if __name__ == "__main__":
    main()
