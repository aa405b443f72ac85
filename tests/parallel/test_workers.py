"""The suite's pytest-xdist set-up keeps what a serial run gives: one build per shared fixture.

`make test` runs pytest with ``-n auto`` and the ``--dist`` mode in pyproject's addopts. These
tests run a small generated suite through a real inner pytest with those very options and read
back which worker ran what, and check how ``-n auto`` counts workers.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import ROOT, pytest_xdist_auto_num_workers

MODULE = """
import json, os
from pathlib import Path
import pytest

LOG = Path(os.environ["XDIST_PROBE_LOG"])


def note(**row):
    row.update(file=__name__, worker=os.environ["PYTEST_XDIST_WORKER"])
    with LOG.open("a") as f:
        f.write(json.dumps(row) + "\\n")


@pytest.fixture(scope="module")
def shared():
    note(event="built")
    return object()


@pytest.mark.parametrize("n", range(6))
def test_uses_shared(shared, n):
    note(event="ran", n=n)
"""


def suite_addopts() -> list[str]:
    """The addopts `make test` runs with, read from pyproject.toml."""
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return shlex.split(doc["tool"]["pytest"]["ini_options"]["addopts"])


def run_inner(tmp_path: Path, *options: str) -> list[dict[str, object]]:
    """Run two generated files on two workers; the rows each test and fixture wrote."""
    suite = tmp_path / "suite"
    suite.mkdir()
    for name in ("test_alpha.py", "test_beta.py"):
        (suite / name).write_text(MODULE)
    log = tmp_path / "log.jsonl"
    command = [sys.executable, "-m", "pytest", "-c", os.devnull, "--rootdir", str(suite)]
    command += ["-p", "xdist", "-p", "no:cacheprovider", "-q", "-n", "2", *options, str(suite)]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        # Only xdist: the other plugins' imports would triple the run's time.
        env={**os.environ, "XDIST_PROBE_LOG": str(log), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12 passed" in done.stdout, done.stdout
    return [json.loads(line) for line in log.read_text().splitlines()]


def workers_per_file(rows: list[dict[str, object]]) -> dict[str, set[object]]:
    seen: dict[str, set[object]] = defaultdict(set)
    for row in rows:
        seen[str(row["file"])].add(row["worker"])
    return seen


def test_the_suites_options_keep_a_file_and_its_module_fixture_on_one_worker(
    tmp_path: Path,
) -> None:
    options = [o for o in suite_addopts() if o != "--strict-config"]  # no [tool.pytest] here
    # ...so the marker the addopts' -m names is declared here (--strict-markers wants it).
    options += ["-o", "markers=slow: the suite's marker"]
    rows = run_inner(tmp_path, *options)
    assert all(len(workers) == 1 for workers in workers_per_file(rows).values()), rows
    built = [row["file"] for row in rows if row["event"] == "built"]
    assert sorted(built) == ["test_alpha", "test_beta"], rows  # once per file, as serially
    assert len([row for row in rows if row["event"] == "ran"]) == 12


def test_the_check_sees_a_split_file_under_plain_load(tmp_path: Path) -> None:
    """The control: per-test distribution splits a file and builds its fixture twice, which
    the check above would catch (xdist's first round gives each worker tests of the first
    file)."""
    rows = run_inner(tmp_path, "--dist", "load")
    assert any(len(workers) == 2 for workers in workers_per_file(rows).values()), rows
    assert len([row for row in rows if row["event"] == "built"]) > 2, rows


def test_auto_counts_the_cores_training_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.modelling.environment import cpu_budget

    config = pytest.Config.__new__(pytest.Config)  # the hook does not read it
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.delenv("LEDGERML_THREADS", raising=False)
    assert pytest_xdist_auto_num_workers(config) == cpu_budget()[0] >= 1
    assert pytest_xdist_auto_num_workers(config) <= len(os.sched_getaffinity(0))
    monkeypatch.setenv("LEDGERML_THREADS", "1")
    assert pytest_xdist_auto_num_workers(config) == 1
    monkeypatch.setenv("LEDGERML_THREADS", "zero")
    with pytest.raises(pytest.UsageError, match="LEDGERML_THREADS='zero'"):
        pytest_xdist_auto_num_workers(config)
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    assert pytest_xdist_auto_num_workers(config) is None  # left to xdist, which reads it


def test_make_test_runs_on_every_core() -> None:
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "XDIST ?= -n auto" in make
    assert "-m pytest $(XDIST) $(PYTEST_ARGS)" in make
    assert "--dist" in suite_addopts()
