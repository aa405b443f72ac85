"""Identity benchmarks: signed appends, and full verification of a million signed events.

Prints figures; asserts nothing about time. Run under the keyring wrapper::

    scripts/with-keyring .venv/bin/python bench/identity_bench.py [--events 1000000]

1. **Appends.** One event at a time with fsync, as every command commits: unsigned (the
   storage floor), signed by a keyring key, and signed by a PKCS#11 key in SoftHSM2 (when
   ``softhsm2-util`` is installed). The signer is unlocked once, as in a command.
2. **Verification.** A workspace with ``--events`` events signed by its founder's real key;
   ``audit verify``'s core (:func:`core.audit.verification.verify`) is timed against the floor
   the issue names, measured in the same run at the same parallelism: the chain and Merkle
   check (:meth:`storage.ledger.Ledger.scan`) plus verifying every signature with the same
   library alone. CPU time (all processes) is printed beside wall time; the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audit import admin, verification, verified
from core.identity import signer
from core.kernel.events import Event, signing_input, split_sealed
from core.kernel.workspace import Workspace
from storage.ledger_scan import cores


def cpu() -> float:
    """CPU seconds of this process and its finished children."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def event(i: int) -> Event:
    """A small signed-to-be event of a declared kind without a projector table."""
    return Event(
        "alice",
        "attestation.create",
        [f"file:{i:08d}"],
        {"envelope": f"{i:064x}", "key_id": f"{i:064x}", "predicate_type": "bench"},
    )


def founder_signer(ws: Workspace) -> signer.Signer:
    with ws.session("alice") as s:
        return signer.prove(s, signer.authority_of(s))


def appends(root: Path, n: int, backend: str, algorithm: str) -> tuple[float, float]:
    """Signed appends per second (wall) and unsigned, one event per fsynced append."""
    ws = admin.init(
        root / f"ws-{backend}-{algorithm}", "alice", key_backend=backend, algorithm=algorithm
    )
    seal = founder_signer(ws)
    ledger = ws.ledger
    start = time.perf_counter()
    for i in range(n):
        ledger.append([event(i).body()])
    unsigned = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(n):
        [entry] = ledger.append([seal.seal(event(i))])
        seal.committed(entry)
    signed = n / (time.perf_counter() - start)
    return unsigned, signed


def _verify_segment(path: str, pem: str) -> int:
    """The floor's signature part: every line's signature, with the same library alone."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    algorithm = ec.ECDSA(hashes.SHA256())
    n = 0
    for line in Path(path).read_bytes().split(b"\n")[:-1]:
        body = line.split(b" ", 2)[2]
        sealed = split_sealed(body)
        if sealed is None:
            continue
        unsigned, seal = sealed
        key.verify(seal.signature, signing_input(unsigned), algorithm)
        n += 1
    return n


def verification_figures(root: Path, n: int) -> None:
    ws = admin.init(root / "ws-verify", "alice")
    seal = founder_signer(ws)
    pem = seal.key.public_pem
    start = time.perf_counter()
    batch: list[bytes] = []
    for i in range(n - 1):
        batch.append(seal.seal(event(i)))
        if len(batch) == 20_000:
            ws.ledger.append(batch)
            batch = []
    if batch:
        ws.ledger.append(batch)
    print(f"  wrote {n:,} signed events in {time.perf_counter() - start:.1f} s")
    ws.catalog_path.unlink(missing_ok=True)  # the catalog comparison is not what is timed
    workers = min(cores(), len(ws.ledger.segment_files()))

    def timed(label: str, fn):  # type: ignore[no-untyped-def]
        c0, t0 = cpu(), time.perf_counter()
        out = fn()
        wall, used = time.perf_counter() - t0, cpu() - c0
        print(f"  {label:<44} {wall:7.2f} s wall {used:7.2f} s CPU")
        return wall, used, out

    scan_wall, scan_cpu, _ = timed("floor 1: chain + Merkle (Ledger.scan)", ws.ledger.scan)

    def sigs() -> int:
        paths = [str(p) for p in ws.ledger.segment_files()]
        with ProcessPoolExecutor(workers) as pool:
            return sum(pool.map(_verify_segment, paths, [pem] * len(paths)))

    sig_wall, sig_cpu, count = timed(f"floor 2: {n:,} signatures, {workers} processes", sigs)
    assert count == n  # with the founding event
    full_wall, full_cpu, report = timed(
        "audit verify (chain, Merkle, signatures, roles)", lambda: verification.verify(ws)
    )
    assert report.ok, report.failures
    floor_wall, floor_cpu = scan_wall + sig_wall, scan_cpu + sig_cpu
    print(
        f"  ratio to the floor: {full_wall / floor_wall:.2f}x wall, {full_cpu / floor_cpu:.2f}x CPU"
    )
    tail = ws.ledger.tail()
    assert tail is not None
    verified.write(ws, "alice", report.events, report.root, report.head, str(tail.decode()["ts"]))
    ws.ledger.append([seal.seal(event(n + i)) for i in range(1000)])
    _, _, again = timed(
        "incremental verify after 1,000 new events", lambda: verification.verify(ws)
    )
    assert again.ok and again.verified_up_to == report.events, again.failures


def softhsm_env(root: Path) -> bool:
    util = shutil.which("softhsm2-util")
    if util is None:
        return False
    tokens = root / "tokens"
    tokens.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [util, "--init-token", "--free", "--label", "bench", "--pin", "1234", "--so-pin", "0000"],
        check=True,
        capture_output=True,
    )
    os.environ["LEDGERML_PKCS11_TOKEN"] = "bench"
    os.environ["LEDGERML_PKCS11_PIN"] = "1234"
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--skip-verify", action="store_true", help="only the append figures (seconds, not minutes)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ledgerml-identity-bench-"))
    try:
        hsm = softhsm_env(root)
        print(f"single fsynced appends, {args.appends} each:")
        runs = [("keyring", "ecdsa-p256"), ("keyring", "ed25519")]
        runs += [("pkcs11", "ecdsa-p256")] if hsm else []
        for backend, algorithm in runs:
            unsigned, signed = appends(root, args.appends, backend, algorithm)
            print(
                f"  {backend:<8} {algorithm:<10} unsigned {unsigned:6.0f}/s   signed "
                f"{signed:6.0f}/s   ratio {signed / unsigned:.2f}"
            )
        if not args.skip_verify:
            print(f"full verification of {args.events:,} signed events:")
            verification_figures(root, args.events)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
