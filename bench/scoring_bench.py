"""Scoring benchmark: decisions logged per second against the bare predict-and-write floor.

Prints figures; asserts nothing. Needs a keyring (run through scripts/with-keyring).

The generator resamples whole rows of the German credit data (``sample_data/german-credit``)
with replacement to ``--rows`` rows, jittering duration, amount and age, so the rows are
shaped like the credit features and keep their relation to the label. The bench then runs
the governed path for real: snapshot, feature view, validation (the sample suite with its row
count widened), a logistic model trained on the generated rows, registered, signed, approved
by two validators, deployed to production. Two runs over the same feature rows follow:

- **floor**: ``predict_proba`` of the verified pipeline and a bare Parquet write (zstd) of
  request id, score and label: what any scoring job must do;
- **logged**: ``Scorer.score`` end to end: routing by request id, the approval condition in
  DuckDB, the model, decision words, a keyed HMAC of each input row, the decision table,
  ``decision-leaf/1`` leaves and their Merkle root, the Parquet object and the signed
  ``decision.batch`` event.

    scripts/with-keyring .venv/bin/python bench/scoring_bench.py [--rows 1000000] \
        [--profile 25] [--one-thread]

``--one-thread`` turns off the second thread (Arrow encoding of the next chunk beside the
hashing of this one, the Parquet write beside the Merkle root) to measure what it pays.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "sample_data" / "german-credit"
POLICY = ROOT / "tests" / "operations" / "policy"  # the small policy operations tests use
FEATURES = [
    "checking_account", "duration_months", "credit_history", "purpose", "credit_amount",
    "savings", "employment_since", "installment_rate_pct", "other_debtors",
    "residence_since_years", "property", "other_installment_plans", "housing",
    "existing_credits", "job", "people_liable", "has_telephone",
]  # fmt: skip
_JITTER = {1: (4, 72), 4: (250, 18424), 12: (1, 75)}  # column: (spread, max) of raw german.data


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """``rows`` raw German credit rows: whole rows resampled, numeric fields jittered."""
    rng = random.Random(seed)
    source = [line.split() for line in (SAMPLE / "german.data").read_text().splitlines()]
    with path.open("w") as out:
        for _ in range(rows):
            row = list(rng.choice(source))
            for col, (spread, top) in _JITTER.items():
                value = int(row[col]) + rng.randint(-spread, spread)
                row[col] = str(min(max(value, 19 if col == 12 else 1), top))
            out.write(" ".join(row) + "\n")


def build(tmp: Path, rows: int) -> tuple[object, float]:
    """The governed workspace with the model deployed to production; its build time."""
    from core.audit import admin
    from core.data import features, snapshots, validation
    from core.governance import approvals, lifecycle, policy
    from core.identity import actors
    from core.modelling import models, training
    from core.operations import deployments

    start = time.perf_counter()
    data = tmp / "sample"
    shutil.copytree(SAMPLE, data)
    generate(data / "german.data", rows)
    suite = data / "features_suite.toml"
    suite.write_text(suite.read_text().replace("max = 1000\n", f"max = {rows}\n", 1))
    ws = admin.init(tmp / "ws", "alice", reason="bench")
    for name, roles, kind in (
        ("sam", ["data-scientist", "data-steward"], "person"),
        ("vic", ["validator"], "person"),
        ("tess", ["validator"], "person"),
        ("opal", ["operator"], "person"),
        ("scorer", ["operator"], "service"),
    ):
        actors.add(ws, "alice", name, roles, kind=kind)
    snapshots.add(ws, "sam", data / "german.data", dataset="german-credit")
    features.build(ws, "sam", data / "features.toml")
    validation.run(ws, "alice", "german-credit-features", suite)
    policy.install(ws, "alice", POLICY, reason="bench policy")
    run = training.train(ws, "sam", data / "train.toml")
    row, _ = models.register(ws, "sam", run.run_id, "credit-risk")
    models.sign(ws, "sam", row.ref)
    lifecycle.promote(ws, "vic", row.ref, to="validated", reason="validated")
    approvals.approve(ws, "vic", row.ref, role="validator", reason="ok")
    approvals.approve(
        ws,
        "tess",
        row.ref,
        role="validator",
        reason="ok",
        conditions=["not for applicants under 21 [where age_years >= 21]"],
    )
    lifecycle.promote(ws, "vic", row.ref, to="approved", reason="approved")
    deployments.deploy(ws, "opal", row.ref, env="production", reason="bench")
    return ws, time.perf_counter() - start


def main() -> None:
    """Generate, build, then time the floor and the logged path on the same rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.data import snapshots
    from core.modelling import models, training
    from core.operations import scoring

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--profile", type=int, default=0, help="then profile one more logged run: top N calls"
    )
    parser.add_argument(
        "--one-thread",
        action="store_true",
        help="no second thread (encoding beside hashing, Parquet beside the Merkle root)",
    )
    args = parser.parse_args()
    if args.one_thread:
        from core.operations import decision_log

        decision_log._CHUNK = decision_log._OVERLAP_ROWS = 1 << 62
    with tempfile.TemporaryDirectory() as tmp_name:
        ws, built = build(Path(tmp_name), args.rows)
        print(f"built the governed workspace on {args.rows} generated rows in {built:.1f} s")
        with ws.session() as s:  # type: ignore[attr-defined]
            snap = snapshots.resolve(s.catalog, "german-credit-features@1")
        frame = training.load_table(ws, snap, [*FEATURES, "age_years"])  # type: ignore[arg-type]
        table = pa.Table.from_pandas(frame, preserve_index=False)
        n = table.num_rows

        pipeline = models.load(ws, "credit-risk@1", purpose="score")  # type: ignore[arg-type]
        wall, cpu = time.perf_counter(), time.process_time()
        x = frame[FEATURES]
        proba = pipeline.predict_proba(x)[:, 1]
        ids = [f"r-{i:07d}" for i in range(n)]
        floor_table = pa.table(
            {"request_id": ids, "score": proba, "label": (proba >= 0.5).astype(np.int8)}
        )
        sink = io.BytesIO()
        pq.write_table(floor_table, sink, compression="zstd")
        floor_wall, floor_cpu = time.perf_counter() - wall, time.process_time() - cpu

        scorer = scoring.Scorer.open(ws, "production", "scorer")  # type: ignore[arg-type]
        wall, cpu = time.perf_counter(), time.process_time()
        res = scorer.score(table, caller="scorer")
        log_wall, log_cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert res.batch is not None
        print(
            f"floor  (predict_proba + Parquet write): {n / floor_wall:,.0f} rows/s; "
            f"wall {floor_wall:.2f} s, CPU {floor_cpu:.2f} s"
        )
        print(
            f"logged (Scorer.score: HMAC per row + Parquet + Merkle + signed event): "
            f"{n / log_wall:,.0f} decisions/s; wall {log_wall:.2f} s, CPU {log_cpu:.2f} s"
        )
        print(
            f"ratio logged/floor: wall {log_wall / floor_wall:.2f}x, CPU "
            f"{log_cpu / floor_cpu:.2f}x; batch #{res.batch.seq}: {res.batch.count} decisions, "
            f"{res.batch.refused} refused, object {res.batch.object_digest[:12]}…"
        )
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(scorer.score, table, caller="scorer")
            pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
