"""Scoring-service benchmark: ``ledgerml serve`` against the same model in a bare ASGI app.

Prints figures; asserts nothing about time. Needs a keyring (scripts/with-keyring).

It builds its own workspace (the German credit sample, a logistic model trained, signed,
approved by two validators, deployed to staging; a consumer's token), then sends REQUESTS
one-row requests (default 10,000) from CONCURRENCY connections (default 16) with httpx's
async client on 127.0.0.1 to three servers, each its own process run by uvicorn:

- **bare**: the model's ``predict_proba`` behind Starlette (:func:`core.operations.serving.
  bare_app`): no token, no conditions, no log; the floor.
- **serve**: ``ledgerml serve`` as shipped: token checked against the ledger per request,
  the governed scorer (conditions, routing, input HMAC), the decision log flushed every
  1,000 decisions or 5 s.
- **serve --durable**: the same, each answer sent only once its decision is committed.

Per server: throughput, p50 and p99 latency as the client saw it, and the server's CPU
seconds (user + system, from /proc) over the run; the client's own CPU is printed once.

Usage: ``scripts/with-keyring .venv/bin/python -u bench/serve_bench.py [REQUESTS
[CONCURRENCY]]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "sample_data" / "german-credit"
POLICY = ROOT / "tests" / "operations" / "policy"
ENV = "staging"


def build(root: Path) -> tuple[str, list[dict[str, Any]]]:
    """The workspace described in the module docstring; (a consumer's token, input rows)."""
    from core.audit import admin
    from core.data import features, snapshots, validation
    from core.governance import approvals, lifecycle, policy
    from core.identity import actors
    from core.modelling import models, training
    from core.operations import deployments, tokens

    ws = admin.init(root, "alice", reason="bench")
    for name, roles, kind in (
        ("sam", ["data-scientist", "data-steward"], "person"),
        ("vic", ["validator"], "person"),
        ("tess", ["validator"], "person"),
        ("opal", ["operator"], "person"),
        ("cal", ["consumer"], "person"),
        ("scorer", ["operator"], "service"),
    ):
        actors.add(ws, "alice", name, roles, kind=kind)
    snapshots.add(ws, "sam", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "sam", SAMPLE / "features.toml")
    validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
    policy.install(ws, "alice", POLICY, reason="bench policy")
    run = training.train(ws, "sam", SAMPLE / "train.toml")
    row, _ = models.register(ws, "sam", run.run_id, "credit-risk")
    models.sign(ws, "sam", row.ref)
    lifecycle.promote(ws, "vic", row.ref, to="validated", reason="validated")
    approvals.approve(ws, "vic", row.ref, role="validator", reason="ok")
    approvals.approve(ws, "tess", row.ref, role="validator", reason="ok")
    lifecycle.promote(ws, "vic", row.ref, to="approved", reason="approved")
    deployments.deploy(ws, "opal", row.ref, env=ENV, reason="bench")
    _, token = tokens.issue(ws, "opal", "cal", env=ENV, reason="bench caller")
    with ws.session("") as s:
        snap = snapshots.resolve(s.catalog, "german-credit-features@1")
    frame = training.load_table(ws, snap, [c["name"] for c in json.loads(snap.columns)])
    rows: list[dict[str, Any]] = json.loads(
        frame.drop(columns=["bad_credit"]).to_json(orient="records")
    )
    return token, rows


def bare_main(root: Path) -> None:
    """The bare server's process: load the model as scoring does, serve it without a log."""
    from core.kernel.workspace import Workspace
    from core.modelling import models, training
    from core.operations import serving

    ws = Workspace.open(root)
    with ws.session("") as s:
        ref = s.catalog.con.execute("SELECT ref FROM models ORDER BY ref LIMIT 1").fetchone()[0]
        run = s.catalog.run(models.resolve(s.catalog, ref).run_id)
    pipeline = models.load(ws, ref, purpose="score", actor="scorer")
    feats = list(training.load_run_spec(ws, run).features)
    sock = serving.listen("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    print(f"bare at http://{host}:{port} ready", file=sys.stderr, flush=True)
    app = serving.bare_app(lambda frame: pipeline.predict_proba(frame[feats])[:, 1])
    serving.server(app).run(sockets=[sock])


def start(cmd: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline, seen = time.monotonic() + 120, b""
    while b"\n" not in seen.partition(b" at http://")[2]:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None or not sel.select(left):
            proc.kill()
            raise SystemExit(f"server did not start: {seen.decode()}")
        seen += os.read(proc.stderr.fileno(), 4096)
    url = seen.partition(b" at ")[2].split(b" ", 1)[0].decode()
    return proc, url


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process, threads included (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, token: str, rows: list[dict[str, Any]], n: int, conc: int) -> list[float]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    bodies = [json.dumps(rows[i % len(rows)]).encode() for i in range(n)]
    latencies: list[float] = []
    next_i = 0
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal next_i
            while next_i < n:
                i, next_i = next_i, next_i + 1
                t0 = time.perf_counter()
                r = await client.post(url + "/v1/score", content=bodies[i], headers=headers)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise SystemExit(f"request {i}: {r.status_code} {r.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(conc)))
    return latencies


def measure(
    name: str, cmd: list[str], token: str, rows: list[dict[str, Any]], n: int, conc: int
) -> dict[str, float]:
    proc, url = start(cmd)
    try:
        asyncio.run(load(url, token, rows, min(200, n), conc))  # warm-up, not counted
        cpu0, t0 = cpu_of(proc.pid), time.perf_counter()
        lat = asyncio.run(load(url, token, rows, n, conc))
        wall, cpu = time.perf_counter() - t0, cpu_of(proc.pid) - cpu0
    finally:
        proc.send_signal(signal.SIGTERM)  # a clean stop: serve flushes its last window
        proc.wait(timeout=120)
    lat.sort()
    return {
        "req/s": n / wall,
        "p50 ms": 1000 * statistics.median(lat),
        "p99 ms": 1000 * lat[int(0.99 * (len(lat) - 1))],
        "server CPU s": cpu,
        "CPU ms/req": 1000 * cpu / n,
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--bare":
        bare_main(Path(sys.argv[2]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    conc = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        t0 = time.perf_counter()
        token, rows = build(root)
        print(
            f"workspace built in {time.perf_counter() - t0:.1f} s; {n} requests, {conc} "
            f"concurrent connections, one row each, on 127.0.0.1"
        )
        py = sys.executable
        serve = [
            py,
            "-m",
            "app",
            "--workspace",
            str(root),
            "--as",
            "scorer",
            "serve",
            "--env",
            ENV,
            "--port",
            "0",
        ]
        client0 = time.process_time()
        results = {}
        for name, cmd in (
            ("bare", [py, __file__, "--bare", str(root)]),
            ("serve", serve),
            ("serve --durable", [*serve, "--durable"]),
        ):
            results[name] = measure(name, cmd, token, rows, n, conc)
            print(name, {k: round(v, 2) for k, v in results[name].items()}, flush=True)
        client = time.process_time() - client0
        from core.kernel.workspace import Workspace

        ws = Workspace.open(root)
        with ws.session("") as s:
            logged, batches = s.catalog.con.execute(
                "SELECT coalesce(sum(count), 0), count(*) FROM decision_batches"
            ).fetchone()
    names = list(results)
    print(f"{'':>14}" + "".join(f"{k:>18}" for k in names))
    for metric in results["bare"]:
        print(f"{metric:>14}" + "".join(f"{results[k][metric]:>18.2f}" for k in names))
    print(
        f"decisions logged: {logged} in {batches} batches (warm-ups included); client CPU "
        f"{client:.1f} s for all three runs"
    )


if __name__ == "__main__":
    main()
