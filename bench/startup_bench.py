"""Start-up cost of the everyday commands and the TUI, in CPU-seconds, against floors.

Wall time on a shared machine says more about the neighbours than about us, so every figure
here is CPU time (user + system) of a child process, read from ``os.wait4``'s rusage, which
also counts the child's own waited-for children. Peak RSS comes from the same rusage. Each
command is set against a floor measured in the same run, in the same rounds:

* ``python -c pass`` for ``--help`` (target: at most 1.2 x floor + 0.1 s);
* ``python -c "import duckdb"`` for ``status``, ``audit log``, ``model list`` (target: 1.5 x);
* a minimal Textual app's first paint for the TUI's first paint (target: 1.5 x).

The TUI rows are measured inside the child: at its first paint (Textual's ``on_ready``) it
prints ``time.process_time()`` (every thread of the process, since it started) and its peak
RSS, then exits. ``tui overview filled`` waits for the workers that fill the first tab.

Commands run round-robin, so a burst of load hits every command alike; the first round only
warms caches (and writes bytecode: the children run with it cached, as users' do, even when
``PYTHONDONTWRITEBYTECODE`` is set here) and is dropped. ``--baseline DIR`` also runs every
command from another copy of the code (say ``git archive`` of an older commit unpacked in a
folder) with this checkout's environment, in the same rounds, for before/after figures under
the same load. ``status --no-verify`` shows how much of ``status`` is its full verification.
Prints a table; asserts nothing. Run it through ``scripts/with-keyring`` (``status`` asks the
keyring whether it is usable) on the demo workspace (``scripts/with-keyring scripts/demo.sh``
makes one)::

    scripts/with-keyring .venv/bin/python bench/startup_bench.py [--runs 9] [--workspace DIR]
        [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
LEDGERML = str(Path(PY).parent / "ledgerml")

# A child that reports its own CPU time and peak RSS at first paint, then exits.
_REPORT = """
import resource, sys, time
def report():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{time.process_time():.6f} {usage.ru_maxrss}", file=sys.__stdout__, flush=True)
"""

MINIMAL_TUI = (
    _REPORT
    + """
from textual.app import App
from textual.widgets import Static

class Minimal(App[None]):
    def compose(self):
        yield Static("ledgerml")

    def on_ready(self) -> None:
        report()
        self.exit()

Minimal().run(headless=True, size=(120, 40))
"""
)

LEDGER_TUI = (
    _REPORT
    + """
from pathlib import Path
from app.tui.app import LedgerApp, make_app

WAIT = {wait!r}

class Timed(LedgerApp):
    CSS_PATH = str(Path({root!r}) / "app" / "tui" / "app.tcss")

    def on_ready(self) -> None:
        if not WAIT:
            report()
            self.exit()

async def filled(pilot):
    if WAIT:
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.pause()
        report()
        app.exit()

base = make_app(Path({ws!r}), actor={actor!r})
app = Timed(None, actor={actor!r}, workspace_path=base.workspace_path)
app.run(headless=True, size=(120, 40), auto_pilot=filled)
"""
)


@dataclass
class Case:
    """One command to measure, the floor it is held against and the target's form."""

    name: str
    argv: list[str]
    floor: str | None = None
    factor: float = 0.0
    offset: float = 0.0
    self_reported: bool = False  # the child prints its own CPU time (TUI first paint)
    source: Path = ROOT  # the copy of the code it runs (its working folder)
    cpu: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)


