"""A privacy workspace: several small datasets with retention tags, and the people who act.

Built once per test session and worker that asks for it (``retention_team``; tests never
change it); each test works on its own copy (``team``). Keys live in the test keyring,
which copies share.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

CAST: dict[str, list[str]] = {
    "dana": ["data-steward"],
    "cora": ["compliance"],
    "sam": ["data-scientist"],
    "apollo": ["approver"],
}
"""Actors besides alice, the founding admin."""
DATASETS: dict[str, str] = {
    "visits": "30d",
    "claims": "6w",
    "loans": "18m",
    "accounts": "2y",
    "notes": "",
}
"""Each small dataset and the ``--retention`` tag it is ingested with."""


@dataclass
class Team:
    """A copy of the privacy workspace."""

    root: Path

    @property
    def ws(self):  # type: ignore[no-untyped-def]
        from core.kernel.workspace import Workspace

        return Workspace.open(self.root)

    def head(self) -> int:
        """The ledger's size."""
        return int(self.ws.ledger.head()[0])


def write_csv(path: Path, seed: int, rows: int = 12) -> Path:
    """A small CSV whose bytes differ per seed."""
    lines = ["id,amount,city"] + [f"{i},{seed * 100 + i},c{(i * seed) % 5}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def retention_team(tmp_path_factory: pytest.TempPathFactory) -> Team:
    """alice (admin) and :data:`CAST`; one snapshot per dataset of :data:`DATASETS`, and a
    second version of ``visits``."""
    from core.audit import admin
    from core.data import snapshots
    from core.identity import actors

    base = tmp_path_factory.mktemp("privacy")
    ws = admin.init(base / "ws", "alice", reason="test")
    for name, roles in CAST.items():
        actors.add(ws, "alice", name, roles)
    for i, (name, tag) in enumerate(DATASETS.items(), start=1):
        snapshots.add(ws, "dana", write_csv(base / f"{name}.csv", i), dataset=name, retention=tag)
    snapshots.add(
        ws, "dana", write_csv(base / "visits2.csv", 99), dataset="visits", retention="90d"
    )
    return Team(base / "ws")


@pytest.fixture
def team(retention_team: Team, tmp_path: Path) -> Team:
    """A fresh copy of the privacy workspace for one test."""
    copy = tmp_path / "ws"
    shutil.copytree(retention_team.root, copy)
    return Team(copy)


@dataclass
class Ran:
    """What an in-process command line run gave (the shape of a subprocess result)."""

    returncode: int
    stdout: str
    stderr: str


def cli_in(*args: str) -> Ran:
    """Run the CLI in this process (its own runner): the same commands, without a start-up.

    The suite's other CLI tests run the real ``ledgerml`` in a subprocess; each privacy test
    file keeps one such call for the front door and runs the rest here.
    """
    from typer.testing import CliRunner

    from app.cli import app

    result = CliRunner().invoke(app, list(args))
    return Ran(result.exit_code, result.stdout, result.stderr)
