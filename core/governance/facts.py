"""The facts a policy decides on, gathered for one model version.

Everything here reads catalog rows and stored blobs; nothing imports a higher context, so a
gate in any layer (register in modelling, export in audit) can ask for the same document.
The catalog is an index that ``audit verify`` checks against the signed ledger, and each
decision records the input it saw, so a verifier can see what the policy was told.

The document (the gate adds ``gate``, ``actor``, ``time`` and ``subject``)::

    {"model": {"ref", "name", "version", "digest", "stage", "tier", "tier_assessed",
               "dpia", "pii_inputs", "pii_columns", "developers",
               "evidence": [{"kind", "seq", "digest", "verdict", "age_days"}],
               "verdicts": {"validation", "evaluation", "fairness", "reproduction"},
               "evidence_age_days": {kind: days}},
     "request": {...}}          # the command's own parameters (to_stage, role, …)

``approvals`` (what :mod:`core.governance.separation` says of the version's approvals) is
added by the commands that need it.
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from typing import Any

from core.governance.findings import open_counts
from core.kernel.errors import NotFoundError
from core.kernel.rows import (
    ApprovalRow,
    EvaluationRow,
    LifecycleRow,
    ModelRow,
    ReproductionRow,
    RiskRow,
    RunRow,
    SignatureRow,
    SnapshotRow,
    ValidationRow,
)
from core.kernel.verdict import FAIL, PASS, WARN, worst
from core.kernel.workspace import Session


def model_row(s: Session, ref: str) -> ModelRow:
    """The model version ``ref`` (``name@N``; ``model:`` prefix allowed)."""
    ref = ref.removeprefix("model:")
    row = s.catalog.model(ref)
    if row is None:
        raise NotFoundError(f"no model version {ref!r}", hint="`ledgerml model list` shows them.")
    return row


def days_since(ts: str, now: datetime | None = None) -> float:
    """Days from an event time (``…Z``) to ``now``."""
    then = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return round(((now or datetime.now(UTC)) - then).total_seconds() / 86400, 4)


def stage_of(s: Session, ref: str, *, at: int | None = None) -> str:
    """A version's approval stage (``candidate`` until promoted), optionally at event ``at``."""
    sql = "SELECT * FROM lifecycle WHERE model = ?" + (" AND seq <= ?" if at else "")
    params: list[Any] = [ref] + ([at] if at else [])
    rows = s.catalog.rows(LifecycleRow, sql + " ORDER BY seq DESC LIMIT 1", params)
    return rows[0].to_stage if rows else "candidate"


def risk_of(s: Session, name: str, *, at: int | None = None) -> RiskRow | None:
    """The newest risk assessment of a model name (at event ``at``, if given)."""
    sql = "SELECT * FROM model_risk WHERE name = ?" + (" AND seq <= ?" if at else "")
    params: list[Any] = [name] + ([at] if at else [])
    rows = s.catalog.rows(RiskRow, sql + " ORDER BY seq DESC LIMIT 1", params)
    return rows[0] if rows else None


def developers(s: Session, model: ModelRow) -> list[str]:
    """Who developed this version: its trainer, its registrant and everyone who signed it.

    Separation of duties keeps all of them from approving it, admins included.
    """
    people = {model.created_by}
    run = s.catalog.run(model.run_id)
    if run is not None:
        people.add(run.created_by)
    for sig in s.catalog.signatures(f"model:{model.ref}"):
        people.add(sig.created_by)
    return sorted(people)


def _evaluation_verdict(s: Session, row: EvaluationRow) -> str:
    body = s.catalog.event_bodies([row.seq]).get(row.seq)
    if body is not None:
        recorded = json.loads(body).get("data", {}).get("verdict")
        if recorded:
            return str(recorded)
    return FAIL if not row.passed else (WARN if row.warnings else PASS)


def _fairness_verdict(s: Session, row: EvaluationRow) -> str | None:
    """The worst verdict of the evidence's fairness checks (None: no fairness section ran)."""
    try:
        doc = json.loads(s.workspace.objects.read_verified(row.evidence_digest))
    except (OSError, ValueError, LookupError):
        return FAIL  # evidence that cannot be read is not evidence of fairness
    found = []
    for check in doc.get("checks", []):
        if check.get("section") != "fairness":
            continue
        recorded = check.get("verdict")
        if recorded:
            found.append(str(recorded))
        else:
            missed = not check.get("passed", False)
            found.append(
                PASS if not missed else (WARN if check.get("severity") == "warn" else FAIL)
            )
    return worst(found) if found else None


