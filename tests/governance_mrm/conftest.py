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
    (auditor)."""
    from core.audit import admin
    from core.data import features, snapshots, validation
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
    return ws.root


@pytest.fixture
def mws(base: Path, tmp_path: Path) -> Workspace:
    """A private copy of the base workspace."""
    shutil.copytree(base, tmp_path / "ws")
    return Workspace.open(tmp_path / "ws")


def install_policy(ws: Workspace) -> None:
    """Put the test policy bundle (small windows, the findings rule) in force."""
    from core.governance import policy

    policy.install(ws, "alice", POLICY, "test policy")


def promote(
    ws: Workspace, actor: str, ref: str, to: str, *, break_glass: bool = False, reason: str = "x"
) -> int:
    """Record a ``model.promote`` through the foundation's kind (no gate, no approvals).

    Stands in for :func:`core.governance.lifecycle.promote` (another branch's work) so that
    break-glass reviews and stage-dependent alerts can be tested on real, signed events.
    """
    from core.governance.events import PROMOTE_ROLES, ModelPromoted
    from core.governance.facts import model_row, stage_of
    from core.identity.actors import needs
    from core.kernel import command
    from core.kernel.kinds import new_event
    from core.kernel.workspace import Session

    def commit(s: Session, _: None) -> int:
        model = model_row(s, ref)
        payload = ModelPromoted(
            model.ref, model.model_digest, stage_of(s, model.ref), to, [], break_glass or None
        )
        return s.commit(new_event(s.actor, payload, [f"model:{model.ref}"], reason)).seq

    return command.run(ws, actor, guards=[needs(*PROMOTE_ROLES, action="promote")], commit=commit)


def event_time(ws: Workspace, seq: int) -> dt.datetime:
    """When event ``seq`` was recorded (the ledger's own clock), as an aware datetime."""
    with ws.session("") as s:
        [row] = [e for e in s.catalog.events() if e.seq == seq]
    return dt.datetime.strptime(row.ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def event_day(ws: Workspace, seq: int) -> dt.date:
    """The UTC day event ``seq`` was recorded on."""
    return event_time(ws, seq).date()
