"""SLOs, alerts, incidents and playbooks on a real governed workspace.

A breach is provoked honestly: an objective on the number of decisions in the window (the
service answering nothing is a breach an operator wants to hear about) with no decisions
logged. Every refusal is checked to record nothing: the ledger head does not move.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.kernel.errors import CheckFailedError, PermissionDeniedError, UsageError
from core.operations import deployments, incidents, monitoring, ops_config
from tests.operations.conftest import V1, V2, Ops

SLO = """
[slo]
name = "staging-service"

[[objectives]]
name = "traffic"
metric = "decisions"
min = 1
verdict = "FAIL"

[[objectives]]
name = "errors"
metric = "error_rate"
max = 0.02
"""

PLAYBOOK = """
[playbook]
name = "staging-breach"

[[steps]]
on = "traffic"
action = "rollback"
auto = true
runbook = "Return to the previous approved model; then find out why traffic stopped."

[[steps]]
on = "traffic"
action = "throttle"
share = 0.5
runbook = "If the restored model misbehaves too, answer half the requests."

[[steps]]
on = "decisions"
action = "baseline"
baseline_name = "duration-rule"
baseline_score = "CASE WHEN duration_months > 36 THEN 0.6 ELSE 0.2 END"
roles = ["admin"]
runbook = "Last resort: the duration rule, on the admin's call."
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _head(ops: Ops) -> int:
    return int(ops.ws.ledger.head()[0])


def _live_model(ops: Ops, env: str) -> str:
    with ops.ws.session("") as s:
        return next(d.row.model for d in deployments.live(s, env) if d.row.arm == "live")


@pytest.fixture
def armed(ops: Ops, tmp_path: Path) -> Ops:
    """staging runs V2 after V1, with the SLO set and the playbook in force."""
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="v1")
    deployments.deploy(ws, "opal", V2, env="staging", reason="v2")
    ops_config.install(
        ws, "opal", "slo", _write(tmp_path, "slo.toml", SLO), env="staging", reason="r"
    )
    ops_config.install(
        ws, "opal", "playbook", _write(tmp_path, "pb.toml", PLAYBOOK), env="staging", reason="r"
    )
    return ops


def test_a_breach_opens_one_incident_and_the_playbook_rolls_back(armed: Ops) -> None:
    ws = armed.ws
    first = monitoring.run(ws, "scorer", env="staging", window="24h")
    assert first.row.verdict == "FAIL"
    objectives = {o["name"]: o for o in first.evidence["slo"]["objectives"]}
    assert objectives["traffic"]["breached"] and objectives["traffic"]["observed"] == 0
    assert objectives["errors"]["verdict"] == "INCONCLUSIVE"  # no served requests: no alarm
    assert [a.slo for a in first.alerts] == ["traffic"] and first.alerts[0].incident is None
    [incident] = first.incidents
    assert incident.alert_seq == first.alerts[0].seq and incident.opened_by == "scorer"
    # the automatic step ran as the monitoring identity and restored the previous approved one
    [action] = first.actions
    assert action.automatic and action.status == "done" and action.created_by == "scorer"
    assert action.step == 1 and "staging-breach step 1" in (action.runbook or "")
    assert _live_model(armed, "staging") == V1
    with ws.session("") as s:
        caused = deployments.live(s, "staging")[0].row
        assert caused.seq == action.caused_seq and caused.incident == incident.seq
        assert caused.strategy == "rollback"
    # the next run still breaches: an alert joins the open incident, no second incident
    second = monitoring.run(ws, "scorer", env="staging", window="24h")
    assert second.alerts[0].incident == incident.seq and second.incidents == []
    with ws.session("") as s:
        assert len(incidents.list_incidents(s, env="staging")) == 1
        assert len(monitoring.alerts(s, "staging")) == 2
    # closed by a person, the next breach is a new episode with its own incident
    incidents.close(ws, "opal", incident.seq, reason="traffic restored; upstream job fixed")
    third = monitoring.run(ws, "scorer", env="staging", window="24h")
    assert len(third.incidents) == 1 and third.incidents[0].seq != incident.seq
    # its rollback is refused (V1 was the target of the last one): tried and failed, on record
    [failed] = third.actions
    assert failed.status == "failed" and "no earlier approved deployment" in failed.detail
    assert failed.caused_seq is None and _live_model(armed, "staging") == V1
    # the replay of the signed ledger gives the same alerts, incidents and actions
    from core.audit import verification

    report = verification.verify(ws)
    assert report.ok and report.catalog == "consistent", report.failures
    with ws.session("") as s:  # a hand-edited ticket is caught by the replay
        s.catalog.con.execute(
            "UPDATE incidents SET status = 'closed' WHERE seq = ?", [third.incidents[0].seq]
        )
    assert not verification.verify(ws).ok


