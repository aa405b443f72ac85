"""Operations reports from the signed events: monitoring over time, and incidents.

Both read the ledger, never the catalog: the same summaries a model's bundle carries
(:func:`storage.bundle_verifier.operations_history`), so a report in a bundle and one
written at the workstation say the same thing about the same events. The monitoring report
charts each recorded figure over the windows (from each run's evidence blob, verified
against its digest); the incident report gives each ticket's timeline, the actions taken
with the runbook step each followed, the deployment event each caused (or why it failed)
and the resolution, and the playbooks in force. ``ledgerml report monitoring|incidents
--env ENV`` renders, records (``report.monitoring`` / ``report.incidents``) and writes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.documents import reporting
from core.documents.events import (
    DecisionLogReportRecorded,
    IncidentReportRecorded,
    MonitoringReportRecorded,
)
from core.identity.actors import needs
from core.kernel.errors import UsageError
from core.kernel.verdict import INCONCLUSIVE, LEGEND, worst
from core.kernel.workspace import Workspace
from core.operations.deployments import check_env
from reports.operations import (
    ActionView,
    AlertView,
    DecisionLogContext,
    DecisionView,
    IncidentsContext,
    IncidentView,
    MonitoringContext,
    MonitorRunView,
    render_decisions,
    render_incidents,
    render_monitoring,
)
from storage.bundle_verifier import operations_history

KINDS = ("monitoring", "incidents", "decisions")


DECISION_STATES = (
    ("ok", "answered with a score"),
    ("refused", "turned away: an approval condition, a policy or a throttle said no"),
    ("error", "could not be scored"),
)
"""What each coloured status of a decision means, for the decision log's legend."""

INCIDENT_STATES = (
    ("open", "still being handled"),
    ("closed", "resolved, with the resolution recorded"),
    ("done", "a step that was carried out"),
    ("failed", "a step that was tried and refused (kept on the ticket)"),
)
"""What each coloured status of an incident and its actions means, for the legend."""


def _figures(evidence: dict[str, Any] | None) -> dict[str, float | None]:
    """A run's recorded figures: numbers, and ``None`` for one it could not measure."""
    metrics = (evidence or {}).get("metrics") or {}
    return {
        str(k): (float(v) if v is not None else None)
        for k, v in sorted(metrics.items())
        if v is None or (isinstance(v, int | float) and not isinstance(v, bool))
    }


def monitoring_context(
    title: str,
    runs: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    evidence: dict[int, dict[str, Any]],
    notes: Iterable[str] = (),
) -> MonitoringContext:
    """The monitoring report's context from the summaries (and each run's evidence, if had).

    The headline is the worst recorded verdict: a window that FAILed makes the report read
    FAIL, whatever came after it; no window at all reads INCONCLUSIVE. Values stay as
    recorded; the template words them.
    """
    by_run: dict[int, list[AlertView]] = {}
    for a in alerts:
        observed = a.get("observed")
        by_run.setdefault(int(a["monitor_seq"]), []).append(
            AlertView(
                seq=int(a["seq"]),
                slo=str(a.get("slo")),
                verdict=str(a.get("verdict")),
                metric=str(a.get("metric")),
                observed=float(observed) if isinstance(observed, int | float) else None,
                threshold=str(a.get("threshold")),
            )
        )
    views = []
    series: dict[str, list[tuple[float, float]]] = {}
    by_window: dict[str, list[float | None]] = {}
    for i, r in enumerate(runs):
        checks = r.get("checks") or {}
        views.append(
            MonitorRunView(
                seq=int(r["seq"]),
                start=str(r.get("window_start") or ""),
                end=str(r.get("window_end") or ""),
                verdict=str(r.get("verdict")),
                decisions=int(r.get("decisions") or 0),
                failing=[(str(k), str(v)) for k, v in sorted(checks.items()) if v != "PASS"],
                alerts=by_run.get(int(r["seq"]), []),
            )
        )
        for name, value in _figures(evidence.get(int(r["seq"]))).items():
            by_window.setdefault(name, [None] * i)
            by_window[name].append(value)
            if value is not None:
                series.setdefault(name, []).append((float(i + 1), value))
        for values in by_window.values():
            values.extend([None] * (i + 1 - len(values)))
    verdicts = [str(r.get("verdict")) for r in runs]
    extra = list(notes)
    if runs and not evidence:
        extra.append(
            "The runs' evidence was not available here (a hashes-only bundle): the figures "
            "over time are not charted; the verdicts are the signed ones."
        )
    charted = [
        name
        for name, values in by_window.items()
        if len([v for v in values if v is not None]) > 1 and len(set(values) - {None}) > 1
    ]
    return MonitoringContext(
        title=title,
        verdict=worst(verdicts) if verdicts else INCONCLUSIVE,
        runs=views,
        series=series,
        notes=extra,
        by_window=by_window,
        charted=charted,
        legend=list(LEGEND),
    )


