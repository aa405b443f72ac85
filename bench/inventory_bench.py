"""Inventory benchmark: ``inventory`` over 1,000 models built from real, signed events.

Prints figures; asserts nothing. Needs a keyring (run through scripts/with-keyring).

One model is trained on the German credit sample; its run is then registered under N model
names (one ``model.register`` event each), each name gets a risk assessment (``model.risk``),
and every other one is promoted to ``validated`` (``model.promote``). The first 20 go through
the commands (policy gates and all); the rest are the same kinds of signed events appended in
one session per actor, which is what makes building 2,500 events take a minute rather than
ten. The inventory then runs five times; the first call is printed apart.

    scripts/with-keyring .venv/bin/python bench/inventory_bench.py [--models 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.audit import admin  # noqa: E402
from core.data import features, snapshots, validation  # noqa: E402
from core.governance import inventory, lifecycle, policy, risk  # noqa: E402
from core.governance.events import ModelPromoted, RiskAssessed  # noqa: E402
from core.identity import actors  # noqa: E402
from core.identity.actors import needs  # noqa: E402
from core.kernel.kinds import new_event  # noqa: E402
from core.modelling import models, training  # noqa: E402
from core.modelling.events import ModelRegistered  # noqa: E402

SAMPLE = ROOT / "sample_data" / "german-credit"
BUNDLE = """
[bundle]
name = "bench"
version = "1"

[governance]
untiered = 2

[[governance.bands]]
min_score = 1
tier = 2

[[governance.bands]]
min_score = 15
tier = 1

[[governance.tiers]]
tier = 1
k = 2
roles = ["validator", "compliance"]
approval_valid_days = 365
grace_days = 30
revalidate_days = 365
evidence_max_age_days = 180

[[governance.tiers]]
tier = 2
k = 1
roles = ["validator"]
approval_valid_days = 365
grace_days = 30
revalidate_days = 730
evidence_max_age_days = 365
"""
REGO = (
    'package ledgerml.gate\n\nimport rego.v1\n\ndeny contains "no" if { input.gate == "never" }\n'
)
CASES = '[[case]]\nname = "allow"\ngate = "risk"\nallow = true\ninput = {}\n'


def _risk(i: int) -> dict[str, object]:
    return {
        "impact": 1 + i % 5,
        "likelihood": 1 + (i // 5) % 5,
        "rationale": "bench",
        "purpose": "bench",
        "owner": "vic",
    }


def build(root: Path, n: int) -> float:
    """The workspace with ``n`` models; returns the seconds it took."""
    start = time.perf_counter()
    ws = admin.init(root / "ws", "alice", reason="bench")
    actors.add(ws, "alice", "sam", ["data-scientist", "data-steward"])
    actors.add(ws, "alice", "vic", ["validator"])
    snapshots.add(ws, "sam", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "sam", SAMPLE / "features.toml")
    validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "sam", SAMPLE / "train.toml")
    folder = root / "policy"
    (folder / "tests").mkdir(parents=True)
    (folder / "bundle.toml").write_text(BUNDLE)
    (folder / "gate.rego").write_text(REGO)
    (folder / "tests" / "cases.toml").write_text(CASES)
    policy.install(ws, "alice", folder, reason="bench")
    real = min(n, 20)
    for i in range(real):  # through the commands, gates and all
        name = f"model-{i:04d}"
        models.register(ws, "sam", run.run_id, name)
        risk.assess(ws, "vic", name, reason="bench", **_risk(i))
        if i % 2 == 0:
            lifecycle.promote(ws, "vic", f"{name}@1", to="validated", reason="bench")
    # The rest: the same signed events, appended in one session per actor (each command
    # would open the workspace, prove the actor and ask the policy once per event).
    with ws.session("sam") as s:
        needs("data-scientist", action="register models")(s)
        for i in range(real, n):
            reg = ModelRegistered(f"model-{i:04d}", 1, run.run_id, run.model_digest)
            s.commit(new_event("sam", reg, [f"model:{reg.ref}", f"run:{run.run_id}"], "bench"))
    with ws.session("vic") as s:
        needs("validator", action="assess and promote")(s)
        for i in range(real, n):
            name = f"model-{i:04d}"
            r = _risk(i)
            tier = 1 if r["impact"] * r["likelihood"] >= 15 else 2
            payload = RiskAssessed(
                name, r["impact"], r["likelihood"], tier, "bench", None, "bench", None, None, "vic"
            )
            s.commit(new_event("vic", payload, [f"model:{name}"], "bench"))
            if i % 2 == 0:
                move = ModelPromoted(f"{name}@1", run.model_digest, "candidate", "validated", [])
                s.commit(new_event("vic", move, [f"model:{name}@1"], "bench"))
    return time.perf_counter() - start


def main() -> None:
    """Build, then time the inventory."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        built = build(root, args.models)
        print(f"built {args.models} models (2.5 events each, signed) in {built:.1f} s")
        from core.kernel.workspace import Workspace

        ws = Workspace.open(root / "ws")
        times = []
        for _ in range(5):
            start = time.perf_counter()
            lines = inventory.inventory(ws)
            times.append(time.perf_counter() - start)
        assert len(lines) == args.models, len(lines)
        print(
            f"inventory over {len(lines)} models: first {times[0] * 1000:.0f} ms, "
            f"median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
