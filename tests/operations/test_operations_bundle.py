"""A model's bundle carries its deployments, and the stand-alone verifier re-checks them.

The verifier runs as a subprocess on the exported zip (no workspace, no ledgerml), like the
existing bundle tests. Attacks: a production deployment of a version no longer approved,
forged and signed with a real operator's key before the export; ``deployments.json`` edited
to hide a deployment, with the manifest re-signed by the exporter's real key.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from core.audit import bundle
from core.governance import lifecycle
from core.identity.actors import needs
from core.kernel.errors import IntegrityError
from core.kernel.kinds import new_event
from core.kernel.workspace import Workspace
from core.operations import deployments, incidents, ops_config
from core.operations.events import Deployed
from storage.bundle_verifier import DEPLOYMENTS, INCIDENTS
from tests.core.test_bundle import members_of, resign, run_bundled_verifier, write_canonical
from tests.operations.conftest import V1, V2, Ops
from tests.operations.test_operations_verify import PLAYBOOK


def _export(ops: Ops, tmp_path: Path, name: str = "v1.zip") -> Path:
    out = tmp_path / name
    bundle.export(ops.ws, "vic", V1, out, reason="audit")
    return out


def test_deployments_travel_in_the_bundle_and_verify_offline(ops: Ops, tmp_path: Path) -> None:
    ws = ops.ws
    staging = deployments.deploy(ws, "opal", V1, env="staging", reason="try")
    first = deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    second = deployments.deploy(ws, "opal", V2, env="production", reason="v2")
    book = tmp_path / "playbook.toml"
    book.write_text(PLAYBOOK)
    ops_config.install(ws, "opal", "playbook", book, env="production", reason="runbook")
    ticket = incidents.open_incident(ws, "opal", env="production", title="v2 drifts", reason="r")
    step = incidents.act(ws, "opal", ticket.seq, step=1, reason="runbook step 1")
    incidents.close(ws, "opal", ticket.seq, reason="v1 restored")
    with ws.session("") as s:
        [back] = list(deployments.live(s, "production"))
    assert back.row.rollback_of == second.deployment_id and back.row.incident == ticket.seq
    path = _export(ops, tmp_path)
    doc = json.loads(members_of(path)[DEPLOYMENTS])
    listed = [
        (d["deployment_id"], d["env"], d["strategy"], d["ended_seq"]) for d in doc["deployments"]
    ]
    assert listed == [
        (staging.deployment_id, "staging", "direct", None),
        (first.deployment_id, "production", "direct", second.row.seq),  # v2 ended it
        (back.deployment_id, "production", "rollback", None),
    ]
    assert doc["live"] == {"staging": ["live"], "production": ["live"]}
    run = run_bundled_verifier(path)
    assert run.returncode == 1, run.stdout + run.stderr  # verified, not anchored (no --key)
    assert "3 deployments of credit-risk@1 agree with the signed events" in run.stdout
    # the staging deployment is not called one "to production" (the wording claims no more)
    assert "the 2 to production each of a version the signed promotions had" in run.stdout
    assert "NOT VERIFIED: reports/incidents.*: rendered by the exporter" in run.stdout
    assert f"live in: production (live {back.deployment_id}); staging" in run.stdout
    assert "0 monitoring runs (0 FAIL), 0 alerts, 1 incident and" in run.stdout
    entries = members_of(path)
    [ticket_doc] = json.loads(entries[INCIDENTS])["incidents"]
    assert (
        ticket_doc["title"] == "v2 drifts" and ticket_doc["closed"]["resolution"] == "v1 restored"
    )
    [action] = ticket_doc["actions"]
    assert (action["action"], action["status"], action["caused_seq"]) == (
        "rollback",
        "done",
        step.caused_seq,
    )
    assert "Roll back to the previous approved version" in action["runbook"]
    assert any(n.startswith("operations/playbook-") for n in entries)
    report = entries["reports/incidents.md"].decode()  # rendered from the verified summary
    assert f"## Incident #{ticket.seq}: v2 drifts" in report
    assert (
        "| production | medium | **closed** |" in report and "**Resolution**: v1 restored" in report
    )
    assert "| rollback (step 1)" in report and f"event #{step.caused_seq}" in report
    assert "1. on accuracy: rollback — Roll back to the previous approved version" in report
    assert "<h2>Incident #" in entries["reports/incidents.html"].decode()
    coverage = json.loads(members_of(path)["coverage.json"])
    history = next(r for r in coverage["auditors"] if r["item"].startswith("History"))
    assert any("model.deploy" in f and "model.rollback" in f for f in history["files"]), history


def test_a_forged_production_deployment_is_rejected_offline(ops: Ops, tmp_path: Path) -> None:
    lifecycle.promote(ops.ws, "vic", V1, to="retired", reason="superseded")
    with ops.ws.session("opal") as s:
        needs(action="forge")(s)
        digest = s.catalog.model(V1).model_digest  # type: ignore[union-attr]
        payload = Deployed(
            "dep-" + secrets.token_hex(6),
            "production",
            "live",
            "direct",
            V1,
            digest,
            "hmac-only",
            "0" * 16,
            [],
            [],
        )
        seq = s.commit(new_event("opal", payload, [f"model:{V1}", "env:production"], "f")).seq
    path = _export(ops, tmp_path)
    run = run_bundled_verifier(path)
    assert run.returncode == 3, run.stdout
    assert f"event #{seq} (model.deploy) of {V1} to production" in run.stdout
    assert "had credit-risk@1 'retired' then" in run.stdout


def test_a_deployment_hidden_from_the_bundle_is_rejected(ops: Ops, tmp_path: Path) -> None:
    deployments.deploy(ops.ws, "opal", V1, env="staging", reason="try")
    deployments.deploy(ops.ws, "opal", V1, env="production", reason="v1")
    path = _export(ops, tmp_path)
    entries = members_of(path)
    doc = json.loads(entries[DEPLOYMENTS])
    doc["deployments"] = doc["deployments"][:1]  # "it never reached production"
    entries[DEPLOYMENTS] = json.dumps(doc).encode()
    resign(Workspace.open(ops.root), entries)
    tampered = tmp_path / "tampered.zip"
    write_canonical(tampered, entries)
    with pytest.raises(IntegrityError, match="not what the signed events record"):
        bundle.verify(tampered)
    del entries[DEPLOYMENTS]
    resign(Workspace.open(ops.root), entries)
    write_canonical(tampered, entries)
    with pytest.raises(IntegrityError, match=r"carries no operations/deployments\.json"):
        bundle.verify(tampered)


def test_an_incident_ticket_edited_in_the_bundle_is_rejected(ops: Ops, tmp_path: Path) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    ticket = incidents.open_incident(ws, "opal", env="production", title="slow", reason="r")
    incidents.act(ws, "opal", ticket.seq, note="restarted the host", reason="ops")
    path = _export(ops, tmp_path)
    entries = members_of(path)
    doc = json.loads(entries[INCIDENTS])
    doc["incidents"][0]["closed"] = {"resolution": "fixed", "actor": "opal"}  # never closed
    entries[INCIDENTS] = json.dumps(doc).encode()
    resign(Workspace.open(ops.root), entries)
    tampered = tmp_path / "tampered.zip"
    write_canonical(tampered, entries)
    with pytest.raises(IntegrityError, match=r"incidents\.json is not what the signed events"):
        bundle.verify(tampered)


def test_coverage_rows_close_only_with_their_evidence() -> None:
    from core.audit import coverage

    bare = coverage.build(members=["model/x.skops"], actions=[], reports={}, data_level="full")
    for item in (
        "Monitoring dashboards and alert history around the audit window",
        "Incident response runbooks and executed incident tickets",
        "9. Post-market monitoring plan (Art. 72)",
    ):
        assert item in bare.gaps
    assert any("post-market monitoring plan" in n for n in bare.notes)
    full = coverage.build(
        members=[
            "operations/deployments.json",
            "operations/decisions.json",
            "operations/monitoring.json",
            "operations/incidents.json",
            "operations/slo-3fa1.toml",
            "operations/playbook-9c2e.toml",
        ],
        actions=["monitor.run", "monitor.alert", "incident.open", "decision.batch"],
        reports={},
        data_level="full",
    )
    rows = {r.item: r.files for r in full.auditors + full.annex_iv}
    assert rows["9. Post-market monitoring plan (Art. 72)"] == [
        "operations/playbook-9c2e.toml",
        "operations/slo-3fa1.toml",
    ]
    assert (
        "operations/monitoring.json"
        in rows["Monitoring dashboards and alert history around the audit window"]
    )
    lineage = rows["Data lineage for sample training and inference records"]
    assert "operations/decisions.json" in lineage
    assert "ledger/events.jsonl (decision.batch)" in lineage
    assert "monitor.drift" not in str(full.to_json())  # the placeholder kind is gone
    assert not any("post-market" in n for n in full.notes)


def test_the_incident_report_from_the_cli_records_itself(ops: Ops, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    ticket = incidents.open_incident(ws, "opal", env="production", title="slow", reason="r")
    incidents.act(ws, "opal", ticket.seq, note="restarted the host", reason="ops")
    args = ["report", "incidents", "--env", "production", "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "-w", str(ops.root), "--as", "vic", "--reason", "q"])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "out" / "incidents-production.md").read_text()
    assert "| production | medium | **open** |" in md and "not resolved: the incident is open" in md
    assert f"Still open: #{ticket.seq}." in md and "note: restarted the host" in md
    with ws.session("") as s:
        [event] = s.catalog.events(action="report.incidents")
    assert event.subjects == ["env:production"]  # type: ignore[attr-defined]
    bad = CliRunner().invoke(app, ["report", "incidents", "--env", "Prod!", "-w", str(ops.root)])
    assert bad.exit_code == 2


def test_the_monitoring_report_reads_fail_and_charts_figures() -> None:
    from core.documents.operations_reports import monitoring_context
    from reports.operations import render_monitoring

    runs = [
        {
            "seq": 40,
            "window_start": "2026-11-01",
            "window_end": "2026-11-08",
            "verdict": "FAIL",
            "decisions": 500,
            "checks": {"drift:age_years": "FAIL", "error_rate": "PASS"},
        },
        {
            "seq": 44,
            "window_start": "2026-11-08",
            "window_end": "2026-11-15",
            "verdict": "PASS",
            "decisions": 480,
            "checks": {"drift:age_years": "PASS"},
        },
    ]
    alerts = [
        {
            "seq": 41,
            "monitor_seq": 40,
            "slo": "drift",
            "verdict": "FAIL",
            "metric": "drift_psi",
            "observed": 0.41,
            "threshold": "max 0.25",
        }
    ]
    evidence = {
        40: {"metrics": {"drift_psi": 0.41, "flag": True}},
        44: {"metrics": {"drift_psi": 0.05}},
    }
    ctx = monitoring_context("credit-risk@1", runs, alerts, evidence)
    assert ctx.verdict == "FAIL"  # a later PASS never hides an earlier FAIL
    assert ctx.series == {"drift_psi": [(1.0, 0.41), (2.0, 0.05)]}  # booleans are no figures
    md, html = render_monitoring(ctx)
    assert "Overall verdict over the windows: **FAIL**" in md
    assert (
        "| #40 | 2026-11-01 → 2026-11-08 | 500 | **FAIL** | input drift of age_years: **FAIL** |"
        in md
    )
    assert (
        "alert #41: objective drift **FAIL**, largest input drift (PSI) 0.410 (a major shift) "
        "against at most 0.25" in md
    )
    assert "| largest input drift (PSI) | 0.410 (a major shift) | 0.050 (stable) |" in md
    assert "### Largest input drift (PSI)\n" in md and "<svg" not in md
    assert "<!-- figure 1: largest input drift (PSI) by monitoring run: 0.410" in md
    assert '<strong class="fail">FAIL</strong>' in html and "<figure><svg" in html
    assert "<polyline" in html
    empty = monitoring_context("x", [], [], {})
    assert empty.verdict == "INCONCLUSIVE"


def test_sample_decisions_prove_offline_and_inputs_follow_retention(
    ops: Ops, tmp_path: Path
) -> None:
    from core.operations import overrides, scoring
    from tests.operations.test_scoring import applicants

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", retention="rows", reason="v1")
    res = scoring.Scorer.open(ws, "production", "scorer").score(
        applicants(ws, 12), caller="cal", explain=2
    )
    first = next(a for a in res.answers.to_pylist() if a["status"] == "ok")
    flipped = "approved" if first["decision"] != "approved" else "declined"
    overrides.override(ws, "opal", first["request_id"], outcome=flipped, reason="human review")
    path = _export(ops, tmp_path)
    entries = members_of(path)
    doc = json.loads(entries["operations/decisions.json"])
    assert [b["seq"] for b in doc["batches"]] == [res.batch.seq]
    assert len(doc["leaves"][str(res.batch.seq)]) == 12 and len(doc["samples"]) == 5
    assert all(s["inputs"] and "in.age_years" in s["inputs"] for s in doc["samples"])
    run = run_bundled_verifier(path)
    assert run.returncode == 1, run.stdout
    assert "1 decision batch agrees with the signed events (1 root recomputed" in run.stdout
    assert "5 sample decisions proven included" in run.stdout
    # nothing checkable covers the inputs: the member and the verifier say so
    assert str(doc["inputs_note"]).startswith("as exported, not verified")
    assert "NOT VERIFIED: the input values (in.*) of 5 sample decisions in" in run.stdout
    assert "reports/decision-log.*: rendered by the exporter" in run.stdout
    report = entries["reports/decision-log.md"].decode()
    assert f"| #{res.batch.seq} |" in report and "- **decisions**: 12" in report
    if any(s["decision"]["request_id"] == first["request_id"] for s in doc["samples"]):
        assert f"{flipped} by opal" in report and "human review" in report
    assert "not yet observed" in report  # no outcome was recorded: none is invented

    hashed = tmp_path / "hashes.zip"
    bundle.export(ws, "vic", V1, hashed, data="hashes", reason="audit")
    hashed_doc = json.loads(members_of(hashed)["operations/decisions.json"])
    assert all(s["inputs"] is None for s in hashed_doc["samples"])
    assert hashed_doc["inputs_note"] is None  # no values, nothing to caution about
    assert b'"in.' not in members_of(hashed)["operations/decisions.json"]

    doc["samples"][0]["decision"]["score"] = 0.5  # "the model was unsure"
    entries["operations/decisions.json"] = json.dumps(doc).encode()
    resign(Workspace.open(ops.root), entries)
    tampered = tmp_path / "tampered.zip"
    write_canonical(tampered, entries)
    with pytest.raises(IntegrityError, match="does not prove into batch"):
        bundle.verify(tampered)


def test_a_real_monitoring_run_and_outcomes_reach_the_bundle_and_the_reports(
    ops: Ops, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from app.cli import app
    from core.operations import monitoring, outcomes, scoring, tokens
    from tests.operations.test_scoring import applicants

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", retention="rows", reason="v1")
    tokens.issue(ws, "opal", "cal", env="production", reason="cal calls the service")
    res = scoring.Scorer.open(ws, "production", "scorer").score(applicants(ws, 40), caller="cal")
    answers = res.answers.to_pylist()
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "request_id,outcome\n"
        + "".join(f"{a['request_id']},{i % 2}\n" for i, a in enumerate(answers[:8]))
    )
    outcomes.add(ws, "opal", labels, reason="collections data")
    slo = tmp_path / "slo.toml"  # an objective no window can meet: the breach path, for real
    slo.write_text('[slo]\nname = "strict"\n\n[[objectives]]\nname = "impossible"\n'
                   'metric = "drift_psi"\nmin = 5.0\n')  # fmt: skip
    ops_config.install(ws, "opal", "slo", slo, env="production", reason="the plan")
    ran = monitoring.run(ws, "scorer", env="production", window="7d")
    assert ran.row.verdict == "FAIL" and len(ran.alerts) == 1
    from core.audit import verification

    assert verification.verify(ws).failures == []  # alert, automatic incident, log: all hold
    path = _export(ops, tmp_path)
    entries = members_of(path)
    run = run_bundled_verifier(path)
    assert run.returncode == 1, run.stdout
    assert "1 monitoring run (1 FAIL), 1 alert, 1 incident and" in run.stdout
    assert any(n.startswith("operations/slo-") for n in entries)
    annex = json.loads(entries["coverage.json"])["annex_iv"]
    plan = next(r for r in annex if r["item"].startswith("9. Post-market"))
    assert plan["files"] and all(f.startswith("operations/slo-") for f in plan["files"])
    assert f"operations/monitor-{ran.row.seq}.json" in entries  # a full bundle: the evidence
    report = entries["reports/monitoring.md"].decode()
    assert f"Overall verdict over the windows: **{ran.row.verdict}**" in report
    assert f"| #{ran.row.seq} |" in report and "| 40 |" in report
    assert "objective impossible **FAIL**, largest input drift (PSI)" in report  # the alert
    tickets = entries["reports/incidents.md"].decode()
    assert f"| alert #{ran.alerts[0].seq} (objective impossible) |" in tickets
    assert "reports/monitoring.* state the verified runs' verdicts" in run.stdout

    # the exporter makes the report read better than the signed runs, and re-signs: refused
    for name in ("reports/monitoring.md", "reports/monitoring.html"):
        edited = dict(entries)
        edited[name] = entries[name].replace(b"FAIL", b"PASS")
        resign(Workspace.open(ops.root), edited)
        tampered = tmp_path / "tampered.zip"
        write_canonical(tampered, edited)
        with pytest.raises(IntegrityError, match="does not state the verdicts"):
            bundle.verify(tampered)
    # ... or puts a kinder row and heading beside the true ones, the true ones hidden from the
    # reader (a cell attribute, a comment): refused as well.
    html = entries["reports/monitoring.html"].decode()
    true_row = html[html.index(f'<tr>\n<td data-label="event">#{ran.row.seq}') :]
    true_row = true_row[: true_row.index("</tr>") + 5]
    hidden = true_row.replace("<td ", "<td hidden ")
    kinder = true_row.replace('<strong class="fail">FAIL</strong>', "<strong>PASS</strong>", 1)
    head = '<strong class="fail">FAIL</strong></p>'
    forgeries = {
        "a hidden true row": html.replace(true_row, kinder + hidden),
        "the true row commented out": html.replace(true_row, kinder + f"<!-- {true_row} -->"),
        "a second heading": html.replace(head, "<strong>PASS</strong></p><p>" + head),
        "the true row in a template, the forgery as <tr >": html.replace(
            true_row,
            kinder.replace("<tr>", "<tr >").replace(
                f">#{ran.row.seq}<", f">#&#{ord(str(ran.row.seq)[0])};{str(ran.row.seq)[1:]}<"
            )
            + f"<template>{true_row}</template>",
        ),
        "the true heading in a template": html.replace(
            head, f"<strong>PASS</strong></p><template><p>{head.replace('</p>', '')}</p></template>"
        ),
        "the true row styled away": html.replace(
            true_row, kinder + true_row.replace("<tr>", '<tr style="display:none">')
        ),
    }
    for what, forged in forgeries.items():
        assert forged != html, what
        edited = dict(entries)
        edited["reports/monitoring.html"] = forged.encode()
        resign(Workspace.open(ops.root), edited)
        tampered = tmp_path / "tampered.zip"
        write_canonical(tampered, edited)
        with pytest.raises(IntegrityError, match="does not state the verdicts"):
            bundle.verify(tampered)

    out = tmp_path / "out"
    args = ["report", "decisions", "--env", "production", "-o", str(out), "-w", str(ops.root)]
    result = CliRunner().invoke(app, [*args, "--as", "vic"])
    assert result.exit_code == 0, result.output
    md = (out / "decisions-production.md").read_text()
    assert "- **decisions**: 40" in md
    first = answers[0]["request_id"]  # sampled (the spread starts at the first row), label 0
    line = next(x for x in md.splitlines() if first in x)
    assert "| good credit risk (0) |" in line and "leaf 0 of batch" in line, line
    assert "not yet observed" in md  # rows without a label say so


def test_no_shap_contribution_leaves_without_its_inputs(ops: Ops, tmp_path: Path) -> None:
    """Review #9: contributions give a linear model's inputs back (the model is in the bundle).

    A hashes-only bundle samples no decision whose logged reasons carry contributions (a
    ``rows`` deployment's); an ``hmac-only`` deployment logs ranked names, which may travel.
    The full bundle shows contributions only beside the inputs they came from.
    """
    from core.operations import scoring
    from tests.operations.applicants import applicants

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="names only")  # hmac-only
    deployments.deploy(ws, "opal", V1, env="production", retention="rows", reason="rows")
    for env in ("staging", "production"):
        scoring.Scorer.open(ws, env, "scorer").score(applicants(ws, 30), caller="cal", explain=3)

    def samples(data: str) -> list[dict[str, Any]]:
        out = tmp_path / f"{data}.zip"
        bundle.export(ws, "vic", V1, out, data=data, reason="audit")
        run = run_bundled_verifier(out)
        assert run.returncode == 1, run.stdout + run.stderr  # verified, not anchored
        found: list[dict[str, Any]] = json.loads(members_of(out)["operations/decisions.json"])[
            "samples"
        ]
        return found

    hashed = samples("hashes")
    assert hashed and all(s["inputs"] is None for s in hashed)
    for s in hashed:
        reasons = s["decision"]["reasons"]
        assert reasons is None or all(isinstance(n, str) for n in json.loads(reasons))
    staged = [s for s in hashed if s["decision"]["env"] == "staging"]
    assert staged and all(s["decision"]["reasons"] for s in staged if s["decision"]["score"])
    # of the rows deployment only decisions without reasons (refused, errors) are sampled
    assert all(s["decision"]["reasons"] is None for s in hashed if s not in staged)
    full = samples("full")
    beside = [s for s in full if s["decision"]["env"] == "production"]
    assert beside and all(s["inputs"] for s in beside)
    assert any(
        s["decision"]["reasons"] and not isinstance(json.loads(s["decision"]["reasons"])[0], str)
        for s in beside
    )