def _caused(action: dict[str, Any]) -> str:
    if action.get("caused_seq") is not None:
        return f"event #{action['caused_seq']}"
    return ""


def incidents_context(
    title: str, incidents: list[dict[str, Any]], playbooks: list[dict[str, Any]]
) -> IncidentsContext:
    """The incident report's context from the summaries and the playbook documents."""
    views = []
    for i in incidents:
        closed = i.get("closed")
        trigger = (
            f"alert #{i['alert_seq']} (objective {i.get('slo')})"
            if i.get("alert_seq") is not None
            else f"opened by hand: {i.get('reason') or 'no reason given'}"
        )
        views.append(
            IncidentView(
                seq=int(i["seq"]),
                env=str(i.get("env")),
                title=str(i.get("title")),
                severity=str(i.get("severity")),
                status="closed" if closed else "open",
                opened_at=str(i.get("opened_at") or ""),
                opened_by=str(i.get("opened_by") or ""),
                trigger=trigger,
                actions=[
                    ActionView(
                        seq=int(a["seq"]),
                        ts=str(a.get("ts")),
                        actor=str(a.get("actor")),
                        what=str(a.get("action"))
                        + (f" (step {a['step']})" if a.get("step") else "")
                        + (f": {a['detail']}" if a.get("detail") else ""),
                        status=str(a.get("status")),
                        automatic=bool(a.get("automatic")),
                        runbook=str(a.get("runbook") or ""),
                        caused=_caused(a),
                        reason=str(a.get("reason") or ""),
                    )
                    for a in i.get("actions") or []
                ],
                resolution=str(closed.get("resolution")) if closed else "",
                closed_at=str(closed.get("ts") or "") if closed else "",
                closed_by=str(closed.get("actor") or "") if closed else "",
            )
        )
    books = [
        (
            str(p.get("name")),
            [
                f"on {s.get('on')}: {s.get('action')}"
                + (" (automatic)" if s.get("auto") else "")
                + f" — {s.get('runbook')}"
                for s in p.get("steps") or []
            ],
        )
        for p in playbooks
    ]
    notes = []
    still = [v.seq for v in views if v.status == "open"]
    if still:
        notes.append(f"Still open: {', '.join(f'#{n}' for n in still)}.")
    failed = [a.seq for v in views for a in v.actions if a.status != "done"]
    if failed:
        notes.append(
            "Actions that were tried and failed (kept on the ticket, never hidden): "
            + ", ".join(f"#{n}" for n in failed)
        )
    return IncidentsContext(
        title=title, incidents=views, playbooks=books, notes=notes, legend=list(INCIDENT_STATES)
    )


def _env_events(ws: Workspace, env: str) -> list[tuple[int, dict[str, Any]]]:
    """The events of ``env`` and of its incidents, from the ledger."""
    out: list[tuple[int, dict[str, Any]]] = []
    mine: set[str] = {f"env:{env}"}
    for entry in ws.ledger.iter_entries():
        body = entry.decode()
        listed = body.get("subjects")
        subjects = {str(x) for x in listed} if isinstance(listed, list) else set()
        if subjects & mine:
            out.append((entry.seq, body))
            if body.get("action") == "incident.open":
                mine.add(f"incident:{entry.seq}")
    return out


