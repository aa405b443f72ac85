"""The operations a bundle carries: where the model was deployed, and since when.

For the bundled model version, from the ledger excerpt (exactly what the checkpoint covers):

- ``operations/deployments.json``: every deployment of the version (environment, arm,
  strategy, who, when, why, the incident it answered, the event that ended it), oldest
  first, and what of it is live where at the checkpoint. It is derived with
  :func:`storage.bundle_verifier.deployment_history`, which the stand-alone verifier runs
  again over the same signed events, so the member is checkable, not just a claim.

The excerpt carries every event of an environment the version was deployed to
(:func:`environments`), so the deployment that ended one of its deployments is in it too.
"""

from __future__ import annotations

import json
from typing import Any

from core.audit.bundle_members import Bundling, Members, add_rendered
from storage.bundle_verifier import (
    DECISION_FIELDS,
    DECISIONS,
    DEPLOYMENTS,
    INCIDENTS,
    MAX_LEAVES,
    MONITORING,
    PIPELINES,
    decision_batches_of,
    deployment_history,
    operations_history,
)
from storage.canonical import canonical_bytes

DEPLOYMENTS_FORMAT = "ledgerml/deployments/v1"


def environments(bodies: list[dict[str, Any]], ref: str) -> set[str]:
    """The ``env:NAME`` nodes of every environment ``ref`` was deployed to."""
    return {
        f"env:{body['data'].get('env')}"
        for body in bodies
        if body.get("action") in ("model.deploy", "model.rollback")
        and isinstance(body.get("data"), dict)
        and body["data"].get("model") == ref
    }


def operations(b: Bundling, members: Members) -> None:
    """The version's deployments, monitoring, incidents and pipeline runs, with their blobs.

    Summaries: ``operations/deployments.json``, ``monitoring.json`` (runs and alerts),
    ``incidents.json`` (each ticket with its actions and close), ``pipelines.json``. Blobs,
    each named by its event: the SLO sets and playbooks in force where the version served
    (``slo-<digest>.json``, ``playbook-<digest>.json``: the post-market monitoring plan),
    each pipeline's JUnit report (``pipeline-<seq>.junit.xml``) and, in a full bundle, each
    monitoring run's evidence (``monitor-<seq>.json``). A hashes-only bundle leaves the run
    evidence out: its fairness figures are per group of sensitive columns, and the
    summaries' verdicts stay.
    """
    events = [(seq, b.event_body(seq)) for seq in b.seqs]
    ref = b.model.ref
    history = deployment_history(events, ref)
    ops = operations_history(events, ref)
    if history:
        live: dict[str, list[str]] = {}
        for d in history:
            if d["ended_seq"] is None:
                live.setdefault(str(d["env"]), []).append(str(d["arm"]))
        doc = {
            "format": DEPLOYMENTS_FORMAT,
            "model": ref,
            "as_of": b.checkpoint.size,
            "deployments": history,
            "live": live,
        }
        members.add(DEPLOYMENTS, canonical_bytes(doc), "application/json")
    json_type = "application/json"
    decided = _decision_log(b, members, events, history)
    if ops["runs"] or ops["alerts"]:
        doc = {"format": "ledgerml/monitoring-history/v1", "model": ref}
        members.add(
            MONITORING,
            canonical_bytes({**doc, "runs": ops["runs"], "alerts": ops["alerts"]}),
            json_type,
        )
    if ops["incidents"]:
        doc = {"format": "ledgerml/incidents/v1", "model": ref, "incidents": ops["incidents"]}
        members.add(INCIDENTS, canonical_bytes(doc), json_type)
    if ops["pipelines"]:
        doc = {"format": "ledgerml/pipelines/v1", "model": ref, "pipelines": ops["pipelines"]}
        members.add(PIPELINES, canonical_bytes(doc), json_type)
    for p in ops["pipelines"]:
        members.add(
            f"operations/pipeline-{p['seq']}.junit.xml",
            b.read(str(p["report_digest"])),
            "application/xml",
            True,
        )
    if b.data_level == "full":
        for r in ops["runs"]:
            members.add(
                f"operations/monitor-{r['seq']}.json",
                b.read(str(r["evidence_digest"])),
                "application/vnd.ledgerml.monitoring+json",
                True,
            )
    envs = {str(d["env"]) for d in history}
    books: list[dict[str, Any]] = []
    for _, body in events:
        data = body.get("data") or {}
        if body.get("action") == "ops.configure" and data.get("env") in envs:
            kind = "slo" if data.get("kind") == "slo" else "playbook"
            raw = b.read(str(data.get("digest")))
            members.add(
                f"operations/{kind}-{str(data.get('digest'))[:16]}.json", raw, json_type, True
            )
            if kind == "playbook":
                books.append(json.loads(raw))
    _reports(b, members, ops, books)
    if decided is not None:
        from core.documents.operations_reports import decision_log_context, outcome_names
        from reports.operations import render_decisions

        outcomes = _outcomes(
            b, events, {str(x["decision"]["request_id"]) for x in decided["samples"]}
        )
        models = {str(x["decision"]["model"]) for x in decided["samples"]}
        ctx = decision_log_context(
            b.model.ref,
            decided["batches"],
            decided["samples"],
            decided["overrides"],
            outcomes,
            outcome_words={m: outcome_names(b.ws, m) for m in models},
        )
        md, html = render_decisions(ctx)
        add_rendered(members, "decision-log", md, html, **_about(b))