def measure(case: Case, env: dict[str, str]) -> None:
    """Run one case once and record its CPU seconds and peak RSS."""
    if case.source != ROOT:  # ahead of this checkout's editable install
        env = {**env, "PYTHONPATH": str(case.source)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(case.argv, stdout=out, stderr=err, env=env, cwd=case.source)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        if proc.returncode != 0:
            err.seek(0)
            out.seek(0)
            sys.exit(
                f"{case.name} exited {proc.returncode}:\n{err.read().decode()[-2000:]}"
                f"{out.read().decode()[-2000:]}"
            )
        if case.self_reported:
            out.seek(0)
            cpu, rss = out.read().decode().split()[-2:]
            case.cpu.append(float(cpu))
            case.rss_kib.append(int(rss))
        else:
            case.cpu.append(usage.ru_utime + usage.ru_stime)
            case.rss_kib.append(usage.ru_maxrss)


FLOORS = [
    Case("python -c pass", [PY, "-c", "pass"]),
    Case('python -c "import duckdb"', [PY, "-c", "import duckdb"]),
    Case('python -c "import textual"', [PY, "-c", "import textual"]),
    Case("minimal Textual app, first paint", [PY, "-c", MINIMAL_TUI], self_reported=True),
]


def commands(ws: Path, actor: str, source: Path, tag: str = "") -> list[Case]:
    """The commands people run every day, from the code in ``source``."""
    tui = LEDGER_TUI.replace("{root!r}", repr(str(source)))
    tui = tui.replace("{ws!r}", repr(str(ws))).replace("{actor!r}", repr(actor))
    duck, paint = 'python -c "import duckdb"', "minimal Textual app, first paint"
    out = [
        Case("ledgerml --help", [LEDGERML, "--help"], "python -c pass", 1.2, 0.1),
        Case("ledgerml status", [LEDGERML, "status"], duck, 1.5),
        Case("ledgerml status --no-verify", [LEDGERML, "status", "--no-verify"], duck),
        Case("ledgerml audit log", [LEDGERML, "audit", "log"], duck, 1.5),
        Case("ledgerml model list", [LEDGERML, "model", "list"], duck, 1.5),
        Case("ledgerml tui, first paint", [PY, "-c", tui.replace("{wait!r}", "False")], paint, 1.5),
        Case("ledgerml tui, overview filled", [PY, "-c", tui.replace("{wait!r}", "True")], paint),
    ]
    for case in out:
        case.name += tag
        case.source = source
        case.self_reported = case.name.startswith("ledgerml tui")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="measured rounds (plus one warm-up)")
    parser.add_argument("--workspace", type=Path, default=ROOT / "demo-workspace")
    parser.add_argument("--actor", default=os.environ.get("LEDGERML_ACTOR", "steward-admin"))
    parser.add_argument(
        "--baseline", type=Path, help="another copy of the code, measured in the same rounds"
    )
    args = parser.parse_args()
    ws = args.workspace.resolve()
    if not (ws / "config.toml").is_file():
        sys.exit(f"no workspace at {ws}; make one with `scripts/with-keyring scripts/demo.sh`")
    env = {
        **os.environ,
        "LEDGERML_WORKSPACE": str(ws),
        "LEDGERML_ACTOR": args.actor,
    }
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    todo = FLOORS + commands(ws, args.actor, ROOT)
    if args.baseline:
        todo += commands(ws, args.actor, args.baseline.resolve(), " [baseline]")
    for round_ in range(args.runs + 1):
        for case in todo:
            measure(case, env)
            if round_ == 0:  # warm-up: caches, bytecode, the catalog file's pages
                case.cpu.clear()
                case.rss_kib.clear()
        print(f"round {round_}/{args.runs} done", file=sys.stderr)
    median = {c.name: statistics.median(c.cpu) for c in todo}
    print(f"\n{args.runs} runs each on {ws.name} (median CPU-s = user + sys; peak RSS)")
    if args.baseline:
        print(f"[baseline]: the code in {args.baseline}, in the same rounds")
    head = f"{'command':46} {'CPU-s':>7} {'min':>7} {'RSS MiB':>8} {'ratio':>14} {'target':>14}"
    print("\n" + head)
    print("-" * len(head))
    for case in todo:
        cpu = median[case.name]
        rss = statistics.median(case.rss_kib) / 1024
        ratio = target = ""
        if case.floor:
            base = median[case.floor]
            ratio = f"{cpu / base:.2f}x floor"
            if case.factor:
                limit = case.factor * base + case.offset
                verdict = "met" if cpu <= limit else "MISSED"
                target = f"<= {limit:.3f} {verdict}"
        print(f"{case.name:46} {cpu:7.3f} {min(case.cpu):7.3f} {rss:8.1f} {ratio:>14} {target:>14}")
    print(
        "\nfloors: --help against `python -c pass` (1.2x + 0.1 s); status, audit log and model "
        "list against `import duckdb` (1.5x); the TUI against a minimal Textual app (1.5x)"
    )


if __name__ == "__main__":
    main()
