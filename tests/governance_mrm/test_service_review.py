"""Only people review a break-glass promotion: a service account holding a review role cannot.

The review stands in for the approvals the emergency skipped; approvals are a person's signed
judgement, so a robot clearing the alert would be oversight by nobody. The command refuses
it, and ``audit verify`` names such a review appended past the command.
"""

from __future__ import annotations

import pytest

from core.audit import verification
from core.governance import breakglass, mrm_verify
from core.governance.events import BreakGlassReviewed
from core.identity import actors
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import PermissionDeniedError
from core.kernel.kinds import new_event
from core.kernel.workspace import Session, Workspace
from tests.governance_mrm.conftest import MODEL, break_glass


def _ledger(ws: Workspace) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((ws.root / "ledger").rglob("*.log")))


def test_a_service_account_cannot_review(mws: Workspace) -> None:
    actors.add(mws, "alice", "bot", ["approver"], kind="service")
    seq = break_glass(mws)
    before = _ledger(mws)
    with pytest.raises(PermissionDeniedError, match="only people review"):
        breakglass.review(mws, "bot", seq, reason="automated close")
    assert _ledger(mws) == before
    assert [b.promotion.seq for b in breakglass.list_breakglass(mws, open_only=True)] == [seq]


def test_verify_names_a_service_review_appended_past_the_command(mws: Workspace) -> None:
    actors.add(mws, "alice", "bot", ["approver"], kind="service")
    glass = break_glass(mws)

    def commit(s: Session, _: None) -> int:
        event = new_event(s.actor, BreakGlassReviewed(glass, MODEL, "upheld"), [], "scripted")
        return s.commit(event).seq

    bad = command.run(mws, "bot", guards=[needs(action="script")], commit=commit)
    report = verification.verify(mws)
    assert not report.ok
    assert any(f"event #{bad}" in f and "bot is a service actor" in f for f in report.failures), (
        report.failures
    )


def test_the_kind_is_read_from_the_events() -> None:
    events = [
        (1, {"action": "workspace.init", "actor": "alice", "data": {"founder": "alice"}}),
        (2, {"action": "actor.add", "actor": "alice", "data": {"name": "bot", "kind": "service"}}),
        (3, {"action": "model.promote", "actor": "alice",
             "data": {"model": "m@1", "break_glass": True}}),
        (4, {"action": "breakglass.review", "actor": "bot", "data": {"promotion": 3}}),
    ]  # fmt: skip
    seen: list[tuple[str, int]] = []
    assert mrm_verify.check(events, lambda m, s: seen.append((m, s))) == 1
    assert seen == [
        ("event #4 (breakglass.review) reviews #3, but bot is a service actor: only people "
         "review", 4)
    ]  # fmt: skip