def render_env(ws: Workspace, kind: str, env: str) -> tuple[str, str, str]:
    """``(markdown, html, headline)`` of an environment's ``kind`` report."""
    events = _env_events(ws, env)
    ops = operations_history(events, "", env=env)
    if kind == "monitoring":
        evidence = {
            int(r["seq"]): json.loads(ws.objects.read_verified(str(r["evidence_digest"])))
            for r in ops["runs"]
        }
        ctx = monitoring_context(f"environment {env}", ops["runs"], ops["alerts"], evidence)
        md, html = render_monitoring(ctx)
        return md, html, ctx.verdict
    if kind == "decisions":
        return _decisions_env(ws, env, events)
    books = [
        json.loads(ws.objects.read_verified(str(body["data"]["digest"])))
        for _, body in events
        if body.get("action") == "ops.configure" and body["data"].get("kind") == "playbook"
    ]
    ictx = incidents_context(f"environment {env}", ops["incidents"], books)
    md, html = render_incidents(ictx)
    opened = sum(1 for i in ictx.incidents if i.status == "open")
    count = len(ictx.incidents)
    return md, html, f"{count} incident{'' if count == 1 else 's'}, {opened} open"


def write(
    ws: Workspace,
    actor: str,
    kind: str,
    env: str,
    out_dir: Path,
    *,
    reason: str = "",
    pdf: bool = False,
) -> tuple[Path, Path]:
    """Render, record and write an environment's monitoring or incident report."""
    check_env(env)
    if kind not in KINDS:
        raise UsageError(
            f"unknown operations report {kind!r}", hint=f"Reports: {', '.join(KINDS)}."
        )
    with ws.session(actor) as s:
        needs(action="write reports")(s)
    md, html, headline = render_env(ws, kind, env)
    payload = {
        "monitoring": MonitoringReportRecorded,
        "incidents": IncidentReportRecorded,
        "decisions": DecisionLogReportRecorded,
    }[kind]
    return reporting.record(
        ws,
        actor,
        as_payload=lambda m, h: payload(env, headline, m, h),
        subject=f"env:{env}",
        markdown=md,
        html=html,
        out_dir=out_dir,
        stem=f"{kind}-{env}",
        reason=reason,
        pdf=pdf,
    )


def _reasons(text: Any) -> list[tuple[str, float | None]]:
    """A logged ``reasons`` value (``[[feature, contribution], …]`` or ranked names), top 3."""
    if not text:
        return []
    try:
        items = json.loads(str(text))
    except ValueError:
        return [(str(text), None)]
    if not isinstance(items, list):
        return [(str(text), None)]
    out: list[tuple[str, float | None]] = []
    for item in items[:3]:
        if isinstance(item, list | tuple) and len(item) == 2:
            out.append((str(item[0]), float(item[1])))
        else:
            out.append((str(item), None))
    return out


def _outcome(label: int | None, words: dict[int, str] | None) -> str:
    """A recorded outcome label in the words the model's outcome declares, with the label."""
    if label is None:
        return "not yet observed"
    said = (words or {}).get(label)
    return f"{said} ({label})" if said else f"label {label}"


def decision_log_context(
    title: str,
    batches: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    overrides: list[dict[str, Any]],
    outcomes: dict[str, int],
    outcome_words: dict[str, dict[int, str]] | None = None,
) -> DecisionLogContext:
    """The decision-log report's context: batches, counts, sampled decisions and overrides.

    A decision's outcome is the recorded late label (1 = the positive class the model's
    outcome declares), named in ``outcome_words`` (per model: label to words) where given,
    "not yet observed" without one; an override shows who replaced the decision with what,
    and why. The last override of a request stands.
    """
    named = outcome_words or {}
    by_request = {str(o["request_id"]): o for o in overrides}
    counts = {"decisions": 0, "refused": 0, "errors": 0}
    for batch in batches:
        counts["decisions"] += int(batch.get("count") or 0)
        counts["refused"] += int(batch.get("refused") or 0)
        counts["errors"] += int(batch.get("errors") or 0)
    views = []
    for item in samples:
        row = item["decision"]
        rid = str(row["request_id"])
        o = by_request.get(rid)
        score = row.get("score")
        views.append(
            DecisionView(
                request_id=rid,
                ts=str(row.get("ts")),
                model=str(row.get("model")),
                arm=str(row.get("arm")) + ("" if row.get("returned") else ", not returned"),
                status=str(row.get("status")),
                decision=str(row.get("decision") or row.get("detail") or "—"),
                score=float(score) if score is not None else None,
                reasons=_reasons(row.get("reasons")),
                outcome=_outcome(outcomes.get(rid), named.get(str(row.get("model")))),
                override=(
                    f"{o['outcome']} by {o['actor']} (#{o['seq']}: {o['reason']})" if o else "—"
                ),
                proof=f"leaf {item['index']} of batch #{item['batch_seq']}",
            )
        )
    return DecisionLogContext(
        legend=list(DECISION_STATES),
        title=title,
        batches=[
            (
                int(b["seq"]),
                ", ".join(b.get("deployments") or []),
                int(b.get("count") or 0),
                str(b.get("merkle_root"))[:16] + "…",
            )
            for b in batches
        ],
        counts=list(counts.items()),
        decisions=views,
        notes=[
            "Inputs are logged as keyed digests (HMAC under the deployment's key), never as a "
            "plain hash; a deployment with retention rows keeps the row itself."
        ],
    )


