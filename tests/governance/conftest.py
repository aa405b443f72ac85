"""A governed workspace: a cast of approvers, a trained and signed model, a test policy.

The model is trained once per test session and worker (``team``; tests never change it,
they copy it); each test gets its own copy of the workspace folder (``gov``), so approvals
and promotions never leak between tests. Keys live in the test keyring, which the copies
share, so every actor can still sign in a copy.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAMPLE = ROOT / "sample_data" / "german-credit"
POLICY = Path(__file__).with_name("policy")
CAST: dict[str, tuple[list[str], str]] = {
    "sam": (["data-scientist", "data-steward"], "person"),  # trains, registers, signs
    "vic": (["validator"], "person"),
    "cora": (["compliance"], "person"),
    "dora": (["data-owner"], "person"),
    "sec": (["security"], "person"),
    "tess": (["validator", "compliance"], "person"),  # one person, two roles
    "bot": (["approver", "validator"], "service"),  # a service holding approval roles
}
"""Actors besides alice, the founding admin (who also registers ``scorecard@1``)."""


@dataclass
class Gov:
    """A copy of the governed workspace, and what is in it."""

    root: Path
    run_id: str

    @property
    def ws(self):  # type: ignore[no-untyped-def]
        from core.kernel.workspace import Workspace

        return Workspace.open(self.root)


@pytest.fixture(scope="session")
def team(tmp_path_factory: pytest.TempPathFactory) -> Gov:
    """The workspace: credit-risk@1 (sam's), scorecard@1 (registered by alice), the policy."""
    from core.audit import admin
    from core.data import features, snapshots, validation
    from core.governance import policy
    from core.identity import actors
    from core.modelling import models, training

    root = tmp_path_factory.mktemp("gov") / "ws"
    ws = admin.init(root, "alice", reason="test")
    for name, (roles, kind) in CAST.items():
        actors.add(ws, "alice", name, roles, kind=kind)
    actors.change(ws, "alice", "alice", "grant", "trains too", role="data-scientist")
    snapshots.add(ws, "sam", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "sam", SAMPLE / "features.toml")
    validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "sam", SAMPLE / "train.toml")
    models.register(ws, "sam", run.run_id, "credit-risk")
    models.sign(ws, "sam", "credit-risk@1")
    models.register(ws, "alice", run.run_id, "scorecard")  # alice: an admin who develops
    policy.install(ws, "alice", POLICY, reason="test policy")
    return Gov(root, run.run_id)


@pytest.fixture
def gov(team: Gov, tmp_path: Path) -> Iterator[Gov]:
    """A fresh copy of the governed workspace for one test."""
    copy = tmp_path / "ws"
    shutil.copytree(team.root, copy)
    yield Gov(copy, team.run_id)
