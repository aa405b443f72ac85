"""The command kernel: guards before each phase, compute without the lock, one event at most."""

from __future__ import annotations

import fcntl
from typing import Any

import pytest

from core.identity import actors
from core.identity.events import ActorAdded
from core.kernel import command, kinds
from core.kernel.errors import PermissionDeniedError
from core.kernel.workspace import Session, Workspace


def _add(s: Session, name: str) -> None:
    s.commit(kinds.new_event(s.actor, ActorAdded(name, ["auditor"]), [f"actor:{name}"]))


def test_a_second_event_in_one_command_is_refused_before_it_is_written(ws: Workspace) -> None:
    head = ws.ledger.head()[0]

    def commit(s: Session, _: None) -> None:
        _add(s, "first")
        _add(s, "second")

    with pytest.raises(RuntimeError, match="one is the rule"):
        command.run(ws, "alice", guards=[actors.needs(action="test")], commit=commit)
    assert ws.ledger.head()[0] == head + 1
    with ws.session("alice") as s:
        assert s.catalog.actor("first") is not None
        assert s.catalog.actor("second") is None


def test_a_commit_without_a_proven_identity_is_refused(ws: Workspace) -> None:
    head = ws.ledger.head()[0]
    with pytest.raises(RuntimeError, match="no proven identity"):
        command.run(ws, "alice", commit=lambda s, _: _add(s, "unsigned"))
    assert ws.ledger.head()[0] == head


def test_guards_run_before_each_phase_and_compute_runs_without_the_lock(ws: Workspace) -> None:
    calls: list[str] = []

    def guard(s: Session) -> None:
        calls.append("guard")

    def compute(prepared: Any) -> str:
        calls.append("compute")
        # The writer lock is free here: a new open file description can take the flock
        # (flock conflicts between descriptions even within one process).
        with (ws.root / "lock").open("a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return f"{prepared}-computed"

    def commit(s: Session, value: str) -> str:
        calls.append("commit")
        return value

    out = command.run(
        ws, "alice", guards=[guard], prepare=lambda s: "prepared", compute=compute, commit=commit
    )
    assert out == "prepared-computed"
    assert calls == ["guard", "compute", "guard", "commit"]


def test_a_guard_that_fails_at_commit_records_nothing(ws: Workspace) -> None:
    head = ws.ledger.head()[0]
    seen = 0

    def revoked_meanwhile(s: Session) -> None:
        nonlocal seen
        seen += 1
        if seen == 2:
            raise PermissionDeniedError("role revoked while computing")

    with pytest.raises(PermissionDeniedError):
        command.run(
            ws,
            "alice",
            guards=[revoked_meanwhile],
            compute=lambda _: None,
            commit=lambda s, _: _add(s, "late"),
        )
    assert ws.ledger.head()[0] == head
