"""Alerts benchmark: ``alerts`` over the inventory benchmark's 1,000 models.

Prints figures; asserts nothing. Needs a keyring (run through scripts/with-keyring).

The workspace is the one :mod:`bench.inventory_bench` builds (one trained run registered
under N names, each risk-assessed, every other one promoted to ``validated``), plus one open
finding on every tenth model. ``alerts`` then runs five times at a moment a year and a half
later (every validated model's evidence is stale and its revalidation due or lapsed).

    scripts/with-keyring .venv/bin/python bench/alerts_bench.py [--models 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.inventory_bench import build  # noqa: E402
from core.governance import alerts  # noqa: E402
from core.governance.events import FindingOpened  # noqa: E402
from core.identity.actors import needs  # noqa: E402
from core.kernel.kinds import new_event  # noqa: E402
from core.kernel.workspace import Workspace  # noqa: E402


def main() -> None:
    """Build, add findings, then time the alerts."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        built = build(root, args.models)
        ws = Workspace.open(root / "ws")
        with ws.session("vic") as s:
            needs("validator", action="record findings")(s)
            for i in range(0, args.models, 10):
                ref = f"model-{i:04d}@1"
                model = s.catalog.model(ref)
                assert model is not None
                payload = FindingOpened(ref, model.model_digest, "high", "t", "sam", "2027-01-01")
                s.commit(new_event("vic", payload, [f"model:{ref}"], "bench"))
        print(f"built {args.models} models in {built:.1f} s")
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=550)
        times, found = [], []
        for _ in range(5):
            start = time.perf_counter()
            found = alerts.alerts(ws, now=later)
            times.append(time.perf_counter() - start)
        print(
            f"alerts over {args.models} models ({len(found)} alerts): first "
            f"{times[0] * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
            f"best {min(times) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