def model_facts(
    s: Session, ref: str, *, untiered: int = 1, model: ModelRow | None = None
) -> dict[str, Any]:
    """The ``model`` member of a gate's input for the version ``ref``.

    ``model`` stands in for the catalog row of a version about to be registered (the
    register gate decides before the version exists).
    """
    model = model if model is not None else model_row(s, ref)
    run: RunRow | None = s.catalog.run(model.run_id)
    snapshot: SnapshotRow | None = s.catalog.snapshot(run.input_ref) if run else None
    features = _features(s, run) if run is not None else None
    snapshot_pii = set(snapshot.pii) if snapshot else set()
    # PII use: the PII-tagged columns the version reads (its features and sensitive
    # attributes); all of the snapshot's when the spec cannot be read, to err towards asking.
    pii = sorted(snapshot_pii if features is None else snapshot_pii & set(features))
    risk = risk_of(s, model.name)
    evidence: list[dict[str, Any]] = []
    verdicts: dict[str, str | None] = {
        "validation": None,
        "evaluation": None,
        "fairness": None,
        "reproduction": None,
    }
    ages: dict[str, float | None] = dict.fromkeys(verdicts)
    if run is not None:
        for v in s.catalog.rows(
            ValidationRow,
            "SELECT * FROM validations WHERE snapshot = ? ORDER BY seq",
            [run.input_ref],
        ):
            verdict = FAIL if not v.passed else (WARN if v.warnings else PASS)
            evidence.append(_item("validation", v.seq, v.result_digest, verdict, v.created_at))
        for r in s.catalog.rows(
            ReproductionRow,
            "SELECT * FROM reproductions WHERE run_id = ? ORDER BY seq",
            [run.run_id],
        ):
            verdict = PASS if r.passed else FAIL
            evidence.append(_item("reproduction", r.seq, r.result_digest, verdict, r.created_at))
    for e in s.catalog.evaluations(model.ref):
        item = _item(
            "evaluation", e.seq, e.evidence_digest, _evaluation_verdict(s, e), e.created_at
        )
        item["fairness"] = _fairness_verdict(s, e)
        evidence.append(item)
    evidence.sort(key=lambda i: i["seq"])
    for item in evidence:  # newest of each kind wins
        verdicts[item["kind"]] = item["verdict"]
        ages[item["kind"]] = item["age_days"]
        if item["kind"] == "evaluation":
            verdicts["fairness"] = item["fairness"]
            ages["fairness"] = item["age_days"] if item["fairness"] else None
    return {
        "ref": model.ref,
        "name": model.name,
        "version": model.version,
        "digest": model.model_digest,
        "stage": stage_of(s, model.ref),
        "tier": risk.tier if risk else untiered,
        "tier_assessed": risk is not None,
        "dpia": risk.dpia if risk else None,
        "pii_inputs": bool(pii),
        "pii_columns": pii,
        "features": sorted(features or []),
        "developers": developers(s, model),
        "evidence": evidence,
        "verdicts": verdicts,
        "evidence_age_days": ages,
        "findings_open": open_counts(s, model.ref),
    }


def _features(s: Session, run: RunRow) -> list[str] | None:
    """The columns a run's spec reads (features and sensitive attributes), None if unreadable."""
    try:
        spec = tomllib.loads(s.workspace.objects.read_verified(run.spec_digest).decode())
        section = spec.get("run", {})
        return [str(c) for c in [*section.get("features", []), *section.get("sensitive", [])]]
    except (OSError, ValueError, LookupError, UnicodeDecodeError, AttributeError, TypeError):
        return None


def _item(kind: str, seq: int, digest: str, verdict: str, ts: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "seq": seq,
        "digest": digest,
        "verdict": verdict,
        "age_days": days_since(ts),
    }


def approvals_of(s: Session, ref: str, stage: str, *, at: int | None = None) -> list[ApprovalRow]:
    """The approvals and rejections recorded for a version and stage, oldest first."""
    sql = "SELECT * FROM approvals WHERE model = ? AND stage = ?" + (" AND seq <= ?" if at else "")
    params: list[Any] = [ref, stage] + ([at] if at else [])
    return s.catalog.rows(ApprovalRow, sql + " ORDER BY seq", params)


__all__ = [
    "SignatureRow",
    "approvals_of",
    "days_since",
    "developers",
    "model_facts",
    "model_row",
    "risk_of",
    "stage_of",
]
