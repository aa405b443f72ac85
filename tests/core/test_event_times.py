"""Event times move forward even when clocks disagree, and a clock far behind is refused.

A team's shared ledger interleaves several workstations' clocks, and NTP can step one back;
the ledger's rule (each signed event later than the one before it, which is what makes a
replayed copy detectable) must hold without a verifier failure on honest work. The clock is
the one thing a test here cannot move for real, so ``core.kernel.events`` is given one that
reads a fixed instant: everything else (the command, the signature, the ledger) is real.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.audit import verification
from core.identity import actors, signer
from core.kernel import events
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace


def _clock_at(moment: datetime) -> type[datetime]:
    class Clock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return moment

    return Clock


def _head_time(ws: Workspace) -> datetime:
    tail = ws.ledger.tail()
    assert tail is not None
    return datetime.strptime(events.event_time(tail.body), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC
    )


def test_a_clock_a_little_behind_dates_its_event_just_after_the_head(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = _head_time(ws)
    monkeypatch.setattr(events, "datetime", _clock_at(head - timedelta(seconds=90)))
    actors.add(ws, "alice", "ann", ["approver"])
    assert _head_time(ws) == head + timedelta(microseconds=1)
    monkeypatch.undo()
    signer.forget()
    report = verification.verify(Workspace.open(ws.root))
    assert report.ok, report.failures


def test_a_clock_far_behind_is_refused_and_records_nothing(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = ws.ledger.head()[0]
    head = _head_time(ws)
    monkeypatch.setattr(events, "datetime", _clock_at(head - timedelta(hours=3)))
    with pytest.raises(UsageError, match=r"clock .* is 3\.0 hours behind the ledger's newest"):
        actors.add(ws, "alice", "ann", ["approver"])
    assert ws.ledger.head()[0] == size


def test_the_time_is_read_from_the_body_as_a_parse_would() -> None:
    sealed = (
        b'{"action":"a","data":{"ts":"1999-01-01T00:00:00.000000Z"},'
        b'"ts":"2026-12-03T10:00:00.000001Z","v":2,"~sig":{"alg":"x","key":"k","sig":"s"}}'
    )
    assert events.event_time(sealed) == "2026-12-03T10:00:00.000001Z"
    assert events.event_time(b'{"ts":"2020-01-01T00:00:00.000000Z","v":1}') == (
        "2020-01-01T00:00:00.000000Z"
    )
    assert events.event_time(b"{}") == ""
    assert events.later_than("2026-12-03T10:00:00.999999Z", "2026-12-03T10:00:00.999999Z") == (
        "2026-12-03T10:00:01.000000Z"
    )
