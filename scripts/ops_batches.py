"""The demo's scoring batches, made from the feature view's own Parquet copy.

``ops_batches.py PARQUET OUT_DIR`` writes ``calm.csv`` (the first 500 applicants as they
came), ``truth.csv`` (what later happened to them: their ``bad_credit``) and ``drifted.csv``
(the other 500, with loans three times longer and four times larger than any in training).
``ops_batches.py --outcomes ANSWERS TRUTH OUT`` joins the answers' request ids to the truth,
row by row, into the file ``ledgerml outcome add`` reads.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def batches(parquet: str, out: Path) -> None:
    """Write the calm, truth and drifted files from the view's Parquet."""
    import duckdb

    con = duckdb.connect()
    source = parquet.replace("'", "''")
    con.execute(
        f"CREATE VIEW f AS SELECT row_number() OVER () AS n, * FROM read_parquet('{source}')"
    )
    con.execute(
        f"COPY (SELECT * EXCLUDE (n, bad_credit) FROM f WHERE n <= 500) TO '{out}/calm.csv'"
    )
    con.execute(f"COPY (SELECT bad_credit AS outcome FROM f WHERE n <= 500) TO '{out}/truth.csv'")
    con.execute(
        "COPY (SELECT * EXCLUDE (n, bad_credit, duration_months, credit_amount), "
        "duration_months * 3 AS duration_months, credit_amount * 4 AS credit_amount "
        f"FROM f WHERE n > 500) TO '{out}/drifted.csv'"
    )


def outcomes(answers: Path, truth: Path, out: Path) -> None:
    """Pair each answer's request id with the outcome of the same row."""
    with answers.open() as a, truth.open() as t:
        ids = [r["request_id"] for r in csv.DictReader(a)]
        seen = [r["outcome"] for r in csv.DictReader(t)]
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["request_id", "outcome"])
        w.writerows(zip(ids, seen, strict=True))


if __name__ == "__main__":
    if sys.argv[1] == "--outcomes":
        outcomes(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        batches(sys.argv[1], Path(sys.argv[2]))
