"""A second writer waits briefly, then says who holds the workspace; never a lock trace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.kernel.workspace import Workspace
from tests.conftest import ROOT, run_cli

HOLD_LOCK = """
import sys
from pathlib import Path
from storage.lock import writer_lock
with writer_lock(Path(sys.argv[1]), "holder-hannah"):
    print("held", flush=True)
    sys.stdin.read()
"""
HOLD_CATALOG = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


def hold(script: str, target: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(target)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def test_writer_lock_holder_is_named(ws_path: Path, ws: Workspace) -> None:
    env = {
        "LEDGERML_WORKSPACE": str(ws_path),
        "LEDGERML_ACTOR": "alice",
        "LEDGERML_BUSY_TIMEOUT": "0.3",
    }
    holder = hold(HOLD_LOCK, ws_path)
    try:
        result = run_cli("actor", "add", "carol", "--role", "auditor", env=env)
    finally:
        release(holder)
    assert result.returncode == 2
    assert "workspace busy" in result.stderr and "holder-hannah" in result.stderr
    assert "Traceback" not in result.stderr and "IO Error" not in result.stderr
    assert run_cli("actor", "add", "carol", "--role", "auditor", env=env).returncode == 0


def test_catalog_held_by_a_foreign_process_is_named(ws_path: Path, ws: Workspace) -> None:
    env = {
        "LEDGERML_WORKSPACE": str(ws_path),
        "LEDGERML_ACTOR": "alice",
        "LEDGERML_BUSY_TIMEOUT": "0.3",
    }
    holder = hold(HOLD_CATALOG, ws.catalog_path)
    try:
        result = run_cli("actor", "list", env=env)
    finally:
        release(holder)
    assert result.returncode == 2
    assert "workspace busy" in result.stderr and f"pid {holder.pid}" in result.stderr
    assert "Traceback" not in result.stderr
    assert run_cli("actor", "list", env=env).returncode == 0
