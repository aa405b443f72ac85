"""Actors and roles: refusals name the role, and a refused action records nothing."""

from __future__ import annotations

import pytest

from core.identity import actors
from core.kernel.errors import PermissionDeniedError, UsageError


def test_add_list_show(ws) -> None:
    row, created = actors.add(ws, "alice", "val", ["validator", "approver", "validator"], "mv")
    assert created and row.roles == ["approver", "validator"] and row.created_by == "alice"
    assert [a.name for a in actors.list_actors(ws)] == ["alice", "bob", "sam", "val"]
    assert actors.show(ws, "val").created_seq == row.created_seq


def test_retrying_the_same_add_records_nothing(ws) -> None:
    head = ws.ledger.head()
    _, created = actors.add(ws, "alice", "bob", ["auditor"])
    assert not created and ws.ledger.head() == head
    with pytest.raises(UsageError, match="already exists with roles auditor"):
        actors.add(ws, "alice", "bob", ["admin"])


def test_wrong_role_unknown_actor_and_bad_input_change_nothing(ws) -> None:
    head = ws.ledger.head()
    with pytest.raises(PermissionDeniedError, match="lacks the role 'admin' needed to add"):
        actors.add(ws, "sam", "eve", ["admin"])
    with pytest.raises(PermissionDeniedError, match="unknown actor 'mallory'"):
        actors.add(ws, "mallory", "eve", ["admin"])
    with pytest.raises(UsageError, match="unknown role 'root'"):
        actors.add(ws, "alice", "eve", ["root"])
    with pytest.raises(UsageError, match="invalid actor name"):
        actors.add(ws, "alice", "Eve Smith", ["auditor"])
    with pytest.raises(UsageError, match="at least one"):
        actors.add(ws, "alice", "eve", [])
    assert ws.ledger.head() == head


def test_acting_actor_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERML_ACTOR", "from-env")
    assert actors.acting_actor("explicit") == "explicit"
    assert actors.acting_actor(None) == "from-env"
    monkeypatch.delenv("LEDGERML_ACTOR")
    assert actors.acting_actor(None)  # the OS user
