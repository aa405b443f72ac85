"""Policy benchmark: what a policy decision costs at a gate, with and without its ledger append.

Prints figures; asserts nothing about time. Run under the keyring wrapper::

    scripts/with-keyring .venv/bin/python bench/policy_bench.py [--decisions 2000] [--commands 200]

1. **decide alone.** :func:`core.governance.policy.decide` on the default pack (compiled
   once, as a process does), over gate inputs from this script's generator: realistic model
   facts (evidence lists of 1 to 40 items, PII columns, developers, verdicts and ages) for
   every gate the pack has rules for, allow and deny paths mixed.
2. **gate + append.** A real workspace (the german-credit sample, trained and registered):
   ``command.run`` with the identity guard and the policy gate, building the version's real
   facts from the catalog, then either an allowed ``model.risk`` event (decision attached,
   fsynced) or a denied ``approve`` (a self-approval: its ``policy.deny`` attempt event is
   fsynced, then the refusal raised).
3. **floor.** The same ``model.risk`` command on a copy of that workspace with no policy
   installed: identity guard and fsynced signed append alone.

4. **parts.** In one open session: the version's facts from the catalog, the decision
   alone, and the whole gate guard without the append.

Each figure is the median and 95th percentile of CPU time (this process) and wall time per
call. The issue's budget is a decision at a gate within 5 ms, ledger append included.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.audit import admin  # noqa: E402
from core.data import features, snapshots, validation  # noqa: E402
from core.governance import facts, policy  # noqa: E402
from core.governance.events import RiskAssessed  # noqa: E402
from core.identity import actors, signer  # noqa: E402
from core.identity.actors import needs  # noqa: E402
from core.kernel import command  # noqa: E402
from core.kernel.kinds import new_event  # noqa: E402
from core.kernel.workspace import Session, Workspace  # noqa: E402
from core.modelling import models, training  # noqa: E402

SAMPLE = ROOT / "sample_data" / "german-credit"
DEFAULT = ROOT / "sample_data" / "policies" / "default"
VERDICTS = ["PASS", "PASS", "PASS", "WARN", "INCONCLUSIVE", "FAIL"]
KINDS = ["validation", "evaluation", "reproduction"]
ROLES = ["validator", "approver", "data-scientist", "admin"]


def generated_input(rng: random.Random, i: int) -> tuple[str, dict[str, Any]]:
    """One gate input as a workstation would build it, drawn at random."""
    evidence = []
    for seq in range(rng.randint(1, 40)):
        kind = rng.choice(KINDS)
        item: dict[str, Any] = {
            "kind": kind,
            "seq": 100 + seq,
            "digest": f"{rng.getrandbits(256):064x}",
            "verdict": rng.choice(VERDICTS),
            "age_days": round(rng.uniform(0, 400), 4),
        }
        if kind == "evaluation":
            item["fairness"] = rng.choice(VERDICTS)
        evidence.append(item)
    newest = {e["kind"]: e for e in evidence}
    pii = rng.random() < 0.3
    name = f"model-{i % 97}"
    model = {
        "ref": f"{name}@{1 + i % 5}",
        "name": name,
        "version": 1 + i % 5,
        "digest": f"sha256:{rng.getrandbits(256):064x}",
        "stage": rng.choice(["candidate", "validated"]),
        "tier": rng.randint(1, 3),
        "tier_assessed": True,
        "dpia": "DPIA-7" if rng.random() < 0.8 else None,
        "pii_inputs": pii,
        "pii_columns": ["age", "postcode"] if pii else [],
        "features": [f"f{j}" for j in range(rng.randint(5, 60))],
        "developers": rng.sample(["sam", "dana", "lee", "alice"], 2),
        "evidence": evidence,
        "verdicts": {
            "validation": newest.get("validation", {}).get("verdict"),
            "evaluation": newest.get("evaluation", {}).get("verdict"),
            "fairness": newest.get("evaluation", {}).get("fairness"),
            "reproduction": newest.get("reproduction", {}).get("verdict"),
        },
        "evidence_age_days": {k: newest.get(k, {}).get("age_days") for k in KINDS},
    }
    actor = {"name": rng.choice(["val", "sam", "cora"]), "roles": rng.sample(ROLES, 2)}
    gate = rng.choice(["register", "promote", "approve", "deploy", "score", "export"])
    doc: dict[str, Any] = {
        "actor": actor | {"kind": "person"},
        "time": "2026-03-01T10:00:00.000000Z",
        "subject": f"model:{model['ref']}",
        "model": model,
    }
    if gate == "promote":
        doc["request"] = {
            "to_stage": rng.choice(["validated", "approved"]),
            "from_stage": model["stage"],
            "break_glass": rng.random() < 0.05,
        }
    if gate == "approve":
        doc["request"] = {"stage": "approved", "decision": "approve", "role": "validator"}
    if gate in ("promote", "approve"):
        ok = rng.random() < 0.5
        doc["approvals"] = {
            "stage": "approved",
            "list": [
                {"seq": 300 + j, "approver": f"p{j}", "role": "validator", "decision": "approve"}
                for j in range(rng.randint(0, 4))
            ],
            "check": {"ok": ok, "missing_roles": [] if ok else ["compliance"], "problems": []},
        }
    return gate, doc


def stats(samples: list[tuple[float, float]]) -> str:
    """Median and p95 of CPU and wall, in milliseconds."""

    def q(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    cpu = [c for c, _ in samples]
    wall = [w for _, w in samples]
    return (
        f"CPU median {statistics.median(cpu) * 1000:6.2f} ms  p95 {q(cpu, 0.95):6.2f} ms   "
        f"wall median {statistics.median(wall) * 1000:6.2f} ms  p95 {q(wall, 0.95):6.2f} ms"
    )


def timed(call: Callable[[], Any], n: int) -> list[tuple[float, float]]:
    """``n`` timings of ``call`` as (CPU seconds, wall seconds)."""
    out = []
    for _ in range(n):
        c0, w0 = time.process_time(), time.perf_counter()
        call()
        out.append((time.process_time() - c0, time.perf_counter() - w0))
    return out


def bench_decide(n: int) -> None:
    bundle = policy.load_dir(DEFAULT)
    policy.engine(bundle)  # compiled once per process, as at a gate
    rng = random.Random(14)
    inputs = [generated_input(rng, i) for i in range(n)]
    it = iter(inputs)
    denied = 0

    def one() -> None:
        nonlocal denied
        gate, doc = next(it)
        denied += not policy.decide(bundle, gate, doc).allow

    samples = timed(one, n)
    print(f"(a) decide alone, default pack, {n} generated inputs ({denied} denied):")
    print(f"    {stats(samples)}")


def workspace(root: Path) -> tuple[Workspace, str]:
    """The german-credit sample trained and registered by sam; val validates, cora approves."""
    ws = admin.init(root, "alice", reason="bench")
    actors.add(ws, "alice", "sam", ["data-scientist"])
    actors.add(ws, "alice", "val", ["validator"])
    snapshots.add(ws, "alice", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "alice", SAMPLE / "features.toml")
    validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "sam", SAMPLE / "train.toml")
    row, _ = models.register(ws, "sam", run.run_id, "credit-risk")
    return ws, row.ref


def risk_command(ws: Workspace, ref: str, governed: bool) -> Callable[[], Any]:
    """``model risk`` as a command: the identity guard, the risk gate, one signed event."""
    subject = f"model:{ref}"

    def model(s: Session) -> dict[str, Any]:
        return {"model": facts.model_facts(s, ref, untiered=policy.untiered(s))}

    guards: list[Any] = [needs("validator", action="assess risk")]
    if governed:
        guards.append(policy.gate("risk", subject, model))
    payload = RiskAssessed(ref.split("@")[0], 3, 3, 2, "bench")

    def run() -> Any:
        return command.run(
            ws,
            "val",
            guards=guards,
            commit=lambda s, _: s.commit(new_event("val", payload, [subject], "bench")),
        )

    return run


def denied_approve(ws: Workspace, ref: str) -> Callable[[], Any]:
    """A self-approval: the approve gate refuses it and records the ``policy.deny``."""
    subject = f"model:{ref}"

    def doc(s: Session) -> dict[str, Any]:
        return {
            "model": facts.model_facts(s, ref, untiered=policy.untiered(s)),
            "request": {"stage": "approved", "decision": "approve", "role": "data-scientist"},
        }

    guards = [needs("data-scientist", action="approve"), policy.gate("approve", subject, doc)]

    def run() -> None:
        try:
            command.run(ws, "sam", guards=guards, commit=lambda s, _: None)
        except policy.PolicyDeniedError:
            return
        print("    the self-approval was allowed: the figures below are not of a denial")

    return run


def bench_parts(ws: Workspace, ref: str, n: int) -> None:
    """Where a gate's time goes, in one open session: the facts from the catalog, the
    decision, and the whole guard (both, plus the actor and the bundle in force)."""
    subject = f"model:{ref}"

    def model(s: Session) -> dict[str, Any]:
        return {"model": facts.model_facts(s, ref, untiered=policy.untiered(s))}

    guard = policy.gate("risk", subject, model)
    with ws.session("val") as s:
        needs("validator", action="assess risk")(s)
        bundle = policy.in_force(s)
        assert bundle is not None
        doc = {"actor": policy.actor_input(s), "time": "t", "subject": subject, **model(s)}
        for label, call in [
            ("facts.model_facts (catalog queries)", lambda: model(s)),
            ("decide (regopy plan)", lambda: policy.decide(bundle, "risk", doc)),
            ("the whole gate guard, no append", lambda: guard(s)),
        ]:
            for _ in range(5):
                call()
            print(f"(d) {label}, {n} calls:")
            print(f"    {stats(timed(call, n))}")


def bench_gate(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws, ref = workspace(Path(tmp) / "ws")
        shutil.copytree(ws.root, Path(tmp) / "floor")
        policy.install(ws, "alice", DEFAULT, "bench")
        signer.forget()
        floor = Workspace.open(Path(tmp) / "floor")
        for label, call in [
            ("(b) gate + append: allowed model.risk", risk_command(ws, ref, True)),
            ("(b) gate + append: denied approve (policy.deny)", denied_approve(ws, ref)),
            ("(c) floor: the same model.risk, no policy", risk_command(floor, ref, False)),
        ]:
            for _ in range(5):  # warm: unlock the signer, compile the bundle, fill caches
                call()
            before = ws.ledger.head()[0] + floor.ledger.head()[0]
            samples = timed(call, n)
            grew = ws.ledger.head()[0] + floor.ledger.head()[0] - before
            print(f"{label}, {n} commands, {grew} fsynced events:")
            print(f"    {stats(samples)}")
        bench_parts(ws, ref, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args()
    bench_decide(args.decisions)
    bench_gate(args.commands)


if __name__ == "__main__":
    main()
