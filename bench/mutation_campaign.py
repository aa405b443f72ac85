"""Mutation campaign: an insider's random forgeries, each of which must be caught.

Builds one workspace (a team, a snapshot, a validation), then, many times over a fresh copy,
applies one random mutation an insider with write access and the same OS account could make,
and runs ``audit verify`` in a subprocess (as an auditor would):

* ``tail``: a correctly chained event appended at the end, unsigned or signed by the wrong
  actor's real key or by a key the organisation never certified;
* ``mid``: an event inserted, replaced or removed mid-ledger with every later hash redone;
* ``relabel``: one event's actor renamed, chain redone;
* ``flip``: one byte of one event changed, chain redone;
* ``garble``: one body replaced by non-JSON or a JSON array, chain redone;
* ``catalog``: roles, key states, an event's stored body or a validation result edited in
  catalog.duckdb.

Detected means exit 3 naming a first bad event (for ledger mutations) or the edited table
(for catalog ones), and no traceback. Prints counts per kind; exits 1 on the first miss.

    scripts/with-keyring .venv/bin/python bench/mutation_campaign.py [--rounds 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.audit import admin  # noqa: E402
from core.data import snapshots, validation  # noqa: E402
from core.identity import actors, signer  # noqa: E402
from core.kernel.events import Event  # noqa: E402
from core.kernel.workspace import Workspace  # noqa: E402
from storage.ledger import GENESIS  # noqa: E402

SAMPLE = ROOT / "sample_data" / "german-credit"
KINDS = ("tail", "mid", "relabel", "flip", "garble", "catalog")


def build(root: Path) -> Path:
    ws = admin.init(root / "base", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    actors.add(ws, "alice", "val", ["validator"])
    snapshots.add(ws, "dana", SAMPLE / "german.data", dataset="credit")
    validation.run(ws, "val", "credit@1", SAMPLE / "raw_suite.toml")
    return ws.root


def lines_of(ws: Path) -> list[bytes]:
    [segment] = sorted((ws / "ledger" / "segments").glob("*.log"))
    return [line.split(b" ", 2)[2] for line in segment.read_bytes().splitlines()]


def write_chain(ws: Path, bodies: list[bytes]) -> None:
    prev, out = GENESIS, []
    for seq, body in enumerate(bodies, start=1):
        line = b"%d %s %s" % (seq, prev.encode(), body)
        out.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    [segment] = sorted((ws / "ledger" / "segments").glob("*.log"))
    segment.write_bytes(b"".join(out))


def sealed_by(ws: Path, actor: str, event: Event) -> bytes:
    workspace = Workspace.open(ws)
    with workspace.session(actor) as s:
        seal = signer.prove(s, signer.authority_of(s))
    signer.forget()
    return seal.seal(event)


def mutate(ws: Path, kind: str, rng: random.Random) -> str:
    """Apply one mutation; return what it did (for the report)."""
    bodies = lines_of(ws)
    n = len(bodies)
    forged = Event("alice", "actor.add", ["actor:eve"], {"name": "eve", "roles": ["admin"]})
    if kind == "tail":
        how = rng.choice(("unsigned", "wrong-actor", "no-role"))
        if how == "unsigned":
            body = forged.body()
        elif how == "wrong-actor":
            body = sealed_by(ws, "dana", Event("dana", **_fields(forged))).replace(
                b'"actor":"dana"', b'"actor":"alice"', 1
            )
        else:
            body = sealed_by(ws, "dana", Event("dana", **_fields(forged)))
        write_chain(ws, [*bodies, body])
        return f"tail {how}"
    if kind == "mid":
        at = rng.randrange(1, n)
        how = rng.choice(("insert", "replace", "remove"))
        if how == "insert":
            bodies.insert(at, forged.body())
        elif how == "replace":
            bodies[at] = forged.body()
        else:
            del bodies[at]
        write_chain(ws, bodies)
        return f"mid {how} at #{at + 1}"
    if kind == "relabel":
        at = rng.randrange(0, n)
        doc = json.loads(bodies[at])
        actor = doc["actor"]
        other = rng.choice([a for a in ("alice", "dana", "val") if a != actor])
        bodies[at] = bodies[at].replace(
            b'"actor":"%s"' % actor.encode(), b'"actor":"%s"' % other.encode(), 1
        )
        write_chain(ws, bodies)
        return f"relabel #{at + 1} {actor}->{other}"
    if kind == "flip":
        at = rng.randrange(0, n)
        pos = rng.randrange(0, len(bodies[at]))
        body = bytearray(bodies[at])
        body[pos] ^= 1 << rng.randrange(0, 7)
        if b"\n" in body:
            body[pos] ^= 0x20
        bodies[at] = bytes(body)
        write_chain(ws, bodies)
        return f"flip #{at + 1} byte {pos}"
    if kind == "garble":
        at = rng.randrange(0, n)
        bodies[at] = rng.choice((b'{"action":', b"[1,2,3]", b'"just a string"', b"{}"))
        write_chain(ws, bodies)
        return f"garble #{at + 1}"
    import duckdb

    how = rng.choice(("roles", "key", "event", "validation"))
    with duckdb.connect(str(ws / "catalog.duckdb")) as con:
        if how == "roles":
            con.execute("UPDATE actors SET roles = ['admin'] WHERE name = 'dana'")
        elif how == "key":
            con.execute("UPDATE keys SET status = 'revoked', status_seq = 1 WHERE actor = 'val'")
        elif how == "event":
            con.execute("UPDATE events SET body = replace(body, 'dana', 'eve') WHERE seq = 2")
        else:
            con.execute("UPDATE validations SET passed = NOT passed")
    return f"catalog {how}"


def _fields(event: Event) -> dict[str, object]:
    return {"action": event.action, "subjects": event.subjects, "data": event.data}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    scratch = Path(tempfile.mkdtemp(prefix="ledgerml-mutation-"))
    caught: Counter[str] = Counter()
    try:
        base = build(scratch)
        for i in range(args.rounds):
            kind = KINDS[i % len(KINDS)]
            ws = scratch / f"round-{i}"
            shutil.copytree(base, ws)
            what = mutate(ws, kind, rng)
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "app",
                    "--workspace",
                    str(ws),
                    "--as",
                    "alice",
                    "--json",
                    "audit",
                    "verify",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                check=False,
            )
            ok = result.returncode == 3 and "Traceback" not in result.stderr
            if ok:
                report = json.loads(result.stdout)
                ok = report["first_bad_event"] is not None or (
                    kind == "catalog" and "edited" in report["catalog"]
                )
            if not ok:
                print(
                    f"MISSED round {i}: {what}: exit {result.returncode}\n{result.stdout[-2000:]}"
                    f"{result.stderr[-2000:]}"
                )
                return 1
            caught[kind] += 1
            shutil.rmtree(ws)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    total = sum(caught.values())
    print(f"{total} of {args.rounds} mutations detected (100%):")
    for kind in KINDS:
        print(f"  {kind:<8} {caught[kind]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