SAMPLE = 10
"""Representative decisions in an environment's decision-log report."""
UNUSUAL = 2
"""Refused or failed decisions the sample shows first (after the overridden ones)."""


def _decisions_env(
    ws: Workspace, env: str, events: list[tuple[int, dict[str, Any]]]
) -> tuple[str, str, str]:
    """An environment's decision log: its batches, a spread of decisions, overrides, outcomes.

    The sample is spread evenly over every logged row, after the overridden decisions and the
    first few refusals and errors (they are what a reviewer asks about); each row is read from
    its batch object, verified.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.operations.decision_log import decisions as logged

    batches = [
        {"seq": seq, **(body.get("data") or {})}
        for seq, body in events
        if body.get("action") == "decision.batch"
    ]
    table = logged(ws, env=env)
    rows = table.to_pylist()
    index_in: dict[int, int] = {}
    positions = []
    for r in rows:
        positions.append(index_in.get(r["batch_seq"], 0))
        index_in[r["batch_seq"]] = positions[-1] + 1
    overridden: list[dict[str, Any]] = []
    here = {str(r["request_id"]) for r in rows}
    with ws.session() as s:
        seqs = [o.seq for o in s.catalog.events(action="decision.override")]
    for seq in seqs:
        body = ws.ledger.entry(seq).decode()
        data = body.get("data")
        if isinstance(data, dict) and str(data.get("request_id")) in here:
            overridden.append(
                {"seq": seq, "actor": body.get("actor"), "reason": body.get("reason", ""), **data}
            )
    hit = {str(o["request_id"]) for o in overridden}
    first = [i for i, r in enumerate(rows) if r["request_id"] in hit]
    first += [i for i, r in enumerate(rows) if r["status"] != "ok" and i not in first][:UNUSUAL]
    step = max(1, len(rows) // SAMPLE)
    chosen = (first + [i for i in range(0, len(rows), step) if i not in first])[:SAMPLE]
    samples = [
        {"decision": rows[i], "index": positions[i], "batch_seq": rows[i]["batch_seq"]}
        for i in chosen
    ]
    wanted = {str(rows[i]["request_id"]) for i in chosen}
    outcomes: dict[str, int] = {}
    for _, body in _outcome_events(ws):
        data = body.get("data")
        digest = str(data.get("object_digest")) if isinstance(data, dict) else ""
        got = pq.read_table(pa.BufferReader(ws.objects.read_verified(digest)))
        for r in got.select(["request_id", "outcome"]).to_pylist():
            if r["request_id"] in wanted and r["outcome"] is not None:
                outcomes[str(r["request_id"])] = int(r["outcome"])
    words = {m: outcome_names(ws, m) for m in {str(x["decision"]["model"]) for x in samples}}
    ctx = decision_log_context(
        f"environment {env}", batches, samples, overridden, outcomes, outcome_words=words
    )
    md, html = render_decisions(ctx)
    return md, html, f"{len(rows)} decisions in {len(batches)} batches"


def _outcome_events(ws: Workspace) -> list[tuple[int, dict[str, Any]]]:
    with ws.session() as s:
        seqs = [e.seq for e in s.catalog.events(action="outcome.add")]
    return [(q, ws.ledger.entry(q).decode()) for q in seqs]


def outcome_names(ws: Workspace, model: str) -> dict[int, str]:
    """What each outcome label means for ``model`` (its run's declared outcome), if declared."""
    from core.modelling import training

    if model.startswith("baseline:"):
        return {}
    with ws.session() as s:
        row = s.catalog.model(model)
        run = s.catalog.run(row.run_id) if row is not None else None
    outcome = training.load_run_spec(ws, run).outcome if run is not None else None
    if outcome is None:
        return {}
    return {1: outcome.positive, 0: outcome.negative}