def _outcomes(
    b: Bundling, events: list[tuple[int, dict[str, Any]]], wanted: set[str]
) -> dict[str, int]:
    """The latest recorded outcome of each sampled request (outcome.add objects, verified)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    found: dict[str, int] = {}
    for _, body in events:
        if body.get("action") != "outcome.add":
            continue
        digest = str((body.get("data") or {}).get("object_digest"))
        table = pq.read_table(pa.BufferReader(b.read(digest)))
        for r in table.select(["request_id", "outcome"]).to_pylist():
            if r["request_id"] in wanted and r["outcome"] is not None:
                found[str(r["request_id"])] = int(r["outcome"])
    return found


INPUTS_NOTE = (
    "as exported, not verified: a sample's inputs (in.*) are not in its decision-leaf/1 leaf, "
    "its input_hmac needs the deployment's key, and the batch object its event's digest covers "
    "is not in the bundle; only the decision fields are proven into the signed root"
)
"""Said in ``decisions.json`` whenever a sample carries input values (and by the verifier)."""

SAMPLE_PER_BATCH = 5


def _contributions(reasons: Any) -> bool:
    """Whether a logged ``reasons`` carries SHAP contributions (``[[feature, value], …]``).

    A sample's row is proven by its leaf, which covers ``reasons`` as logged, so a row whose
    reasons carry contributions (a ``rows`` deployment's, or an ``hmac-only`` one's logged
    before names only were kept) is not sampled into a bundle that does not carry its inputs:
    for a linear model those values give the inputs back.
    """
    try:
        items = json.loads(reasons) if isinstance(reasons, str) else []
    except ValueError:
        return True  # not what scoring writes: not shown either
    if not isinstance(items, list):
        return True
    return any(not isinstance(item, str) for item in items)


"""Representative decisions per batch: evenly spread over the version's rows of it."""


