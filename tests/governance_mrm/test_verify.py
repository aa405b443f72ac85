"""``audit verify`` re-checks findings and break-glass reviews from the signed events.

Each attack appends a correctly signed event by an actor whose role the kind allows, but
past the command's separation-of-duties checks (an insider with a key and a script): the
signatures and roles verify, the catalog matches the ledger, and verify still names it.
"""

from __future__ import annotations

import pytest

from core.audit import verification
from core.governance import breakglass, findings, mrm_verify
from core.governance.events import BreakGlassReviewed, FindingUpdated
from core.identity.actors import needs
from core.kernel import command
from core.kernel.kinds import Payload, new_event
from core.kernel.workspace import Session, Workspace
from tests.governance_mrm.conftest import MODEL, break_glass


def _append(ws: Workspace, actor: str, payload: Payload) -> int:
    """Sign and append an event as ``actor`` without the command's checks."""

    def commit(s: Session, _: None) -> int:
        return s.commit(new_event(s.actor, payload, [f"model:{MODEL}"], "scripted")).seq

    return command.run(ws, actor, guards=[needs(action="script")], commit=commit)


def _failures(ws: Workspace) -> list[str]:
    report = verification.verify(ws)
    return [] if report.ok else report.failures


def _finding(ws: Workspace, owner: str) -> int:
    return findings.add(
        ws, "val", MODEL, severity="high", owner=owner, title="t", due="2999-01-01", reason="r"
    ).seq


def test_updates_and_reviews_through_the_commands_verify(mws: Workspace) -> None:
    seq = _finding(mws, "olga")
    findings.update(mws, "olga", seq, status="in-remediation", reason="r")
    findings.update(mws, "val", seq, status="accepted", reason="r", expires="2999-01-01")
    glass = break_glass(mws)
    breakglass.review(mws, "ada", glass, reason="ok")
    assert _failures(mws) == []


@pytest.mark.parametrize(
    ("actor", "owner", "status", "expires", "text"),
    [
        ("ada", "ada", "accepted", "2999-01-01", "ada owns it"),
        ("sam", "olga", "remediated", None, "sam developed credit-risk@1"),
        ("val", "olga", "in-remediation", None, "owned by olga"),
        ("val", "olga", "accepted", None, "accepts no end"),
        ("val", "olga", "remediated", "2999-01-01", "expiry without accepting"),
    ],
)
def test_a_scripted_finding_update_past_the_command_is_caught(
    mws: Workspace, actor: str, owner: str, status: str, expires: str | None, text: str
) -> None:
    seq = _finding(mws, owner)
    bad = _append(mws, actor, FindingUpdated(seq, MODEL, status, expires))
    failures = _failures(mws)
    assert any(f"event #{bad} (finding.update)" in f and text in f for f in failures), failures


def test_an_update_of_no_finding_is_caught(mws: Workspace) -> None:
    bad = _append(mws, "val", FindingUpdated(3, MODEL, "remediated"))
    assert any(f"event #{bad}" in f and "no earlier finding.open" in f for f in _failures(mws))


def test_a_self_review_and_a_second_review_are_caught(mws: Workspace) -> None:
    glass = break_glass(mws)
    own = _append(mws, "alice", BreakGlassReviewed(glass, MODEL, "upheld"))
    failures = _failures(mws)
    assert any(f"event #{own}" in f and "alice promoted" in f for f in failures), failures
    valid_review = _append(mws, "val", BreakGlassReviewed(glass, MODEL, "reversed"))
    second = _append(mws, "ada", BreakGlassReviewed(glass, MODEL, "upheld"))
    failures = _failures(mws)
    assert not any(f"event #{valid_review}" in f for f in failures)
    assert any(f"event #{second}" in f and "again" in f for f in failures), failures


def test_a_review_of_a_normal_promotion_is_caught(mws: Workspace) -> None:
    from tests.governance_mrm.conftest import promote

    normal = promote(mws, "alice", MODEL, "validated")
    bad = _append(mws, "val", BreakGlassReviewed(normal, MODEL, "upheld"))
    assert any(f"event #{bad}" in f and "no earlier break-glass" in f for f in _failures(mws))


def test_the_checks_read_events_not_the_catalog() -> None:
    events = [
        (1, {"action": "finding.open", "actor": "val", "data": {"owner": "o", "model": "m@1"}}),
        (2, {"action": "finding.update", "actor": "o", "data": {"finding": 1, "status": "open"}}),
    ]
    seen: list[tuple[str, int]] = []
    assert mrm_verify.check(events, lambda m, s: seen.append((m, s))) == 1
    assert seen == [
        ("event #2 (finding.update) marks #1 open, but o owns it (separation of duties)", 2)
    ]
