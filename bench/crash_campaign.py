"""Crash campaign: real `ledgerml` processes SIGKILLed at random moments, many times.

The test suite kills at each named failpoint of the write path (tests/cli/test_crash.py),
which is deterministic and covers every durable write. This campaign adds what named points
cannot: kills at arbitrary instants (inside DuckDB, inside the Parquet writer, between two
syscalls). After every kill it checks the invariants of issue 2:

* the workspace opens (torn tails repaired) and its catalog agrees with the ledger;
* the interrupted action is there entirely (event, projected row, intact blobs) or not at all;
* every acknowledged action is still there;
* every ``--verify-every``-th kill, and at the end, ``audit verify`` exits 0;
* no temporary file of a killed process survives the next open of the workspace;
* a ``bundle.export`` event exists only with its file at ``-o``, holding the bytes the event
  names (a file without its event is allowed: the export was not acknowledged).

``--kinds`` picks the actions killed (``actor,snapshot`` by default; ``export``, ``train``
and ``evaluate`` train and sign one model first, then kill bundle exports of it, new training
runs and evaluations of it). A ``train`` or ``evaluate`` killed leaves at most its one event,
whose every blob is stored intact.

    scripts/with-keyring .venv/bin/python bench/crash_campaign.py [--kills 200] [--seed 1]
        [--kinds actor,snapshot,export]

Prints counts; exits 1 on the first broken invariant, naming it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.audit import admin  # noqa: E402
from core.data import snapshots  # noqa: E402
from core.identity import actors  # noqa: E402
from core.kernel.workspace import Workspace  # noqa: E402

SAMPLE_DIR = ROOT / "sample_data" / "german-credit"
SAMPLE = SAMPLE_DIR / "german.data"
KINDS = ("actor", "snapshot", "export", "train", "evaluate")
NEEDS_MODEL = {"export", "train", "evaluate"}
MODEL = "credit-risk@1"


def signed_model(root: Path) -> None:
    """Train, register and sign one model, once, so that exports can be killed."""
    from core.data import features, validation
    from core.identity import keys
    from core.modelling import models, training

    ws = Workspace.open(root)
    snapshots.add(ws, "alice", SAMPLE, dataset="german-credit")
    features.build(ws, "alice", SAMPLE_DIR / "features.toml")
    validation.run(ws, "alice", "german-credit-features", SAMPLE_DIR / "features_suite.toml")
    run = training.train(ws, "alice", SAMPLE_DIR / "train.toml")
    models.register(ws, "alice", run.run_id, "credit-risk")
    keys.create(ws, "alice")
    models.sign(ws, "alice", MODEL)


def command(kind: str, i: int, scratch: Path) -> tuple[list[str], str, str]:
    """The CLI arguments, the ledger action and the name the action creates.

    Every snapshot gets bytes of its own (the sample plus ``i // 1000 + 1`` copies of one of
    its rows), so its raw copy, Parquet copy and profile are new blobs and a kill can land
    in the middle of publishing them.
    """
    if kind == "train":
        return ["train", str(SAMPLE_DIR / "train.toml"), "--reason", "crash"], "train.run", ""
    if kind == "evaluate":
        args = ["evaluate", MODEL, "--suite", str(SAMPLE_DIR / "evaluation.toml")]
        return [*args, "--reason", "crash"], "model.evaluate", ""
    if kind == "export":
        out = scratch / "exports" / f"bundle-{i}.zip"
        return (
            ["bundle", "export", MODEL, "-o", str(out), "--reason", "crash"],
            "bundle.export",
            str(out),
        )
    if kind == "actor":
        name = f"crash-actor-{i}"
        return ["actor", "add", name, "--role", "validator", "--reason", "crash"], "actor.add", name
    name = f"crash-{i}"
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    data = scratch / f"{name}.data"
    data.write_bytes(b"".join(lines) + lines[i % len(lines)] * (i // len(lines) + 1))
    args = ["snapshot", "add", str(data), "--dataset", name, "--reason", "crash"]
    return args, "snapshot.add", name


def exported(ws: Workspace, since: int) -> list[str]:
    """The bundle digests of the ``bundle.export`` events after event ``since``."""
    return [
        str(body["data"]["bundle_sha256"])
        for e in ws.ledger.iter_entries(since + 1)
        if (body := e.decode())["action"] == "bundle.export"
    ]


def new_events(ws: Workspace, since: int, action: str) -> list[tuple[str, dict[str, object]]]:
    """``(entry hash, body)`` of the ``action`` events after event ``since``."""
    return [
        (e.hash, body)
        for e in ws.ledger.iter_entries(since + 1)
        if (body := e.decode())["action"] == action
    ]


def file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def present(ws: Workspace, action: str, name: str) -> bool:
    if action in ("train.run", "model.evaluate"):  # named by the entry hash of its event
        return any(e.hash == name for e in ws.ledger.iter_entries())
    if action == "bundle.export":
        return Path(name).is_file()
    if action == "actor.add":
        return any(a.name == name for a in actors.list_actors(ws))
    found = snapshots.list_snapshots(ws, dataset=name)
    for snap in found:
        for digest in (snap.raw_digest, snap.parquet_digest, snap.profile_digest):
            problem = ws.objects.check(str(digest))
            if problem:
                raise SystemExit(f"broken: {name}'s blob {digest}: {problem}")
    return bool(found)


def committed(ws: Workspace, action: str, name: str) -> int:
    if action == "bundle.export":  # the event names the bundle's bytes, not its path
        digest = file_digest(Path(name))
        return sum(1 for d in exported(ws, 0) if d == digest)
    key = "name" if action == "actor.add" else "dataset"
    return sum(
        1
        for e in ws.ledger.iter_entries()
        if (body := e.decode())["action"] == action and body["data"].get(key) == name
    )


def cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verify-every", type=int, default=25)
    parser.add_argument(
        "--kinds",
        default="actor,snapshot",
        help=f"comma-separated actions to kill, among {', '.join(KINDS)}",
    )
    opts = parser.parse_args()
    kinds = tuple(k.strip() for k in opts.kinds.split(",") if k.strip())
    if not kinds or set(kinds) - set(KINDS):
        parser.error(f"--kinds takes some of {', '.join(KINDS)}")
    rng = random.Random(opts.seed)
    scratch = Path(tempfile.mkdtemp(prefix="crash-campaign-"))
    (scratch / "exports").mkdir()
    root = scratch / "ws"
    admin.init(root, "alice")
    env = {**os.environ, "LEDGERML_WORKSPACE": str(root), "LEDGERML_ACTOR": "alice"}
    if NEEDS_MODEL & set(kinds):
        t0 = time.perf_counter()
        signed_model(root)
        print(f"set-up: one trained, signed model in {time.perf_counter() - t0:.1f} s")

    # How long each action takes uncut: the kill instants are drawn across that span.
    span = {}
    for kind in kinds:
        args, _, _ = command(kind, -1, scratch)
        t0 = time.perf_counter()
        uncut = cli(args, env)
        if uncut.wait() != 0:
            raise SystemExit(f"the uncut {kind} action failed:\n{uncut.stderr.read()}")
        span[kind] = time.perf_counter() - t0
    print("uncut: " + ", ".join(f"{kind} {span[kind]:.2f} s" for kind in kinds))

    acknowledged: list[tuple[str, str]] = []
    outcome = {"finished": 0, "killed, not recorded": 0, "killed, recorded": 0}
    stray = {"bundle without its event": 0, "partial bundle beside -o": 0}
    t_start = time.perf_counter()
    for i in range(opts.kills):
        kind = rng.choice(kinds)
        args, action, name = command(kind, i, scratch)
        before = Workspace.open(root).ledger.head()[0]
        proc = cli(args, env)
        # A random instant past interpreter start-up (about half the span), not a wait.
        time.sleep(rng.uniform(span[kind] * 0.5, span[kind] * 1.1))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        code = proc.wait()
        if code not in (0, -signal.SIGKILL):  # a real failure, not one of our kills
            raise SystemExit(f"run {i} ({kind}) failed by itself:\n{proc.stderr.read()}")
        proc.stderr.close()
        ws = Workspace.open(root)
        with ws.session("alice"):
            pass  # what the next command does first: repair a torn tail, catch the catalog up
        left = [str(p) for p in root.rglob(".tmp-*")] + [str(p) for p in root.rglob(".ingest-*")]
        if left:
            raise SystemExit(f"kill {i} ({kind}): temporary files survived the next open: {left}")
        if action == "bundle.export":
            new = exported(ws, before)
            there, digest = present(ws, action, name), file_digest(Path(name))
            if len(new) > 1 or (new and new != [digest]):
                raise SystemExit(
                    f"kill {i} (export): {len(new)} export events, file present={there}: an "
                    "export was recorded without the bundle it names"
                )
            n = len(new)
            if there and not n:
                stray["bundle without its event"] += 1
            partial = Path(name).with_name(Path(name).name + ".partial")
            if partial.exists():
                stray["partial bundle beside -o"] += 1
                partial.unlink()
        elif kind in ("train", "evaluate"):
            found = new_events(ws, before, action)
            n = len(found)
            if n > 1:
                raise SystemExit(f"kill {i} ({kind}): {n} events for one command")
            for _, body in found:  # every blob the event relies on is stored, intact
                for obj in body.get("objects", []):  # type: ignore[union-attr]
                    problem = ws.objects.check(str(obj["sha256"]))  # type: ignore[index]
                    if problem:
                        raise SystemExit(f"kill {i} ({kind}): a blob of its event is {problem}")
            name = found[0][0] if found else ""
        else:
            n, there = committed(ws, action, name), present(ws, action, name)
            if n not in (0, 1) or there != (n == 1):
                raise SystemExit(f"kill {i} ({kind}): {n} events but present={there}")
        if code == 0:
            outcome["finished"] += 1
            acknowledged.append((action, name))
        else:
            outcome["killed, recorded" if n else "killed, not recorded"] += 1
        if (i + 1) % opts.verify_every == 0 or i + 1 == opts.kills:
            verify = subprocess.run(
                [sys.executable, "-m", "app", "audit", "verify"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            if verify.returncode != 0:
                raise SystemExit(f"after kill {i}: audit verify failed:\n{verify.stdout}")
            lost = [n for a, n in acknowledged if not present(Workspace.open(root), a, n)]
            if lost:
                raise SystemExit(f"after kill {i}: acknowledged actions lost: {lost}")
    elapsed = time.perf_counter() - t_start
    if not outcome["killed, recorded"] or not outcome["killed, not recorded"]:
        raise SystemExit(f"the kills missed one side of the commit point: {outcome}")
    print(f"{opts.kills} runs in {elapsed:.0f} s (seed {opts.seed}):")
    for what, count in outcome.items():
        print(f"  {what:22} {count}")
    if "export" in kinds:
        for what, count in stray.items():
            print(f"  {what:26} {count}")
    print("every invariant held; audit verify exit 0")
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
