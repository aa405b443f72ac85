"""Encryption at rest: ``snapshot add --encrypt`` of the 5M-row CSV beside a plaintext add.

Prints figures; asserts nothing about time. Run through ``scripts/with-keyring`` (the
workspace's key-encryption key lives in the OS keyring):

    scripts/with-keyring .venv/bin/python bench/encrypt_bench.py [--rows 5000000] [--runs 3]

Each round makes two fresh workspaces and runs the real command in a child process, once
plaintext and once with ``--encrypt`` (the order alternates between rounds, so both see the
machine's moods and page cache alike). Figures are the medians of wall time and CPU time
(user + sys of the command and its threads) and their ratio; the issue's target is at most
1.2x. The CSV comes from ``bench/gen_credit.py`` (the same deterministic credit table the
data benchmarks use), made once under ``bench/out``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from data_bench import Figure, child, line  # noqa: E402
from gen_credit import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()

    from core.audit import admin

    csv, _ = generate(args.rows, args.out)
    size_mb = csv.stat().st_size / 1e6
    # This checkout's CLI (not whichever one the virtualenv's `ledgerml` script points at).
    root = str(HERE.parent)
    cli = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {root!r}); from app.cli import main; main()",
    ]
    plain, sealed = Figure(), Figure()
    for round_ in range(args.runs):
        tmp = Path(tempfile.mkdtemp(prefix="encrypt-bench-"))
        try:
            runs = [("plain", plain, []), ("sealed", sealed, ["--encrypt"])]
            for name, figure, flags in runs if round_ % 2 == 0 else runs[::-1]:
                admin.init(tmp / name, "bench")
                ws = ["--workspace", str(tmp / name), "--as", "bench"]
                add = [*cli, *ws, "snapshot", "add", str(csv), "--dataset", "credit"]
                child([*add, "--pii", "applicant_id", *flags], figure)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\nsnapshot add of the {args.rows:,}-row CSV ({size_mb:.0f} MB), "
        f"median of {args.runs}, alternating"
    )
    print(line("snapshot add (plaintext copies)", plain))
    print(line("snapshot add --encrypt", sealed, plain, "  (target <= 1.2x)"))
    print(f"  {'all runs (wall s)':<40} plain {plain.wall}  encrypted {sealed.wall}")


if __name__ == "__main__":
    main()
