"""An operations workspace: two approved, signed versions of a real model, and its operators.

Built once per test session and worker (``ops_team``; tests never change it): the German
credit data, a feature view that passed its suite, ``credit-risk@1`` and ``credit-risk@2`` (a
second run with another C) each signed by sam and approved by two validators, the test
policy (``policy/``), and the actors operations needs. Each test gets its own copy of the
folder (``ops``); keys live in the test keyring, which copies share, so every actor can still
sign in a copy.
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
    "tess": (["validator"], "person"),
    "opal": (["operator"], "person"),  # deploys, rolls back, handles incidents
    "cal": (["consumer"], "person"),  # calls the scoring service
    "scorer": (["operator"], "service"),  # the scoring service's own identity
}
"""Actors besides alice, the founding admin."""
V1, V2 = "credit-risk@1", "credit-risk@2"


@dataclass
class Ops:
    """A copy of the operations workspace."""

    root: Path

    @property
    def ws(self):  # type: ignore[no-untyped-def]
        from core.kernel.workspace import Workspace

        return Workspace.open(self.root)


def approve_fully(ws, ref: str) -> None:  # type: ignore[no-untyped-def]
    """Validated, two validators' approvals, approved: what production demands."""
    from core.governance import approvals, lifecycle

    lifecycle.promote(ws, "vic", ref, to="validated", reason="validated")
    approvals.approve(ws, "vic", ref, role="validator", reason="ok")
    approvals.approve(
        ws,
        "tess",
        ref,
        role="validator",
        reason="ok",
        conditions=["not for applicants under 21 [where age_years >= 21]", "reviewed yearly"],
    )
    lifecycle.promote(ws, "vic", ref, to="approved", reason="approved")


@pytest.fixture(scope="session")
def ops_team(tmp_path_factory: pytest.TempPathFactory) -> Ops:
    """The workspace described in the module docstring."""
    from core.audit import admin
    from core.data import features, snapshots, validation
    from core.governance import policy
    from core.identity import actors
    from core.modelling import models, training

    base = tmp_path_factory.mktemp("ops")
    root = base / "ws"
    ws = admin.init(root, "alice", reason="test")
    for name, (roles, kind) in CAST.items():
        actors.add(ws, "alice", name, roles, kind=kind)
    snapshots.add(ws, "sam", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "sam", SAMPLE / "features.toml")
    validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
    policy.install(ws, "alice", POLICY, reason="test policy")
    spec2 = base / "train2.toml"
    spec2.write_text((SAMPLE / "train.toml").read_text().replace("C = 0.5", "C = 0.05"))
    for spec in (SAMPLE / "train.toml", spec2):
        run = training.train(ws, "sam", spec)
        row, _ = models.register(ws, "sam", run.run_id, "credit-risk")
        models.sign(ws, "sam", row.ref)
        approve_fully(ws, row.ref)
    return Ops(root)


@pytest.fixture
def ops(ops_team: Ops, tmp_path: Path) -> Iterator[Ops]:
    """A fresh copy of the operations workspace for one test."""
    copy = tmp_path / "ws"
    shutil.copytree(ops_team.root, copy)
    yield Ops(copy)
