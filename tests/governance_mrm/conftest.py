"""Fixtures of the model-risk practice tests: one trained, signed model, copied per test.

Training costs seconds, so one workspace is built per session and every test works on a copy
of its folder (the keyring entries are the same actors' keys, so the copy can sign).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from core.kernel.workspace import Workspace
from tests.conftest import ROOT

SAMPLE = ROOT / "sample_data" / "german-credit"
POLICY = Path(__file__).with_name("policy")
MODEL = "credit-risk@1"


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace: admin alice; sam (data scientist and validator) trained, registered and
    signed credit-risk@1; val (validator), ada (approver), olga (data scientist), bob
    (auditor); the test policy (tests/governance_mrm/policy) in force."""
    from core.audit import admin
    from core.data import features, snapshots, validation
    from core.governance import policy
    from core.identity import actors
    from core.modelling import models, training

    ws = admin.init(tmp_path_factory.mktemp("mrm") / "ws", "alice", reason="test")
    actors.add(ws, "alice", "sam", ["data-scientist", "data-steward", "validator"])
    actors.add(ws, "alice", "val", ["validator"])
    actors.add(ws, "alice", "ada", ["approver"])
    actors.add(ws, "alice", "olga", ["data-scientist"])
    actors.add(ws, "alice", "bob", ["auditor"])
    snapshots.add(ws, "sam", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "sam", SAMPLE / "features.toml")
    validation.run(ws, "val", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "sam", SAMPLE / "train.toml")
    models.register(ws, "sam", run.run_id, "credit-risk")
    models.sign(ws, "sam", MODEL)
    policy.install(ws, "alice", POLICY, "test policy: small windows and the findings rule")
    return ws.root


@pytest.fixture
def mws(base: Path, tmp_path: Path) -> Workspace:
    """A private copy of the base workspace."""
    shutil.copytree(base, tmp_path / "ws")
    return Workspace.open(tmp_path / "ws")


def promote(ws: Workspace, actor: str, ref: str, to: str, *, reason: str = "x") -> int:
    """A gated promotion (:func:`core.governance.lifecycle.promote`); its event number."""
    from core.governance import lifecycle

    return lifecycle.promote(ws, actor, ref, to=to, reason=reason).seq


def break_glass(ws: Workspace, *, reason: str = "incident", actor: str = "alice") -> int:
    """Promote credit-risk@1 to validated, then break glass into approved (no approvals).

    Returns the break-glass promotion's event number.
    """
    from core.governance import lifecycle

    promote(ws, actor, MODEL, "validated")
    return lifecycle.promote(ws, actor, MODEL, to="approved", reason=reason, break_glass=True).seq


def event_time(ws: Workspace, seq: int) -> dt.datetime:
    """When event ``seq`` was recorded (the ledger's own clock), as an aware datetime."""
    with ws.session("") as s:
        [row] = [e for e in s.catalog.events() if e.seq == seq]
    return dt.datetime.strptime(row.ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def event_day(ws: Workspace, seq: int) -> dt.date:
    """The UTC day event ``seq`` was recorded on."""
    return event_time(ws, seq).date()