def _decision_log(
    b: Bundling,
    members: Members,
    events: list[tuple[int, dict[str, Any]]],
    history: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """``operations/decisions.json``: batch summaries, leaves, sample proofs, overrides.

    Each sample is one decision of the version with its leaf index and audit path to its
    batch's signed root. Its ``in.*`` input values come along only where the deployment's
    retention is ``rows`` and the bundle is a full one; a hashes-only bundle carries the
    keyed input digest and never a value of an input column (PII-tagged or not). Nothing an
    auditor can check offline covers those values, so the member says so (``inputs_note``)
    rather than let them read as proven with the decision.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from storage import merkle
    from storage.bundle_verifier import decision_leaf_hash

    batches = decision_batches_of(events, history)
    if not batches:
        return None
    mine = {d["deployment_id"]: d for d in history}
    leaves_out: dict[str, list[str]] = {}
    samples: list[dict[str, Any]] = []
    from core.privacy.events import stored_copies

    copies = stored_copies(events)  # batches whose inputs retention erased: read the copy
    for batch in batches:
        digest = str(batch["object_digest"])
        table = pq.read_table(pa.BufferReader(b.read(copies.get(digest, digest))))
        rows = table.to_pylist()
        leaves = [decision_leaf_hash({f: r[f] for f in DECISION_FIELDS}) for r in rows]
        if len(leaves) <= MAX_LEAVES:
            leaves_out[str(batch["seq"])] = [h.hex() for h in leaves]
        own = [i for i, r in enumerate(rows) if r["deployment_id"] in mine]
        step = max(1, len(own) // SAMPLE_PER_BATCH)
        picked = 0
        for i in own[::step]:
            if picked == SAMPLE_PER_BATCH:
                break
            row = rows[i]
            keep_rows = b.data_level == "full" and mine[row["deployment_id"]]["retention"] == "rows"
            if not keep_rows and _contributions(row.get("reasons")):
                continue  # SHAP values give the inputs back: only beside the inputs themselves
            picked += 1
            samples.append(
                {
                    "batch_seq": batch["seq"],
                    "index": i,
                    "batch_size": len(leaves),
                    "audit_path": [p.hex() for p in merkle.inclusion_proof(i, leaves)],
                    "decision": {f: row[f] for f in DECISION_FIELDS},
                    "inputs": (
                        {k: v for k, v in row.items() if k.startswith("in.")} if keep_rows else None
                    ),
                }
            )
    sampled = {str(x["decision"]["request_id"]) for x in samples}
    overrides = [
        {
            "seq": seq,
            "ts": body.get("ts"),
            "actor": body.get("actor"),
            "reason": body.get("reason", ""),
            **(body.get("data") or {}),
        }
        for seq, body in events
        if body.get("action") == "decision.override"
        and (body.get("data") or {}).get("request_id") in sampled
    ]
    doc = {
        "format": "ledgerml/decision-sample/v1",
        "leaf": "decision-leaf/1",
        "model": b.model.ref,
        "batches": batches,
        "leaves": leaves_out,
        "samples": samples,
        "overrides": overrides,
        "inputs_note": INPUTS_NOTE if any(x["inputs"] for x in samples) else None,
    }
    members.add(DECISIONS, canonical_bytes(doc), "application/json")
    return doc


def _reports(
    b: Bundling, members: Members, ops: dict[str, Any], books: list[dict[str, Any]]
) -> None:
    """The monitoring and incident reports, rendered from the very summaries bundled."""
    from core.documents.operations_reports import incidents_context, monitoring_context
    from reports.operations import render_incidents, render_monitoring

    title = b.model.ref
    if ops["runs"]:
        evidence = (
            {int(r["seq"]): json.loads(b.read(str(r["evidence_digest"]))) for r in ops["runs"]}
            if b.data_level == "full"
            else {}
        )
        md, html = render_monitoring(
            monitoring_context(title, ops["runs"], ops["alerts"], evidence)
        )
        add_rendered(members, "monitoring", md, html, **_about(b))
    if ops["incidents"]:
        md, html = render_incidents(incidents_context(title, ops["incidents"], books))
        add_rendered(members, "incidents", md, html, **_about(b))


def _about(b: Bundling) -> dict[str, str]:
    """What a report the export renders is about, and its date: the bundle's checkpoint."""
    return {"subject": f"model:{b.model.ref}", "created": b.checkpoint.ts}
