"""Retention rules and the schedule: periods to the day, rules over tags, expiry recomputed.

Expiry is checked against an independent computation (pandas' ``DateOffset`` over the
snapshots' own event times, read from the ledger, not the catalog), at instants on both
sides of each boundary. ``retention run --dry-run`` must say the same and record nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.privacy import periods, retention, retention_run
from tests.conftest import run_cli
from tests.privacy.conftest import DATASETS, Team, cli_in

OFFSETS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}


def _pandas_end(ts: str, period: str) -> pd.Timestamp:
    n, unit = int(period[:-1]), period[-1]
    return pd.Timestamp(ts) + pd.DateOffset(**{OFFSETS[unit]: n})


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        ("2028-02-29T10:00:00.000000Z", "1y", "2029-02-28T10:00:00.000000Z"),
        ("2028-02-29T10:00:00.000000Z", "4y", "2032-02-29T10:00:00.000000Z"),
        ("2028-02-29T10:00:00.000000Z", "12m", "2029-02-28T10:00:00.000000Z"),
        ("2027-01-31T23:59:59.999999Z", "1m", "2027-02-28T23:59:59.999999Z"),
        ("2028-01-31T00:00:00.000000Z", "1m", "2028-02-29T00:00:00.000000Z"),
        ("2027-03-31T08:00:00.000000Z", "18m", "2028-09-30T08:00:00.000000Z"),
        ("2027-12-31T08:00:00.000000Z", "2m", "2028-02-29T08:00:00.000000Z"),
        ("2028-02-28T12:00:00.000000Z", "1d", "2028-02-29T12:00:00.000000Z"),
        ("2028-02-22T12:00:00.000000Z", "1w", "2028-02-29T12:00:00.000000Z"),
        ("2026-12-02T04:41:00.123456Z", "7y", "2033-12-02T04:41:00.123456Z"),
        ("2026-12-02T04:41:00.123456Z", "90d", "2027-03-02T04:41:00.123456Z"),
    ],
)
def test_periods_end_where_the_calendar_says(start: str, period: str, end: str) -> None:
    got = periods.ends(periods.instant(start), period)
    assert periods.iso(got) == end
    theirs = _pandas_end(start, period)
    assert got == theirs.to_pydatetime()


def test_bad_periods_and_instants_are_refused() -> None:
    for bad in ("7", "y", "7 years", "-1y", "7Y", "1.5y", ""):
        with pytest.raises(UsageError, match="invalid retention period"):
            periods.parse(bad)
    assert periods.ends(periods.instant("2026-01-01T00:00:00Z"), "99999y") == periods.NEVER
    assert periods.as_of("2033-12-02") == datetime(2033, 12, 2, tzinfo=UTC)
    assert periods.as_of("2033-12-02T09:30:00+02:00") == datetime(2033, 12, 2, 7, 30, tzinfo=UTC)
    for bad in ("2033-13-01", "tomorrow", "2033-12-02T09:30:00"):
        with pytest.raises(UsageError):
            periods.as_of(bad)


def _created(team: Team) -> dict[str, tuple[str, str]]:
    """snapshot ref -> (dataset, created_at), from the signed snapshot.add events."""
    out = {}
    ws = team.ws
    for seq in range(1, team.head() + 1):
        body = ws.ledger.entry(seq).decode()
        if body["action"] == "snapshot.add":
            d = body["data"]
            out[f"{d['dataset']}@{d['version']}"] = (d["dataset"], body["ts"])
    return out


def test_rules_override_tags_and_expiry_matches_pandas(team: Team) -> None:
    ws = team.ws
    retention.set_rule(ws, "cora", "dataset:accounts", "3m", reason="policy R-12 §4")
    retention.set_rule(ws, "dana", "dataset:notes", "1y", reason="policy R-12 §9")
    rule = retention.set_rule(ws, "alice", "dataset:notes", "2w", reason="shortened by DPO")
    assert (rule.period, rule.previous) == ("2w", "1y")
    created = _created(team)
    tags = {"visits@1": "30d", "visits@2": "90d"} | {f"{n}@1": t for n, t in DATASETS.items()}
    effective = tags | {"accounts@1": "3m", "notes@1": "2w"}
    ends = {ref: _pandas_end(created[ref][1], p) for ref, p in effective.items()}
    instants = sorted(ends.values())
    probes = [instants[0] - timedelta(microseconds=1)]
    for t in instants:
        probes += [t - timedelta(microseconds=1), t]
    head = team.head()
    with ws.session() as s:  # every probe in one read of the catalog
        for probe in probes:
            items = retention.schedule(s.catalog, probe.to_pydatetime())
            want = {ref for ref, end in ends.items() if end <= probe}
            got = {i.target for i in items if i.kind == "snapshot" and i.expired}
            assert got == want, probe
    for probe in probes[::4]:  # the front doors say the same
        text = probe.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        when, items = retention.show(ws, as_of=text)
        assert when == text
        want = {ref for ref, end in ends.items() if end <= probe}
        assert {i.target for i in items if i.kind == "snapshot" and i.expired} == want
        dry = retention_run.run(ws, "dana", reason="", as_of=text, dry_run=True)
        assert {e["snapshot"] for e in dry.erased} == want
        assert dry.seq is None
    assert team.head() == head  # dry runs record nothing
    _, items = retention.show(ws, as_of="2020-01-01")
    snaps = {i.target: i for i in items if i.kind == "snapshot"}
    assert snaps["accounts@1"].source == f"rule #{_rule_seq(ws, 'dataset:accounts')}"
    assert snaps["accounts@1"].period == "3m"
    assert "dataset:accounts rule #" in snaps["accounts@1"].source_text
    assert snaps["loans@1"].source == "tag" and snaps["loans@1"].period == "18m"
    assert snaps["notes@1"].period == "2w"
    assert snaps["visits@2"].period == "90d"  # each version keeps its own tag
    assert snaps["loans@1"].status.startswith("kept until ")
    del snaps


def _rule_seq(ws, target: str) -> int:  # type: ignore[no-untyped-def]
    with ws.session() as s:
        row = retention.rule_of(s.catalog, target)
    assert row is not None
    return int(row.seq)


def test_a_snapshot_without_tag_or_rule_never_expires(team: Team) -> None:
    _, items = retention.show(team.ws, as_of="9999-12-31")
    notes = next(i for i in items if i.target == "notes@1")
    assert notes.period is None and notes.source == "none" and not notes.expired
    assert notes.status == "no rule: kept"


def test_rules_need_a_role_a_reason_and_a_known_target(team: Team) -> None:
    ws = team.ws
    head = team.head()
    with pytest.raises(PermissionDeniedError):
        retention.set_rule(ws, "sam", "dataset:visits", "1y", reason="x")
    with pytest.raises(PermissionDeniedError):
        retention.set_rule(ws, "apollo", "dataset:visits", "1y", reason="x")
    with pytest.raises(UsageError, match="needs a reason"):
        retention.set_rule(ws, "dana", "dataset:visits", "1y", reason="")
    with pytest.raises(UsageError, match="invalid retention period"):
        retention.set_rule(ws, "dana", "dataset:visits", "1 year", reason="x")
    with pytest.raises(NotFoundError, match="no dataset named"):
        retention.set_rule(ws, "dana", "dataset:nope", "1y", reason="x")
    with pytest.raises(NotFoundError, match="no deployment was ever made"):
        retention.set_rule(ws, "dana", "decisions:production", "1y", reason="x")
    with pytest.raises(UsageError, match="per dataset or decision log"):
        retention.set_rule(ws, "dana", "visits@1", "1y", reason="x")
    assert team.head() == head
    first = retention.set_rule(ws, "dana", "dataset:visits", "1y", reason="R-1")
    again = retention.set_rule(ws, "dana", "dataset:visits", "1y", reason="R-1 again")
    assert again.seq == first.seq and team.head() == head + 1  # the same rule: no event


def test_a_held_snapshot_is_skipped_and_said_so(team: Team) -> None:
    """Everything due is held: the run erases nothing, says why, and records that it ran."""
    from core.privacy import hold_commands

    ws = team.ws
    h = hold_commands.place(ws, "dana", "dataset:visits", reason="litigation, case 114")
    head = team.head()
    # 35 days on: only visits@1 (30d) is due (claims, 6w, is not yet), and it is held.
    created = _created(team)["visits@1"][1]
    when = periods.iso(periods.ends(periods.instant(created), "35d"))
    dry = retention_run.run(ws, "dana", reason="", as_of=when, dry_run=True)
    assert dry.erased == [] and [x["target"] for x in dry.held] == ["visits@1"]
    assert dry.held[0]["text"] == f"held by #{h.row.seq}: litigation, case 114"
    assert team.head() == head
    done = retention_run.run(ws, "dana", reason="monthly run", as_of=when)
    assert done.erased == [] and done.refused == []
    assert done.held == dry.held
    body = ws.ledger.entry(int(done.seq or 0)).decode()
    assert body["action"] == "retention.run" and body["actor"] == "dana"
    assert body["data"]["held"] == dry.held and body["data"]["as_of"] == when
    assert not any(
        ws.ledger.entry(q).decode()["action"] == "data.erase"
        for q in range(head + 1, team.head() + 1)
    )
    with ws.session() as s:
        assert s.catalog.snapshot("visits@1").erased_seq is None


def test_a_run_needs_a_reason_and_an_erase_role(team: Team) -> None:
    head = team.head()
    with pytest.raises(UsageError, match="needs a reason"):
        retention_run.run(team.ws, "dana", reason="")
    for who in ("sam", "cora", "apollo"):
        with pytest.raises(PermissionDeniedError):
            retention_run.run(team.ws, who, reason="x")
        with pytest.raises(PermissionDeniedError):
            retention_run.run(team.ws, who, reason="", dry_run=True)
    assert team.head() == head


def test_the_cli_sets_shows_and_plans(team: Team) -> None:
    ws = ["--workspace", str(team.root), "--as", "cora"]
    out = cli_in(*ws, "retention", "set", "dataset:loans", "6m", "--reason", "policy R-12")
    assert out.returncode == 0, out.stderr
    assert "dataset:loans is kept 6m" in out.stdout
    bad = cli_in(*ws, "retention", "set", "dataset:loans", "6 months", "--reason", "x")
    assert bad.returncode == 2 and "invalid retention period" in bad.stderr
    shown = cli_in(*ws, "retention", "show", "--json", "--as-of", "2020-01-01")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    loans = next(i for i in doc["items"] if i["target"] == "loans@1")
    assert (loans["period"], loans["source"].startswith("rule #")) == ("6m", True)
    assert doc["as_of"] == "2020-01-01T00:00:00.000000Z"
    table = cli_in(*ws, "retention", "show")
    assert table.returncode == 0 and "dataset:loans rule #" in table.stdout
    assert "the snapshot's own tag" in table.stdout
    dana = ["--workspace", str(team.root), "--as", "dana"]
    plan = run_cli(*dana, "retention", "run", "--dry-run", "--as-of", "2100-01-01")
    assert plan.returncode == 0, plan.stderr
    assert "dry run, nothing recorded" in plan.stdout and "would erase loans@1" in plan.stdout
    assert "(dataset rule #" in plan.stdout and "(the snapshot tag)" in plan.stdout
    never = cli_in(*dana, "retention", "run", "--as-of", "next week", "--reason", "x")
    assert never.returncode == 2 and "invalid --as-of" in never.stderr
    assert (
        json.loads(cli_in(*dana, "retention", "run", "--dry-run", "--json").stdout)["erased"] == []
    )


def test_the_retention_log_reports_rules_holds_runs_and_flags(team: Team, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.documents import retention_report
    from core.privacy import hold_commands

    ws = team.ws
    h = hold_commands.place(ws, "dana", "dataset:visits", reason="case 114")
    retention.set_rule(ws, "cora", "dataset:claims", "9y", reason="policy R-3")
    retention.set_rule(ws, "cora", "dataset:claims", "10y", reason="policy R-3, amended")
    hold_commands.release(ws, "dana", h.row.seq, reason="closed")
    h2 = hold_commands.place(ws, "dana", "visits@1", reason="regulator request")
    when = periods.iso(periods.ends(periods.instant(_created(team)["visits@1"][1]), "35d"))
    run = retention_run.run(ws, "dana", reason="quarterly", as_of=when)
    assert [x["target"] for x in run.held] == ["visits@1"] and run.erased == []
    doc = retention_report.log_of(ws)
    assert [(r["target"], r["period"], r["previous"]) for r in doc["rules"]] == [
        ("dataset:claims", "9y", None),
        ("dataset:claims", "10y", "9y"),
    ]
    assert [(x["hold"], x["released_seq"] is None) for x in doc["holds"]] == [
        (h.row.seq, False),
        (h2.row.seq, True),
    ]
    assert [r["seq"] for r in doc["runs"]] == [run.seq]
    assert doc["flags"] and "later than its own time" in doc["flags"][0]
    out = tmp_path / "out"
    head = team.head()
    paths = retention_report.write(ws, "cora", out, formats=("md", "html", "json"), reason="")
    assert [p.name for p in paths] == ["retention.md", "retention.html", "retention.json"]
    body = ws.ledger.entry(team.head()).decode()
    assert team.head() == head + 1 and body["action"] == "report.retention"
    import hashlib

    for p, key in zip(paths, ("markdown", "html", "json"), strict=True):
        assert hashlib.sha256(p.read_bytes()).hexdigest() == body["data"][key]
    md = paths[0].read_text()
    assert "**retention run #" in md and "later than its own time" in md  # flags first
    assert md.index("## Flags") < md.index("## Retention rules")
    assert "| #" in md and "10 years (dataset:claims rule #" in md
    assert "lifted at #" in md and "by dana: closed" in md
    assert "held by #" in md and "regulator request" in md
    assert json.loads(paths[2].read_text())["runs"][0]["held"][0]["target"] == "visits@1"
    bad = cli_in(
        "--workspace",
        str(team.root),
        "--as",
        "cora",
        "report",
        "retention",
        "-o",
        str(tmp_path / "x"),
        "--format",
        "docx",
    )
    assert bad.returncode == 2 and "unknown report format 'docx'" in bad.stderr
    assert not (tmp_path / "x" / "retention.docx").exists()


def test_a_run_erases_what_expired_once_and_a_lifted_hold_lets_the_next_run_erase(
    team: Team,
) -> None:
    from core.audit import verification
    from core.documents import retention_report
    from core.privacy import hold_commands

    ws = team.ws
    h = hold_commands.place(ws, "dana", "dataset:claims", reason="audit of claims, A-3")
    when = "2100-01-01T00:00:00.000000Z"
    first = retention_run.run(ws, "dana", reason="yearly run", as_of=when)
    assert {e["snapshot"] for e in first.erased} == {
        "visits@1",
        "visits@2",
        "loans@1",
        "accounts@1",
    }
    assert [x["target"] for x in first.held] == ["claims@1"] and first.refused == []
    with ws.session() as s:
        for e in first.erased:
            body = ws.ledger.entry(e["erasure"]).decode()
            assert body["action"] == "data.erase" and body["actor"] == "dana"
            data = body["data"]
            assert data["target"] == f"snapshot:{e['snapshot']}"
            tag = {"visits@1": "30d", "visits@2": "90d", "loans@1": "18m", "accounts@1": "2y"}
            assert data["rule"] == e["rule"] == f"retention {tag[e['snapshot']]}"
            assert data["legal_basis"] == "retention period expired"
            assert data["as_of"] == when
            assert s.catalog.snapshot(e["snapshot"]).erased_seq == e["erasure"]
        assert s.catalog.snapshot("claims@1").erased_seq is None
        assert s.catalog.snapshot("notes@1").erased_seq is None  # no rule: kept
    head = team.head()
    second = retention_run.run(ws, "dana", reason="yearly run", as_of=when)
    assert second.erased == [] and [x["target"] for x in second.held] == ["claims@1"]
    assert team.head() == head + 1  # only the retention.run event
    hold_commands.release(ws, "dana", h.row.seq, reason="audit A-3 closed")
    third = retention_run.run(ws, "dana", reason="yearly run", as_of=when)
    assert [e["snapshot"] for e in third.erased] == ["claims@1"] and third.held == []
    flags = retention_report.log_of(ws)["flags"]
    early = [f for f in flags if "erased before its retention expired by the wall clock" in f]
    assert len(early) == 5  # every one of them, as of 2100: never kinder than the evidence
    report = verification.verify(ws)
    assert report.ok, report.failures
