"""The shared ledger on PostgreSQL: appends through the server, and a cold clone.

Starts its own PostgreSQL server (initdb/pg_ctl, as the tests do) on 127.0.0.1 in a temporary
folder, and prints figures; asserts nothing about time. Run:

    scripts/with-keyring .venv/bin/python bench/team_bench.py \
        [--appends 200] [--events 100000] [--gib 1]

1. **Appends**: the same command (``ledgerml attest FILE``: identity guard, proof of the
   actor's secret, the file stored, a signed statement, one event naming it) on a detached workspace
   (the floor: a local fsynced append), then attached from one workstation, then from four
   workstations at once (four processes, each its own workspace folder).
2. **Cold clone** of a ledger of ``--events`` signed events and ``--gib`` GiB of objects:
   publishing it (``remote add``), then ``clone`` into an empty folder (every event and
   object verified on arrival, catalog built), beside the floors for the same bytes: the
   workspace's folders copied with ``cp -r``, and the database copied with
   ``pg_dump | psql``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audit import admin
from core.identity import actors, attest, signer
from core.kernel.events import Event, ObjectRef, now_iso
from core.kernel.workspace import Workspace
from core.team import remotes
from tests.team.conftest import PgServer, _program


def cpu_children() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def cpu_self() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _toggle(root: str, actor: str, n: int) -> list[float]:
    """``n`` files signed by ``actor`` (``ledgerml attest``); the latency of each, in seconds."""
    ws = Workspace.open(root)
    folder = Path(tempfile.mkdtemp(prefix=f"files-{actor}-"))
    latencies = []
    for i in range(n):
        path = folder / f"file-{i}.txt"
        path.write_text(f"{actor} {i} {time.time_ns()}\n")
        t0 = time.perf_counter()
        attest.create(ws, actor, path, reason=f"bench {i}")
        latencies.append(time.perf_counter() - t0)
    shutil.rmtree(folder, ignore_errors=True)
    return latencies


def _figures(label: str, latencies: list[float], wall: float) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"  {label}: {len(latencies) / wall:,.1f} events/s; latency p50 "
        f"{statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    )


def appends(server: PgServer, tmp: Path, n: int) -> None:
    print(f"\nappends ({n} signed files per workstation, one event and one object each)")
    base = admin.init(tmp / "local", "alice")
    for k in range(4):
        actors.add(base, "alice", f"t{k}", ["auditor"])
    t0 = time.perf_counter()
    lat = _toggle(str(base.root), "t0", n)
    _figures("detached (local append, the floor)", lat, time.perf_counter() - t0)

    url = server.new_database()
    remotes.add(base, "alice", "origin", url)
    t0 = time.perf_counter()
    lat = _toggle(str(base.root), "t0", n)
    _figures("attached, 1 workstation", lat, time.perf_counter() - t0)

    roots = [str(base.root)] + [str(remotes.clone(url, tmp / f"w{k}").root) for k in range(1, 4)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        t0 = time.perf_counter()
        results = pool.starmap(_toggle, [(roots[k], f"t{k}", n) for k in range(4)])
        wall = time.perf_counter() - t0
    _figures("attached, 4 workstations at once (total)", [x for r in results for x in r], wall)
    heads = {Workspace.open(r).ledger.head()[0] for r in roots}
    print(f"  (replicas' heads after the run: {sorted(heads)}; they converge at the next pull)")


def clone_figures(server: PgServer, tmp: Path, events: int, gib: float) -> None:
    print(f"\ncold clone: {events:,} signed events and {gib:g} GiB of objects")
    ws = admin.init(tmp / "big", "alice")
    blob_size = 16 << 20
    blobs = max(1, int(gib * (1 << 30)) // blob_size)
    refs = []
    for _ in range(blobs):
        data = os.urandom(blob_size)
        refs.append(ObjectRef(ws.objects.put_bytes(data), len(data), "application/octet-stream"))
    every = max(1, events // blobs)
    with ws.session("alice") as s:
        seal = signer.prove(s, signer.authority_of(s))
        batch = []
        for i in range(events - 1):
            objects = [refs[i // every]] if i % every == 0 and i // every < blobs else []
            batch.append(
                seal.seal(
                    Event(
                        "alice",
                        "attestation.create",
                        [f"file:{i:08d}"],
                        {"envelope": f"{i:064x}", "key_id": f"{i:064x}", "predicate_type": "b"},
                        objects=objects,
                        ts=now_iso(),
                    )
                )
            )
            if len(batch) == 20_000:
                ws.ledger.append(batch)
                batch = []
        if batch:
            ws.ledger.append(batch)
    ws.rebuild()
    size = sum(p.stat().st_size for p in ws.root.rglob("*") if p.is_file())
    print(f"  workspace: {ws.ledger.head()[0]:,} events, {size / (1 << 30):.2f} GiB on disk")

    url = server.new_database()
    t0, c0 = time.perf_counter(), cpu_self()
    remotes.add(ws, "alice", "origin", url)
    print(
        f"  remote add (publish): {time.perf_counter() - t0:.1f} s wall, "
        f"{cpu_self() - c0:.1f} s CPU here"
    )

    t0, c0 = time.perf_counter(), cpu_self()
    clone = remotes.clone(url, tmp / "clone")
    t_clone = time.perf_counter() - t0
    print(
        f"  clone (verify every event and object, build the catalog): {t_clone:.1f} s wall, "
        f"{cpu_self() - c0:.1f} s CPU here; {events / t_clone:,.0f} events/s"
    )
    assert clone.ledger.head() == ws.ledger.head()

    (tmp / "copy").mkdir()
    t0, c0 = time.perf_counter(), cpu_children()
    subprocess.run(
        ["cp", "-r", str(ws.root / "ledger"), str(ws.root / "objects"), str(tmp / "copy")],
        check=True,
    )
    t_cp = time.perf_counter() - t0
    print(
        f"  floor, cp -r of ledger/ and objects/: {t_cp:.1f} s wall "
        f"(clone takes {t_clone / t_cp:.1f}x as long)"
    )

    target = server.new_database()
    dump = [_program("pg_dump"), "--no-owner", url]
    load = [_program("psql"), "-q", target]
    t0, c0 = time.perf_counter(), cpu_children()
    with subprocess.Popen(dump, stdout=subprocess.PIPE) as producer:
        subprocess.run(load, stdin=producer.stdout, check=True, stdout=subprocess.DEVNULL)
    t_dump = time.perf_counter() - t0
    print(
        f"  floor, pg_dump | psql of the same database: {t_dump:.1f} s wall, "
        f"{cpu_children() - c0:.1f} s CPU in the tools ({t_clone / t_dump:.1f}x for clone)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=200)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--skip-clone", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="team-bench-"))
    server = PgServer()
    server.start()
    print(f"machine: {os.cpu_count()} cpus; PostgreSQL on 127.0.0.1 (fsync off, as in the tests)")
    try:
        appends(server, tmp, args.appends)
        if not args.skip_clone:
            clone_figures(server, tmp, args.events, args.gib)
    finally:
        server.stop("immediate")
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
