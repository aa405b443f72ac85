"""TUI cold start: from process start to the first painted screen, on a workspace with 1,000
model versions and 100,000 events. Prints figures (median of 5); asserts nothing.

The workspace is generated directly in the ledger (synthetic training runs, registrations
and filler events, then one catalog rebuild), so it builds in seconds; the app then opens it
as it would any workspace. Needs a keyring only for the workspace key at init.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import time
t0 = time.perf_counter()
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from app.tui.app import LedgerApp, make_app

class Timed(LedgerApp):
    CSS_PATH = str(Path({root!r}) / "app" / "tui" / "app.tcss")

    def on_ready(self) -> None:  # Textual: the DOM is ready and the first frame is shown
        print(f"{{time.perf_counter() - t0:.3f}}")

base = make_app(Path({ws!r}), actor="bench")
app = Timed(None, actor="bench", workspace_path=base.workspace_path)
async def loaded(pilot):
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    print(f"{{time.perf_counter() - t0:.3f}}")
    app.exit()
app.run(headless=True, size=(120, 40), auto_pilot=loaded)
"""


def build(root: Path, models: int = 1000, events: int = 100_000) -> Path:
    from core.audit import admin
    from core.identity import signer
    from core.kernel.events import Event

    ws = admin.init(root / "ws", "bench")
    bodies: list[Event] = []
    for i in range(models):
        run_id = f"{i:012x}"
        bodies.append(
            Event(
                "bench",
                "train.run",
                [f"run:{run_id}"],
                {
                    "run_id": run_id,
                    "name": "credit-risk",
                    "spec_digest": "0" * 64,
                    "input": {
                        "ref": "german-credit-features@1",
                        "table_digest": "1" * 64,
                        "parquet_digest": "2" * 64,
                    },
                    "gate": {"suite": "s", "validation_seq": 1},
                    "estimator": "logistic_regression",
                    "environment_digest": "3" * 64,
                    "model_digest": f"{i:064x}",
                    "predictions_digest": "4" * 64,
                    "metrics": {"roc_auc": 0.7 + i / 10_000},
                    "seed": 0,
                    "freeze_digest": "5" * 64,
                    "code": {},
                    "metrics_digest": "6" * 64,
                    "predictions_object": "7" * 64,
                    "train_rows": 700,
                    "test_rows": 300,
                },
            )
        )
        bodies.append(
            Event(
                "bench",
                "model.register",
                [f"model:credit-risk@{i + 1}"],
                {
                    "name": "credit-risk",
                    "version": i + 1,
                    "run_id": run_id,
                    "model_digest": f"{i:064x}",
                },
            )
        )
    filler = events - len(bodies) - 1
    bodies += [Event("bench", "note.add", [f"note:{i}"], {"i": i}) for i in range(filler)]
    with ws.session("bench") as s:
        seal = signer.prove(s, signer.authority_of(s))  # a workspace's events are all signed
        for start in range(0, len(bodies), 50_000):
            ws.ledger.append([seal.seal(e) for e in bodies[start : start + 50_000]])
    ws.rebuild()
    return ws.root


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tui-bench-"))
    t0 = time.perf_counter()
    ws_root = build(tmp)
    print(
        f"built a workspace with 1,000 model versions and 100,000 events in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    script = CHILD.format(root=str(ROOT), ws=str(ws_root))
    paint, loaded, wall = [], [], []
    for _ in range(6):
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
        )
        wall.append(time.perf_counter() - t)
        first, done = (float(x) for x in out.stdout.split())
        paint.append(first)
        loaded.append(done)
    paint, loaded, wall = paint[1:], loaded[1:], wall[1:]  # the first run warms caches
    print(
        f"first painted screen: median {statistics.median(paint):.3f} s after the process "
        f"starts running Python (target <= 0.6 s)"
    )
    print(
        f"overview filled (inventory of the newest 200 versions, recent events): "
        f"median {statistics.median(loaded):.3f} s"
    )
    print(
        f"whole process including interpreter start and exit: median "
        f"{statistics.median(wall):.3f} s"
    )


if __name__ == "__main__":
    main()