def test_steps_on_command_who_may_take_them_and_closing(armed: Ops) -> None:
    ws = armed.ws
    row = incidents.open_incident(
        ws, "opal", env="staging", title="odd scores", severity="high", reason="seen on a dashboard"
    )
    before = _head(armed)
    with pytest.raises(PermissionDeniedError, match="lacks the role"):
        incidents.act(ws, "cal", row.seq, step=2, reason="a consumer tries")
    with pytest.raises(PermissionDeniedError, match="only a person"):
        incidents.act(ws, "scorer", row.seq, step=2, reason="a service on command")
    with pytest.raises(PermissionDeniedError, match="for admin"):
        incidents.act(ws, "opal", row.seq, step=3, reason="not opal's call")
    with pytest.raises(UsageError, match="steps 1 to 3"):
        incidents.act(ws, "opal", row.seq, step=4, reason="no such step")
    with pytest.raises(PermissionDeniedError, match="only a person"):
        incidents.close(ws, "scorer", row.seq, reason="a service declares it handled")
    with pytest.raises(UsageError, match="resolution"):
        incidents.close(ws, "opal", row.seq, reason=" ")
    assert _head(armed) == before  # every refusal above recorded nothing
    done = incidents.act(ws, "opal", row.seq, step=2, reason="halve the traffic")
    assert done.status == "done" and not done.automatic and done.created_by == "opal"
    with ws.session("") as s:
        assert deployments.throttle_of(s, "staging") == 0.5
    base = incidents.act(ws, "alice", row.seq, step=3, reason="the models are suspect")
    assert base.status == "done" and _live_model(armed, "staging") == "baseline:duration-rule"
    note = incidents.act(ws, "opal", row.seq, note="called the data vendor", reason="root cause")
    assert note.action == "note"
    closed = incidents.close(ws, "opal", row.seq, reason="vendor feed fixed; model restored")
    assert closed.status == "closed" and closed.closed_by == "opal"
    assert closed.resolution == "vendor feed fixed; model restored"
    with ws.session("") as s:
        shown = incidents.get(s, row.seq)
    assert [a.action for a in shown.actions] == ["throttle", "baseline", "note"]
    with pytest.raises(CheckFailedError, match="closed"):
        incidents.act(ws, "opal", row.seq, note="late", reason="too late")


def test_a_policy_refused_step_is_recorded_as_tried_and_failed(ops: Ops, tmp_path: Path) -> None:
    from core.modelling import models

    ws = ops.ws
    with ws.session("") as s:
        run_id = s.catalog.model(V1).run_id  # type: ignore[union-attr]
    models.register(ws, "sam", run_id, "credit-risk-alt")  # a candidate: the policy refuses it
    deployments.deploy(ws, "opal", V1, env="staging", reason="v1")
    book = PLAYBOOK.split("[[steps]]")[0] + (
        '[[steps]]\non = "traffic"\naction = "fallback"\nmodel = "credit-risk-alt@1"\n'
        'runbook = "Switch to the alternative model."\n'
    )
    ops_config.install(
        ws, "opal", "playbook", _write(tmp_path, "pb.toml", book), env="staging", reason="r"
    )
    row = incidents.open_incident(ws, "opal", env="staging", title="t", reason="r")
    failed = incidents.act(ws, "opal", row.seq, step=1, reason="try the fallback")
    assert failed.status == "failed" and "candidate" in failed.detail
    assert _live_model(ops, "staging") == V1
    with ws.session("") as s:
        actions = [
            r[0]
            for r in s.catalog.con.execute(
                "SELECT action FROM events WHERE seq > ? ORDER BY seq", [row.seq]
            ).fetchall()
        ]
    assert actions == ["policy.deny", "incident.act"]  # the refusal and the ticket's record


