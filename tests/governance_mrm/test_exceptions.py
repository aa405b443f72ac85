"""The exceptions register: waivers, accepted findings and break-glass, each with its status."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from core.data import gates, validation
from core.governance import breakglass, exceptions, findings
from core.kernel.workspace import Workspace
from tests.governance_mrm.conftest import MODEL, break_glass, event_day

STRICT = """
[suite]
name = "strict-size"

[[checks]]
name = "enough rows"
type = "row_count"
min = 100000
"""


def _waiver(ws: Workspace, tmp_path: Path, days: int) -> int:
    (tmp_path / "strict.toml").write_text(STRICT)
    row, _ = validation.run(ws, "val", "german-credit@1", tmp_path / "strict.toml")
    assert not row.passed
    until = (event_day(ws, row.seq) + dt.timedelta(days=days)).isoformat()
    return gates.waive(
        ws, "ada", "german-credit@1", suite="strict-size", reason="pilot", expires=until
    ).seq


def _statuses(ws: Workspace, today: dt.date) -> dict[tuple[str, int], str]:
    return {(e.kind, e.seq): e.status for e in exceptions.list_exceptions(ws, today=today)}


def test_every_kind_of_exception_is_listed_with_its_status(mws: Workspace, tmp_path: Path) -> None:
    waiver = _waiver(mws, tmp_path, 40)
    day = event_day(mws, waiver - 1)  # the failed run's day, which the expiry counts from
    opened = findings.add(
        mws, "val", MODEL, severity="medium", owner="olga", title="t", due="2999-01-01", reason="r"
    ).seq
    accepted = findings.update(
        mws,
        "val",
        opened,
        status="accepted",
        reason="compensating control",
        expires=(day + dt.timedelta(days=90)).isoformat(),
        today=day,
    ).updated_seq
    glass = break_glass(mws, reason="incident 7")

    assert _statuses(mws, day) == {
        ("waiver", waiver): "active",  # 40 days left: outside the 30-day window
        ("accepted-finding", accepted): "active",
        ("break-glass", glass): "open",
    }

    later = _statuses(mws, day + dt.timedelta(days=15))  # 25 days left on the waiver
    assert later[("waiver", waiver)] == "expiring"
    assert later[("accepted-finding", accepted)] == "active"

    on_last_day = _statuses(mws, day + dt.timedelta(days=40))
    assert on_last_day[("waiver", waiver)] == "expiring"  # the last day still counts
    past = _statuses(mws, day + dt.timedelta(days=91))
    assert past[("waiver", waiver)] == "expired"
    assert past[("accepted-finding", accepted)] == "expired"

    breakglass.review(mws, "val", glass, reason="justified")
    assert _statuses(mws, day)[("break-glass", glass)] == "reviewed"


def test_the_register_describes_what_each_exception_lets_through(
    mws: Workspace, tmp_path: Path
) -> None:
    waiver = _waiver(mws, tmp_path, 10)
    [entry] = exceptions.list_exceptions(mws, today=event_day(mws, waiver - 1))
    doc = entry.to_json()
    assert doc["kind"] == "waiver" and doc["by"] == "ada" and doc["reason"] == "pilot"
    assert doc["subject"] == "snapshot:german-credit@1" and doc["days_left"] == 10
    assert "suite 'strict-size'" in str(doc["detail"]) and "for train,view" in str(doc["detail"])


def test_a_finding_accepted_then_closed_is_no_longer_an_exception(mws: Workspace) -> None:
    seq = findings.add(
        mws, "val", MODEL, severity="high", owner="olga", title="t", due="2999-01-01", reason="r"
    ).seq
    findings.update(mws, "val", seq, status="accepted", reason="r", expires="2999-01-01")
    assert [e.kind for e in exceptions.list_exceptions(mws)] == ["accepted-finding"]
    findings.update(mws, "val", seq, status="remediated", reason="fixed after all")
    assert exceptions.list_exceptions(mws) == []


def test_an_expiry_status_is_by_day() -> None:
    day = dt.date(2026, 3, 1)
    assert exceptions.expiry_status("2026-03-01", day) == ("expiring", 0)
    assert exceptions.expiry_status("2026-02-28", day) == ("expired", -1)
    assert exceptions.expiry_status("2026-04-01", day, soon_days=30) == ("active", 31)
    assert exceptions.expiry_status("2026-03-31", day, soon_days=30) == ("expiring", 30)
