"""A gate decides on catalog facts; ``audit verify`` proves them against the signed ledger.

The catalog is an index an insider can edit and then make consistent again with ``rebuild``
(which replays the ledger, including whatever the edit let through). So the recorded
decision's input must be checked against the signed events themselves: the stage a
promotion starts from, the roles and the evidence the policy was told about, and who may
break glass. Each test below is an attack a reviewer ran against the first version, which
``audit verify`` then called VERIFIED.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from core.audit import verification
from core.governance import facts, lifecycle, policy
from core.governance.events import ModelPromoted
from core.identity.actors import needs
from core.kernel.kinds import new_event
from tests.governance.conftest import Gov

M = "credit-risk@1"


def _failures(gov: Gov) -> list[str]:
    return verification.verify(gov.ws).failures


def _sql(gov: Gov, sql: str, params: list[Any] | None = None) -> None:
    con = duckdb.connect(str(gov.root / "catalog.duckdb"))
    try:
        con.execute(sql, params or [])
    finally:
        con.close()


def _rebuild(gov: Gov) -> None:
    """What the insider runs after an edit: the catalog agrees with the ledger again."""
    gov.ws.rebuild()


def test_an_honest_history_still_verifies(gov: Gov) -> None:
    lifecycle.promote(gov.ws, "sam", M, to="validated", reason="x")
    lifecycle.promote(gov.ws, "alice", M, to="approved", reason="emergency", break_glass=True)
    lifecycle.promote(gov.ws, "sam", M, to="retired", reason="done")
    assert _failures(gov) == []


def test_a_retired_version_revived_through_the_catalog(gov: Gov) -> None:
    retired = lifecycle.promote(gov.ws, "sam", M, to="retired", reason="withdrawn")
    _sql(gov, "DELETE FROM lifecycle WHERE seq = ?", [retired.seq])
    revived = lifecycle.promote(gov.ws, "sam", M, to="validated", reason="back")
    _rebuild(gov)
    found = [f for f in _failures(gov) if f"#{revived.seq}" in f]
    assert any("the signed ledger had it 'retired'" in f for f in found), found
    assert any("retired is final" in f for f in found), found


def test_evidence_invented_in_the_catalog(gov: Gov) -> None:
    with gov.ws.session("") as s:
        [train] = [e.seq for e in s.catalog.events(action="train.run")]
    _sql(
        gov,
        "INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?, true, 0, 0, ?, ?, 'PASS')",
        [train, M, "a" * 64, "b" * 64, "c" * 64, "k", "2026-12-01T00:00:00.000000Z", "vic"],
    )
    promoted = lifecycle.promote(gov.ws, "sam", M, to="validated", reason="evidence says so")
    _rebuild(gov)
    found = [f for f in _failures(gov) if f"#{promoted.seq}" in f]
    assert any(f"evaluation evidence #{train}" in f and "not that event" in f for f in found), found


def test_evidence_left_out_of_the_facts(gov: Gov, monkeypatch: pytest.MonkeyPatch) -> None:
    real = facts.model_facts

    def without_validations(*args: Any, **kwargs: Any) -> dict[str, Any]:
        doc = real(*args, **kwargs)
        doc["evidence"] = [e for e in doc["evidence"] if e["kind"] != "validation"]
        return doc

    monkeypatch.setattr(lifecycle, "model_facts", without_validations)
    promoted = lifecycle.promote(gov.ws, "sam", M, to="validated", reason="x")
    found = [f for f in _failures(gov) if f"#{promoted.seq}" in f]
    assert any("leaves out evidence about credit-risk@1" in f for f in found), found


def test_roles_the_ledger_never_gave(gov: Gov, monkeypatch: pytest.MonkeyPatch) -> None:
    real = policy.actor_input

    def admin_too(s: Any) -> dict[str, Any]:
        doc = real(s)
        return {**doc, "roles": sorted({*doc["roles"], "admin"})}

    monkeypatch.setattr(policy, "actor_input", admin_too)
    promoted = lifecycle.promote(gov.ws, "vic", M, to="validated", reason="x")
    found = [f for f in _failures(gov) if f"#{promoted.seq}" in f]
    assert any("gives vic the roles ['admin', 'validator']" in f for f in found), found


def test_break_glass_by_someone_the_policy_does_not_name(gov: Gov) -> None:
    with gov.ws.session("vic") as s:
        needs(action="forge")(s)
        digest = s.catalog.model(M).model_digest  # type: ignore[union-attr]
        payload = ModelPromoted(M, digest, "candidate", "validated", [], True)
        entry = s.commit(new_event("vic", payload, [f"model:{M}"], "forged emergency"))
    found = [f for f in _failures(gov) if f"#{entry.seq}" in f]
    assert any("breaks glass by vic" in f for f in found), found


def test_a_move_that_skips_a_stage(gov: Gov) -> None:
    with gov.ws.session("sam") as s:
        needs(action="forge")(s)
        digest = s.catalog.model(M).model_digest  # type: ignore[union-attr]
        payload = ModelPromoted(M, digest, "candidate", "approved", [], None)
        entry = s.commit(new_event("sam", payload, [f"model:{M}"], "skip"))
    found = [f for f in _failures(gov) if f"#{entry.seq}" in f]
    assert any("from candidate only: validated, retired" in f for f in found), found