BAD = {
    "unknown key": (SLO + 'bogus = "x"\n', "bogus"),
    "unknown metric": (SLO.replace('"error_rate"', '"errors_per_hour"'), "unknown metric"),
    "both bounds": (SLO.replace("min = 1", "min = 1\nmax = 5"), "exactly one of min or max"),
    "bad verdict": (SLO.replace('verdict = "FAIL"', 'verdict = "PASS"'), "verdict"),
    "not toml": ("[slo\n", "cannot read"),
}
BAD_PLAYBOOK = {
    "throttle without share": (PLAYBOOK.replace("share = 0.5\n", ""), "needs share"),
    "share on a rollback": (
        PLAYBOOK.replace('action = "rollback"\n', 'action = "rollback"\nshare = 0.1\n'),
        "does not apply",
    ),
    "a query as baseline": (
        PLAYBOOK.replace(
            "CASE WHEN duration_months > 36 THEN 0.6 ELSE 0.2 END", "(SELECT 1 FROM t)"
        ),
        "not a query",
    ),
    "unknown action": (PLAYBOOK.replace('"rollback"', '"reboot"'), "action"),
    "unknown role": (PLAYBOOK.replace('["admin"]', '["root"]'), "unknown role"),
}


def test_malformed_slo_and_playbook_files_are_refused_with_nothing_recorded(
    ops: Ops, tmp_path: Path
) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="v1")
    before = _head(ops)
    for case, (text, match) in BAD.items():
        with pytest.raises(UsageError, match=match):
            ops_config.install(
                ws, "opal", "slo", _write(tmp_path, "s.toml", text), env="staging", reason=case
            )
    for case, (text, match) in BAD_PLAYBOOK.items():
        with pytest.raises(UsageError, match=match):
            ops_config.install(
                ws, "opal", "playbook", _write(tmp_path, "p.toml", text), env="staging", reason=case
            )
    with pytest.raises(PermissionDeniedError):
        ops_config.install(
            ws, "cal", "slo", _write(tmp_path, "s.toml", SLO), env="staging", reason="consumer"
        )
    assert _head(ops) == before
    with ws.session("") as s:
        assert ops_config.in_force(s, "slo", "staging") is None


def test_the_cli_exits_1_on_a_failed_run_and_2_on_a_bad_file(ops: Ops, tmp_path: Path) -> None:
    import json

    from tests.conftest import run_cli_here

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="v1")
    common = ["--workspace", str(ops.root)]
    bad = run_cli_here(
        *common,
        "--as",
        "opal",
        "slo",
        "set",
        str(_write(tmp_path, "bad.toml", BAD["unknown key"][0])),
        "--env",
        "staging",
        "--reason",
        "r",
    )
    assert bad.returncode == 2 and "bogus" in bad.stderr
    good = _write(tmp_path, "slo.toml", SLO)
    run_cli_here(
        *common,
        "--as",
        "opal",
        "slo",
        "set",
        str(good),
        "--env",
        "staging",
        "--reason",
        "r",
        check=True,
    )
    done = run_cli_here(*common, "--as", "scorer", "monitor", "run", "--env", "staging", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["run"]["verdict"] == "FAIL" and len(report["incidents"]) == 1
    seq = report["incidents"][0]["seq"]
    refused = run_cli_here(
        *common, "--as", "scorer", "incident", "close", str(seq), "--reason", "x"
    )
    assert refused.returncode == 2 and "only a person" in refused.stderr
    shown = run_cli_here(
        *common, "--as", "opal", "incident", "show", str(seq), "--json", check=True
    )
    assert json.loads(shown.stdout)["incident"]["status"] == "open"
    run_seq = report["run"]["seq"]
    listed = run_cli_here(*common, "--as", "opal", "monitor", "list", check=True)
    assert f"{run_seq}" in listed.stdout and "slo:traffic" in listed.stdout
    evidence = run_cli_here(
        *common, "--as", "opal", "monitor", "show", str(run_seq), "--json", check=True
    )
    assert json.loads(evidence.stdout) == report["evidence"]
